using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Database;

/// <summary>
/// The request's database session. Queries use a read connection of their own (SQLite's WAL and PostgreSQL's MVCC:
/// readers never wait for the writer). Writes happen in turns (<see cref="IWriteTurns"/>: SQLite's group commit, or a
/// pooled PostgreSQL transaction per turn): between <see cref="BeginAsync(CancellationToken)"/>
/// and <see cref="CommitAsync"/> the session writes into the shared batch transaction, and <see cref="CommitAsync"/>
/// returns once the batch is durable. A request may take several turns (a charge takes two, with the processor
/// called between them and no turn held).
/// </summary>
public sealed class Db(DbConnectionFactory factory, IWriteTurns writer, ShutdownDrain drain) : IAsyncDisposable
{
    private DbConnection? readConnection;
    private WriteTurn? turn;
    private List<Action>? onCommitted;
    private List<Func<Db, DbConnection, Task>>? beforeFirstWrite;
    private List<Func<Db, DbConnection, Task>>? ranInOpenTurn;
    private bool committedBefore;

    /// <summary>This process, as the holder of the leases it takes.</summary>
    public string Instance => factory.Instance;

    /// <summary>The open write transaction of a turn; null outside one.</summary>
    public DbTransaction? Transaction => turn?.Transaction;

    /// <summary>True between the start of a turn and its commit or rollback.</summary>
    public bool InTurn => turn is not null;

    /// <summary>The session's connection: inside a turn the writer's, outside one a read connection opened on first use.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        turn?.Connection ?? (readConnection ??= await factory.OpenReadAsync(cancellationToken));

    /// <summary>A Dapper command on this session: parameters, the transaction if any, and the token.</summary>
    public CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(factory.Dialect(sql), parameters, Transaction, cancellationToken: cancellationToken);

    /// <summary>
    /// Runs <paramref name="action"/> at the start of the session's first turn, inside it (the idempotency claim); again in
    /// the next turn when that one rolls back (<see cref="EndAsync"/>), until a turn that ran it commits.
    /// </summary>
    public void BeforeFirstWrite(Func<Db, DbConnection, Task> action) => (beforeFirstWrite ??= []).Add(action);

    /// <summary>
    /// For a request about to act outside the database (call the processor): takes a turn for the first-write actions
    /// alone (the Idempotency-Key claim) and commits it, when they have not run, so that it acts only once its claim is
    /// durable; and gives its read connection back (<see cref="ReleaseReadAsync"/>), so that it holds none while it waits.
    /// No turn when the actions already ran, or there are none. Throws what they throw.
    /// </summary>
    public async Task RunBeforeFirstWriteAsync(CancellationToken cancellationToken)
    {
        if (beforeFirstWrite is null)
        {
            await ReleaseReadAsync();
            return;
        }

        await BeginRequestAsync(cancellationToken); // gives the read connection back too
        await CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Gives the read connection back, if one is held: before the request waits on something outside the database (the
    /// processor), and before each turn. On PostgreSQL it is one of the pool's connections, and a slow processor must not
    /// hold the pool; the next read opens one again.
    /// </summary>
    public async Task ReleaseReadAsync()
    {
        if (readConnection is not null)
        {
            var connection = readConnection;
            readConnection = null;
            await factory.ReleaseReadAsync(connection);
        }
    }

    /// <summary>Waits for a turn; for a background job, which is never refused.</summary>
    public Task BeginAsync(CancellationToken cancellationToken) => BeginAsync(CancellationToken.None, cancellationToken);

    /// <summary>
    /// The same for a request: when the service is stopping and its drain deadline passes while this request still
    /// waits for its first turn, it is refused with <see cref="ServiceStoppingException"/> (503), nothing written. A
    /// later turn (a charge's second phase, after the processor answered) is never refused: what the processor did
    /// must be recorded.
    /// </summary>
    public Task BeginRequestAsync(CancellationToken cancellationToken) =>
        BeginAsync(committedBefore ? CancellationToken.None : drain.Closed, cancellationToken);

    /// <param name="refused">Cancelled when a writer still waiting for its turn is refused (never, for a background job).</param>
    /// <param name="cancellationToken">The caller's own token.</param>
    private async Task BeginAsync(CancellationToken refused, CancellationToken cancellationToken)
    {
        if (turn is not null)
        {
            throw new InvalidOperationException("A write turn is already open in this request.");
        }

        // No read connection is held from here on: not while the turn is waited for or held (the turn has its own), nor
        // between turns, while a charge waits for the processor. A read after the turn opens one again.
        await ReleaseReadAsync();

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, refused);
        try
        {
            refused.ThrowIfCancellationRequested();
            turn = await writer.EnterAsync(waiting.Token);
        }
        catch (OperationCanceledException) when (refused.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ServiceStoppingException();
        }

        if (beforeFirstWrite is { } actions)
        {
            beforeFirstWrite = null;
            ranInOpenTurn = actions;
            try
            {
                foreach (var action in actions)
                {
                    await action(this, turn.Connection);
                }
            }
            catch
            {
                await EndAsync();
                throw;
            }
        }
    }

    /// <summary>Ends the turn keeping its writes, and returns once they are durable; then runs the on-commit actions.</summary>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        var current = turn ?? throw new InvalidOperationException("No write turn is open.");
        turn = null;
        ranInOpenTurn = null;
        var actions = onCommitted;
        onCommitted = null;
        await current.EndAsync(keep: true);
        committedBefore = true;
        foreach (var action in actions ?? [])
        {
            action();
        }
    }

    /// <summary>
    /// Takes the lock named <paramref name="name"/> for the rest of the open turn when no other instance holds it (a
    /// background job that must run on one instance at a time); false when another holds it. On SQLite every turn already
    /// excludes every other writer of the file, so it is always taken.
    /// </summary>
    public async Task<bool> TryLockAsync(string name, CancellationToken cancellationToken)
    {
        var current = turn ?? throw new InvalidOperationException("No write turn is open.");
        if (factory.Provider == DatabaseProvider.Sqlite)
        {
            return true;
        }

        var key = BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(name)), 0);
        return await current.Connection.ExecuteScalarAsync<bool>(Command("SELECT pg_try_advisory_xact_lock(@Key)", new { Key = key }, cancellationToken));
    }

    /// <summary>Runs <paramref name="action"/> once the open turn's writes are durable; never if they roll back.</summary>
    public void OnCommitted(Action action) => (onCommitted ??= []).Add(action);

    /// <summary>
    /// Ends the turn, rolling back what was not committed; nothing when no turn is open. The first-write actions it ran
    /// are run again by the next turn. After a rollback the caller goes on off the thread it was on: a SQLite turn's code
    /// runs on the group-commit writer's thread, and what the caller does next (an error answer written, reads, its next
    /// turn) must not hold up the rest of the batch.
    /// </summary>
    public async ValueTask EndAsync()
    {
        onCommitted = null;
        beforeFirstWrite ??= ranInOpenTurn;
        ranInOpenTurn = null;
        if (turn is { } current)
        {
            turn = null;
            _ = current.EndAsync(keep: false);
            await Task.Yield();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await EndAsync();
        await ReleaseReadAsync();
    }
}

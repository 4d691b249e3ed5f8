using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Database;

/// <summary>Opens SQLite connections with the settings every connection needs.</summary>
public sealed class DbConnectionFactory(string connectionString)
{
    // synchronous=FULL: an acknowledged payment survives power loss (WAL's default NORMAL may lose the
    // last commits). foreign_keys and busy_timeout are per connection in SQLite, so they are set on each.
    private const string ConnectionPragmas = "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;";

    public string ConnectionString { get; } = connectionString;

    /// <summary>The database file, for messages; the connection string itself may hold a password.</summary>
    public string DataSource { get; } = new SqliteConnectionStringBuilder(connectionString).DataSource;

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(ConnectionPragmas, cancellationToken: cancellationToken));
        return connection;
    }
}

/// <summary>
/// SQLite has one writer at a time. Several pooled connections racing for the write lock retry with
/// sleeps (seconds of tail latency), so the service queues its writers here instead, in order.
/// </summary>
public sealed class WriteGate : IDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);

    public void Dispose() => gate.Dispose();

    public Task WaitAsync(CancellationToken cancellationToken) => gate.WaitAsync(cancellationToken);

    public void Release() => gate.Release();
}

/// <summary>
/// The request's database session. Queries open a connection of their own; a command gets one write
/// transaction, begun by the pipeline, that the handler and the pipeline's behaviours all write into.
/// </summary>
public sealed class Db(DbConnectionFactory factory, WriteGate gate, ShutdownDrain drain) : IAsyncDisposable
{
    private DbConnection? connection;
    private bool holdsGate;
    private List<Action>? onCommitted;

    /// <summary>The open write transaction of a command; null in a query.</summary>
    public DbTransaction? Transaction { get; private set; }

    /// <summary>The session's connection, opened on first use (inside a command: the transaction's).</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        connection ??= await factory.OpenAsync(cancellationToken);

    /// <summary>A Dapper command on this session: parameters, the transaction if any, and the token.</summary>
    public CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(sql, parameters, Transaction, cancellationToken: cancellationToken);

    /// <summary>Waits for the write gate and begins the transaction; for a background job, which is never refused.</summary>
    public Task BeginAsync(CancellationToken cancellationToken) => BeginAsync(CancellationToken.None, cancellationToken);

    /// <summary>
    /// The same for a request: when the service is stopping and its drain deadline passes while this request still
    /// waits for its turn, it is refused with <see cref="ServiceStoppingException"/> (503), nothing written.
    /// </summary>
    public Task BeginRequestAsync(CancellationToken cancellationToken) => BeginAsync(drain.Closed, cancellationToken);

    /// <param name="refused">Cancelled when a writer still waiting for the gate is refused (never, for a background job).</param>
    /// <param name="cancellationToken">The caller's own token.</param>
    private async Task BeginAsync(CancellationToken refused, CancellationToken cancellationToken)
    {
        if (Transaction is not null)
        {
            throw new InvalidOperationException("A write transaction is already open in this request.");
        }

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, refused);
        try
        {
            refused.ThrowIfCancellationRequested();
            await gate.WaitAsync(waiting.Token);
        }
        catch (OperationCanceledException) when (refused.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ServiceStoppingException();
        }

        holdsGate = true;
        var open = await OpenAsync(cancellationToken);
        Transaction = await open.BeginTransactionAsync(cancellationToken); // BEGIN IMMEDIATE on SQLite
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        await (Transaction ?? throw new InvalidOperationException("No write transaction is open.")).CommitAsync(cancellationToken);
        foreach (var action in onCommitted ?? [])
        {
            action();
        }

        onCommitted = null;
    }

    /// <summary>Runs <paramref name="action"/> once the open transaction commits; never if it rolls back.</summary>
    public void OnCommitted(Action action) => (onCommitted ??= []).Add(action);

    /// <summary>Ends the write transaction (rolling back what was not committed) and lets the next writer in.</summary>
    public async ValueTask EndAsync()
    {
        onCommitted = null;
        if (Transaction is not null)
        {
            await Transaction.DisposeAsync();
            Transaction = null;
        }

        if (holdsGate)
        {
            holdsGate = false;
            gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await EndAsync();
        if (connection is not null)
        {
            await connection.DisposeAsync();
        }
    }
}

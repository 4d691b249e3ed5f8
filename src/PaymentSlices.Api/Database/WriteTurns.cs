using System.Data;
using System.Data.Common;
using Npgsql;

namespace PaymentSlices.Api.Database;

/// <summary>
/// Where writes happen: a turn is a transaction (or, on SQLite, a savepoint inside the group commit's transaction) that a
/// request writes in and then ends, keeping or dropping its writes; the end returns once kept writes are durable.
/// </summary>
public interface IWriteTurns
{
    /// <summary>
    /// Waits for a turn. Fails with <see cref="OperationCanceledException"/> when <paramref name="refused"/> is cancelled
    /// while the turn is still being waited for.
    /// </summary>
    Task<WriteTurn> EnterAsync(CancellationToken refused);
}

/// <summary>One writer's turn: its connection and transaction until <see cref="EndAsync"/>.</summary>
public abstract class WriteTurn
{
    public abstract DbTransaction Transaction { get; }

    public DbConnection Connection => Transaction.Connection!;

    /// <summary>Ends the turn, its writes kept (<paramref name="keep"/>) or rolled back; completes once kept writes are durable.</summary>
    public abstract Task EndAsync(bool keep);
}

/// <summary>
/// PostgreSQL takes concurrent writers itself: each turn is a READ COMMITTED transaction on a pooled connection of its
/// own, committed at its end (one WAL flush; the server groups concurrent flushes). The slices' invariants hold across
/// instances because they are guarded statements (<c>UPDATE ... WHERE status = 'created'</c>, <c>amount_refunded +
/// @Amount &lt;= amount</c>, <c>INSERT ... ON CONFLICT</c>) and unique indexes: PostgreSQL re-checks a guarded UPDATE's
/// condition on the row as the concurrent writer left it, so exactly one of them changes it.
/// </summary>
public sealed class PostgresWriteTurns(DbConnectionFactory factory) : IWriteTurns
{
    public async Task<WriteTurn> EnterAsync(CancellationToken refused)
    {
        var connection = (NpgsqlConnection)await factory.OpenAsync(refused);
        try
        {
            return new PostgresWriteTurn(await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, refused));
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private sealed class PostgresWriteTurn(NpgsqlTransaction transaction) : WriteTurn
    {
        private readonly NpgsqlConnection connection = transaction.Connection!;

        public override DbTransaction Transaction => transaction;

        public override async Task EndAsync(bool keep)
        {
            try
            {
                if (keep)
                {
                    await transaction.CommitAsync();
                }
                else
                {
                    await transaction.RollbackAsync();
                }
            }
            catch (Exception error) when (keep && error is DbException or InvalidOperationException)
            {
                throw new DbWriteFailedException(error);
            }
            catch (Exception error) when (!keep && error is DbException or InvalidOperationException)
            {
                // The connection is closed below, and the server rolls back what it had of the transaction.
            }
            finally
            {
                await transaction.DisposeAsync();
                await connection.DisposeAsync();
            }
        }
    }
}

using System.Threading.Channels;
using Microsoft.Data.Sqlite;

/// <summary>
/// The least a durable write costs on this machine, for <c>POST /echo/durable</c>: the request's body and its
/// Idempotency-Key INSERTed into SQLite (WAL, <c>synchronous=FULL</c>, the key unique) by one writer thread that takes
/// what is queued (up to 256 requests), commits it in one transaction and one fsync, and only then answers each request.
/// Nothing else: no validation, no money, no replay, no outbox, no processor, one commit where a charge has two.
/// </summary>
internal sealed class DurableEcho : IDisposable
{
    private const int MaxBatch = 256;

    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqliteConnection connection;
    private readonly SqliteCommand insert;
    private readonly Thread writer;

    public DurableEcho(string path)
    {
        connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using (var setup = connection.CreateCommand())
        {
            setup.CommandText = """
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = FULL;
                CREATE TABLE IF NOT EXISTS messages (
                    idempotency_key TEXT NOT NULL UNIQUE, amount TEXT NOT NULL, currency TEXT NOT NULL, source TEXT NOT NULL,
                    created_at TEXT NOT NULL);
                """;
            setup.ExecuteNonQuery();
        }

        insert = connection.CreateCommand();
        insert.CommandText = "INSERT OR IGNORE INTO messages VALUES (@key, @amount, @currency, @source, @at)";
        foreach (var name in new[] { "@key", "@amount", "@currency", "@source", "@at" })
        {
            insert.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        insert.Prepare();
        writer = new Thread(Run) { IsBackground = true, Name = "durable echo writer" };
        writer.Start();
    }

    /// <summary>Commits what is queued, then closes the database.</summary>
    public void Dispose()
    {
        queue.Writer.TryComplete();
        writer.Join();
        insert.Dispose();
        connection.Dispose();
    }

    /// <summary>Completes once the message is committed.</summary>
    public Task AppendAsync(string key, EchoMessage message)
    {
        var pending = new Pending(key, message, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        queue.Writer.TryWrite(pending);
        return pending.Committed.Task;
    }

    private void Run()
    {
        var batch = new List<Pending>(MaxBatch);
        while (queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            try
            {
                using (var transaction = connection.BeginTransaction())
                {
                    insert.Transaction = transaction;
                    foreach (var pending in batch)
                    {
                        insert.Parameters[0].Value = pending.Key;
                        insert.Parameters[1].Value = pending.Message.Amount.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        insert.Parameters[2].Value = pending.Message.Currency;
                        insert.Parameters[3].Value = pending.Message.Source;
                        insert.Parameters[4].Value = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
                        insert.ExecuteNonQuery();
                    }

                    transaction.Commit();
                }

                batch.ForEach(pending => pending.Committed.SetResult());
            }
            catch (SqliteException failed)
            {
                batch.ForEach(pending => pending.Committed.SetException(failed));
            }

            batch.Clear();
        }
    }

    private sealed record Pending(string Key, EchoMessage Message, TaskCompletionSource Committed);
}

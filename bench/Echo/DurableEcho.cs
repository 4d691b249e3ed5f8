using System.Globalization;

/// <summary>
/// The least a durable write costs on this machine, for <c>POST /echo/durable</c>: the request's body and its
/// Idempotency-Key INSERTed into SQLite (the key unique), group-committed (<see cref="EchoWriter"/>, no savepoints).
/// Nothing else: no validation, no money, no replay, no outbox, no processor, one commit where a charge has two.
/// </summary>
internal sealed class DurableEcho : IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS messages (
            idempotency_key TEXT NOT NULL UNIQUE, amount TEXT NOT NULL, currency TEXT NOT NULL, source TEXT NOT NULL,
            created_at TEXT NOT NULL);
        """;

    private readonly EchoWriter writer;
    private readonly Microsoft.Data.Sqlite.SqliteCommand insert;

    public DurableEcho(string path)
    {
        writer = new EchoWriter(path, Schema, savepoints: false, "durable echo writer");
        insert = writer.Prepare("INSERT OR IGNORE INTO messages VALUES (@key, @amount, @currency, @source, @at)",
            "@key", "@amount", "@currency", "@source", "@at");
        writer.Start();
    }

    public void Dispose() => writer.Dispose();

    /// <summary>Completes once the message is committed.</summary>
    public Task AppendAsync(string key, EchoMessage message) => writer.RunAsync(() =>
    {
        insert.Parameters[0].Value = key;
        insert.Parameters[1].Value = message.Amount.ToString(CultureInfo.InvariantCulture);
        insert.Parameters[2].Value = message.Currency;
        insert.Parameters[3].Value = message.Source;
        insert.Parameters[4].Value = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        insert.ExecuteNonQuery();
    });
}

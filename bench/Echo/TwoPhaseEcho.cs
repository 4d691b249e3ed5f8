using System.Globalization;
using System.Security.Cryptography;
using System.Text;

/// <summary>
/// The least a charge can cost in the service's design on this machine, for <c>POST /echo/two-phase</c>: only the SQL a
/// keyed charge writes, in the same two group-committed turns, each in a savepoint of its own (<see cref="EchoWriter"/>).
/// Phase one claims the Idempotency-Key and records a processing payment (its processor key unique, a hash of the key);
/// it commits before the processor would be called (here nothing is called). Phase two settles the payment, adds its
/// event and stores the answer under the key, the sizes of a real charge's (an answer of about 640 bytes, an event of
/// about 780). Nothing else: no validation, no read of the key, no processor, no JSON of its own, no authentication.
/// </summary>
internal sealed class TwoPhaseEcho : IDisposable
{
    // The tables and indexes a charge writes, with the service's columns that a charge sets.
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS idempotency_keys (
            api_key_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL, method TEXT NOT NULL,
            path TEXT NOT NULL, status_code INTEGER, content_type TEXT, response_body BLOB, created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL, locked_by TEXT, locked_until TEXT, PRIMARY KEY (api_key_id, idempotency_key));
        CREATE INDEX IF NOT EXISTS ix_idempotency_keys_expires_at ON idempotency_keys (expires_at);
        CREATE TABLE IF NOT EXISTS payments (
            id TEXT PRIMARY KEY, amount INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, source_token TEXT,
            card_brand TEXT, card_last4 TEXT, card_exp_month INTEGER, card_exp_year INTEGER, receipt_number TEXT,
            processor_reference TEXT, processor_key TEXT, created_at TEXT NOT NULL, paid_at TEXT);
        CREATE UNIQUE INDEX IF NOT EXISTS ux_payments_processor_key ON payments (processor_key) WHERE processor_key IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_payments_processing ON payments (created_at) WHERE status = 'processing';
        CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, subject TEXT NOT NULL,
            status TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_events_status ON events (status, seq);
        CREATE INDEX IF NOT EXISTS ix_events_subject ON events (subject, seq);
        """;

    private static readonly byte[] Answer = Encoding.UTF8.GetBytes(new string('a', 640));
    private static readonly string EventPayload = new('e', 780);

    private readonly EchoWriter writer;
    private readonly Microsoft.Data.Sqlite.SqliteCommand claim;
    private readonly Microsoft.Data.Sqlite.SqliteCommand record;
    private readonly Microsoft.Data.Sqlite.SqliteCommand settle;
    private readonly Microsoft.Data.Sqlite.SqliteCommand emit;
    private readonly Microsoft.Data.Sqlite.SqliteCommand store;
    private long sequence = DateTime.UtcNow.Ticks;

    public TwoPhaseEcho(string path)
    {
        writer = new EchoWriter(path, Schema, savepoints: true, "two-phase echo writer");
        claim = writer.Prepare("""
            INSERT INTO idempotency_keys (api_key_id, idempotency_key, fingerprint, method, path, created_at, expires_at, locked_by, locked_until)
            VALUES ('storefront', @key, @fingerprint, 'POST', '/echo/two-phase', @now, @expires, 'echo', @expires)
            ON CONFLICT (api_key_id, idempotency_key) DO NOTHING
            """, "@key", "@fingerprint", "@now", "@expires");
        record = writer.Prepare("""
            INSERT INTO payments (id, amount, currency, status, source_token, processor_key, created_at)
            VALUES (@id, @amount, @currency, 'processing', @source, @processorKey, @now)
            ON CONFLICT (processor_key) WHERE processor_key IS NOT NULL DO NOTHING
            """, "@id", "@amount", "@currency", "@source", "@processorKey", "@now");
        settle = writer.Prepare("""
            UPDATE payments SET status = 'succeeded', card_brand = 'visa', card_last4 = '4242', card_exp_month = 12,
                card_exp_year = 2029, receipt_number = @receipt, processor_reference = @reference, paid_at = @now
            WHERE id = @id AND status = 'processing'
            """, "@id", "@receipt", "@reference", "@now");
        emit = writer.Prepare("""
            INSERT INTO events (id, type, subject, status, payload, created_at)
            VALUES (@id, 'payment.succeeded', @subject, 'pending', @payload, @now)
            """, "@id", "@subject", "@payload", "@now");
        store = writer.Prepare("""
            UPDATE idempotency_keys SET status_code = 201, content_type = 'application/json', response_body = @body,
                locked_by = NULL, locked_until = NULL
            WHERE api_key_id = 'storefront' AND idempotency_key = @key
            """, "@key", "@body");
        writer.Start();
    }

    public void Dispose() => writer.Dispose();

    /// <summary>Completes once both phases are committed.</summary>
    public async Task ChargeAsync(string key, EchoMessage message)
    {
        var now = DateTimeOffset.UtcNow;
        var at = now.ToString("O", CultureInfo.InvariantCulture);
        var expires = now.AddDays(1).ToString("O", CultureInfo.InvariantCulture);
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key + message)));
        var paymentId = NewId("pay");
        var amount = (long)(message.Amount * 100);
        await writer.RunAsync(() =>
        {
            Run(claim, key, fingerprint, at, expires);
            Run(record, paymentId, amount, message.Currency, message.Source, "idem_" + fingerprint[..40], at);
        });

        // The processor would be called here, with no turn held.
        var eventId = NewId("evt");
        var paid = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        await writer.RunAsync(() =>
        {
            Run(settle, paymentId, "0684-6843-0249", "ch_" + paymentId[4..], paid);
            Run(emit, eventId, paymentId, EventPayload, paid);
            Run(store, key, Answer);
        });
    }

    // Time-ordered, as the service's ids are.
    private string NewId(string prefix) => prefix + "_" + Interlocked.Increment(ref sequence).ToString("x16", CultureInfo.InvariantCulture);

    private static void Run(Microsoft.Data.Sqlite.SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }

        command.ExecuteNonQuery();
    }
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;

/// <summary>
/// The least a charge can cost in the service's design on this machine, for <c>POST /echo/two-phase</c>: only the SQL a
/// keyed <c>POST /v1/payments</c> writes, on the same tables and indexes, in the same two group-committed turns, each in
/// a savepoint of its own (<see cref="EchoWriter"/>, which commits and checkpoints as the service's writer does).
/// Phase one claims the Idempotency-Key and records a processing payment (its unique processor key a hash of the key);
/// it commits before the processor would be called (here nothing is called). Phase two settles the payment, adds its
/// event and stores the answer under the key, of the sizes a real charge's have (an answer of 640 bytes, an event of
/// 780). Left out, so that the floor is if anything too low a bar: the read of the key before phase one, the JSON of
/// the event and the answer (here constant bytes), validation, authentication, the processor and the request log.
/// </summary>
internal sealed class TwoPhaseEcho : IDisposable
{
    // The tables and indexes a charge writes, as the service's migrations leave them (without the foreign keys to orders
    // and intents, which a charge of no order never looks up).
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS idempotency_keys (
            api_key_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL, method TEXT NOT NULL,
            path TEXT NOT NULL, status_code INTEGER NULL, content_type TEXT NULL, location TEXT NULL, response_body BLOB NULL,
            created_at TEXT NOT NULL, expires_at TEXT NOT NULL, locked_by TEXT NULL, locked_until TEXT NULL,
            PRIMARY KEY (api_key_id, idempotency_key));
        CREATE INDEX IF NOT EXISTS ix_idempotency_keys_expires_at ON idempotency_keys (expires_at);
        CREATE TABLE IF NOT EXISTS payments (
            id TEXT PRIMARY KEY, order_id TEXT NULL, payment_intent_id TEXT NULL, amount BIGINT NOT NULL CHECK (amount > 0),
            currency TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed', 'requires_action', 'canceled')),
            source_token TEXT NULL, payment_method TEXT NULL, customer TEXT NULL, card_brand TEXT NULL, card_last4 TEXT NULL,
            card_exp_month INTEGER NULL, card_exp_year INTEGER NULL, card_name TEXT NULL, card_address_country TEXT NULL,
            card_address_post_code TEXT NULL, amount_refunded BIGINT NOT NULL DEFAULT 0, description TEXT NULL,
            metadata TEXT NULL, failure_code TEXT NULL, failure_message TEXT NULL, decline_code TEXT NULL,
            receipt_number TEXT NULL, processor_reference TEXT NULL, processor_key TEXT NULL, created_at TEXT NOT NULL,
            paid_at TEXT NULL, CHECK (amount_refunded >= 0 AND amount_refunded <= amount));
        CREATE UNIQUE INDEX IF NOT EXISTS ux_payments_one_live_per_order
            ON payments (order_id) WHERE status IN ('processing', 'succeeded', 'requires_action');
        CREATE INDEX IF NOT EXISTS ix_payments_order ON payments (order_id);
        CREATE UNIQUE INDEX IF NOT EXISTS ux_payments_processor_key ON payments (processor_key) WHERE processor_key IS NOT NULL;
        CREATE INDEX IF NOT EXISTS ix_payments_processing ON payments (created_at) WHERE status = 'processing';
        CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, subject TEXT NOT NULL,
            payload TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
            created_at TEXT NOT NULL);
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
            INSERT INTO payments (id, order_id, payment_intent_id, amount, currency, status, source_token, payment_method, customer,
                amount_refunded, description, metadata, processor_key, created_at)
            VALUES (@id, NULL, NULL, @amount, @currency, 'processing', @source, NULL, NULL, 0, NULL, '{}', @processorKey, @now)
            ON CONFLICT (processor_key) WHERE processor_key IS NOT NULL DO NOTHING
            """, "@id", "@amount", "@currency", "@source", "@processorKey", "@now");
        settle = writer.Prepare("""
            UPDATE payments SET status = 'succeeded', card_brand = 'visa', card_last4 = '4242', card_exp_month = 12,
                card_exp_year = 2029, card_name = NULL, card_address_country = NULL, card_address_post_code = NULL,
                failure_code = NULL, failure_message = NULL, decline_code = NULL, receipt_number = @receipt,
                processor_reference = @reference, paid_at = @now
            WHERE id = @id AND status = 'processing'
            """, "@id", "@receipt", "@reference", "@now");
        emit = writer.Prepare("""
            INSERT INTO events (id, type, subject, status, payload, created_at)
            VALUES (@id, 'payment.succeeded', @subject, 'delivered', @payload, @now)
            """, "@id", "@subject", "@payload", "@now");
        store = writer.Prepare("""
            UPDATE idempotency_keys SET status_code = 201, content_type = 'application/json', location = @location,
                response_body = @body, locked_by = NULL, locked_until = NULL
            WHERE api_key_id = 'storefront' AND idempotency_key = @key
            """, "@key", "@location", "@body");
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
            Run(store, key, "/v1/payments/" + paymentId, Answer);
        });
    }

    // Time-ordered and as long as the service's ids are (29 characters after the prefix).
    private string NewId(string prefix) =>
        prefix + "_" + Interlocked.Increment(ref sequence).ToString("x16", CultureInfo.InvariantCulture) + "k3v9q2m7x1z8w";

    private static void Run(Microsoft.Data.Sqlite.SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }

        command.ExecuteNonQuery();
    }
}

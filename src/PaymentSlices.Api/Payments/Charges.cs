using System.Collections.Concurrent;
using Dapper;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Payments;

/// <summary>
/// The two-phase charge that PayOrder, CreatePayment and ConfirmPaymentIntent share, and that the
/// <see cref="Reconciler"/> finishes after a crash. Phase one (the slice's own turn) claims what must be claimed and
/// records a <c>processing</c> payment with its processor key; the processor is then called with no turn held and no
/// transaction open; phase two (<see cref="SettleAsync"/>, in a second turn) records the answer and what follows from
/// it for the order or the intent, with its event. A processing payment is settled exactly once: each UPDATE is
/// guarded by <c>status = 'processing'</c>.
/// </summary>
public sealed class Charges(Db db, IPaymentProcessor processor, Outbox outbox, ChargesInFlight inFlight, TimeProvider clock)
{
    private const string SelectByKey = "SELECT * FROM payments WHERE processor_key = @ProcessorKey";

    private const string InsertProcessing = """
        INSERT INTO payments (id, order_id, payment_intent_id, amount, currency, status, source_token, payment_method, customer,
            amount_refunded, description, metadata, processor_key, created_at)
        VALUES (@Id, @OrderId, @PaymentIntentId, @Amount, @Currency, 'processing', @SourceToken, @PaymentMethod, @Customer,
            0, @Description, @Metadata, @ProcessorKey, @CreatedAt)
        ON CONFLICT (processor_key) WHERE processor_key IS NOT NULL DO NOTHING
        """;

    private const string Settle = """
        UPDATE payments SET status = @Status, card_brand = @CardBrand, card_last4 = @CardLast4, card_exp_month = @CardExpMonth,
            card_exp_year = @CardExpYear, card_name = @CardName, card_address_country = @CardAddressCountry,
            card_address_post_code = @CardAddressPostCode, failure_code = @FailureCode, failure_message = @FailureMessage,
            decline_code = @DeclineCode, receipt_number = @ReceiptNumber, processor_reference = @ProcessorReference, paid_at = @PaidAt
        WHERE id = @Id AND status = 'processing'
        """;

    // A charge the processor refused outright (a token it does not know) was never a charge: nothing is kept of it.
    private const string Forget = "DELETE FROM payments WHERE id = @Id AND status = 'processing'";

    private const string SelectPayment = "SELECT * FROM payments WHERE id = @Id";

    private const string ReleaseOrder = """
        UPDATE orders SET status = 'created', updated_at = @Now WHERE id = @OrderId AND status = 'pending'
        """;

    private const string MarkPaid = """
        UPDATE orders SET status = 'paid', payment_id = @PaymentId, paid_at = @Now, updated_at = @Now
        WHERE id = @OrderId AND status = 'pending'
        """;

    // Paid another way: an intent still waiting for a card can no longer be used.
    private const string CancelOpenIntents = """
        UPDATE payment_intents SET status = 'canceled', updated_at = @Now
        WHERE order_id = @OrderId AND status = 'requires_payment_method'
        """;

    // 'succeeded', or 'requires_action' while the cardholder completes 3-D Secure.
    private const string IntentCharged = """
        UPDATE payment_intents SET status = @Status, payment_id = @PaymentId, updated_at = @Now
        WHERE id = @IntentId AND status = 'requires_payment_method'
        """;

    /// <summary>The payment an earlier request with the same processor key left (a retry continues it), or null.</summary>
    public async Task<PaymentRow?> FindAsync(string processorKey, CancellationToken cancellationToken)
    {
        var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<PaymentRow>(db.Command(SelectByKey, new { ProcessorKey = processorKey }, cancellationToken));
    }

    /// <summary>
    /// Marks the payment as being charged by this request, from before its phase one until after its phase two, so that
    /// the reconciler never resolves a charge that is still under way here.
    /// </summary>
    public IDisposable Track(string paymentId) => inFlight.Track(paymentId);

    /// <summary>
    /// Phase one's record, in the slice's turn, which it commits: true. False when a payment was recorded under the same
    /// processor key before (an earlier request with the same Idempotency-Key and body; see <see cref="Pipeline.RequestIdempotency"/>):
    /// the turn is rolled back, with what the slice claimed in it, for the slice to continue that payment instead.
    /// </summary>
    public async Task<bool> RecordAsync(PaymentRow processing, CancellationToken cancellationToken)
    {
        var connection = await db.OpenAsync(cancellationToken);
        if (await connection.ExecuteAsync(db.Command(InsertProcessing, processing, cancellationToken)) == 0)
        {
            await db.EndAsync();
            return false;
        }

        await db.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Calls the processor with no turn held. When the breaker was open on the payment's first call, nothing was ever
    /// sent: the processing payment is removed and its claim released in a turn of its own before the 503, so that the
    /// order is payable at once. Any other failure (and any failure of a continued charge, whose earlier call may have
    /// reached the processor) leaves it processing, for a retry with the same key or the reconciler to settle.
    /// </summary>
    public async Task<ChargeResult> ChargeAsync(PaymentRow processing, ChargeRequest request, bool firstCall, CancellationToken cancellationToken)
    {
        // A continued charge (found by its processor key) calls the processor only once the request holds its
        // Idempotency-Key. The request read the key free, but another request with the same key, at another instance,
        // may have claimed it since and be charging now: that payment is what was found, and this request's claim,
        // deferred to its first write, would fail only after the call. Taken now, it fails first: 409, nothing called.
        // A first call's claim committed with its phase one. Either way no read connection is held while the processor works.
        await db.RunBeforeFirstWriteAsync(cancellationToken);
        try
        {
            return await processor.ChargeAsync(request, cancellationToken);
        }
        catch (ProcessorUnavailableException unavailable) when (unavailable.NeverSent && firstCall)
        {
            await db.BeginRequestAsync(CancellationToken.None);
            await ForgetAsync(processing, clock.Now(), CancellationToken.None);
            await db.CommitAsync(CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Before phase two's turn, with no turn held: the order a charge that succeeded is about to pay, read now so that its
    /// <c>order.paid</c> event is not read inside the turn (where every read holds up every other write), from
    /// <paramref name="order"/> as the slice read it before its claim (<see cref="Outbox.ReadOrderToPayAsync"/>). Null when
    /// the answer does not pay an order (failed, 3-D Secure, an intent's charge, no order).
    /// </summary>
    public async Task<Outbox.OrderSnapshot?> ReadOrderToPayAsync(PaymentRow processing, ChargeResult result, OrderRow order, CancellationToken cancellationToken) =>
        result is ChargeResult.Succeeded && processing is { OrderId: not null, PaymentIntentId: null }
            ? await outbox.ReadOrderToPayAsync(order, cancellationToken)
            : null;

    /// <summary>
    /// Phase two, inside the caller's turn: the payment as the processor's answer leaves it, and what follows for its
    /// order or intent. Null when the processor refused the source (the payment is removed). When somebody else
    /// settled it first (the reconciler, a retry), their result is returned and nothing is applied twice.
    /// </summary>
    public async Task<PaymentRow?> SettleAsync(
        PaymentRow processing, ChargeResult result, DateTimeOffset now, CancellationToken cancellationToken, Outbox.OrderSnapshot? orderBefore = null)
    {
        var connection = await db.OpenAsync(cancellationToken);
        if (result is ChargeResult.InvalidSource)
        {
            await ForgetAsync(processing, now, cancellationToken);
            return null;
        }

        var settled = processing.Settled(result, now);
        if (await connection.ExecuteAsync(db.Command(Settle, settled, cancellationToken)) == 0)
        {
            return await connection.QuerySingleOrDefaultAsync<PaymentRow>(db.Command(SelectPayment, processing, cancellationToken));
        }

        await outbox.PaymentAsync(settled, cancellationToken);
        var order = new { settled.OrderId, Now = now, PaymentId = settled.Id, IntentId = settled.PaymentIntentId, settled.Status };
        if (settled.OrderId is null)
        {
            return settled;
        }

        if (settled.Status == "failed")
        {
            await connection.ExecuteAsync(db.Command(ReleaseOrder, order, cancellationToken)); // still payable
        }
        else if (settled.PaymentIntentId is not null)
        {
            // The order is paid, and order.paid sent, when the payment system marks it paid.
            await connection.ExecuteAsync(db.Command(IntentCharged, order, cancellationToken));
        }
        else if (settled.Status == "succeeded" && await connection.ExecuteAsync(db.Command(MarkPaid, order, cancellationToken)) == 1)
        {
            // order.paid only from the payment that paid the order. The payment's claim on the order makes it this one;
            // should the order have left 'pending' another way meanwhile, no event says this payment paid it.
            await connection.ExecuteAsync(db.Command(CancelOpenIntents, order, cancellationToken));
            if (orderBefore is not null)
            {
                await outbox.OrderPaidAsync(orderBefore, settled, now, cancellationToken);
            }
            else
            {
                await outbox.OrderPaidAsync(settled.OrderId, cancellationToken);
            }
        }

        // requires_action: the order stays pending until the cardholder completes 3-D Secure.
        return settled;
    }

    private async Task ForgetAsync(PaymentRow processing, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var connection = await db.OpenAsync(cancellationToken);
        if (await connection.ExecuteAsync(db.Command(Forget, processing, cancellationToken)) > 0 && processing.OrderId is not null)
        {
            await connection.ExecuteAsync(db.Command(ReleaseOrder, new { processing.OrderId, Now = now }, cancellationToken));
        }
    }
}

/// <summary>The payments and refunds whose processor call is running in this process: the reconciler leaves them alone.</summary>
public sealed class ChargesInFlight
{
    private readonly ConcurrentDictionary<string, int> running = new();

    public bool Contains(string id) => running.ContainsKey(id);

    public IDisposable Track(string id)
    {
        running.AddOrUpdate(id, 1, (_, count) => count + 1);
        return new Tracked(this, id);
    }

    private void Untrack(string id)
    {
        if (running.AddOrUpdate(id, 0, (_, count) => count - 1) <= 0)
        {
            running.TryRemove(new KeyValuePair<string, int>(id, 0));
        }
    }

    private sealed class Tracked(ChargesInFlight owner, string id) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                owner.Untrack(id);
            }
        }
    }
}

using Dapper;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Payments;

/// <summary>
/// The two-phase refund that CreateRefund takes and the <see cref="Reconciler"/> finishes after a crash. Phase one (in
/// the slice's turn) reserves the amount on the payment, guarded by what was captured, and records a <c>processing</c>
/// refund; the processor is called with no turn held; phase two (<see cref="SettleAsync"/>) records its answer. A
/// refund the processor never made gives its reserved amount back.
/// </summary>
public sealed class Refunds(Db db, IPaymentProcessor processor, Outbox outbox)
{
    private const string SelectByKey = "SELECT * FROM refunds WHERE processor_key = @ProcessorKey";

    private const string SelectRefund = "SELECT * FROM refunds WHERE id = @Id";

    private const string Succeed = """
        UPDATE refunds SET status = 'succeeded', processor_reference = @Reference WHERE id = @Id AND status = 'processing'
        """;

    private const string Fail = "UPDATE refunds SET status = 'failed' WHERE id = @Id AND status = 'processing'";

    private const string Forget = "DELETE FROM refunds WHERE id = @Id AND status = 'processing'";

    private const string GiveBack = "UPDATE payments SET amount_refunded = amount_refunded - @Amount WHERE id = @PaymentId";

    private const string AddToOrder = """
        UPDATE orders SET
            amount_refunded = amount_refunded + @Amount,
            status = CASE
                WHEN status NOT IN ('paid', 'partially_refunded') THEN status
                WHEN amount_refunded + @Amount = amount THEN 'refunded'
                ELSE 'partially_refunded' END,
            updated_at = @Now
        WHERE id = @OrderId
        """;

    /// <summary>The refund an earlier request with the same processor key left (a retry continues it), or null.</summary>
    public async Task<RefundRow?> FindAsync(string processorKey, CancellationToken cancellationToken)
    {
        var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<RefundRow>(db.Command(SelectByKey, new { ProcessorKey = processorKey }, cancellationToken));
    }

    /// <summary>
    /// Calls the processor with no turn held. When the breaker refused the first call's first attempt, nothing was sent: the processing refund is
    /// removed and its amount given back in a turn of its own before the 503. Any other failure leaves it processing,
    /// for a retry with the same key or the reconciler to settle.
    /// </summary>
    public async Task<string?> RefundAsync(RefundRow processing, ProcessorRefund request, bool firstCall, CancellationToken cancellationToken)
    {
        // A continued refund calls the processor only once the request holds its Idempotency-Key, and no read connection
        // is held while the processor works (see Charges.ChargeAsync).
        await db.RunBeforeFirstWriteAsync(cancellationToken);
        try
        {
            return await processor.RefundAsync(request, cancellationToken);
        }
        catch (ProcessorUnavailableException unavailable) when (unavailable.NeverSent && firstCall)
        {
            await db.BeginRequestAsync(CancellationToken.None);
            var connection = await db.OpenAsync(CancellationToken.None);
            if (await connection.ExecuteAsync(db.Command(Forget, processing, CancellationToken.None)) > 0)
            {
                await connection.ExecuteAsync(db.Command(GiveBack, processing, CancellationToken.None));
            }

            await db.CommitAsync(CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Phase two, in the caller's turn: succeeded with the processor's reference (the order's totals follow, and
    /// <c>refund.succeeded</c>), or failed when <paramref name="reference"/> is null (the processor never made it).
    /// When somebody else settled it first, their result is returned and nothing is applied twice.
    /// </summary>
    public async Task<RefundRow> SettleAsync(RefundRow processing, string? reference, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var connection = await db.OpenAsync(cancellationToken);
        var changed = reference is null
            ? await connection.ExecuteAsync(db.Command(Fail, processing, cancellationToken))
            : await connection.ExecuteAsync(db.Command(Succeed, new { processing.Id, Reference = reference }, cancellationToken));
        if (changed == 0)
        {
            return await connection.QuerySingleAsync<RefundRow>(db.Command(SelectRefund, processing, cancellationToken));
        }

        // The row as the UPDATE left it, without reading it back inside the turn.
        var settled = processing.Settled(reference);

        if (reference is null)
        {
            await connection.ExecuteAsync(db.Command(GiveBack, processing, cancellationToken));
            return settled;
        }

        if (processing.OrderId is not null)
        {
            await connection.ExecuteAsync(db.Command(AddToOrder, new { processing.OrderId, processing.Amount, Now = now }, cancellationToken));
        }

        await outbox.RefundSucceededAsync(settled, cancellationToken);
        return settled;
    }
}

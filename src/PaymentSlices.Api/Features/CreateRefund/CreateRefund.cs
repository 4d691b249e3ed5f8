using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Payments;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.CreateRefund;

/// <summary>Refunds a payment, fully or in parts (seed 003 <c>POST /refunds</c>); the sum never passes what was captured.</summary>
public static class CreateRefund
{
    public static readonly string[] Reasons = ["duplicate", "fraudulent", "requested_by_customer"];

    public sealed record Command(string? PaymentId, decimal? Amount, string? Reason, IReadOnlyDictionary<string, string>? Metadata)
        : ICommand<ApiResult<RefundResource>>, ITakesTurns;

    public sealed class Handler(Db db, Refunds refunds, Charges charges, RequestIdempotency idempotency, TimeProvider clock)
        : IRequestHandler<Command, ApiResult<RefundResource>>
    {
        private const string SelectPayment = """
            SELECT id, order_id, amount, amount_refunded, currency, status, processor_reference FROM payments WHERE id = @PaymentId
            """;

        // The guard in the WHERE clause is the invariant: whatever ran before, a refund that would take the
        // total past the captured amount changes nothing (and the table's CHECK backs it up). The amount is
        // reserved here, in phase one, so that refunds still at the processor count against what is left.
        private const string AddToPayment = """
            UPDATE payments SET amount_refunded = amount_refunded + @Amount
            WHERE id = @PaymentId AND status = 'succeeded' AND amount_refunded + @Amount <= amount
            """;

        private const string InsertRefund = """
            INSERT INTO refunds (id, payment_id, order_id, amount, currency, status, reason, metadata, processor_key, created_at)
            VALUES (@Id, @PaymentId, @OrderId, @Amount, @Currency, 'processing', @Reason, @Metadata, @ProcessorKey, @CreatedAt)
            ON CONFLICT (processor_key) WHERE processor_key IS NOT NULL DO NOTHING
            """;

        public async Task<ApiResult<RefundResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            var payment = await connection.QuerySingleOrDefaultAsync<PaymentRow>(db.Command(SelectPayment, command, cancellationToken));
            if (payment is null)
            {
                return ApiError.InvalidField("payment_not_found", "Payment not found", "payment_id", "Payment not found") with
                {
                    Status = StatusCodes.Status404NotFound,
                };
            }

            // A retry (same Idempotency-Key and body) of a request whose answer was lost continues its refund.
            var refundId = Ids.New("refund");
            var processorKey = idempotency.ProcessorKey("refund", refundId);
            var refund = idempotency.Continues ? await refunds.FindAsync(processorKey, cancellationToken) : null;
            if (refund is { Status: not "processing" })
            {
                return Outcome(refund);
            }

            var currency = Currency.Of(payment.Currency);
            using var tracked = charges.Track(refund?.Id ?? refundId);
            var firstCall = refund is null;
            if (refund is null)
            {
                if (payment.Status != "succeeded")
                {
                    return ApiError.Conflict("payment_not_refundable", $"Only a succeeded payment can be refunded; this one is {payment.Status}.");
                }

                var refundable = payment.Amount - payment.AmountRefunded;
                var amount = command.Amount is { } requested ? Money.ToMinorUnits(requested, currency) : refundable;
                if (amount is not > 0 || amount > refundable)
                {
                    // Unless an earlier request with this key and body is what took the amount: its refund.
                    return idempotency.TryContinue() ? await Handle(command, cancellationToken) : InvalidAmount(currency, refundable);
                }

                // Phase one: the amount reserved and the refund recorded as processing, durable before the processor is called.
                await db.BeginRequestAsync(cancellationToken);
                var write = await db.OpenAsync(cancellationToken);
                if (await write.ExecuteAsync(db.Command(AddToPayment, new { command.PaymentId, Amount = amount }, cancellationToken)) == 0)
                {
                    // Another refund took part of it between our read and this turn: what is left now.
                    var now = await write.QuerySingleAsync<PaymentRow>(db.Command(SelectPayment, command, cancellationToken));
                    return InvalidAmount(currency, now.Amount - now.AmountRefunded);
                }

                refund = new RefundRow
                {
                    Id = refundId,
                    PaymentId = payment.Id,
                    OrderId = payment.OrderId,
                    Amount = amount.Value,
                    Currency = currency.Code,
                    Status = "processing",
                    Reason = command.Reason,
                    Metadata = MetadataJson.Write(command.Metadata),
                    ProcessorKey = processorKey,
                    CreatedAt = clock.Now(),
                };
                if (await write.ExecuteAsync(db.Command(InsertRefund, refund, cancellationToken)) == 0)
                {
                    // An earlier request with this key and body refunded under the same processor key (see RequestIdempotency):
                    // the amount reserved here goes back with the turn, and that refund is continued instead.
                    await db.EndAsync();
                    idempotency.ContinueAfterTakenKey();
                    return await Handle(command, cancellationToken);
                }

                await db.CommitAsync(cancellationToken);
            }

            var reference = await refunds.RefundAsync(refund,
                new ProcessorRefund(processorKey, payment.ProcessorReference ?? payment.Id, refund.Amount, currency), firstCall, cancellationToken);

            // Phase two: the answer, the order's totals and the event; the pipeline commits this turn with the stored response.
            await db.BeginRequestAsync(cancellationToken);
            return Outcome(await refunds.SettleAsync(refund, reference, clock.Now(), cancellationToken));
        }

        // A refund that ended failed (the reconciler found that the processor never received it, before this request's
        // call or its retry's) is no 201: a client that reads only the status would take it for a refund made.
        private static ApiResult<RefundResource> Outcome(RefundRow refund) =>
            refund.Status == "failed" ? RefundFailed(refund) : refund.ToResource();

        // 402, as Stripe answers a request that was valid but failed, with the refund's id. The answer is final, and kept
        // for the key: the processor has recorded the key as not made, so the same key can never make it.
        private static ApiError RefundFailed(RefundRow refund) =>
            new(StatusCodes.Status402PaymentRequired, "refund_failed", "Refund failed",
                "The processor never made this refund; its amount is refundable again. Send a new refund with a new Idempotency-Key.")
            {
                Extensions = new Dictionary<string, object?> { ["refund_id"] = refund.Id },
            };

        private static ApiError InvalidAmount(Currency currency, long refundable)
        {
            var refundableAmount = Money.ToMajorUnits(refundable, currency);
            return ApiError.InvalidField(
                    "invalid_refund_amount", "Invalid refund amount", "amount",
                    refundable == 0
                        ? "The payment is fully refunded; nothing is left to refund."
                        : $"'amount' must be greater than 0, at most the refundable {refundableAmount} {currency.Code}, with at most {currency.Exponent} decimal places.")
                with
                {
                    Detail = "Invalid refund amount",
                    Extensions = new Dictionary<string, object?> { ["refundable_amount"] = refundableAmount },
                };
        }
    }
}

using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.CreateRefund;

/// <summary>Refunds a payment, fully or in parts (seed 003 <c>POST /refunds</c>); the sum never passes what was captured.</summary>
public static class CreateRefund
{
    public static readonly string[] Reasons = ["duplicate", "fraudulent", "requested_by_customer"];

    public sealed record Command(string? PaymentId, decimal? Amount, string? Reason, IReadOnlyDictionary<string, string>? Metadata)
        : ICommand<ApiResult<RefundResource>>;

    public sealed class Handler(Db db, IPaymentProcessor processor, RequestIdempotency idempotency, Outbox outbox, TimeProvider clock)
        : IRequestHandler<Command, ApiResult<RefundResource>>
    {
        private const string SelectPayment = """
            SELECT id, order_id, amount, amount_refunded, currency, status, processor_reference FROM payments WHERE id = @PaymentId
            """;

        // The guard in the WHERE clause is the invariant: whatever ran before, a refund that would take the
        // total past the captured amount changes nothing (and the table's CHECK backs it up).
        private const string AddToPayment = """
            UPDATE payments SET amount_refunded = amount_refunded + @Amount
            WHERE id = @PaymentId AND status = 'succeeded' AND amount_refunded + @Amount <= amount
            """;

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

        private const string InsertRefund = """
            INSERT INTO refunds (id, payment_id, order_id, amount, currency, status, reason, metadata, processor_reference, created_at)
            VALUES (@Id, @PaymentId, @OrderId, @Amount, @Currency, @Status, @Reason, @Metadata, @ProcessorReference, @CreatedAt)
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

            if (payment.Status != "succeeded")
            {
                return ApiError.Conflict("payment_not_refundable", $"Only a succeeded payment can be refunded; this one is {payment.Status}.");
            }

            var currency = Currency.Of(payment.Currency);
            var refundable = payment.Amount - payment.AmountRefunded;
            var amount = command.Amount is { } requested ? Money.ToMinorUnits(requested, currency) : refundable;
            if (amount is not > 0 || amount > refundable ||
                await connection.ExecuteAsync(db.Command(AddToPayment, new { command.PaymentId, Amount = amount }, cancellationToken)) == 0)
            {
                return InvalidAmount(currency, refundable);
            }

            var now = clock.Now();
            var refundId = Ids.New("refund");
            var reference = await processor.RefundAsync(
                new ProcessorRefund(idempotency.ProcessorKey("refund", refundId), payment.ProcessorReference ?? payment.Id, amount.Value, currency), cancellationToken);
            var refund = new RefundRow
            {
                Id = refundId,
                PaymentId = payment.Id,
                OrderId = payment.OrderId,
                Amount = amount.Value,
                Currency = currency.Code,
                Status = "succeeded",
                Reason = command.Reason,
                Metadata = MetadataJson.Write(command.Metadata),
                ProcessorReference = reference,
                CreatedAt = now,
            };
            await connection.ExecuteAsync(db.Command(InsertRefund, refund, cancellationToken));
            if (payment.OrderId is not null)
            {
                await connection.ExecuteAsync(db.Command(AddToOrder, new { payment.OrderId, Amount = amount, Now = now }, cancellationToken));
            }

            await outbox.RefundSucceededAsync(refund, cancellationToken);
            return refund.ToResource();
        }

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

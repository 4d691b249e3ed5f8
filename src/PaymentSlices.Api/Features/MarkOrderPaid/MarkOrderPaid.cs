using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.MarkOrderPaid;

/// <summary>
/// The payment system marks an order paid once its intent succeeded (seed 002 step 3). Safe to repeat:
/// the same intent again returns the same paid order.
/// </summary>
public static class MarkOrderPaid
{
    public sealed record Body(string? PaymentIntentId, decimal? Amount, string? Currency);

    public sealed record Command(string OrderId, Body Body) : ICommand<ApiResult<OrderResource>>;

    public sealed class Handler(Db db, Outbox outbox, TimeProvider clock) : IRequestHandler<Command, ApiResult<OrderResource>>
    {
        private const string SelectState = """
            SELECT id, status, currency, amount, payment_id FROM orders WHERE id = @OrderId;
            SELECT * FROM payment_intents WHERE id = @PaymentIntentId;
            """;

        private const string SelectPaymentId = "SELECT payment_id FROM orders WHERE id = @OrderId";

        // Refunds may have come before the mark (the payment succeeded when the intent was confirmed).
        private const string MarkPaid = """
            UPDATE orders SET
                status = CASE WHEN amount_refunded = 0 THEN 'paid' WHEN amount_refunded < amount THEN 'partially_refunded' ELSE 'refunded' END,
                payment_id = @PaymentId, paid_at = @Now, updated_at = @Now
            WHERE id = @OrderId AND status = 'pending'
            """;

        private const string SelectOrder = """
            SELECT * FROM orders WHERE id = @OrderId;
            SELECT * FROM order_items WHERE order_id = @OrderId ORDER BY position;
            SELECT * FROM payments WHERE order_id = @OrderId ORDER BY created_at, id;
            SELECT * FROM refunds WHERE order_id = @OrderId ORDER BY created_at, id;
            """;

        public async Task<ApiResult<OrderResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            OrderRow? order;
            PaymentIntentRow? intent;
            await using (var state = await connection.QueryMultipleAsync(db.Command(SelectState, new { command.OrderId, command.Body.PaymentIntentId }, cancellationToken)))
            {
                order = await state.ReadSingleOrDefaultAsync<OrderRow>();
                intent = await state.ReadSingleOrDefaultAsync<PaymentIntentRow>();
            }

            if (order is null)
            {
                return ApiError.NotFound("order_not_found", "Order not found");
            }

            if (Check(command.Body, order, intent) is { } error)
            {
                return error;
            }

            if (!order.IsPaid)
            {
                if (await connection.ExecuteAsync(db.Command(MarkPaid, new { command.OrderId, intent!.PaymentId, Now = clock.Now() }, cancellationToken)) > 0)
                {
                    await outbox.OrderPaidAsync(order.Id, cancellationToken); // once: marking again with the same intent sends nothing
                }
                else if (await connection.ExecuteScalarAsync<string?>(db.Command(SelectPaymentId, command, cancellationToken)) != intent.PaymentId)
                {
                    return PaymentErrors.OrderAlreadyPaid();
                }

                // Else a concurrent mark with the same intent (another instance, on PostgreSQL) got there first: the same paid order.
            }

            await using var results = await connection.QueryMultipleAsync(db.Command(SelectOrder, command, cancellationToken));
            var paid = await results.ReadSingleAsync<OrderRow>();
            return paid.ToResource(
                await results.ReadAsync<OrderItemRow>(), await results.ReadAsync<PaymentRow>(), await results.ReadAsync<RefundRow>());
        }

        private static ApiError? Check(Body body, OrderRow order, PaymentIntentRow? intent)
        {
            if (intent is null)
            {
                return ApiError.InvalidField("payment_intent_not_found", "Payment intent not found", "payment_intent_id", "Payment intent not found")
                    with { Status = StatusCodes.Status404NotFound };
            }

            if (intent.OrderId != order.Id)
            {
                return ApiError.InvalidField("payment_intent_order_mismatch", "Payment intent of another order", "payment_intent_id",
                    "The payment intent belongs to another order.");
            }

            // Marking again with the intent that paid it answers the same paid order; any other payment conflicts.
            if (order.IsPaid && order.PaymentId != intent.PaymentId)
            {
                return PaymentErrors.OrderAlreadyPaid();
            }

            if (intent.Status != "succeeded")
            {
                return ApiError.Conflict("payment_intent_not_succeeded", $"The payment intent is {intent.Status}; an order is marked paid only once its intent succeeded.");
            }

            var currency = Currency.Of(intent.Currency);
            if (body.Currency is { } requested && !requested.Equals(currency.Code, StringComparison.OrdinalIgnoreCase))
            {
                return PaymentErrors.CurrencyMismatch("payment intent", currency.Code);
            }

            if (body.Amount is { } amount && Money.ToMinorUnits(amount, currency) != intent.Amount)
            {
                return PaymentErrors.AmountMismatch("payment intent", Money.ToMajorUnits(intent.Amount, currency));
            }

            return null;
        }
    }
}

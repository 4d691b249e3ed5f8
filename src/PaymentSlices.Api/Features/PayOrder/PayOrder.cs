using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.PayOrder;

/// <summary>Pays an order (seed 000 "Pay Order", seed 001 "Pay an Order"): one succeeded payment per order, ever.</summary>
public static class PayOrder
{
    public sealed record Body(
        PaymentSource? Source,
        string? PaymentMethod,
        string? Customer,
        decimal? Amount,
        string? Currency,
        string? Description,
        IReadOnlyDictionary<string, string>? Metadata) : IPaysWithSource;

    public sealed record Command(string OrderId, Body Body) : ICommand<ApiResult<PaymentResource>>, IPaysWithSource
    {
        PaymentSource? IPaysWithSource.Source => Body.Source;

        string? IPaysWithSource.PaymentMethod => Body.PaymentMethod;

        string? IPaysWithSource.Customer => Body.Customer;
    }

    public sealed class Handler(Db db, IPaymentProcessor processor, RequestIdempotency idempotency, Outbox outbox, TimeProvider clock)
        : IRequestHandler<Command, ApiResult<PaymentResource>>
    {
        private const string SelectOrder = "SELECT id, status, currency, amount FROM orders WHERE id = @OrderId";

        // Claiming the order before charging is what makes a second concurrent pay see it taken:
        // the guarded UPDATE lets exactly one request move it out of 'created'.
        private const string ClaimOrder = """
            UPDATE orders SET status = 'pending', updated_at = @Now WHERE id = @OrderId AND status = 'created'
            """;

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

        // A saved card by its id, or a customer's default card (seed 001).
        private const string SelectSavedCard = """
            SELECT * FROM payment_methods
            WHERE id = COALESCE(@PaymentMethod, (SELECT default_payment_method FROM customers WHERE id = @Customer))
            """;

        private const string InsertPayment = """
            INSERT INTO payments (id, order_id, payment_intent_id, amount, currency, status, source_token, payment_method, customer,
                card_brand, card_last4, card_exp_month, card_exp_year, card_name, card_address_country, card_address_post_code,
                amount_refunded, description, metadata, failure_code, failure_message, decline_code, receipt_number,
                processor_reference, created_at, paid_at)
            VALUES (@Id, @OrderId, @PaymentIntentId, @Amount, @Currency, @Status, @SourceToken, @PaymentMethod, @Customer,
                @CardBrand, @CardLast4, @CardExpMonth, @CardExpYear, @CardName, @CardAddressCountry, @CardAddressPostCode,
                0, @Description, @Metadata, @FailureCode, @FailureMessage, @DeclineCode, @ReceiptNumber,
                @ProcessorReference, @CreatedAt, @PaidAt)
            """;

        public async Task<ApiResult<PaymentResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            var order = await connection.QuerySingleOrDefaultAsync<OrderRow>(db.Command(SelectOrder, command, cancellationToken));
            if (order is null)
            {
                return ApiError.NotFound("order_not_found", "Order not found");
            }

            var currency = Currency.Of(order.Currency);
            if (Check(command.Body, order, currency) is { } error)
            {
                return error;
            }

            SavedCardRow? savedCard = null;
            var direct = command.Body.DirectSource(); // a source, or a test PaymentMethod
            if (direct is null)
            {
                savedCard = await connection.QuerySingleOrDefaultAsync<SavedCardRow>(db.Command(SelectSavedCard, command.Body, cancellationToken));
                if (savedCard is null)
                {
                    return PaymentErrors.SavedSourceNotFound(command.Body);
                }
            }

            var now = clock.Now();
            var orderKey = new { command.OrderId, Now = now };
            if (await connection.ExecuteAsync(db.Command(ClaimOrder, orderKey, cancellationToken)) == 0)
            {
                return PaymentErrors.OrderAlreadyPaid(); // another request took it between our read and claim
            }

            var paymentId = Ids.New("pay");
            var source = savedCard?.ChargeSource ?? direct!;
            var result = await processor.ChargeAsync(new ChargeRequest(idempotency.ProcessorKey("charge", paymentId), order.Amount, currency, source, savedCard?.Display), cancellationToken);
            if (result is ChargeResult.InvalidSource)
            {
                await connection.ExecuteAsync(db.Command(ReleaseOrder, orderKey, cancellationToken));
                return PaymentErrors.InvalidSource();
            }

            var payment = PaymentRow.FromCharge(paymentId, result, order.Amount, currency, source, command.Body.Description,
                command.Body.Metadata, now, order.Id, savedCard: savedCard);
            await connection.ExecuteAsync(db.Command(InsertPayment, payment, cancellationToken));
            await outbox.PaymentAsync(payment, cancellationToken);

            if (result is ChargeResult.Declined)
            {
                await connection.ExecuteAsync(db.Command(ReleaseOrder, orderKey, cancellationToken)); // still payable
                return PaymentErrors.CardDeclined(payment);
            }

            if (result is ChargeResult.RequiresAction)
            {
                return payment.ToResource(); // the order stays pending until the cardholder completes 3-D Secure
            }

            await connection.ExecuteAsync(db.Command(MarkPaid, new { command.OrderId, Now = now, PaymentId = paymentId }, cancellationToken));
            await connection.ExecuteAsync(db.Command(CancelOpenIntents, orderKey, cancellationToken));
            await outbox.OrderPaidAsync(order.Id, cancellationToken);
            return payment.ToResource();
        }

        private static ApiError? Check(Body body, OrderRow order, Currency currency)
        {
            if (body.Currency is { } requested && !requested.Equals(currency.Code, StringComparison.OrdinalIgnoreCase))
            {
                return PaymentErrors.CurrencyMismatch("order", currency.Code);
            }

            if (body.Amount is { } amount && Money.ToMinorUnits(amount, currency) != order.Amount)
            {
                return PaymentErrors.AmountMismatch("order", Money.ToMajorUnits(order.Amount, currency));
            }

            return order.Status switch
            {
                "created" => null,
                "pending" => PaymentErrors.OrderPaymentPending(),
                _ => PaymentErrors.OrderAlreadyPaid(),
            };
        }
    }
}

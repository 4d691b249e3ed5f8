using System.Security.Cryptography;
using System.Text;
using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.ConfirmPaymentIntent;

/// <summary>
/// Pays a payment intent with a card or token (seed 002 step 2, the sandbox processor's side). On success the
/// order is <c>pending</c> until the payment system marks it paid; on a decline the intent can be confirmed again.
/// </summary>
public static class ConfirmPaymentIntent
{
    public sealed record Body(string? ClientSecret, PaymentSource? Source, string? PaymentMethod) : IPaysWithSource
    {
        string? IPaysWithSource.Customer => null;

        /// <summary>Never the secret or the card.</summary>
        public override string ToString() => "ConfirmPaymentIntent.Body";
    }

    public sealed record Command(string IntentId, Body Body) : ICommand<ApiResult<PaymentIntentResource>>, IPaysWithSource
    {
        PaymentSource? IPaysWithSource.Source => Body.Source;

        string? IPaysWithSource.PaymentMethod => Body.PaymentMethod;

        string? IPaysWithSource.Customer => null;
    }

    public sealed class Handler(Db db, IPaymentProcessor processor, RequestIdempotency idempotency, Outbox outbox, TimeProvider clock)
        : IRequestHandler<Command, ApiResult<PaymentIntentResource>>
    {
        private const string SelectIntent = """
            SELECT * FROM payment_intents WHERE id = @IntentId;
            SELECT o.id, o.status, o.currency, o.amount FROM orders o JOIN payment_intents i ON i.order_id = o.id WHERE i.id = @IntentId;
            SELECT it.* FROM order_items it JOIN payment_intents i ON i.order_id = it.order_id WHERE i.id = @IntentId ORDER BY it.position;
            """;

        private const string ClaimOrder = """
            UPDATE orders SET status = 'pending', updated_at = @Now WHERE id = @OrderId AND status = 'created'
            """;

        private const string ReleaseOrder = """
            UPDATE orders SET status = 'created', updated_at = @Now WHERE id = @OrderId AND status = 'pending'
            """;

        // 'succeeded', or 'requires_action' while the cardholder completes 3-D Secure.
        private const string IntentCharged = """
            UPDATE payment_intents SET status = @Status, payment_id = @PaymentId, updated_at = @Now
            WHERE id = @IntentId AND status = 'requires_payment_method'
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

        public async Task<ApiResult<PaymentIntentResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            await using var results = await connection.QueryMultipleAsync(db.Command(SelectIntent, command, cancellationToken));
            var intent = await results.ReadSingleOrDefaultAsync<PaymentIntentRow>();
            if (intent is null)
            {
                return ApiError.NotFound("payment_intent_not_found", "Payment intent not found");
            }

            var order = await results.ReadSingleAsync<OrderRow>();
            var items = (await results.ReadAsync<OrderItemRow>()).ToList();
            if (!SecretMatches(intent.ClientSecret, command.Body.ClientSecret!))
            {
                return new ApiError(StatusCodes.Status403Forbidden, "invalid_client_secret", "Forbidden", "The client_secret does not match this payment intent.");
            }

            if (intent.Status != "requires_payment_method")
            {
                return ApiError.Conflict("payment_intent_unexpected_state", $"The payment intent is {intent.Status}; only one that requires a payment method can be confirmed.");
            }

            if (order.Status != "created")
            {
                return order.IsPaid ? PaymentErrors.OrderAlreadyPaid() : PaymentErrors.OrderPaymentPending();
            }

            SavedCardRow? savedCard = null;
            var direct = command.Body.DirectSource(); // a source, or a test PaymentMethod
            if (direct is null)
            {
                savedCard = await connection.QuerySingleOrDefaultAsync<SavedCardRow>(
                    db.Command(SelectSavedCard, new { command.Body.PaymentMethod, Customer = (string?)null }, cancellationToken));
                if (savedCard is null)
                {
                    return PaymentErrors.SavedSourceNotFound(command);
                }
            }

            var now = clock.Now();
            var orderKey = new { OrderId = order.Id, Now = now };
            if (await connection.ExecuteAsync(db.Command(ClaimOrder, orderKey, cancellationToken)) == 0)
            {
                return PaymentErrors.OrderPaymentPending();
            }

            var currency = Currency.Of(intent.Currency);
            var paymentId = Ids.New("pay");
            var source = savedCard?.ChargeSource ?? direct!;
            var result = await processor.ChargeAsync(new ChargeRequest(idempotency.ProcessorKey("charge", paymentId), intent.Amount, currency, source, savedCard?.Display), cancellationToken);
            if (result is ChargeResult.InvalidSource)
            {
                await connection.ExecuteAsync(db.Command(ReleaseOrder, orderKey, cancellationToken));
                return PaymentErrors.InvalidSource();
            }

            var payment = PaymentRow.FromCharge(paymentId, result, intent.Amount, currency, source, null, null, now, order.Id, intent.Id, savedCard);
            await connection.ExecuteAsync(db.Command(InsertPayment, payment, cancellationToken));
            await outbox.PaymentAsync(payment, cancellationToken); // the order is paid, and order.paid sent, when the payment system marks it
            if (result is ChargeResult.Declined)
            {
                await connection.ExecuteAsync(db.Command(ReleaseOrder, orderKey, cancellationToken)); // the intent can be confirmed again
                return PaymentErrors.CardDeclined(payment, intent.Id);
            }

            var status = result is ChargeResult.RequiresAction ? "requires_action" : "succeeded";
            await connection.ExecuteAsync(db.Command(IntentCharged, new { command.IntentId, Status = status, PaymentId = paymentId, Now = now }, cancellationToken));
            return intent.ToResource(items, status, paymentId);
        }

        private static bool SecretMatches(string expected, string presented) =>
            CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(expected)), SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
    }
}

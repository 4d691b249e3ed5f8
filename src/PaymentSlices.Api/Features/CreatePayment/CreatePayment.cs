using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.CreatePayment;

/// <summary>Charges a source for an amount, with no order (seed 003 <c>POST /payments</c>).</summary>
public static class CreatePayment
{
    public sealed record Command(
        decimal? Amount,
        string? Currency,
        PaymentSource? Source,
        string? PaymentMethod,
        string? Customer,
        string? Description,
        IReadOnlyDictionary<string, string>? Metadata) : ICommand<ApiResult<PaymentResource>>, IPaysWithSource;

    public sealed class Handler(Db db, IPaymentProcessor processor, RequestIdempotency idempotency, Outbox outbox, TimeProvider clock)
        : IRequestHandler<Command, ApiResult<PaymentResource>>
    {
        // A saved card by its id, or a customer's default card (seed 001).
        private const string SelectSavedCard = """
            SELECT * FROM payment_methods
            WHERE id = COALESCE(@PaymentMethod, (SELECT default_payment_method FROM customers WHERE id = @Customer))
            """;

        private const string InsertPayment = """
            INSERT INTO payments (id, amount, currency, status, source_token, payment_method, customer,
                card_brand, card_last4, card_exp_month, card_exp_year, card_name, card_address_country, card_address_post_code,
                amount_refunded, description, metadata, failure_code, failure_message, decline_code, receipt_number,
                processor_reference, created_at, paid_at)
            VALUES (@Id, @Amount, @Currency, @Status, @SourceToken, @PaymentMethod, @Customer,
                @CardBrand, @CardLast4, @CardExpMonth, @CardExpYear, @CardName, @CardAddressCountry, @CardAddressPostCode,
                0, @Description, @Metadata, @FailureCode, @FailureMessage, @DeclineCode, @ReceiptNumber,
                @ProcessorReference, @CreatedAt, @PaidAt)
            """;

        public async Task<ApiResult<PaymentResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            SavedCardRow? savedCard = null;
            var direct = command.DirectSource(); // a source, or a test PaymentMethod
            if (direct is null)
            {
                savedCard = await connection.QuerySingleOrDefaultAsync<SavedCardRow>(db.Command(SelectSavedCard, command, cancellationToken));
                if (savedCard is null)
                {
                    return PaymentErrors.SavedSourceNotFound(command);
                }
            }

            // The validator has checked the amount against the currency: this conversion is exact.
            var currency = Currency.Of(command.Currency!);
            var amount = Money.ToMinorUnits(command.Amount!.Value, currency)!.Value;
            var paymentId = Ids.New("pay");
            var source = savedCard?.ChargeSource ?? direct!;
            var result = await processor.ChargeAsync(new ChargeRequest(idempotency.ProcessorKey("charge", paymentId), amount, currency, source, savedCard?.Display), cancellationToken);
            if (result is ChargeResult.InvalidSource)
            {
                return PaymentErrors.InvalidSource();
            }

            var payment = PaymentRow.FromCharge(
                paymentId, result, amount, currency, source, command.Description, command.Metadata, clock.Now(), savedCard: savedCard);
            await connection.ExecuteAsync(db.Command(InsertPayment, payment, cancellationToken));
            await outbox.PaymentAsync(payment, cancellationToken);
            return result is ChargeResult.Declined ? PaymentErrors.CardDeclined(payment) : payment.ToResource();
        }
    }
}

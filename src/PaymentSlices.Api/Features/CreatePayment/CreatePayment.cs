using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Payments;
using PaymentSlices.Api.Pipeline;

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
        IReadOnlyDictionary<string, string>? Metadata) : ICommand<ApiResult<PaymentResource>>, IPaysWithSource, ITakesTurns;

    public sealed class Handler(Db db, Charges charges, RequestIdempotency idempotency, TimeProvider clock)
        : IRequestHandler<Command, ApiResult<PaymentResource>>
    {
        // A saved card by its id, or a customer's default card (seed 001).
        private const string SelectSavedCard = """
            SELECT * FROM payment_methods
            WHERE id = COALESCE(@PaymentMethod, (SELECT default_payment_method FROM customers WHERE id = @Customer))
            """;

        public async Task<ApiResult<PaymentResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            // A retry (same Idempotency-Key and body) of a request whose answer was lost continues its charge.
            var paymentId = Ids.New("pay");
            var processorKey = idempotency.ProcessorKey("charge", paymentId);
            var payment = idempotency.Continues ? await charges.FindAsync(processorKey, cancellationToken) : null;
            if (payment is { IsProcessing: false })
            {
                return Outcome(payment);
            }

            SavedCardRow? savedCard = null;
            var direct = command.DirectSource(); // a source, or a test PaymentMethod
            if (direct is null)
            {
                var connection = await db.OpenAsync(cancellationToken);
                savedCard = await connection.QuerySingleOrDefaultAsync<SavedCardRow>(db.Command(SelectSavedCard, command, cancellationToken));
                if (savedCard is null)
                {
                    return PaymentErrors.SavedSourceNotFound(command);
                }
            }

            // The validator has checked the amount against the currency: this conversion is exact.
            var currency = Currency.Of(command.Currency!);
            var amount = Money.ToMinorUnits(command.Amount!.Value, currency)!.Value;
            var source = savedCard?.ChargeSource ?? direct!;
            using var tracked = charges.Track(payment?.Id ?? paymentId);
            var firstCall = payment is null;
            if (payment is null)
            {
                // Phase one: the payment recorded as processing, durable before the processor is called.
                await db.BeginRequestAsync(cancellationToken);
                payment = PaymentRow.Processing(paymentId, processorKey, amount, currency, source, command.Description, command.Metadata, clock.Now(), savedCard: savedCard);
                if (!await charges.RecordAsync(payment, cancellationToken))
                {
                    // An earlier request with this key and body charged (see RequestIdempotency): continue that charge.
                    idempotency.ContinueAfterTakenKey();
                    return await Handle(command, cancellationToken);
                }
            }

            var result = await charges.ChargeAsync(payment, new ChargeRequest(processorKey, amount, currency, source, savedCard?.Display), firstCall, cancellationToken);

            // Phase two: the answer and its event; the pipeline commits this turn with the stored response.
            await db.BeginRequestAsync(cancellationToken);
            var settled = await charges.SettleAsync(payment, result, clock.Now(), cancellationToken);
            return settled is null ? PaymentErrors.InvalidSource() : Outcome(settled);
        }

        private static ApiResult<PaymentResource> Outcome(PaymentRow payment) =>
            payment.Status == "failed" ? PaymentErrors.Failed(payment) : payment.ToResource();
    }
}

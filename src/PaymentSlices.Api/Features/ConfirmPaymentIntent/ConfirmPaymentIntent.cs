using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Payments;
using PaymentSlices.Api.Pipeline;

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

    public sealed record Command(string IntentId, Body Body) : ICommand<ApiResult<PaymentIntentResource>>, IPaysWithSource, ITakesTurns
    {
        PaymentSource? IPaysWithSource.Source => Body.Source;

        string? IPaysWithSource.PaymentMethod => Body.PaymentMethod;

        string? IPaysWithSource.Customer => null;
    }

    public sealed class Handler(Db db, Charges charges, RequestIdempotency idempotency, TimeProvider clock)
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

        // A saved card by its id, or a customer's default card (seed 001).
        private const string SelectSavedCard = """
            SELECT * FROM payment_methods
            WHERE id = COALESCE(@PaymentMethod, (SELECT default_payment_method FROM customers WHERE id = @Customer))
            """;

        public async Task<ApiResult<PaymentIntentResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            PaymentIntentRow? intent;
            OrderRow order;
            List<OrderItemRow> items;
            await using (var results = await connection.QueryMultipleAsync(db.Command(SelectIntent, command, cancellationToken)))
            {
                intent = await results.ReadSingleOrDefaultAsync<PaymentIntentRow>();
                if (intent is null)
                {
                    return ApiError.NotFound("payment_intent_not_found", "Payment intent not found");
                }

                order = await results.ReadSingleAsync<OrderRow>();
                items = (await results.ReadAsync<OrderItemRow>()).ToList();
            }

            if (!ConfirmPaymentIntentSecret.Matches(intent.ClientSecret, command.Body.ClientSecret!))
            {
                return ConfirmPaymentIntentSecret.Forbidden();
            }

            // A retry (same Idempotency-Key and body) of a request whose answer was lost continues its charge.
            var paymentId = Ids.New("pay");
            var processorKey = idempotency.ProcessorKey("charge", paymentId);
            var payment = idempotency.Continues ? await charges.FindAsync(processorKey, cancellationToken) : null;
            if (payment is { IsProcessing: false })
            {
                return Outcome(intent, items, payment);
            }

            if (payment is null && Check(intent, order) is { } error)
            {
                // Unless an earlier request with this key and body is what moved the intent on: its answer.
                return idempotency.TryContinue() ? await Handle(command, cancellationToken) : error;
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

            var currency = Currency.Of(intent.Currency);
            var source = savedCard?.ChargeSource ?? direct!;
            using var tracked = charges.Track(payment?.Id ?? paymentId);
            var firstCall = payment is null;
            if (payment is null)
            {
                // Phase one: the order claimed and the payment recorded as processing, durable before the processor is called.
                await db.BeginRequestAsync(cancellationToken);
                var now = clock.Now();
                if (await (await db.OpenAsync(cancellationToken)).ExecuteAsync(db.Command(ClaimOrder, new { OrderId = order.Id, Now = now }, cancellationToken)) == 0)
                {
                    return PaymentErrors.OrderPaymentPending();
                }

                payment = PaymentRow.Processing(paymentId, processorKey, intent.Amount, currency, source, null, null, now, order.Id, intent.Id, savedCard);
                if (!await charges.RecordAsync(payment, cancellationToken))
                {
                    // An earlier request with this key and body charged (see RequestIdempotency): continue that charge.
                    idempotency.ContinueAfterTakenKey();
                    return await Handle(command, cancellationToken);
                }
            }

            var result = await charges.ChargeAsync(payment, new ChargeRequest(processorKey, intent.Amount, currency, source, savedCard?.Display), firstCall, cancellationToken);

            // Phase two: the answer, the intent and the event; the pipeline commits this turn with the stored response.
            await db.BeginRequestAsync(cancellationToken);
            var settled = await charges.SettleAsync(payment, result, clock.Now(), cancellationToken);
            return settled is null ? PaymentErrors.InvalidSource() : Outcome(intent, items, settled);
        }

        private static ApiError? Check(PaymentIntentRow intent, OrderRow order)
        {
            if (intent.Status != "requires_payment_method")
            {
                return ApiError.Conflict("payment_intent_unexpected_state", $"The payment intent is {intent.Status}; only one that requires a payment method can be confirmed.");
            }

            if (order.Status != "created")
            {
                return order.IsPaid ? PaymentErrors.OrderAlreadyPaid() : PaymentErrors.OrderPaymentPending();
            }

            return null;
        }

        /// <summary>A declined confirm is a 402 and the intent can be confirmed again; otherwise the intent as the payment left it.</summary>
        private static ApiResult<PaymentIntentResource> Outcome(PaymentIntentRow intent, List<OrderItemRow> items, PaymentRow payment) =>
            payment.Status == "failed"
                ? PaymentErrors.Failed(payment, intent.Id)
                : intent.ToResource(items, payment.Status == "requires_action" ? "requires_action" : "succeeded", payment.Id);
    }
}

using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Payments;
using PaymentSlices.Api.Pipeline;

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

    public sealed record Command(string OrderId, Body Body) : ICommand<ApiResult<PaymentResource>>, IPaysWithSource, ITakesTurns
    {
        PaymentSource? IPaysWithSource.Source => Body.Source;

        string? IPaysWithSource.PaymentMethod => Body.PaymentMethod;

        string? IPaysWithSource.Customer => Body.Customer;
    }

    public sealed class Handler(Db db, Charges charges, RequestIdempotency idempotency, TimeProvider clock)
        : IRequestHandler<Command, ApiResult<PaymentResource>>
    {
        // The whole row: its order.paid event is built from it (Outbox.ReadOrderToPayAsync).
        private const string SelectOrder = "SELECT * FROM orders WHERE id = @OrderId";

        // Claiming the order before charging is what makes a second concurrent pay see it taken:
        // the guarded UPDATE lets exactly one request move it out of 'created'.
        private const string ClaimOrder = """
            UPDATE orders SET status = 'pending', updated_at = @Now WHERE id = @OrderId AND status = 'created'
            """;

        // A saved card by its id, or a customer's default card (seed 001).
        private const string SelectSavedCard = """
            SELECT * FROM payment_methods
            WHERE id = COALESCE(@PaymentMethod, (SELECT default_payment_method FROM customers WHERE id = @Customer))
            """;

        public async Task<ApiResult<PaymentResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            var order = await connection.QuerySingleOrDefaultAsync<OrderRow>(db.Command(SelectOrder, command, cancellationToken));
            if (order is null)
            {
                return ApiError.NotFound("order_not_found", "Order not found");
            }

            // A retry (same Idempotency-Key and body) of a request whose answer was lost continues its charge.
            var paymentId = Ids.New("pay");
            var processorKey = idempotency.ProcessorKey("charge", paymentId);
            var payment = idempotency.Continues ? await charges.FindAsync(processorKey, cancellationToken) : null;
            if (payment is { IsProcessing: false })
            {
                return Outcome(payment);
            }

            var currency = Currency.Of(order.Currency);
            if (payment is null && Check(command.Body, order, currency) is { } error)
            {
                // Unless an earlier request with this key and body is what keeps the order pending or paid: its answer.
                return idempotency.TryContinue() ? await Handle(command, cancellationToken) : error;
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

            var source = savedCard?.ChargeSource ?? direct!;
            using var tracked = charges.Track(payment?.Id ?? paymentId);
            var firstCall = payment is null;
            if (payment is null)
            {
                // Phase one: the order claimed and the payment recorded as processing, durable before the processor is called.
                await db.BeginRequestAsync(cancellationToken);
                var now = clock.Now();
                if (await (await db.OpenAsync(cancellationToken)).ExecuteAsync(db.Command(ClaimOrder, new { command.OrderId, Now = now }, cancellationToken)) == 0)
                {
                    return PaymentErrors.OrderAlreadyPaid(); // another request took it between our read and claim
                }

                payment = PaymentRow.Processing(paymentId, processorKey, order.Amount, currency, source, command.Body.Description,
                    command.Body.Metadata, now, order.Id, savedCard: savedCard);
                if (!await charges.RecordAsync(payment, cancellationToken))
                {
                    // An earlier request with this key and body charged (see RequestIdempotency): continue that charge.
                    idempotency.ContinueAfterTakenKey();
                    return await Handle(command, cancellationToken);
                }
            }

            var result = await charges.ChargeAsync(payment, new ChargeRequest(processorKey, order.Amount, currency, source, savedCard?.Display), firstCall, cancellationToken);

            // Phase two: the answer, the order and the event; the pipeline commits this turn with the stored response.
            var orderBefore = await charges.ReadOrderToPayAsync(payment, result, order, cancellationToken);
            await db.BeginRequestAsync(cancellationToken);
            var settled = await charges.SettleAsync(payment, result, clock.Now(), cancellationToken, orderBefore);
            return settled is null ? PaymentErrors.InvalidSource() : Outcome(settled);
        }

        private static ApiResult<PaymentResource> Outcome(PaymentRow payment) =>
            payment.Status == "failed" ? PaymentErrors.Failed(payment) : payment.ToResource();

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

using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.CreatePaymentIntent;

/// <summary>
/// Creates the payment intent of an order (seed 002 step 1), or returns the open one it already has:
/// an order never has two intents that could both be paid.
/// </summary>
public static class CreatePaymentIntent
{
    public sealed record Command(string OrderId) : ICommand<ApiResult<Outcome>>;

    /// <param name="Intent">The intent.</param>
    /// <param name="Created">False when the order's open intent was returned instead.</param>
    public sealed record Outcome(PaymentIntentResource Intent, bool Created);

    public sealed class Handler(Db db, TimeProvider clock) : IRequestHandler<Command, ApiResult<Outcome>>
    {
        private const string SelectOrder = """
            SELECT id, status, currency, amount FROM orders WHERE id = @OrderId;
            SELECT * FROM order_items WHERE order_id = @OrderId ORDER BY position;
            SELECT * FROM payment_intents WHERE order_id = @OrderId AND status IN ('requires_payment_method', 'requires_action');
            """;

        // A concurrent create that inserted first (on PostgreSQL, another instance's) wins: the index of open intents
        // per order refuses this row, and the winner's intent is answered instead.
        private const string InsertIntent = """
            INSERT INTO payment_intents (id, order_id, client_secret, amount, currency, status, created_at, updated_at)
            VALUES (@Id, @OrderId, @ClientSecret, @Amount, @Currency, @Status, @CreatedAt, @UpdatedAt)
            ON CONFLICT DO NOTHING
            """;

        private const string SelectOpenIntent = """
            SELECT * FROM payment_intents WHERE order_id = @OrderId AND status IN ('requires_payment_method', 'requires_action')
            """;

        public async Task<ApiResult<Outcome>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            await using var results = await connection.QueryMultipleAsync(db.Command(SelectOrder, command, cancellationToken));
            var order = await results.ReadSingleOrDefaultAsync<OrderRow>();
            if (order is null)
            {
                return ApiError.NotFound("order_not_found", "Order not found");
            }

            var items = (await results.ReadAsync<OrderItemRow>()).ToList();
            if (await results.ReadSingleOrDefaultAsync<PaymentIntentRow>() is { } open)
            {
                return new Outcome(open.ToResource(items), Created: false);
            }

            if (order.Status != "created")
            {
                return order.IsPaid ? PaymentErrors.OrderAlreadyPaid() : PaymentErrors.OrderPaymentPending();
            }

            var now = clock.Now();
            var id = Ids.New("pi");
            var intent = new PaymentIntentRow
            {
                Id = id,
                OrderId = order.Id,
                ClientSecret = $"{id}_secret_{Ids.Random("s", 32)[2..]}",
                Amount = order.Amount,
                Currency = order.Currency,
                Status = "requires_payment_method",
                CreatedAt = now,
                UpdatedAt = now,
            };
            if (await connection.ExecuteAsync(db.Command(InsertIntent, intent, cancellationToken)) == 0)
            {
                // The winner's intent, unless it was confirmed in the meantime (the order is then being paid).
                var winner = await connection.QuerySingleOrDefaultAsync<PaymentIntentRow>(db.Command(SelectOpenIntent, command, cancellationToken));
                return winner is null ? PaymentErrors.OrderPaymentPending() : new Outcome(winner.ToResource(items), Created: false);
            }

            return new Outcome(intent.ToResource(items), Created: true);
        }
    }
}

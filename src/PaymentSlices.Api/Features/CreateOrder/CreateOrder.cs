using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.CreateOrder;

/// <summary>Registers an order to be paid (seed 000 "Create Order", with seed 001's items).</summary>
public static class CreateOrder
{
    public sealed record Item(string? Name, decimal? Amount, int? Quantity, string? Description);

    public sealed record Command(
        string? Currency,
        IReadOnlyList<Item>? Items,
        decimal? Amount,
        string? Customer,
        string? Email,
        IReadOnlyDictionary<string, string>? Metadata) : ICommand<OrderResource>;

    public sealed class Handler(Db db, TimeProvider clock) : IRequestHandler<Command, OrderResource>
    {
        private const string InsertOrder = """
            INSERT INTO orders (id, status, currency, amount, amount_refunded, customer, email, metadata, created_at, updated_at)
            VALUES (@Id, 'created', @Currency, @Amount, 0, @Customer, @Email, @Metadata, @CreatedAt, @UpdatedAt)
            """;

        private const string InsertItem = """
            INSERT INTO order_items (order_id, position, name, description, amount, quantity)
            VALUES (@OrderId, @Position, @Name, @Description, @Amount, @Quantity)
            """;

        public async Task<OrderResource> Handle(Command command, CancellationToken cancellationToken)
        {
            // The validator has checked every amount against the currency; these conversions are exact.
            var currency = Currency.Of(command.Currency!);
            var now = clock.Now();
            var orderId = Ids.New("order");
            var items = command.Items!.Select((item, position) => new OrderItemRow
            {
                OrderId = orderId,
                Position = position,
                Name = item.Name!,
                Description = item.Description,
                Amount = Money.ToMinorUnits(item.Amount!.Value, currency)!.Value,
                Quantity = item.Quantity!.Value,
            }).ToList();
            var order = new OrderRow
            {
                Id = orderId,
                Status = "created",
                Currency = currency.Code,
                Amount = items.Sum(item => item.Amount * item.Quantity),
                Customer = command.Customer,
                Email = command.Email,
                Metadata = MetadataJson.Write(command.Metadata),
                CreatedAt = now,
                UpdatedAt = now,
            };

            var connection = await db.OpenAsync(cancellationToken);
            await connection.ExecuteAsync(db.Command(InsertOrder, order, cancellationToken));
            await connection.ExecuteAsync(db.Command(InsertItem, items, cancellationToken));
            return order.ToResource(items, [], []);
        }
    }
}

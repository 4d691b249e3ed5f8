using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.GetOrder;

/// <summary>An order with its items, payments, refunds and receipt (seed 000: the receipt is in the order details).</summary>
public static class GetOrder
{
    public sealed record Query(string OrderId) : IRequest<ApiResult<OrderResource>>;

    public sealed class Handler(Db db) : IRequestHandler<Query, ApiResult<OrderResource>>
    {
        private const string Sql = """
            SELECT * FROM orders WHERE id = @OrderId;
            SELECT * FROM order_items WHERE order_id = @OrderId ORDER BY position;
            SELECT * FROM payments WHERE order_id = @OrderId ORDER BY created_at, id;
            SELECT * FROM refunds WHERE order_id = @OrderId ORDER BY created_at, id;
            """;

        public async Task<ApiResult<OrderResource>> Handle(Query query, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            await using var results = await connection.QueryMultipleAsync(db.Command(Sql, query, cancellationToken));
            var order = await results.ReadSingleOrDefaultAsync<OrderRow>();
            if (order is null)
            {
                return ApiError.NotFound("order_not_found", "Order not found");
            }

            return order.ToResource(
                await results.ReadAsync<OrderItemRow>(), await results.ReadAsync<PaymentRow>(), await results.ReadAsync<RefundRow>());
        }
    }
}

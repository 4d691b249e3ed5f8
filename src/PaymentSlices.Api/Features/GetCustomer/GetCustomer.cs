using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.GetCustomer;

/// <summary>A customer with its saved cards (seed 001).</summary>
public static class GetCustomer
{
    public sealed record Query(string CustomerId) : IRequest<ApiResult<CustomerResource>>;

    public sealed class Handler(Db db) : IRequestHandler<Query, ApiResult<CustomerResource>>
    {
        private const string Sql = """
            SELECT * FROM customers WHERE id = @CustomerId;
            SELECT * FROM payment_methods WHERE customer_id = @CustomerId ORDER BY created_at, id;
            """;

        public async Task<ApiResult<CustomerResource>> Handle(Query query, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            await using var results = await connection.QueryMultipleAsync(db.Command(Sql, query, cancellationToken));
            var customer = await results.ReadSingleOrDefaultAsync<CustomerRow>();
            return customer is null
                ? ApiError.NotFound("customer_not_found", "Customer not found")
                : customer.ToResource(await results.ReadAsync<SavedCardRow>());
        }
    }
}

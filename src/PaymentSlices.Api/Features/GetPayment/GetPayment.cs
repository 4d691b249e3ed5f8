using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.GetPayment;

/// <summary>One payment (seed 003 <c>GET /payments/{id}</c>).</summary>
public static class GetPayment
{
    public sealed record Query(string PaymentId) : IRequest<ApiResult<PaymentResource>>;

    public sealed class Handler(Db db) : IRequestHandler<Query, ApiResult<PaymentResource>>
    {
        private const string Sql = "SELECT * FROM payments WHERE id = @PaymentId";

        public async Task<ApiResult<PaymentResource>> Handle(Query query, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            var payment = await connection.QuerySingleOrDefaultAsync<PaymentRow>(db.Command(Sql, query, cancellationToken));
            return payment is null ? ApiError.NotFound("payment_not_found", "Payment not found") : payment.ToResource();
        }
    }
}

using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.GetRefund;

/// <summary>One refund (seed 003).</summary>
public static class GetRefund
{
    public sealed record Query(string RefundId) : IRequest<ApiResult<RefundResource>>;

    public sealed class Handler(Db db) : IRequestHandler<Query, ApiResult<RefundResource>>
    {
        private const string Sql = "SELECT * FROM refunds WHERE id = @RefundId";

        public async Task<ApiResult<RefundResource>> Handle(Query query, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            var refund = await connection.QuerySingleOrDefaultAsync<RefundRow>(db.Command(Sql, query, cancellationToken));
            return refund is null ? ApiError.NotFound("refund_not_found", "Refund not found") : refund.ToResource();
        }
    }
}

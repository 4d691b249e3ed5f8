using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.GetEvent;

/// <summary>An event, the body its endpoints receive, and every delivery attempt (time, status code, error).</summary>
public static class GetEvent
{
    public sealed record Query(string EventId) : IRequest<ApiResult<EventResource>>;

    public sealed class Handler(Db db) : IRequestHandler<Query, ApiResult<EventResource>>
    {
        private const string Sql = """
            SELECT * FROM events WHERE id = @EventId;
            SELECT * FROM event_deliveries WHERE event_id = @EventId ORDER BY id;
            SELECT * FROM event_attempts WHERE event_id = @EventId ORDER BY id;
            """;

        public async Task<ApiResult<EventResource>> Handle(Query query, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            await using var results = await connection.QueryMultipleAsync(db.Command(Sql, query, cancellationToken));
            var row = await results.ReadSingleOrDefaultAsync<EventRow>();
            if (row is null)
            {
                return ApiError.NotFound("event_not_found", "Event not found");
            }

            return row.ToResource(await results.ReadAsync<EventDeliveryRow>(), await results.ReadAsync<EventAttemptRow>());
        }
    }
}

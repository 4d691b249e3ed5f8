using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.ListEvents;

/// <summary>Events newest first, by delivery status and type, a page at a time (Stripe's <c>limit</c> and <c>starting_after</c>).</summary>
public static class ListEvents
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;

    public static readonly string[] Statuses = ["pending", "delivered", "failed"];

    public sealed record Query(string? Status, string? Type, int? Limit, string? StartingAfter) : IRequest<ApiResult<EventListResource>>;

    public sealed class Handler(Db db) : IRequestHandler<Query, ApiResult<EventListResource>>
    {
        private const string SelectCursor = "SELECT seq FROM events WHERE id = @StartingAfter";

        private const string SelectPage = """
            SELECT * FROM events
            WHERE (@Status IS NULL OR status = @Status) AND (@Type IS NULL OR type = @Type) AND (@Before IS NULL OR seq < @Before)
            ORDER BY seq DESC
            LIMIT @Take
            """;

        private const string SelectDeliveries = """
            SELECT * FROM event_deliveries WHERE event_id IN @Ids ORDER BY id;
            SELECT * FROM event_attempts WHERE event_id IN @Ids ORDER BY id;
            """;

        public async Task<ApiResult<EventListResource>> Handle(Query query, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            long? before = null;
            if (query.StartingAfter is not null)
            {
                before = await connection.QuerySingleOrDefaultAsync<long?>(db.Command(SelectCursor, query, cancellationToken));
                if (before is null)
                {
                    return ApiError.InvalidField("event_not_found", "Event not found", "starting_after", "No event has this id.");
                }
            }

            var limit = query.Limit ?? DefaultLimit;
            var rows = (await connection.QueryAsync<EventRow>(
                db.Command(SelectPage, new { query.Status, query.Type, Before = before, Take = limit + 1 }, cancellationToken))).ToList();
            var page = rows.Take(limit).ToList();
            await using var results = await connection.QueryMultipleAsync(
                db.Command(SelectDeliveries, new { Ids = page.Select(row => row.Id).ToList() }, cancellationToken));
            var deliveries = (await results.ReadAsync<EventDeliveryRow>()).ToList();
            var attempts = (await results.ReadAsync<EventAttemptRow>()).ToList();
            return new EventListResource("list", page.Select(row => row.ToResource(deliveries, attempts)).ToList(), rows.Count > limit);
        }
    }
}

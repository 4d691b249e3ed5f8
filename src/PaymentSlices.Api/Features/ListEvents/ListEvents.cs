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

        // Two texts rather than one with "(@Status IS NULL OR status = @Status)": a statement is planned once for every
        // value (SQLite keeps it prepared; PostgreSQL's generic plan, when Max Auto Prepare prepares it), and a condition that may be absent cannot use
        // ix_events_status (status, seq). A page of a rare status would then read the events one by one, newest first,
        // until it had found a page, or every event. No cursor is seq < long.MaxValue (a seq the identity never reaches).
        internal const string SelectPage = "SELECT * FROM events WHERE " + PageOfType;

        internal const string SelectPageByStatus = "SELECT * FROM events WHERE status = @Status AND " + PageOfType;

        private const string PageOfType = "(@Type IS NULL OR type = @Type) AND seq < @Before ORDER BY seq DESC LIMIT @Take";

        private const string SelectDeliveries = """
            SELECT * FROM event_deliveries WHERE event_id IN @Ids ORDER BY id;
            SELECT * FROM event_attempts WHERE event_id IN @Ids ORDER BY id;
            """;

        public async Task<ApiResult<EventListResource>> Handle(Query query, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            var before = long.MaxValue;
            if (query.StartingAfter is not null)
            {
                if (await connection.QuerySingleOrDefaultAsync<long?>(db.Command(SelectCursor, query, cancellationToken)) is not { } cursor)
                {
                    return ApiError.InvalidField("event_not_found", "Event not found", "starting_after", "No event has this id.");
                }

                before = cursor;
            }

            var limit = query.Limit ?? DefaultLimit;
            var rows = (await connection.QueryAsync<EventRow>(db.Command(
                query.Status is null ? SelectPage : SelectPageByStatus,
                new { query.Status, query.Type, Before = before, Take = limit + 1 }, cancellationToken))).ToList();
            var page = rows.Take(limit).ToList();
            await using var results = await connection.QueryMultipleAsync(
                db.Command(SelectDeliveries, new { Ids = page.Select(row => row.Id).ToList() }, cancellationToken));
            var deliveries = (await results.ReadAsync<EventDeliveryRow>()).ToList();
            var attempts = (await results.ReadAsync<EventAttemptRow>()).ToList();
            return new EventListResource("list", page.Select(row => row.ToResource(deliveries, attempts)).ToList(), rows.Count > limit);
        }
    }
}

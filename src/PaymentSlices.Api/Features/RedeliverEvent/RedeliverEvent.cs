using Dapper;
using MediatR;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.RedeliverEvent;

/// <summary>
/// Sends an event again, with the same id and body, to every endpoint configured now for its type: a failed delivery
/// starts a fresh retry window, a delivered one is sent once more (receivers dedupe on the event id), a pending one is
/// tried at once. Attempts already made stay in the event's history.
/// </summary>
public static class RedeliverEvent
{
    public sealed record Command(string EventId) : ICommand<ApiResult<EventResource>>;

    public sealed class Handler(Db db, IOptions<WebhookOptions> options, TimeProvider clock, WebhookSignal signal)
        : IRequestHandler<Command, ApiResult<EventResource>>
    {
        private const string SelectEvent = "SELECT * FROM events WHERE id = @EventId";

        // The generation makes an attempt still in flight from the previous round unable to overwrite this one.
        private const string UpsertDelivery = """
            INSERT INTO event_deliveries (event_id, endpoint, status, next_attempt_at, retry_until, seq, subject)
            SELECT @EventId, @Endpoint, 'pending', @Now, @RetryUntil, seq, subject FROM events WHERE id = @EventId
            ON CONFLICT (event_id, endpoint) DO UPDATE SET
                status = 'pending', generation = event_deliveries.generation + 1, rounds = 0,
                next_attempt_at = excluded.next_attempt_at, retry_until = excluded.retry_until, delivered_at = NULL
            """;

        private const string MarkPending = "UPDATE events SET status = 'pending' WHERE id = @EventId";

        private const string SelectHistory = """
            SELECT * FROM events WHERE id = @EventId;
            SELECT * FROM event_deliveries WHERE event_id = @EventId ORDER BY id;
            SELECT * FROM event_attempts WHERE event_id = @EventId ORDER BY id;
            """;

        public async Task<ApiResult<EventResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            var row = await connection.QuerySingleOrDefaultAsync<EventRow>(db.Command(SelectEvent, command, cancellationToken));
            if (row is null)
            {
                return ApiError.NotFound("event_not_found", "Event not found");
            }

            var settings = options.Value;
            var endpoints = settings.For(row.Type).ToList();
            if (endpoints.Count == 0)
            {
                return ApiError.Conflict("webhook_endpoints_missing", $"No configured webhook endpoint receives {row.Type} events.");
            }

            var now = clock.Now();
            foreach (var endpoint in endpoints)
            {
                await connection.ExecuteAsync(db.Command(
                    UpsertDelivery, new { command.EventId, Endpoint = endpoint.Url, Now = now, RetryUntil = now + settings.RetryFor }, cancellationToken));
            }

            await connection.ExecuteAsync(db.Command(MarkPending, command, cancellationToken));
            db.OnCommitted(() => signal.EventsWritten(endpoints));

            await using var results = await connection.QueryMultipleAsync(db.Command(SelectHistory, command, cancellationToken));
            var updated = await results.ReadSingleAsync<EventRow>();
            return updated.ToResource(await results.ReadAsync<EventDeliveryRow>(), await results.ReadAsync<EventAttemptRow>());
        }
    }
}

using System.Text.Json;

namespace PaymentSlices.Api.Webhooks;

/// <summary>An event as the events routes show it: the body its endpoints receive, and how each delivery went.</summary>
public sealed record EventResource(
    string Id, string Object, string Type, string Status, DateTimeOffset CreatedAt, EventData Data, IReadOnlyList<EventDeliveryResource> Deliveries);

/// <summary>The event's subject as it was when the event happened: a payment, an order or a refund.</summary>
public sealed record EventData(JsonElement Object);

/// <summary>One endpoint's delivery: the endpoint's URL (without query or credentials, never its secret) and every attempt.</summary>
public sealed record EventDeliveryResource(
    string Endpoint, string Status, int AttemptCount, DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt, IReadOnlyList<EventAttemptResource> Attempts);

/// <summary>One HTTP attempt: when, the endpoint's status code (none if it never answered), and what went wrong.</summary>
public sealed record EventAttemptResource(DateTimeOffset AttemptedAt, int? StatusCode, string? Error, long DurationMs);

/// <summary>A page of events, newest first.</summary>
public sealed record EventListResource(string Object, IReadOnlyList<EventResource> Data, bool HasMore);

/// <summary>An events table row.</summary>
public sealed class EventRow
{
    public long Seq { get; init; }
    public string Id { get; init; } = "";
    public string Type { get; init; } = "";
    public string Payload { get; init; } = "";
    public string Status { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }

    public EventResource ToResource(IEnumerable<EventDeliveryRow> deliveries, IEnumerable<EventAttemptRow> attempts)
    {
        using var payload = JsonDocument.Parse(Payload);
        var data = payload.RootElement.GetProperty("data").GetProperty("object").Clone();
        var attemptsByEndpoint = attempts.Where(attempt => attempt.EventId == Id).ToLookup(attempt => attempt.Endpoint);
        return new EventResource(Id, "event", Type, Status, CreatedAt, new EventData(data), deliveries
            .Where(delivery => delivery.EventId == Id)
            .Select(delivery => new EventDeliveryResource(
                WebhookEndpoint.Display(delivery.Endpoint), delivery.Status, delivery.AttemptCount, delivery.NextAttemptAt, delivery.DeliveredAt,
                attemptsByEndpoint[delivery.Endpoint]
                    .Select(attempt => new EventAttemptResource(attempt.AttemptedAt, attempt.StatusCode, attempt.Error, attempt.DurationMs))
                    .ToList()))
            .ToList());
    }
}

public sealed class EventDeliveryRow
{
    public string EventId { get; init; } = "";
    public string Endpoint { get; init; } = "";
    public string Status { get; init; } = "";
    public int AttemptCount { get; init; }
    public DateTimeOffset? NextAttemptAt { get; init; }
    public DateTimeOffset? DeliveredAt { get; init; }
}

public sealed class EventAttemptRow
{
    public string EventId { get; init; } = "";
    public string Endpoint { get; init; } = "";
    public DateTimeOffset AttemptedAt { get; init; }
    public int? StatusCode { get; init; }
    public string? Error { get; init; }
    public long DurationMs { get; init; }
}

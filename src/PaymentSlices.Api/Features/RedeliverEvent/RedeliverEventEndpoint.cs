using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.RedeliverEvent;

public static class RedeliverEventEndpoint
{
    public static IEndpointRouteBuilder MapRedeliverEvent(this IEndpointRouteBuilder app)
    {
        app.MapPost("/events/{eventId}/redeliver", Handle)
            .WithName(nameof(RedeliverEvent))
            .WithSummary("Redeliver an event")
            .WithDescription("Sends the event again, with the same id and body, to every endpoint configured for its type, with a fresh retry window. " +
                "Answers 202 with the event (its status back to `pending`); the attempts appear on `GET /v1/events/{eventId}` as they happen. " +
                "409 `webhook_endpoints_missing` when no configured endpoint receives the event's type.")
            .WithTags("Events")
            .RequireAuthorization(ApiRoles.Storefront)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<Results<Accepted<EventResource>, ProblemHttpResult>> Handle(string eventId, IMediator mediator)
    {
        var result = await mediator.Send(new RedeliverEvent.Command(eventId));
        return result.Error is { } error ? error.ToProblem() : TypedResults.Accepted($"/v1/events/{eventId}", result.Value);
    }
}

using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.GetEvent;

public static class GetEventEndpoint
{
    public static IEndpointRouteBuilder MapGetEvent(this IEndpointRouteBuilder app)
    {
        app.MapGet("/events/{eventId}", Handle)
            .WithName(nameof(GetEvent))
            .WithSummary("Get an event")
            .WithDescription("A webhook event: the body its endpoints receive (`data.object` is the payment, order or refund as it was), its status " +
                "(`pending` while a delivery is still being tried, `delivered`, or `failed` once retries ran out) and every delivery attempt.")
            .WithTags("Events")
            .RequireAuthorization(ApiRoles.AnyRole)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    public static async Task<Results<Ok<EventResource>, ProblemHttpResult>> Handle(string eventId, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetEvent.Query(eventId), cancellationToken);
        return result.Error is { } error ? error.ToProblem() : TypedResults.Ok(result.Value);
    }
}

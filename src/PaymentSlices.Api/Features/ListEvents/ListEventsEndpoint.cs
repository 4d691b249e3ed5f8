using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.ListEvents;

public static class ListEventsEndpoint
{
    public static IEndpointRouteBuilder MapListEvents(this IEndpointRouteBuilder app)
    {
        app.MapGet("/events", Handle)
            .WithName(nameof(ListEvents))
            .WithSummary("List events")
            .WithDescription("Webhook events, newest first, each with its delivery attempts. `status=failed` finds the events whose retries ran out " +
                "(redeliver them); `status=pending` those still being tried. Page with `limit` (1 to 100, default 20) and `starting_after` (the last id of the previous page).")
            .WithTags("Events")
            .RequireAuthorization(ApiRoles.AnyRole)
            .ProducesValidationProblem();
        return app;
    }

    public static async Task<Results<Ok<EventListResource>, ProblemHttpResult>> Handle(
        IMediator mediator,
        CancellationToken cancellationToken,
        string? status = null,
        string? type = null,
        int? limit = null,
        [FromQuery(Name = "starting_after")] string? startingAfter = null)
    {
        var result = await mediator.Send(new ListEvents.Query(status, type, limit, startingAfter), cancellationToken);
        return result.Error is { } error ? error.ToProblem() : TypedResults.Ok(result.Value);
    }
}

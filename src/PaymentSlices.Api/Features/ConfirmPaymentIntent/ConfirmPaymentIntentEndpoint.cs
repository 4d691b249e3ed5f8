using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.ConfirmPaymentIntent;

public static class ConfirmPaymentIntentEndpoint
{
    public static IEndpointRouteBuilder MapConfirmPaymentIntent(this IEndpointRouteBuilder app)
    {
        app.MapPost("/payment-intents/{intentId}/confirm", Handle)
            .WithName(nameof(ConfirmPaymentIntent))
            .WithSummary("Confirm a payment intent")
            .WithDescription("Pays the intent with a card, token or payment method, proving the client_secret; a wrong client_secret is 403 before any 400 about the other fields. Seed 002 step 2 (\"for testing: make payment\").")
            .WithTags("Payment intents")
            .RequireAuthorization(ApiRoles.Storefront)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status402PaymentRequired)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<Results<Ok<PaymentIntentResource>, ProblemHttpResult>> Handle(
        string intentId, ConfirmPaymentIntent.Body body, IMediator mediator)
    {
        if (await mediator.Send(new ConfirmPaymentIntentSecret.Query(intentId, body.ClientSecret)) is { } forbidden)
        {
            return forbidden.ToProblem(); // before the validator's 400: see ConfirmPaymentIntentSecret
        }

        var result = await mediator.Send(new ConfirmPaymentIntent.Command(intentId, body));
        return result.Error is { } error ? error.ToProblem() : TypedResults.Ok(result.Value);
    }
}

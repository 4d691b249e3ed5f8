using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.CreatePaymentIntent;

public static class CreatePaymentIntentEndpoint
{
    public static IEndpointRouteBuilder MapCreatePaymentIntent(this IEndpointRouteBuilder app)
    {
        app.MapPost("/orders/{orderId}/payment-intent", Handle)
            .WithName(nameof(CreatePaymentIntent))
            .WithSummary("Create the payment intent of an order")
            .WithDescription("201 with a new intent, or 200 with the order's open intent if it has one. Seed 002 step 1.")
            .WithTags("Payment intents")
            .RequireAuthorization(ApiRoles.Storefront)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<Results<Created<PaymentIntentResource>, Ok<PaymentIntentResource>, ProblemHttpResult>> Handle(
        string orderId, IMediator mediator)
    {
        var result = await mediator.Send(new CreatePaymentIntent.Command(orderId));
        return result switch
        {
            { Error: { } error } => error.ToProblem(),
            { Value.Created: true } => TypedResults.Created($"/v1/payment-intents/{result.Value.Intent.Id}", result.Value.Intent),
            _ => TypedResults.Ok(result.Value!.Intent),
        };
    }
}

using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.PayOrder;

public static class PayOrderEndpoint
{
    public static IEndpointRouteBuilder MapPayOrder(this IEndpointRouteBuilder app)
    {
        app.MapPost("/orders/{orderId}/pay", Handle)
            .WithName(nameof(PayOrder))
            .WithSummary("Pay an order")
            .WithDescription("Charges a card, token, saved card or customer for the order's amount. Seed 000 \"Pay Order\", seed 001 \"Pay an Order\".")
            .WithTags("Orders")
            .RequireAuthorization(ApiRoles.Storefront)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status402PaymentRequired)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<Results<Created<PaymentResource>, ProblemHttpResult>> Handle(string orderId, PayOrder.Body body, IMediator mediator)
    {
        var result = await mediator.Send(new PayOrder.Command(orderId, body));
        return result.Error is { } error ? error.ToProblem() : TypedResults.Created($"/v1/payments/{result.Value!.Id}", result.Value);
    }
}

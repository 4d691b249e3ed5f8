using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.GetOrder;

public static class GetOrderEndpoint
{
    public static IEndpointRouteBuilder MapGetOrder(this IEndpointRouteBuilder app)
    {
        app.MapGet("/orders/{orderId}", Handle)
            .WithName(nameof(GetOrder))
            .WithSummary("Get an order")
            .WithDescription("The order with its items, payments, refunds and, once paid, its receipt. Seed 000 \"receipt from the order details\".")
            .WithTags("Orders")
            .RequireAuthorization(ApiRoles.AnyRole)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    public static async Task<Results<Ok<OrderResource>, ProblemHttpResult>> Handle(string orderId, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetOrder.Query(orderId), cancellationToken);
        return result.Error is { } error ? error.ToProblem() : TypedResults.Ok(result.Value);
    }
}

using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.CreateOrder;

public static class CreateOrderEndpoint
{
    public static IEndpointRouteBuilder MapCreateOrder(this IEndpointRouteBuilder app)
    {
        app.MapPost("/orders", Handle)
            .WithName(nameof(CreateOrder))
            .WithSummary("Create an order")
            .WithDescription("Registers an order with its items; its amount is the sum of amount * quantity. Seed 000 \"Create Order\", seed 001 items.")
            .WithTags("Orders")
            .RequireAuthorization(ApiRoles.Storefront)
            .ProducesValidationProblem();
        return app;
    }

    public static async Task<Created<OrderResource>> Handle(CreateOrder.Command command, IMediator mediator)
    {
        var order = await mediator.Send(command);
        return TypedResults.Created($"/v1/orders/{order.Id}", order);
    }
}

using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.MarkOrderPaid;

public static class MarkOrderPaidEndpoint
{
    public static IEndpointRouteBuilder MapMarkOrderPaid(this IEndpointRouteBuilder app)
    {
        app.MapPost("/orders/{orderId}/mark-paid", Handle)
            .WithName(nameof(MarkOrderPaid))
            .WithSummary("Mark an order paid")
            .WithDescription("Called by the payment system (payment_system role) once the order's payment intent succeeded. Seed 002 step 3.")
            .WithTags("Orders")
            .RequireAuthorization(ApiRoles.PaymentSystem)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<Results<Ok<OrderResource>, ProblemHttpResult>> Handle(string orderId, MarkOrderPaid.Body body, IMediator mediator)
    {
        var result = await mediator.Send(new MarkOrderPaid.Command(orderId, body));
        return result.Error is { } error ? error.ToProblem() : TypedResults.Ok(result.Value);
    }
}

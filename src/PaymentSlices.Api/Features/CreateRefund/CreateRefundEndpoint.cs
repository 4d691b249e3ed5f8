using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.CreateRefund;

public static class CreateRefundEndpoint
{
    public static IEndpointRouteBuilder MapCreateRefund(this IEndpointRouteBuilder app)
    {
        app.MapPost("/refunds", Handle)
            .WithName(nameof(CreateRefund))
            .WithSummary("Refund a payment")
            .WithDescription("Refunds the whole remaining amount, or a part; partial refunds may repeat until the payment is fully refunded. Seed 003 \"POST /refunds\".")
            .WithTags("Refunds")
            .RequireAuthorization(ApiRoles.Storefront)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status402PaymentRequired)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<Results<Created<RefundResource>, ProblemHttpResult>> Handle(CreateRefund.Command command, IMediator mediator)
    {
        var result = await mediator.Send(command);
        return result.Error is { } error ? error.ToProblem() : TypedResults.Created($"/v1/refunds/{result.Value!.Id}", result.Value);
    }
}

using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.GetRefund;

public static class GetRefundEndpoint
{
    public static IEndpointRouteBuilder MapGetRefund(this IEndpointRouteBuilder app)
    {
        app.MapGet("/refunds/{refundId}", Handle)
            .WithName(nameof(GetRefund))
            .WithSummary("Get a refund")
            .WithDescription("One refund of a payment. Seed 003.")
            .WithTags("Refunds")
            .RequireAuthorization(ApiRoles.AnyRole)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    public static async Task<Results<Ok<RefundResource>, ProblemHttpResult>> Handle(string refundId, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetRefund.Query(refundId), cancellationToken);
        return result.Error is { } error ? error.ToProblem() : TypedResults.Ok(result.Value);
    }
}

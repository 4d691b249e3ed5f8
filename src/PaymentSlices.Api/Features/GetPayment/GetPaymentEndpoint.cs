using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.GetPayment;

public static class GetPaymentEndpoint
{
    public static IEndpointRouteBuilder MapGetPayment(this IEndpointRouteBuilder app)
    {
        app.MapGet("/payments/{paymentId}", Handle)
            .WithName(nameof(GetPayment))
            .WithSummary("Get a payment")
            .WithDescription("A payment with its status, card (masked), refunded amount and receipt number. Seed 003 \"GET /payments/{id}\".")
            .WithTags("Payments")
            .RequireAuthorization(ApiRoles.AnyRole)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    public static async Task<Results<Ok<PaymentResource>, ProblemHttpResult>> Handle(string paymentId, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetPayment.Query(paymentId), cancellationToken);
        return result.Error is { } error ? error.ToProblem() : TypedResults.Ok(result.Value);
    }
}

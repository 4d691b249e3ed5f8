using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.CreatePayment;

public static class CreatePaymentEndpoint
{
    public static IEndpointRouteBuilder MapCreatePayment(this IEndpointRouteBuilder app)
    {
        app.MapPost("/payments", Handle)
            .WithName(nameof(CreatePayment))
            .WithSummary("Create a payment")
            .WithDescription("Charges a card, token, saved card or customer for an amount, with no order. Seed 003 \"POST /payments\".")
            .WithTags("Payments")
            .RequireAuthorization(ApiRoles.Storefront)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status402PaymentRequired);
        return app;
    }

    public static async Task<Results<Created<PaymentResource>, ProblemHttpResult>> Handle(CreatePayment.Command command, IMediator mediator)
    {
        var result = await mediator.Send(command);
        return result.Error is { } error ? error.ToProblem() : TypedResults.Created($"/v1/payments/{result.Value!.Id}", result.Value);
    }
}

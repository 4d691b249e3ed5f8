using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.GetCustomer;

public static class GetCustomerEndpoint
{
    public static IEndpointRouteBuilder MapGetCustomer(this IEndpointRouteBuilder app)
    {
        app.MapGet("/customers/{customerId}", Handle)
            .WithName(nameof(GetCustomer))
            .WithSummary("Get a customer")
            .WithDescription("A customer with its saved cards (brand, last4, expiry; never the number). Seed 001.")
            .WithTags("Customers")
            .RequireAuthorization(ApiRoles.AnyRole)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    public static async Task<Results<Ok<CustomerResource>, ProblemHttpResult>> Handle(string customerId, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetCustomer.Query(customerId), cancellationToken);
        return result.Error is { } error ? error.ToProblem() : TypedResults.Ok(result.Value);
    }
}

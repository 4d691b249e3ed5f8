using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.CreateCustomer;

public static class CreateCustomerEndpoint
{
    public static IEndpointRouteBuilder MapCreateCustomer(this IEndpointRouteBuilder app)
    {
        app.MapPost("/customers", Handle)
            .WithName(nameof(CreateCustomer))
            .WithSummary("Create a customer with a saved card")
            .WithDescription("Saves the card (as a processor vault token and its display fields) and makes it the default. Seed 001 pays by customer or saved card.")
            .WithTags("Customers")
            .RequireAuthorization(ApiRoles.Storefront)
            .ProducesValidationProblem();
        return app;
    }

    public static async Task<Results<Created<CustomerResource>, ProblemHttpResult>> Handle(CreateCustomer.Command command, IMediator mediator)
    {
        var result = await mediator.Send(command);
        return result.Error is { } error ? error.ToProblem() : TypedResults.Created($"/v1/customers/{result.Value!.Id}", result.Value);
    }
}

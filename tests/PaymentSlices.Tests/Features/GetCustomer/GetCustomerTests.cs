using System.Net;

namespace PaymentSlices.Tests.Features.GetCustomer;

public sealed class GetCustomerTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Customer_IsReadWithItsSavedCards()
    {
        var created = await (await factory.Storefront().PostJsonAsync("/v1/customers", new { name = "John Doe", email = "john@example.com", source = Api.Card() }))
            .ShouldBe(HttpStatusCode.Created);

        var read = await (await factory.PaymentSystem().GetAsync($"/v1/customers/{created.Id()}")).ShouldBe(HttpStatusCode.OK);

        read.ToJsonString().Should().Be(created.ToJsonString());
    }

    [Fact]
    public async Task UnknownCustomer_Is404()
    {
        var problem = await (await factory.Storefront().GetAsync("/v1/customers/cus_missing")).ShouldBeProblem(HttpStatusCode.NotFound, "customer_not_found");

        problem.Str("detail").Should().Be("Customer not found");
    }
}

using System.Net;

namespace PaymentSlices.Tests.Features.GetPayment;

public sealed class GetPaymentTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task ExistingPayment_Is200WithTheContractsFieldsAndAMaskedCard()
    {
        var created = await (await client.PostJsonAsync("/v1/payments", new
        {
            amount = 100.00m,
            currency = "USD",
            source = Api.Card(cvc: "987", expMonth: 11, expYear: 2032, name: "J. Doe"),
            description = "Payment for order #12345",
            metadata = new { cart = "c-42" },
        })).ShouldBe(HttpStatusCode.Created);

        var response = await client.GetAsync($"/v1/payments/{created.Id()}");

        var payment = await response.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        payment.Id().Should().Be(created.Id());
        payment.Str("object").Should().Be("payment");
        payment["order_id"].Should().BeNull();
        payment["amount"]!.ToJsonString().Should().Be("100.00");
        payment.Str("currency").Should().Be("USD");
        payment.Str("status").Should().Be("succeeded");
        payment.Dec("amount_refunded").Should().Be(0m);
        payment["refunded"]!.GetValue<bool>().Should().BeFalse();
        payment.Str("description").Should().Be("Payment for order #12345");
        payment["metadata"]!.Str("cart").Should().Be("c-42");
        payment.Str("receipt_number").Should().Be(created.Str("receipt_number"));
        payment.Str("created_at").Should().Be(created.Str("created_at"));
        payment["paid_at"].Should().NotBeNull();
        payment["failure_code"].Should().BeNull();
        payment["decline_code"].Should().BeNull();

        var card = payment["source"]!;
        card.Str("brand").Should().Be("visa");
        card.Str("last4").Should().Be("4242");
        card.Str("number").Should().Be("************4242");
        card["exp_month"]!.GetValue<int>().Should().Be(11);
        card["exp_year"]!.GetValue<int>().Should().Be(2032);
        card.Str("name").Should().Be("J. Doe");
        card["cvc"].Should().BeNull();
        payment.ToJsonString().Should().NotContain(Api.VisaCard).And.NotContain("\"987\"");
    }

    [Fact]
    public async Task UnknownPayment_Is404PaymentNotFound()
    {
        var problem = await (await client.GetAsync("/v1/payments/pay_missing"))
            .ShouldBeProblem(HttpStatusCode.NotFound, "payment_not_found");

        problem.Str("detail").Should().Be("Payment not found");
        problem.Str("instance").Should().Be("/v1/payments/pay_missing");
    }

    [Fact]
    public async Task PaymentSystemKey_CanReadAPayment()
    {
        var created = await (await client.PostJsonAsync("/v1/payments", new { amount = 5.00m, currency = "GBP", source = "tok_mastercard" }))
            .ShouldBe(HttpStatusCode.Created);

        var payment = await (await factory.PaymentSystem().GetAsync($"/v1/payments/{created.Id()}")).ShouldBe(HttpStatusCode.OK);

        payment.Id().Should().Be(created.Id());
        payment.Dec("amount").Should().Be(5.00m);
        payment["source"]!.Str("number").Should().Be("************4444");
    }

    [Fact]
    public async Task NoKey_Is401()
    {
        var created = await (await client.PostJsonAsync("/v1/payments", new { amount = 5.00m, currency = "GBP", source = "tok_visa" }))
            .ShouldBe(HttpStatusCode.Created);

        await (await factory.CreateClient().GetAsync($"/v1/payments/{created.Id()}"))
            .ShouldBeProblem(HttpStatusCode.Unauthorized, "api_key_missing");
    }
}

using System.Net;

namespace PaymentSlices.Tests.Features.GetRefund;

public sealed class GetRefundTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task ExistingRefund_Is200AsItWasCreated()
    {
        var payment = await client.CreatePaidOrderAsync("GBP", 80.00m);
        var created = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 50.00m, reason = "duplicate" }))
            .ShouldBe(HttpStatusCode.Created);

        var refund = await (await client.GetAsync($"/v1/refunds/{created.Id()}")).ShouldBe(HttpStatusCode.OK);

        refund.Id().Should().Be(created.Id());
        refund.Str("object").Should().Be("refund");
        refund.Str("payment_id").Should().Be(payment.Id());
        refund.Str("order_id").Should().Be(payment.Str("order_id"));
        refund["amount"]!.ToJsonString().Should().Be("50.00");
        refund.Str("currency").Should().Be("GBP");
        refund.Str("status").Should().Be("succeeded");
        refund.Str("reason").Should().Be("duplicate");
        refund.Str("created_at").Should().Be(created.Str("created_at"));
    }

    [Fact]
    public async Task PaymentSystemKey_CanReadARefund()
    {
        var payment = await client.CreatePaidOrderAsync();
        var created = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id() })).ShouldBe(HttpStatusCode.Created);

        var refund = await (await factory.PaymentSystem().GetAsync($"/v1/refunds/{created.Id()}")).ShouldBe(HttpStatusCode.OK);

        refund.Dec("amount").Should().Be(49.99m);
    }

    [Fact]
    public async Task UnknownRefund_Is404RefundNotFound()
    {
        var problem = await (await client.GetAsync("/v1/refunds/refund_missing"))
            .ShouldBeProblem(HttpStatusCode.NotFound, "refund_not_found");

        problem.Str("detail").Should().Be("Refund not found");
    }
}

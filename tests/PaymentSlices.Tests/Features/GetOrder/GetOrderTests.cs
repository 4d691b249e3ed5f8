using System.Net;

namespace PaymentSlices.Tests.Features.GetOrder;

public sealed class GetOrderTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task CreatedOrder_IsReturnedAsCreated()
    {
        var created = await client.CreateOrderAsync("GBP", 49.99m, quantity: 3);

        var order = await (await client.GetAsync($"/v1/orders/{created.Id()}")).ShouldBe(HttpStatusCode.OK);

        order.Id().Should().Be(created.Id());
        order.Str("object").Should().Be("order");
        order.Str("status").Should().Be("created");
        order.Dec("amount").Should().Be(149.97m);
        order.Str("currency").Should().Be("GBP");
        order.Dec("amount_refunded").Should().Be(0m);
        order["items"]!.AsArray().Should().ContainSingle();
        order["items"]![0]!.Str("name").Should().Be("Deluxe Gamer's Chair");
        order["items"]![0]!["quantity"]!.GetValue<int>().Should().Be(3);
        order["payments"]!.AsArray().Should().BeEmpty();
        order["refunds"]!.AsArray().Should().BeEmpty();
        order["receipt"].Should().BeNull();
        order["paid_at"].Should().BeNull();
        order.Str("created_at").Should().Be(created.Str("created_at"));
    }

    [Fact]
    public async Task UnknownOrder_Is404OrderNotFound()
    {
        var problem = await (await client.GetAsync("/v1/orders/order_missing")).ShouldBeProblem(HttpStatusCode.NotFound, "order_not_found");

        problem.Str("detail").Should().Be("Order not found");
    }

    [Fact]
    public async Task PaidAndPartiallyRefundedOrder_ShowsItsPaymentsRefundsAndReceipt()
    {
        var created = await client.CreateOrderAsync("USD", 49.99m);
        var declined = await (await client.PostJsonAsync($"/v1/orders/{created.Id()}/pay", new { source = "tok_chargeDeclined" }))
            .ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");
        var payment = await (await client.PostJsonAsync($"/v1/orders/{created.Id()}/pay", new { source = Api.Card(name: "J. Doe") }))
            .ShouldBe(HttpStatusCode.Created);
        var refund = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 10m }))
            .ShouldBe(HttpStatusCode.Created);

        var order = await (await client.GetAsync($"/v1/orders/{created.Id()}")).ShouldBe(HttpStatusCode.OK);

        order.Str("status").Should().Be("partially_refunded");
        order.Dec("amount").Should().Be(49.99m);
        order.Dec("amount_refunded").Should().Be(10m);
        order["paid_at"].Should().NotBeNull();

        var payments = order["payments"]!.AsArray();
        payments.Select(p => p!.Id()).Should().Equal(declined.Str("payment_id"), payment.Id());
        payments[0]!.Str("status").Should().Be("failed");
        payments[0]!.Str("decline_code").Should().Be("generic_decline");
        payments[1]!.Str("status").Should().Be("succeeded");
        payments[1]!.Dec("amount_refunded").Should().Be(10m);

        var refunds = order["refunds"]!.AsArray();
        refunds.Should().ContainSingle();
        refunds[0]!.Id().Should().Be(refund.Id());
        refunds[0]!.Str("payment_id").Should().Be(payment.Id());
        refunds[0]!.Dec("amount").Should().Be(10m);

        var receipt = order["receipt"]!;
        receipt.Str("payment_id").Should().Be(payment.Id());
        receipt.Str("receipt_number").Should().Be(payment.Str("receipt_number"));
        receipt.Dec("amount").Should().Be(49.99m);
        receipt.Str("currency").Should().Be("USD");
        receipt["card"]!.Str("number").Should().Be("************4242");
        receipt["card"]!.Str("last4").Should().Be("4242");
        receipt["card"]!.Str("brand").Should().Be("visa");
        receipt["card"]!.Str("name").Should().Be("J. Doe");
        receipt["card"]!["cvc"].Should().BeNull();
        order.ToJsonString().Should().NotContain(Api.VisaCard);
    }

    [Fact]
    public async Task PaymentSystemKey_CanReadAnOrder()
    {
        var created = await client.CreateOrderAsync();

        var order = await (await factory.PaymentSystem().GetAsync($"/v1/orders/{created.Id()}")).ShouldBe(HttpStatusCode.OK);

        order.Id().Should().Be(created.Id());
        order.Str("status").Should().Be("created");
    }

    [Fact]
    public async Task NoKey_Is401()
    {
        var created = await client.CreateOrderAsync();

        await (await factory.CreateClient().GetAsync($"/v1/orders/{created.Id()}")).ShouldBeProblem(HttpStatusCode.Unauthorized, "api_key_missing");
    }
}

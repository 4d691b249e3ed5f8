using System.Net;

namespace PaymentSlices.Tests.Features.CreatePaymentIntent;

public sealed class CreatePaymentIntentTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task NewOrder_Is201WithAnIntentForTheOrdersAmountAndItems()
    {
        var order = await (await client.PostJsonAsync("/v1/orders", new
        {
            currency = "usd",
            items = new object[]
            {
                new { name = "Main product 2", amount = 56m, quantity = 2 },
                new { name = "Gift wrap", amount = 1.5m, quantity = 1, description = "Red paper" },
            },
        })).ShouldBe(HttpStatusCode.Created);

        var response = await client.PostJsonAsync($"/v1/orders/{order.Id()}/payment-intent", new { });

        var intent = await response.ShouldBe(HttpStatusCode.Created);
        intent.Id().Should().StartWith("pi_");
        intent.Str("object").Should().Be("payment_intent");
        intent.Str("order_id").Should().Be(order.Id());
        intent.Str("client_secret").Should().StartWith($"{intent.Id()}_secret_").And.HaveLength(intent.Id().Length + "_secret_".Length + 32);
        intent.Str("status").Should().Be("requires_payment_method");
        intent.Dec("amount").Should().Be(113.5m);
        intent.Str("currency").Should().Be("USD");
        intent["payment_id"].Should().BeNull();

        var lines = intent["line_items"]!.AsArray();
        lines.Should().HaveCount(2);
        lines[0]!.Str("name").Should().Be("Main product 2");
        lines[0]!.Dec("amount").Should().Be(56m);
        lines[0]!.Str("currency").Should().Be("USD");
        lines[0]!["quantity"]!.GetValue<int>().Should().Be(2);
        lines[0]!.Str("description").Should().Be("");
        lines[1]!.Str("name").Should().Be("Gift wrap");
        lines[1]!.Dec("amount").Should().Be(1.5m);
        lines[1]!.Str("description").Should().Be("Red paper");

        (await factory.ScalarAsync<long>("SELECT amount FROM payment_intents WHERE id = @id", new { id = intent.Id() })).Should().Be(11350);
        (await factory.ScalarAsync<string>("SELECT order_id FROM payment_intents WHERE id = @id", new { id = intent.Id() })).Should().Be(order.Id());
    }

    [Fact]
    public async Task OrderWithAnOpenIntent_Is200WithTheSameIntent()
    {
        var order = await client.CreateOrderAsync();
        var first = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/payment-intent", new { })).ShouldBe(HttpStatusCode.Created);

        var second = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/payment-intent", new { })).ShouldBe(HttpStatusCode.OK);

        second.Id().Should().Be(first.Id());
        second.Str("client_secret").Should().Be(first.Str("client_secret"));
        second.Str("status").Should().Be("requires_payment_method");
        (await CountIntentsAsync(order.Id())).Should().Be(1);
    }

    [Fact]
    public async Task TwentyConcurrentCalls_CreateExactlyOneIntent()
    {
        var order = await client.CreateOrderAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            factory.Storefront().PostJsonAsync($"/v1/orders/{order.Id()}/payment-intent", new { })));

        responses.Count(r => r.StatusCode == HttpStatusCode.Created).Should().Be(1);
        var ids = new List<string>();
        foreach (var response in responses)
        {
            response.StatusCode.Should().BeOneOf(HttpStatusCode.Created, HttpStatusCode.OK);
            ids.Add((await response.JsonAsync()).Id());
        }

        ids.Distinct().Should().ContainSingle();
        (await CountIntentsAsync(order.Id())).Should().Be(1);
        (await factory.ScalarAsync<string>("SELECT id FROM payment_intents WHERE order_id = @id", new { id = order.Id() })).Should().Be(ids[0]);
    }

    [Fact]
    public async Task UnknownOrder_Is404OrderNotFound()
    {
        var problem = await (await client.PostJsonAsync("/v1/orders/order_missing/payment-intent", new { }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "order_not_found");

        problem.Str("detail").Should().Be("Order not found");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payment_intents WHERE order_id = 'order_missing'")).Should().Be(0);
    }

    [Fact]
    public async Task PaidOrder_Is409OrderAlreadyPaidAndCreatesNoIntent()
    {
        var payment = await client.CreatePaidOrderAsync();
        var orderId = payment.Str("order_id");

        await (await client.PostJsonAsync($"/v1/orders/{orderId}/payment-intent", new { }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "order_already_paid");

        (await CountIntentsAsync(orderId)).Should().Be(0);
    }

    [Fact]
    public async Task OrderPaidWithPayOrder_CancelsItsOpenIntent()
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);

        var confirm = await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            source = "tok_visa",
        });

        await confirm.ShouldBeProblem(HttpStatusCode.Conflict, "payment_intent_unexpected_state");
        (await factory.ScalarAsync<string>("SELECT status FROM payment_intents WHERE id = @id", new { id = intent.Id() })).Should().Be("canceled");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(1);
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/payment-intent", new { }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "order_already_paid");
    }

    [Fact]
    public async Task PaymentSystemKey_Is403()
    {
        var order = await client.CreateOrderAsync();

        await (await factory.PaymentSystem().PostJsonAsync($"/v1/orders/{order.Id()}/payment-intent", new { }))
            .ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");

        (await CountIntentsAsync(order.Id())).Should().Be(0);
    }

    private Task<long> CountIntentsAsync(string orderId) =>
        factory.ScalarAsync<long>("SELECT COUNT(*) FROM payment_intents WHERE order_id = @orderId", new { orderId });
}

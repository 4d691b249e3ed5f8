using System.Net;
using System.Text.Json.Nodes;

namespace PaymentSlices.Tests.Features.MarkOrderPaid;

public sealed class MarkOrderPaidTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient storefront = factory.Storefront();
    private readonly HttpClient paymentSystem = factory.PaymentSystem();

    [Fact]
    public async Task ConfirmedIntent_MarksTheOrderPaidWithAReceipt()
    {
        var (order, intent) = await ConfirmedOrderAsync("USD", 112m);

        var response = await paymentSystem.PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new
        {
            payment_intent_id = intent.Id(),
            amount = 112.00m,
            currency = "usd",
        });

        var paid = await response.ShouldBe(HttpStatusCode.OK);
        paid.Id().Should().Be(order.Id());
        paid.Str("object").Should().Be("order");
        paid.Str("status").Should().Be("paid");
        paid.Str("paid_at").Should().MatchRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$");
        paid.Dec("amount").Should().Be(112m);
        var receipt = paid["receipt"]!;
        receipt.Str("payment_id").Should().Be(intent.Str("payment_id"));
        receipt.Str("receipt_number").Should().MatchRegex(@"^\d{4}-\d{4}-\d{4}$");
        receipt["card"]!.Str("number").Should().Be("************4242");
        paid["payments"]!.AsArray().Select(p => p!.Id()).Should().Equal(intent.Str("payment_id"));

        var read = await GetOrderAsync(order.Id());
        read.Str("status").Should().Be("paid");
        read.Str("paid_at").Should().Be(paid.Str("paid_at"));
        read["receipt"]!.Str("receipt_number").Should().Be(receipt.Str("receipt_number"));
        (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be("paid");
        (await factory.ScalarAsync<string>("SELECT payment_id FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be(intent.Str("payment_id"));
    }

    [Fact]
    public async Task SameIntentAgain_Is200WithTheSamePaidOrder()
    {
        var (order, intent) = await ConfirmedOrderAsync();
        var first = await (await MarkPaidAsync(order.Id(), intent.Id())).ShouldBe(HttpStatusCode.OK);

        var second = await (await MarkPaidAsync(order.Id(), intent.Id())).ShouldBe(HttpStatusCode.OK);

        second.Str("status").Should().Be("paid");
        second.Str("paid_at").Should().Be(first.Str("paid_at"));
        second["receipt"]!.Str("receipt_number").Should().Be(first["receipt"]!.Str("receipt_number"));
    }

    [Fact]
    public async Task TwentyConcurrentMarks_AllAnswerTheSamePaidOrder()
    {
        var (order, intent) = await ConfirmedOrderAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            factory.PaymentSystem().PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = intent.Id() })));

        var paidAts = new List<string>();
        foreach (var response in responses)
        {
            var paid = await response.ShouldBe(HttpStatusCode.OK);
            paid.Str("status").Should().Be("paid");
            paidAts.Add(paid.Str("paid_at"));
        }

        paidAts.Distinct().Should().ContainSingle();
        (await GetOrderAsync(order.Id())).Str("paid_at").Should().Be(paidAts[0]);
    }

    [Fact]
    public async Task StorefrontKey_Is403AndTheOrderStaysPending()
    {
        var (order, intent) = await ConfirmedOrderAsync();

        await (await storefront.PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = intent.Id() }))
            .ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");

        (await GetOrderAsync(order.Id())).Str("status").Should().Be("pending");
    }

    [Fact]
    public async Task NoKey_Is401AndTheOrderStaysPending()
    {
        var (order, intent) = await ConfirmedOrderAsync();

        await (await factory.CreateClient().PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = intent.Id() }))
            .ShouldBeProblem(HttpStatusCode.Unauthorized, "api_key_missing");

        (await GetOrderAsync(order.Id())).Str("status").Should().Be("pending");
    }

    [Fact]
    public async Task IntentNotYetConfirmed_Is409PaymentIntentNotSucceeded()
    {
        var order = await storefront.CreateOrderAsync();
        var intent = await storefront.CreatePaymentIntentAsync(order.Id());

        await (await MarkPaidAsync(order.Id(), intent.Id())).ShouldBeProblem(HttpStatusCode.Conflict, "payment_intent_not_succeeded");

        (await GetOrderAsync(order.Id())).Str("status").Should().Be("created");
    }

    [Fact]
    public async Task IntentOfAnotherOrder_Is400PaymentIntentOrderMismatch()
    {
        var (_, othersIntent) = await ConfirmedOrderAsync();
        var (order, _) = await ConfirmedOrderAsync();

        var problem = await (await MarkPaidAsync(order.Id(), othersIntent.Id()))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "payment_intent_order_mismatch");

        problem.FieldErrors("payment_intent_id").Should().NotBeEmpty();
        (await GetOrderAsync(order.Id())).Str("status").Should().Be("pending");
    }

    [Theory]
    [InlineData(49.98, null, "amount_mismatch", "amount")]
    [InlineData(49.991, null, "amount_mismatch", "amount")]
    [InlineData(null, "EUR", "currency_mismatch", "currency")]
    public async Task AmountOrCurrencyOtherThanTheIntents_Is400(double? amount, string? currency, string code, string field)
    {
        var (order, intent) = await ConfirmedOrderAsync("USD", 49.99m);

        var problem = await (await paymentSystem.PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new
        {
            payment_intent_id = intent.Id(),
            amount = (decimal?)amount,
            currency,
        })).ShouldBeProblem(HttpStatusCode.BadRequest, code);

        problem.FieldErrors(field).Should().NotBeEmpty();
        (await GetOrderAsync(order.Id())).Str("status").Should().Be("pending");
    }

    [Fact]
    public async Task UnknownOrder_Is404OrderNotFound()
    {
        var (_, intent) = await ConfirmedOrderAsync();

        var problem = await (await MarkPaidAsync("order_missing", intent.Id())).ShouldBeProblem(HttpStatusCode.NotFound, "order_not_found");

        problem.Str("detail").Should().Be("Order not found");
    }

    [Fact]
    public async Task UnknownIntent_Is404PaymentIntentNotFound()
    {
        var (order, _) = await ConfirmedOrderAsync();

        await (await MarkPaidAsync(order.Id(), "pi_missing")).ShouldBeProblem(HttpStatusCode.NotFound, "payment_intent_not_found");

        (await GetOrderAsync(order.Id())).Str("status").Should().Be("pending");
    }

    [Fact]
    public async Task MissingPaymentIntentId_Is400ValidationFailed()
    {
        var (order, _) = await ConfirmedOrderAsync();

        var problem = await (await paymentSystem.PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new { amount = 49.99m }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("payment_intent_id").Should().NotBeEmpty();
        (await GetOrderAsync(order.Id())).Str("status").Should().Be("pending");
    }

    /// <summary>An order whose intent the storefront confirmed with tok_visa: pending, waiting for mark-paid.</summary>
    private async Task<(JsonNode Order, JsonNode Intent)> ConfirmedOrderAsync(string currency = "USD", decimal amount = 49.99m)
    {
        var order = await storefront.CreateOrderAsync(currency, amount);
        var intent = await storefront.ConfirmPaymentIntentAsync(await storefront.CreatePaymentIntentAsync(order.Id()));
        return (order, intent);
    }

    private Task<HttpResponseMessage> MarkPaidAsync(string orderId, string intentId) =>
        paymentSystem.PostJsonAsync($"/v1/orders/{orderId}/mark-paid", new { payment_intent_id = intentId });

    private async Task<JsonNode> GetOrderAsync(string orderId) =>
        await (await paymentSystem.GetAsync($"/v1/orders/{orderId}")).ShouldBe(HttpStatusCode.OK);
}

using System.Net;

namespace PaymentSlices.Tests.Pipeline;

/// <summary>Edge cases a review found, each once broken: bodies, card fields, conflict codes.</summary>
public sealed class ReviewFindingsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    public async Task EmptyOrNullBody_Is400InvalidJsonWithADetail(string body)
    {
        var problem = await (await client.PostRawAsync("/v1/orders", body)).ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_json");

        problem.Str("detail").Should().NotBeNullOrEmpty();
        problem.FieldErrors("$").Should().NotBeEmpty();
    }

    [Fact]
    public async Task CardNumberWithLetters_Is400NamingTheNumber()
    {
        var problem = await (await client.PostJsonAsync("/v1/payments", new { amount = 1m, currency = "USD", source = Api.Card("ab42424242424242") }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("source.number").Should().NotBeEmpty();
    }

    [Theory]
    [InlineData("""{"object":"card","number":"4242424242424242","cvc":"123","exp_month":12,"exp_year":2030,"zip":"1"}""", "source.zip")]
    [InlineData("""{"object":"card","number":4242424242424242,"cvc":"123","exp_month":12,"exp_year":2030}""", "source.number")]
    [InlineData("""{"object":"card","number":"4242424242424242","cvc":"123","exp_month":"12","exp_year":2030}""", "source.exp_month")]
    public async Task BadFieldInsideTheCard_IsNamedUnderSource(string card, string field)
    {
        var problem = await (await client.PostRawAsync("/v1/payments", "{\"amount\":1,\"currency\":\"USD\",\"source\":" + card + "}"))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors(field).Should().NotBeEmpty();
        problem.ToJsonString().Should().NotContain("4242424242424242");
    }

    [Fact]
    public async Task MarkPaidWithTheIntentOfAnOrderPaidDirectly_Is409OrderAlreadyPaid()
    {
        var order = await client.CreateOrderAsync();
        var intent = await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);

        var response = await factory.PaymentSystem().PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = intent.Id() });

        await response.ShouldBeProblem(HttpStatusCode.Conflict, "order_already_paid");
    }

    [Fact]
    public async Task IntentForAnOrderAwaitingMarkPaid_Is409OrderPaymentPending()
    {
        var order = await client.CreateOrderAsync();
        var intent = await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);
        await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = intent.Str("client_secret"), source = "tok_visa" }))
            .ShouldBe(HttpStatusCode.OK);

        await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBeProblem(HttpStatusCode.Conflict, "order_payment_pending");
    }

    [Fact]
    public async Task ConfirmWithAnUnknownTokenOrSavedCard_Is400AndTheIntentStaysPayable()
    {
        var order = await client.CreateOrderAsync();
        var intent = await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);
        var secret = intent.Str("client_secret");

        await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = secret, source = "tok_unknown" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_payment_source");
        await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = secret, payment_method = "card_unknown" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "payment_method_not_found");

        (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be("created");
        await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = secret, source = "tok_visa" })).ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task RetryAfterAFaultThatFollowedTheCharge_WithTheSameKey_ChargesOnce()
    {
        // The processor charged, then the answer was lost: the request failed and rolled back. The retry with
        // the same Idempotency-Key reaches the processor with the same processor key, which answers the first charge.
        var order = await client.CreateOrderAsync();
        var charges = factory.Processor.SucceededCharges;
        var key = $"key-{Guid.NewGuid()}";
        await (await Pay(order.Id(), key)).ShouldBe(HttpStatusCode.Created);
        await factory.ScalarAsync<long>("DELETE FROM idempotency_keys WHERE idempotency_key = @key", new { key });
        await factory.ScalarAsync<long>("DELETE FROM payments WHERE order_id = @id", new { id = order.Id() });
        await factory.ScalarAsync<long>("UPDATE orders SET status = 'created', payment_id = NULL, paid_at = NULL WHERE id = @id", new { id = order.Id() });

        var retry = await Pay(order.Id(), key);

        await retry.ShouldBe(HttpStatusCode.Created);
        factory.Processor.SucceededCharges.Should().Be(charges + 1, "the processor saw the same key twice and charged once");
    }

    private Task<HttpResponseMessage> Pay(string orderId, string key) =>
        client.PostJsonAsync($"/v1/orders/{orderId}/pay", new { source = "tok_visa" }, key);
}

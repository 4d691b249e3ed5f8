using System.Net;

namespace PaymentSlices.Tests.Features.CreateCustomer;

public sealed class CreateCustomerTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task CustomerWithACard_SavesItAsTheDefaultWithoutItsNumber()
    {
        var response = await client.PostJsonAsync("/v1/customers", new { name = "John Doe", email = "johndoe@rapyd.net", source = Api.Card("5555555555554444", "987") });

        var customer = await response.ShouldBe(HttpStatusCode.Created);
        response.Headers.Location!.ToString().Should().Be($"/v1/customers/{customer.Id()}");
        customer.Id().Should().StartWith("cus_");
        customer.Str("name").Should().Be("John Doe");
        customer.Str("default_payment_method").Should().StartWith("card_");
        var card = customer["payment_methods"]!.AsArray().Single()!;
        card.Id().Should().Be(customer.Str("default_payment_method"));
        card.Str("brand").Should().Be("mastercard");
        card.Str("last4").Should().Be("4444");
        customer.ToJsonString().Should().NotContain("5555555555554444").And.NotContain("vault_");
        var stored = await factory.QueryAsync<string>("SELECT vault_token || brand || last4 FROM payment_methods WHERE customer_id = @id", new { id = customer.Id() });
        stored.Should().ContainSingle().Which.Should().NotContain("5555555555554444").And.NotContain("987");
    }

    [Fact]
    public async Task CustomerWithAToken_SavesTheTokensCard()
    {
        var customer = await (await client.PostJsonAsync("/v1/customers", new { name = "A", source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);

        customer["payment_methods"]![0]!.Str("last4").Should().Be("4242");
    }

    [Fact]
    public async Task NoSource_Is400AndWritesNothing()
    {
        var before = await factory.ScalarAsync<long>("SELECT COUNT(*) FROM customers");

        var problem = await (await client.PostJsonAsync("/v1/customers", new { name = "A" })).ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("source").Should().NotBeEmpty();
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM customers")).Should().Be(before);
    }

    [Fact]
    public async Task InvalidCard_Is400NamingTheField()
    {
        var problem = await (await client.PostJsonAsync("/v1/customers", new { name = "A", source = Api.Card("4242424242424241") }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("source.number").Should().NotBeEmpty();
    }

    [Fact]
    public async Task UnknownToken_Is400InvalidPaymentSource()
    {
        await (await client.PostJsonAsync("/v1/customers", new { name = "A", source = "tok_nope" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_payment_source");
    }

    [Fact]
    public async Task PayOrderByCustomer_ChargesItsDefaultCard()
    {
        var customer = await (await client.PostJsonAsync("/v1/customers", new { name = "A", source = Api.Card() })).ShouldBe(HttpStatusCode.Created);
        var order = await client.CreateOrderAsync();

        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { customer = customer.Id() })).ShouldBe(HttpStatusCode.Created);

        payment.Str("status").Should().Be("succeeded");
        payment.Str("customer").Should().Be(customer.Id());
        payment.Str("payment_method").Should().Be(customer.Str("default_payment_method"));
        payment["source"]!.Str("number").Should().Be("************4242");
    }

    [Fact]
    public async Task PayOrderBySavedCard_ChargesIt()
    {
        var customer = await (await client.PostJsonAsync("/v1/customers", new { name = "A", source = "tok_mastercard" })).ShouldBe(HttpStatusCode.Created);
        var order = await client.CreateOrderAsync();

        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { payment_method = customer.Str("default_payment_method"), metadata = new { merchant_defined = "paid" } }))
            .ShouldBe(HttpStatusCode.Created);

        payment["source"]!.Str("last4").Should().Be("4444");
        payment.Str("customer").Should().Be(customer.Id());
    }

    [Theory]
    [InlineData("4000000000000002", "generic_decline")]
    [InlineData("4000000000009995", "insufficient_funds")]
    public async Task SavedDecliningCard_DeclinesLikeTheCard(string number, string declineCode)
    {
        var customer = await (await client.PostJsonAsync("/v1/customers", new { name = "A", source = Api.Card(number) })).ShouldBe(HttpStatusCode.Created);

        var problem = await (await client.PostJsonAsync("/v1/payments", new { amount = 10m, currency = "EUR", customer = customer.Id() }))
            .ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");

        problem.Str("decline_code").Should().Be(declineCode);
    }

    [Fact]
    public async Task CreatePaymentAndConfirmIntent_AcceptASavedCard()
    {
        var customer = await (await client.PostJsonAsync("/v1/customers", new { name = "A", source = Api.Card() })).ShouldBe(HttpStatusCode.Created);
        var card = customer.Str("default_payment_method");
        var order = await client.CreateOrderAsync();
        var intent = await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);

        var payment = await (await client.PostJsonAsync("/v1/payments", new { amount = 10m, currency = "EUR", payment_method = card })).ShouldBe(HttpStatusCode.Created);
        var confirmed = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = intent.Str("client_secret"), payment_method = card }))
            .ShouldBe(HttpStatusCode.OK);

        payment.Str("payment_method").Should().Be(card);
        confirmed.Str("status").Should().Be("succeeded");
    }

    [Fact]
    public async Task UnknownCustomerOrCard_StillAnswersNotFound()
    {
        var order = await client.CreateOrderAsync();

        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { customer = "cus_unknown" })).ShouldBeProblem(HttpStatusCode.BadRequest, "customer_not_found");
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { payment_method = "card_unknown" })).ShouldBeProblem(HttpStatusCode.BadRequest, "payment_method_not_found");
        (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be("created");
    }
}

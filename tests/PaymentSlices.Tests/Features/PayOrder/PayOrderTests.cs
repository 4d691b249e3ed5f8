using System.Net;

namespace PaymentSlices.Tests.Features.PayOrder;

public sealed class PayOrderTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task ValidCard_PaysTheOrderWithAMaskedCardAndAReceipt()
    {
        var order = await client.CreateOrderAsync("GBP", 49.99m);

        var response = await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new
        {
            amount = 49.99m,
            currency = "gbp",
            source = Api.Card(name: "J. Doe"),
            description = "Chair",
            metadata = new { merchant_defined = "paid" },
        });

        var payment = await response.ShouldBe(HttpStatusCode.Created);
        response.Headers.Location!.ToString().Should().Be($"/v1/payments/{payment.Id()}");
        payment.Id().Should().StartWith("pay_");
        payment.Str("object").Should().Be("payment");
        payment.Str("order_id").Should().Be(order.Id());
        payment.Str("status").Should().Be("succeeded");
        payment.Dec("amount").Should().Be(49.99m);
        payment.Str("currency").Should().Be("GBP");
        payment["source"]!.Str("number").Should().Be("************4242");
        payment["source"]!.Str("brand").Should().Be("visa");
        payment["source"]!.Str("last4").Should().Be("4242");
        payment["source"]!["cvc"].Should().BeNull();
        payment["metadata"]!.Str("merchant_defined").Should().Be("paid");
        payment.Str("receipt_number").Should().MatchRegex(@"^\d{4}-\d{4}-\d{4}$");

        var paid = await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
        paid.Str("status").Should().Be("paid");
        paid["paid_at"].Should().NotBeNull();
        paid["receipt"]!.Str("payment_id").Should().Be(payment.Id());
        paid["receipt"]!.Str("receipt_number").Should().Be(payment.Str("receipt_number"));
    }

    [Theory]
    [InlineData("tok_visa", "visa", "4242")]
    [InlineData("tok_mastercard", "mastercard", "4444")]
    [InlineData("pm_card_visa", "visa", "4242")]
    [InlineData("5555555555554444", "mastercard", "4444")]
    [InlineData("6011111111111117", "discover", "1117")]
    public async Task SucceedingTestValue_Pays(string value, string brand, string last4)
    {
        var order = await client.CreateOrderAsync();
        object source = value.StartsWith("tok_", StringComparison.Ordinal) || value.StartsWith("pm_", StringComparison.Ordinal) ? value : Api.Card(value);

        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source })).ShouldBe(HttpStatusCode.Created);

        payment.Str("status").Should().Be("succeeded");
        payment["source"]!.Str("brand").Should().Be(brand);
        payment["source"]!.Str("last4").Should().Be(last4);
    }

    [Theory]
    [MemberData(nameof(Api.TestPaymentMethods), MemberType = typeof(Api))]
    public async Task TestPaymentMethod_ChargesAsItsTestCardAndShowsThePaymentMethodSent(string paymentMethod, string status, string? declineCode, string last4)
    {
        var order = await client.CreateOrderAsync();

        var response = await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { payment_method = paymentMethod });

        var payment = await client.ChargedPaymentAsync(response, declineCode);
        payment.Str("status").Should().Be(status);
        payment.Str("payment_method").Should().Be(paymentMethod);
        payment["customer"].Should().BeNull();
        payment["source"]!.Str("last4").Should().Be(last4);
        payment["decline_code"]?.GetValue<string>().Should().Be(declineCode);
        payment["redirect_url"]?.GetValue<string>().Should().Be(status == "requires_action" ? $"/v1/sandbox/3ds/{payment.Id()}" : null);
        var orderStatus = await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() });
        orderStatus.Should().Be(status switch { "succeeded" => "paid", "requires_action" => "pending", _ => "created" });
        (await factory.QueryAsync<(string? PaymentMethod, string? SourceToken)>("SELECT payment_method, source_token FROM payments WHERE id = @id", new { id = payment.Id() }))
            .Should().Equal((paymentMethod, null));
    }

    [Fact]
    public async Task UnknownTestPaymentMethod_Is400OnPaymentMethodAndWritesNothing()
    {
        var order = await client.CreateOrderAsync();

        var problem = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { payment_method = "pm_card_amex_unknown" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("payment_method").Should().ContainSingle().Which.Should().Contain("card_").And.Contain("pm_card_visa");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(0);
    }

    [Theory]
    [InlineData("4000000000000002", "generic_decline")]
    [InlineData("tok_chargeDeclined", "generic_decline")]
    [InlineData("4000000000009995", "insufficient_funds")]
    [InlineData("tok_chargeDeclinedInsufficientFunds", "insufficient_funds")]
    public async Task DecliningTestValue_Is402WithTheFailedPaymentStoredAndTheOrderStillPayable(string value, string declineCode)
    {
        var order = await client.CreateOrderAsync();
        object source = value.StartsWith("tok_", StringComparison.Ordinal) ? value : Api.Card(value);

        var problem = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source }))
            .ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");

        problem.Str("decline_code").Should().Be(declineCode);
        var failed = await (await client.GetAsync($"/v1/payments/{problem.Str("payment_id")}")).ShouldBe(HttpStatusCode.OK);
        failed.Str("status").Should().Be("failed");
        failed.Str("failure_code").Should().Be("card_declined");
        failed.Str("decline_code").Should().Be(declineCode);
        var unpaid = await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
        unpaid.Str("status").Should().Be("created");

        var retry = await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" });
        await retry.ShouldBe(HttpStatusCode.Created);
    }

    [Theory]
    [InlineData("4242424242424241", "123", 12, 2030, "source.number")]
    [InlineData("4242 4242 4242 4242", "123", 12, 2030, "source.number")]
    [InlineData("4242424242424242", "12", 12, 2030, "source.cvc")]
    [InlineData("4242424242424242", "1234", 12, 2030, "source.cvc")]
    [InlineData("378282246310005", "123", 12, 2030, "source.cvc")]
    [InlineData("4242424242424242", "123", 13, 2030, "source.exp_month")]
    [InlineData("4242424242424242", "123", 1, 2020, "source.exp_year")]
    public async Task InvalidCard_Is400NamingTheFieldAndWritesNothing(string number, string cvc, int month, int year, string field)
    {
        var order = await client.CreateOrderAsync();

        var response = await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card(number, cvc, month, year) });

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors(field).Should().NotBeEmpty();
        problem.ToJsonString().Should().NotContain(number).And.NotContain($"\"{cvc}\"");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(0);
    }

    [Fact]
    public async Task AmexWithFourDigitCvc_Pays()
    {
        var order = await client.CreateOrderAsync();

        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card("378282246310005", "1234") }))
            .ShouldBe(HttpStatusCode.Created);

        payment["source"]!.Str("brand").Should().Be("amex");
    }

    [Fact]
    public async Task UnknownToken_Is400InvalidPaymentSource()
    {
        var order = await client.CreateOrderAsync();

        var problem = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_unknown" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_payment_source");

        problem.Str("detail").Should().Be("Invalid payment source");
        problem.FieldErrors("source").Should().NotBeEmpty();
        var unpaid = await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
        unpaid.Str("status").Should().Be("created");
    }

    [Fact]
    public async Task TwoSources_Is400()
    {
        var order = await client.CreateOrderAsync();

        var problem = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa", customer = "cus_123" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("source").Should().ContainMatch("*exactly one*");
    }

    [Fact]
    public async Task NoSource_Is400()
    {
        var order = await client.CreateOrderAsync();

        var problem = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { amount = 49.99m }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("source").Should().NotBeEmpty();
    }

    [Fact]
    public async Task UnknownSavedCard_Is400PaymentMethodNotFound()
    {
        var order = await client.CreateOrderAsync();

        var problem = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { payment_method = "card_4accae8b711dfc01601311646b59b2af" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "payment_method_not_found");

        problem.FieldErrors("payment_method").Should().NotBeEmpty();
    }

    [Fact]
    public async Task UnknownCustomer_Is400CustomerNotFound()
    {
        var order = await client.CreateOrderAsync();

        var problem = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { customer = "cus_2dbecd82aacdc2a4217b1c5a91344a7b" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "customer_not_found");

        problem.FieldErrors("customer").Should().NotBeEmpty();
    }

    [Theory]
    [InlineData(49.98, "USD", "amount_mismatch", "amount")]
    [InlineData(49.991, "USD", "amount_mismatch", "amount")]
    [InlineData(49.99, "EUR", "currency_mismatch", "currency")]
    public async Task AmountOrCurrencyOtherThanTheOrders_Is400(decimal amount, string currency, string code, string field)
    {
        var order = await client.CreateOrderAsync("USD", 49.99m);

        var problem = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { amount, currency, source = "tok_visa" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, code);

        problem.FieldErrors(field).Should().NotBeEmpty();
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(0);
    }

    [Fact]
    public async Task PaidOrder_Is409OrderAlreadyPaid()
    {
        var payment = await client.CreatePaidOrderAsync();

        var problem = await (await client.PostJsonAsync($"/v1/orders/{payment.Str("order_id")}/pay", new { source = "tok_visa" }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "order_already_paid");

        problem.Str("detail").Should().Contain("already paid");
    }

    [Fact]
    public async Task UnknownOrder_Is404OrderNotFound()
    {
        var problem = await (await client.PostJsonAsync("/v1/orders/order_missing/pay", new { source = "tok_visa" }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "order_not_found");

        problem.Str("detail").Should().Be("Order not found");
    }

    [Fact]
    public async Task FiftyConcurrentPays_ChargeExactlyOnce()
    {
        var order = await client.CreateOrderAsync("USD", 120m);
        var chargesBefore = factory.Processor.SucceededCharges;

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            factory.Storefront().PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card() })));

        responses.Count(r => r.StatusCode == HttpStatusCode.Created).Should().Be(1);
        // The losers read the order while the winner's charge was under way (order_payment_pending) or after it (order_already_paid).
        foreach (var rejected in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            rejected.StatusCode.Should().Be(HttpStatusCode.Conflict);
            (await rejected.JsonAsync()).Str("code").Should().BeOneOf("order_already_paid", "order_payment_pending");
        }

        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(1);
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id AND status = 'succeeded'", new { id = order.Id() })).Should().Be(1);
        factory.Processor.SucceededCharges.Should().Be(chargesBefore + 1);
    }

    [Fact]
    public async Task CardNumberAndCvc_AreNeverStored()
    {
        var payment = await client.CreatePaidOrderAsync(source: Api.Card("5555555555554444", "987"));

        payment.Str("status").Should().Be("succeeded");
        (await TestDatabase.FilesContainingAsync(factory.ConnectionString, "5555555555554444")).Should().BeEmpty();
        (await TestDatabase.AllStoredTextAsync(factory.ConnectionString)).Should().NotContain("5555555555554444");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE card_last4 = '4444'")).Should().BeGreaterThan(0);
    }
}

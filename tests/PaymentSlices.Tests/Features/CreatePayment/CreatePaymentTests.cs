using System.Net;

namespace PaymentSlices.Tests.Features.CreatePayment;

public sealed class CreatePaymentTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task SeedExampleBody_Is201WithTheAmountInMajorUnitsAndStoredInMinorUnits()
    {
        var response = await client.PostJsonAsync("/v1/payments", new
        {
            amount = 100.00m,
            currency = "USD",
            source = "tok_visa",
            description = "Payment for order #12345",
        });

        var payment = await response.ShouldBe(HttpStatusCode.Created);
        response.Headers.Location!.ToString().Should().Be($"/v1/payments/{payment.Id()}");
        payment.Id().Should().StartWith("pay_");
        payment.Str("object").Should().Be("payment");
        payment["order_id"].Should().BeNull();
        payment.Str("status").Should().Be("succeeded");
        payment["amount"]!.ToJsonString().Should().Be("100.00");
        payment.Str("currency").Should().Be("USD");
        payment.Str("description").Should().Be("Payment for order #12345");
        payment.Dec("amount_refunded").Should().Be(0m);
        payment["refunded"]!.GetValue<bool>().Should().BeFalse();
        payment["source"]!.Str("brand").Should().Be("visa");
        payment["source"]!.Str("last4").Should().Be("4242");
        payment.Str("created_at").Should().MatchRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$");

        var stored = await factory.QueryAsync<(long Amount, string Currency, string Status)>(
            "SELECT amount, currency, status FROM payments WHERE id = @id", new { id = payment.Id() });
        stored.Should().Equal((10000L, "USD", "succeeded"));
    }

    [Theory]
    [MemberData(nameof(Api.TestPaymentMethods), MemberType = typeof(Api))]
    public async Task TestPaymentMethod_ChargesAsItsTestCardAndShowsThePaymentMethodSent(string paymentMethod, string status, string? declineCode, string last4)
    {
        var response = await client.PostJsonAsync("/v1/payments", new { amount = 12.34m, currency = "USD", payment_method = paymentMethod });

        var payment = await client.ChargedPaymentAsync(response, declineCode);
        payment.Str("status").Should().Be(status);
        payment.Dec("amount").Should().Be(12.34m);
        payment.Str("payment_method").Should().Be(paymentMethod);
        payment["customer"].Should().BeNull();
        payment["source"]!.Str("last4").Should().Be(last4);
        payment["decline_code"]?.GetValue<string>().Should().Be(declineCode);
        payment["redirect_url"]?.GetValue<string>().Should().Be(status == "requires_action" ? $"/v1/sandbox/3ds/{payment.Id()}" : null);
        (await factory.ScalarAsync<string>("SELECT payment_method FROM payments WHERE id = @id", new { id = payment.Id() })).Should().Be(paymentMethod);
    }

    [Fact]
    public async Task CardSource_Is201WithTheCardMasked()
    {
        var response = await client.PostJsonAsync("/v1/payments", new
        {
            amount = 25.50m,
            currency = "EUR",
            source = Api.Card("5555555555554444", "321", 6, 2031, "A. Buyer"),
        });

        var payment = await response.ShouldBe(HttpStatusCode.Created);
        payment.Str("status").Should().Be("succeeded");
        payment.Dec("amount").Should().Be(25.50m);
        payment["source"]!.Str("brand").Should().Be("mastercard");
        payment["source"]!.Str("last4").Should().Be("4444");
        payment["source"]!.Str("number").Should().Be("************4444");
        payment["source"]!["exp_month"]!.GetValue<int>().Should().Be(6);
        payment["source"]!["exp_year"]!.GetValue<int>().Should().Be(2031);
        payment["source"]!.Str("name").Should().Be("A. Buyer");
        payment["source"]!["cvc"].Should().BeNull();
        payment.ToJsonString().Should().NotContain("5555555555554444").And.NotContain("\"321\"");
        (await factory.ScalarAsync<long>("SELECT amount FROM payments WHERE id = @id", new { id = payment.Id() })).Should().Be(2550);
    }

    [Theory]
    [InlineData("4000000000000002", "generic_decline")]
    [InlineData("tok_chargeDeclinedInsufficientFunds", "insufficient_funds")]
    public async Task DecliningSource_Is402WithTheFailedPaymentStored(string value, string declineCode)
    {
        object source = value.StartsWith("tok_", StringComparison.Ordinal) ? value : Api.Card(value);

        var problem = await (await client.PostJsonAsync("/v1/payments", new { amount = 100.00m, currency = "USD", source }))
            .ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");

        problem.Str("decline_code").Should().Be(declineCode);
        var paymentId = problem.Str("payment_id");
        paymentId.Should().StartWith("pay_");
        var stored = await factory.QueryAsync<(long Amount, string Status, string FailureCode, string DeclineCode)>(
            "SELECT amount, status, failure_code, decline_code FROM payments WHERE id = @id", new { id = paymentId });
        stored.Should().Equal((10000L, "failed", "card_declined", declineCode));

        var failed = await (await client.GetAsync($"/v1/payments/{paymentId}")).ShouldBe(HttpStatusCode.OK);
        failed.Str("status").Should().Be("failed");
        failed.Str("decline_code").Should().Be(declineCode);
    }

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { """{"currency":"USD","source":"tok_visa"}""", "amount" },
        { """{"amount":100.00,"source":"tok_visa"}""", "currency" },
        { """{"amount":100.00,"currency":"XYZ","source":"tok_visa"}""", "currency" },
        { """{"amount":10.001,"currency":"USD","source":"tok_visa"}""", "amount" },
        { """{"amount":100.5,"currency":"JPY","source":"tok_visa"}""", "amount" },
        { """{"amount":0,"currency":"USD","source":"tok_visa"}""", "amount" },
        { """{"amount":-5.00,"currency":"USD","source":"tok_visa"}""", "amount" },
        { """{"amount":1000000.00,"currency":"USD","source":"tok_visa"}""", "amount" },
        { """{"amount":"49.99","currency":"USD","source":"tok_visa"}""", "amount" },
        // More digits than a decimal holds: the JSON reader would round it to 10.00.
        { """{"amount":10.0000000000000000000000000001,"currency":"USD","source":"tok_visa"}""", "amount" },
        { """{"amount":49.99,"currency":"USD","source":"tok_visa","ammount":49.99}""", "ammount" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidBody_Is400NamingTheFieldAndWritesNothing(string json, string field)
    {
        var paymentsBefore = await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments");
        var chargesBefore = factory.Processor.SucceededCharges;

        var problem = await (await client.PostRawAsync("/v1/payments", json))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors(field).Should().NotBeEmpty();
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments")).Should().Be(paymentsBefore);
        factory.Processor.SucceededCharges.Should().Be(chargesBefore);
    }

    [Fact]
    public async Task LargestAmount_Is201()
    {
        var payment = await (await client.PostJsonAsync("/v1/payments", new { amount = 999999.99m, currency = "USD", source = "tok_visa" }))
            .ShouldBe(HttpStatusCode.Created);

        payment.Dec("amount").Should().Be(999999.99m);
        (await factory.ScalarAsync<long>("SELECT amount FROM payments WHERE id = @id", new { id = payment.Id() })).Should().Be(99_999_999);
    }

    [Fact]
    public async Task UnknownToken_Is400InvalidPaymentSourceAndWritesNothing()
    {
        var paymentsBefore = await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments");

        var problem = await (await client.PostJsonAsync("/v1/payments", new { amount = 100.00m, currency = "USD", source = "tok_unknown" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_payment_source");

        problem.Str("detail").Should().Be("Invalid payment source");
        problem.FieldErrors("source").Should().NotBeEmpty();
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments")).Should().Be(paymentsBefore);
    }

    [Theory]
    [InlineData("1000", "JPY", "1000", 1000)]
    [InlineData("1.234", "KWD", "1.234", 1234)]
    [InlineData("49.99", "usd", "49.99", 4999)]
    [InlineData("49.990", "USD", "49.99", 4999)]
    [InlineData("4999e-2", "USD", "49.99", 4999)]
    [InlineData("1E+2", "USD", "100.00", 10000)]
    public async Task AmountInTheCurrencysDecimals_IsStoredInMinorUnitsAndReturnedAsSent(string amount, string currency, string returned, long minorUnits)
    {
        var response = await client.PostRawAsync("/v1/payments", $$"""{"amount":{{amount}},"currency":"{{currency}}","source":"tok_visa"}""");

        var payment = await response.ShouldBe(HttpStatusCode.Created);
        payment["amount"]!.ToJsonString().Should().Be(returned);
        payment.Str("currency").Should().Be(currency.ToUpperInvariant());
        var stored = await factory.QueryAsync<(long Amount, string Currency)>(
            "SELECT amount, currency FROM payments WHERE id = @id", new { id = payment.Id() });
        stored.Should().Equal((minorUnits, currency.ToUpperInvariant()));
    }

    [Fact]
    public async Task LowerCaseCurrency_IsUpperCaseWhenReadBack()
    {
        var created = await (await client.PostJsonAsync("/v1/payments", new { amount = 12.00m, currency = "usd", source = "tok_visa" }))
            .ShouldBe(HttpStatusCode.Created);

        var read = await (await client.GetAsync($"/v1/payments/{created.Id()}")).ShouldBe(HttpStatusCode.OK);

        read.Str("currency").Should().Be("USD");
    }
}

using System.Net;
using System.Text.Json.Nodes;

namespace PaymentSlices.Tests.Features.ConfirmPaymentIntent;

public sealed class ConfirmPaymentIntentTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task ClientSecretAndTokVisa_SucceedsAndLeavesTheOrderPending()
    {
        var order = await client.CreateOrderAsync("EUR", 25.50m);
        var intent = await client.CreatePaymentIntentAsync(order.Id());

        var response = await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            source = "tok_visa",
        });

        var confirmed = await response.ShouldBe(HttpStatusCode.OK);
        confirmed.Id().Should().Be(intent.Id());
        confirmed.Str("status").Should().Be("succeeded");
        confirmed.Dec("amount").Should().Be(25.50m);
        confirmed.Str("currency").Should().Be("EUR");
        var paymentId = confirmed.Str("payment_id");
        paymentId.Should().StartWith("pay_");

        var payment = await (await client.GetAsync($"/v1/payments/{paymentId}")).ShouldBe(HttpStatusCode.OK);
        payment.Str("status").Should().Be("succeeded");
        payment.Str("payment_intent_id").Should().Be(intent.Id());
        payment.Str("order_id").Should().Be(order.Id());
        payment.Dec("amount").Should().Be(25.50m);

        var pending = await GetOrderAsync(order.Id());
        pending.Str("status").Should().Be("pending");
        pending["paid_at"].Should().BeNull();
        (await IntentStatusAsync(intent.Id())).Should().Be("succeeded");
        (await factory.ScalarAsync<string>("SELECT payment_id FROM payment_intents WHERE id = @id", new { id = intent.Id() })).Should().Be(paymentId);
    }

    [Theory]
    [MemberData(nameof(Api.TestPaymentMethods), MemberType = typeof(Api))]
    public async Task TestPaymentMethod_ChargesAsItsTestCard(string paymentMethod, string status, string? declineCode, string last4)
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());

        var response = await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            payment_method = paymentMethod,
        });

        string paymentId;
        if (declineCode is null)
        {
            var confirmed = await response.ShouldBe(HttpStatusCode.OK);
            confirmed.Str("status").Should().Be(status);
            paymentId = confirmed.Str("payment_id");
            confirmed["redirect_url"]?.GetValue<string>().Should().Be(status == "requires_action" ? $"/v1/sandbox/3ds/{paymentId}" : null);
        }
        else
        {
            var problem = await response.ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");
            problem.Str("decline_code").Should().Be(declineCode);
            problem.Str("payment_intent_id").Should().Be(intent.Id());
            paymentId = problem.Str("payment_id");
        }

        var payment = await (await client.GetAsync($"/v1/payments/{paymentId}")).ShouldBe(HttpStatusCode.OK);
        payment.Str("status").Should().Be(status);
        payment.Str("payment_method").Should().Be(paymentMethod);
        payment.Str("payment_intent_id").Should().Be(intent.Id());
        payment["source"]!.Str("last4").Should().Be(last4);
        (await IntentStatusAsync(intent.Id())).Should().Be(status == "failed" ? "requires_payment_method" : status);
        (await GetOrderAsync(order.Id())).Str("status").Should().Be(status == "failed" ? "created" : "pending");
    }

    [Fact]
    public async Task PayOrderAfterConfirm_Is409OrderPaymentPending()
    {
        var order = await client.CreateOrderAsync();
        await client.ConfirmPaymentIntentAsync(await client.CreatePaymentIntentAsync(order.Id()));

        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "order_payment_pending");

        (await CountPaymentsAsync(order.Id())).Should().Be(1);
    }

    [Fact]
    public async Task WrongClientSecret_Is403AndWritesNothing()
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());
        var chargesBefore = factory.Processor.SucceededCharges;

        var response = await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret") + "x",
            source = "tok_visa",
        });

        var problem = await response.ShouldBeProblem(HttpStatusCode.Forbidden, "invalid_client_secret");
        problem.ToJsonString().Should().NotContain(intent.Str("client_secret"));
        (await CountPaymentsAsync(order.Id())).Should().Be(0);
        (await IntentStatusAsync(intent.Id())).Should().Be("requires_payment_method");
        (await GetOrderAsync(order.Id())).Str("status").Should().Be("created");
        factory.Processor.SucceededCharges.Should().Be(chargesBefore);
    }

    [Fact]
    public async Task WrongClientSecretWithAnIdempotencyKey_IsNotStored_SoTheCorrectedRetryWithTheKeyConfirms()
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());
        Task<HttpResponseMessage> Confirm(string secret) =>
            client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = secret, source = "tok_visa" }, $"confirm-{intent.Id()}");

        await (await Confirm(intent.Str("client_secret") + "x")).ShouldBeProblem(HttpStatusCode.Forbidden, "invalid_client_secret");

        // An auth failure, as the contract keeps none: the same key with the right secret runs, instead of a 422 for a reused key.
        var confirmed = await (await Confirm(intent.Str("client_secret"))).ShouldBe(HttpStatusCode.OK);
        confirmed.Str("status").Should().Be("succeeded");
        (await CountPaymentsAsync(order.Id())).Should().Be(1);
    }

    public static TheoryData<string, object> InvalidBodies => new()
    {
        { "a Luhn-invalid card", new { source = Api.Card("4242424242424241") } },
        { "both a source and a payment method", new { source = "tok_visa", payment_method = "pm_card_visa" } },
        { "an unknown payment method", new { payment_method = "pm_card_unknown" } },
        { "no source at all", new { } },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task WrongClientSecretWithAnotherFieldInvalid_Is403Not400(string invalid, object rest)
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());
        var body = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(rest))!.AsObject();
        body["client_secret"] = intent.Str("client_secret") + "x";

        var problem = await (await client.PostRawAsync($"/v1/payment-intents/{intent.Id()}/confirm", body.ToJsonString()))
            .ShouldBeProblem(HttpStatusCode.Forbidden, "invalid_client_secret");

        problem["errors"].Should().BeNull($"a caller without the secret hears nothing about {invalid}");
        (await CountPaymentsAsync(order.Id())).Should().Be(0);
        (await IntentStatusAsync(intent.Id())).Should().Be("requires_payment_method");
    }

    [Fact]
    public async Task RightClientSecretWithAnotherFieldInvalid_Is400()
    {
        var intent = await client.CreatePaymentIntentAsync((await client.CreateOrderAsync()).Id());

        var problem = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            payment_method = "pm_card_unknown",
        })).ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("payment_method").Should().NotBeEmpty();
    }

    [Fact]
    public async Task UnknownIntentWithAnInvalidBody_Is400AsBefore_AndWithAValidOne404()
    {
        await (await client.PostJsonAsync("/v1/payment-intents/pi_missing/confirm", new { client_secret = "pi_missing_secret_abc", source = Api.Card("4242424242424241") }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        await (await client.PostJsonAsync("/v1/payment-intents/pi_missing/confirm", new { client_secret = "pi_missing_secret_abc", payment_method = "pm_card_visa" }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "payment_intent_not_found");
    }

    [Fact]
    public async Task ClientSecretOfAnotherIntent_Is403()
    {
        var mine = await client.CreatePaymentIntentAsync((await client.CreateOrderAsync()).Id());
        var other = await client.CreatePaymentIntentAsync((await client.CreateOrderAsync()).Id());

        await (await client.PostJsonAsync($"/v1/payment-intents/{mine.Id()}/confirm", new
        {
            client_secret = other.Str("client_secret"),
            source = "tok_visa",
        })).ShouldBeProblem(HttpStatusCode.Forbidden, "invalid_client_secret");

        (await IntentStatusAsync(mine.Id())).Should().Be("requires_payment_method");
    }

    [Fact]
    public async Task DecliningCard_Is402AndTheIntentCanBeConfirmedAgain()
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());

        var problem = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            source = Api.Card("4000000000000002"),
        })).ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");

        problem.Str("decline_code").Should().Be("generic_decline");
        problem.Str("payment_intent_id").Should().Be(intent.Id());
        var failed = await (await client.GetAsync($"/v1/payments/{problem.Str("payment_id")}")).ShouldBe(HttpStatusCode.OK);
        failed.Str("status").Should().Be("failed");
        failed.Str("payment_intent_id").Should().Be(intent.Id());
        failed.Str("order_id").Should().Be(order.Id());
        (await IntentStatusAsync(intent.Id())).Should().Be("requires_payment_method");
        (await GetOrderAsync(order.Id())).Str("status").Should().Be("created");

        var retried = await client.ConfirmPaymentIntentAsync(intent, "tok_visa");

        retried.Str("status").Should().Be("succeeded");
        retried.Str("payment_id").Should().NotBe(problem.Str("payment_id"));
        (await GetOrderAsync(order.Id())).Str("status").Should().Be("pending");
    }

    [Fact]
    public async Task SucceededIntent_Is409PaymentIntentUnexpectedState()
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());
        await client.ConfirmPaymentIntentAsync(intent);
        var chargesBefore = factory.Processor.SucceededCharges;

        await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            source = "tok_visa",
        })).ShouldBeProblem(HttpStatusCode.Conflict, "payment_intent_unexpected_state");

        (await CountPaymentsAsync(order.Id())).Should().Be(1);
        factory.Processor.SucceededCharges.Should().Be(chargesBefore);
    }

    [Fact]
    public async Task UnknownIntent_Is404PaymentIntentNotFound()
    {
        await (await client.PostJsonAsync("/v1/payment-intents/pi_missing/confirm", new
        {
            client_secret = "pi_missing_secret_abc",
            source = "tok_visa",
        })).ShouldBeProblem(HttpStatusCode.NotFound, "payment_intent_not_found");
    }

    [Fact]
    public async Task MissingClientSecret_Is400OnClientSecret()
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());

        var problem = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { source = "tok_visa" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("client_secret").Should().NotBeEmpty();
        (await CountPaymentsAsync(order.Id())).Should().Be(0);
        (await IntentStatusAsync(intent.Id())).Should().Be("requires_payment_method");
    }

    [Fact]
    public async Task LuhnInvalidCard_Is400OnSourceNumberAndWritesNothing()
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());

        var problem = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            source = Api.Card("4242424242424241"),
        })).ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("source.number").Should().NotBeEmpty();
        problem.ToJsonString().Should().NotContain("4242424242424241");
        (await CountPaymentsAsync(order.Id())).Should().Be(0);
        (await IntentStatusAsync(intent.Id())).Should().Be("requires_payment_method");
        (await GetOrderAsync(order.Id())).Str("status").Should().Be("created");
    }

    [Fact]
    public async Task PaymentSystemKey_Is403()
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());

        await (await factory.PaymentSystem().PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            source = "tok_visa",
        })).ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");

        (await IntentStatusAsync(intent.Id())).Should().Be("requires_payment_method");
    }

    private async Task<JsonNode> GetOrderAsync(string orderId) =>
        await (await client.GetAsync($"/v1/orders/{orderId}")).ShouldBe(HttpStatusCode.OK);

    private Task<long> CountPaymentsAsync(string orderId) =>
        factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @orderId", new { orderId });

    private Task<string> IntentStatusAsync(string intentId) =>
        factory.ScalarAsync<string>("SELECT status FROM payment_intents WHERE id = @intentId", new { intentId });
}

using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Features.ThreeDSecure;
using PaymentSlices.Tests.Pipeline;

namespace PaymentSlices.Tests.Features.ThreeDSecure;

/// <summary>A clock the tests move; the expiry sweep is run by the tests instead of its timer.</summary>
public sealed class ThreeDSecureFactory : ApiFactory
{
    public ThreeDSecureFactory() => ConfigureTestServices = services => services.AddSingleton<TimeProvider>(Clock);

    public ManualClock Clock { get; } = new();

    public Task<int> SweepAsync() => Services.GetRequiredService<ThreeDSecureExpiry>().ExpireAsync(CancellationToken.None);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("ThreeDSecure:SweepInterval", "01:00:00");
    }
}

public sealed class ThreeDSecureTests(ThreeDSecureFactory factory) : IClassFixture<ThreeDSecureFactory>
{
    private const string ThreeDSecureCard = "4000002500003155";
    private readonly HttpClient client = factory.Storefront();
    private readonly HttpClient browser = factory.CreateClient(); // the cardholder's browser has no API key

    [Fact]
    public async Task ThreeDSecureCard_RequiresActionWithARedirectAndTheOrderPending()
    {
        var order = await client.CreateOrderAsync();

        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card(ThreeDSecureCard) })).ShouldBe(HttpStatusCode.Created);

        payment.Str("status").Should().Be("requires_action");
        payment.Str("redirect_url").Should().Be($"/v1/sandbox/3ds/{payment.Id()}");
        payment["paid_at"].Should().BeNull();
        (await OrderStatus(order.Id())).Should().Be("pending");
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBeProblem(HttpStatusCode.Conflict, "order_payment_pending");
    }

    [Fact]
    public async Task Page_ShowsTheAmountAndBothButtons_WithoutAnApiKey()
    {
        var payment = await ThreeDSecurePayment();

        var page = await browser.GetAsync(payment.Str("redirect_url"));

        page.StatusCode.Should().Be(HttpStatusCode.OK);
        page.Content.Headers.ContentType!.MediaType.Should().Be("text/html");
        var html = await page.Content.ReadAsStringAsync();
        html.Should().Contain("49.99 USD").And.Contain("3155").And.Contain("id=\"complete\"").And.Contain("id=\"fail\"");
        html.Should().Contain($"action=\"/v1/sandbox/3ds/{payment.Id()}/complete\"").And.Contain($"action=\"/v1/sandbox/3ds/{payment.Id()}/fail\"");
        html.Should().NotContain(ThreeDSecureCard);
    }

    [Fact]
    public async Task Completing_MakesThePaymentSucceedAndTheOrderPaid()
    {
        var payment = await ThreeDSecurePayment();

        var answer = await browser.PostAsync($"{payment.Str("redirect_url")}/complete", null);

        answer.StatusCode.Should().Be(HttpStatusCode.OK);
        (await answer.Content.ReadAsStringAsync()).Should().Contain("id=\"status\">succeeded");
        var paid = await (await client.GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK);
        paid.Str("status").Should().Be("succeeded");
        paid["redirect_url"].Should().BeNull();
        paid.Str("receipt_number").Should().NotBeNullOrEmpty();
        var order = await (await client.GetAsync($"/v1/orders/{payment.Str("order_id")}")).ShouldBe(HttpStatusCode.OK);
        order.Str("status").Should().Be("paid");
        order["receipt"]!.Str("payment_id").Should().Be(payment.Id());
    }

    [Fact]
    public async Task Failing_FailsThePaymentAndTheOrderIsPayableAgain()
    {
        var payment = await ThreeDSecurePayment();

        await browser.PostAsync($"{payment.Str("redirect_url")}/fail", null);

        var failed = await (await client.GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK);
        failed.Str("status").Should().Be("failed");
        failed.Str("failure_code").Should().Be("authentication_failed");
        (await OrderStatus(payment.Str("order_id"))).Should().Be("created");
        await (await client.PostJsonAsync($"/v1/orders/{payment.Str("order_id")}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task NotCompletedWithin15Minutes_FailsAsExpiredAndTheOrderIsPayableAgain()
    {
        var payment = await ThreeDSecurePayment();
        factory.Clock.Advance(TimeSpan.FromMinutes(14));
        await factory.SweepAsync();
        (await PaymentStatus(payment.Id())).Should().Be("requires_action", "14 minutes are within the window");

        factory.Clock.Advance(TimeSpan.FromMinutes(1));
        await factory.SweepAsync();

        var expired = await (await client.GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK);
        expired.Str("status").Should().Be("failed");
        expired.Str("failure_code").Should().Be("authentication_expired");
        var failedEvents = await (await client.GetAsync("/v1/events?type=payment.failed&limit=100")).ShouldBe(HttpStatusCode.OK);
        failedEvents["data"]!.AsArray().Select(node => node!["data"]!["object"]!).Should()
            .ContainSingle(data => data["id"]!.GetValue<string>() == payment.Id(), "the expiry is an event, like any failed payment")
            .Which["failure_code"]!.GetValue<string>().Should().Be("authentication_expired");
        (await OrderStatus(payment.Str("order_id"))).Should().Be("created");
        await (await browser.PostAsync($"/v1/sandbox/3ds/{payment.Id()}/complete", null))
            .ShouldBeProblem(HttpStatusCode.Conflict, "payment_not_awaiting_authentication");
        await (await client.PostJsonAsync($"/v1/orders/{payment.Str("order_id")}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task CompletingAfter15MinutesBeforeTheSweep_FailsAsExpired()
    {
        var payment = await ThreeDSecurePayment();
        factory.Clock.Advance(TimeSpan.FromMinutes(16));

        var answer = await browser.PostAsync($"/v1/sandbox/3ds/{payment.Id()}/complete", null);

        (await answer.Content.ReadAsStringAsync()).Should().Contain("authentication_expired");
        (await PaymentStatus(payment.Id())).Should().Be("failed");
        (await OrderStatus(payment.Str("order_id"))).Should().Be("created");
    }

    [Fact]
    public async Task IntentWithA3DSecureCard_RequiresActionThenSucceedsAndIsMarkedPaid()
    {
        var order = await client.CreateOrderAsync();
        var intent = await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);

        var confirmed = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = intent.Str("client_secret"), source = Api.Card(ThreeDSecureCard) }))
            .ShouldBe(HttpStatusCode.OK);
        confirmed.Str("status").Should().Be("requires_action");
        confirmed.Str("redirect_url").Should().Be($"/v1/sandbox/3ds/{confirmed.Str("payment_id")}");

        await browser.PostAsync($"{confirmed.Str("redirect_url")}/complete", null);

        (await factory.ScalarAsync<string>("SELECT status FROM payment_intents WHERE id = @id", new { id = intent.Id() })).Should().Be("succeeded");
        (await OrderStatus(order.Id())).Should().Be("pending");
        var marked = await (await factory.PaymentSystem().PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = intent.Id() }))
            .ShouldBe(HttpStatusCode.OK);
        marked.Str("status").Should().Be("paid");
    }

    [Fact]
    public async Task IntentWhose3DSecureFails_CanBeConfirmedAgain()
    {
        var order = await client.CreateOrderAsync();
        var intent = await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);
        var confirmed = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = intent.Str("client_secret"), source = Api.Card(ThreeDSecureCard) }))
            .ShouldBe(HttpStatusCode.OK);

        await browser.PostAsync($"{confirmed.Str("redirect_url")}/fail", null);
        var retried = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = intent.Str("client_secret"), source = "tok_visa" }))
            .ShouldBe(HttpStatusCode.OK);

        retried.Str("status").Should().Be("succeeded");
    }

    [Fact]
    public async Task Saved3DSecureCard_RequiresAction()
    {
        var customer = await (await client.PostJsonAsync("/v1/customers", new { name = "A", source = Api.Card(ThreeDSecureCard) })).ShouldBe(HttpStatusCode.Created);

        var payment = await (await client.PostJsonAsync("/v1/payments", new { amount = 20m, currency = "EUR", customer = customer.Id() })).ShouldBe(HttpStatusCode.Created);

        payment.Str("status").Should().Be("requires_action");
    }

    [Fact]
    public async Task UnknownPayment_Is404()
    {
        await (await browser.GetAsync("/v1/sandbox/3ds/pay_missing")).ShouldBeProblem(HttpStatusCode.NotFound, "payment_not_found");
        await (await browser.PostAsync("/v1/sandbox/3ds/pay_missing/complete", null)).ShouldBeProblem(HttpStatusCode.NotFound, "payment_not_found");
    }

    private async Task<System.Text.Json.Nodes.JsonNode> ThreeDSecurePayment()
    {
        var order = await client.CreateOrderAsync();
        return await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card(ThreeDSecureCard) })).ShouldBe(HttpStatusCode.Created);
    }

    private Task<string> OrderStatus(string id) => factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id });

    private Task<string> PaymentStatus(string id) => factory.ScalarAsync<string>("SELECT status FROM payments WHERE id = @id", new { id });
}

/// <summary>The service behind a proxy that serves it under a path: <c>PublicBaseUrl</c> with a prefix (and a trailing slash).</summary>
public sealed class PublicBaseUrlFactory : ApiFactory
{
    public const string PublicBaseUrl = "https://payments.example.com/shop";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("PublicBaseUrl", PublicBaseUrl + "/");
    }
}

public sealed class PublicBaseUrlTests(PublicBaseUrlFactory factory) : IClassFixture<PublicBaseUrlFactory>
{
    private readonly HttpClient client = factory.Storefront();
    private readonly HttpClient browser = factory.CreateClient();

    [Fact]
    public async Task ThreeDSecurePayment_RedirectsToTheAbsolutePageEverywhere_AndThePageAnswersThere()
    {
        var order = await client.CreateOrderAsync();

        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card("4000002500003155") })).ShouldBe(HttpStatusCode.Created);

        var page = $"{PublicBaseUrlFactory.PublicBaseUrl}/v1/sandbox/3ds/{payment.Id()}";
        payment.Str("redirect_url").Should().Be(page);
        (await (await client.GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK)).Str("redirect_url").Should().Be(page);
        (await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK))["payments"]![0]!.Str("redirect_url").Should().Be(page);
        var events = await (await client.GetAsync("/v1/events?type=payment.requires_action")).ShouldBe(HttpStatusCode.OK);
        events["data"]!.AsArray().Select(e => e!["data"]!["object"]!).Should().ContainSingle(p => p["id"]!.GetValue<string>() == payment.Id())
            .Which["redirect_url"]!.GetValue<string>().Should().Be(page, "the webhook payload carries the same link");

        // The proxy strips /shop: the service itself serves /v1/sandbox/3ds/..., and the page's forms post back through the proxy.
        var html = await (await browser.GetAsync($"/v1/sandbox/3ds/{payment.Id()}")).Content.ReadAsStringAsync();
        html.Should().Contain($"action=\"{page}/complete\"").And.Contain($"action=\"{page}/fail\"");
        var answer = await browser.PostAsync($"/v1/sandbox/3ds/{payment.Id()}/complete", null);
        (await answer.Content.ReadAsStringAsync()).Should().Contain("id=\"status\">succeeded");
        (await (await client.GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK))["redirect_url"].Should().BeNull();
    }

    [Fact]
    public async Task ConfirmedIntentRequiringAction_RedirectsToTheAbsolutePage()
    {
        var order = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(order.Id());

        var confirmed = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            payment_method = "pm_card_threeDSecure2Required",
        })).ShouldBe(HttpStatusCode.OK);

        confirmed.Str("status").Should().Be("requires_action");
        confirmed.Str("redirect_url").Should().Be($"{PublicBaseUrlFactory.PublicBaseUrl}/v1/sandbox/3ds/{confirmed.Str("payment_id")}");
        (await client.CreatePaymentIntentAsync(order.Id())).Str("redirect_url").Should().Be(confirmed.Str("redirect_url"), "the open intent reads the same");
    }
}

using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace PaymentSlices.Tests.Pipeline;

public sealed class ApiKeysTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task NoKey_Is401ApiKeyMissing()
    {
        var response = await factory.CreateClient().GetAsync("/v1/orders/order_x");

        var problem = await response.ShouldBeProblem(HttpStatusCode.Unauthorized, "api_key_missing");
        problem.Str("detail").Should().Contain("X-API-Key");
        response.Headers.WwwAuthenticate.ToString().Should().Be("Bearer");
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("X-API-Key")]
    public async Task UnknownKey_Is401ApiKeyInvalid(string form)
    {
        var client = factory.CreateClient();
        if (form == "Bearer")
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sk_test_wrong");
        }
        else
        {
            client.DefaultRequestHeaders.Add("X-API-Key", "sk_test_wrong");
        }

        var problem = await (await client.GetAsync("/v1/orders/order_x")).ShouldBeProblem(HttpStatusCode.Unauthorized, "api_key_invalid");

        problem.ToJsonString().Should().NotContain("sk_test_wrong");
    }

    [Fact]
    public async Task StorefrontKeyInEitherHeader_IsAccepted()
    {
        var bearer = factory.CreateClient();
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiFactory.StorefrontKey);
        var header = factory.CreateClient();
        header.DefaultRequestHeaders.Add("X-API-Key", ApiFactory.StorefrontKey);

        var order = await bearer.CreateOrderAsync();
        var read = await header.GetAsync($"/v1/orders/{order.Id()}");

        await read.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task PaymentSystemKey_CanReadButNotCreate()
    {
        var order = await factory.Storefront().CreateOrderAsync();
        var paymentSystem = factory.PaymentSystem();

        await (await paymentSystem.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
        var problem = await (await paymentSystem.PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "A", amount = 1m, quantity = 1 } } }))
            .ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");

        problem.Str("detail").Should().Contain("payment_system");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM orders")).Should().Be(1);
    }

    [Fact]
    public async Task StorefrontKey_CannotMarkPaid()
    {
        var order = await factory.Storefront().CreateOrderAsync();

        var response = await factory.Storefront().PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = "pi_123" });

        await response.ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");
    }
}

/// <summary>The service outside Development: no default keys.</summary>
public sealed class ProductionStartTests
{
    [Fact]
    public void ProductionWithoutKeys_RefusesToStartNamingTheSetting()
    {
        using var factory = new ProductionFactory(keys: false);

        var start = () => factory.CreateClient();

        start.Should().Throw<OptionsValidationException>().WithMessage("*ApiKeys:Storefront*ApiKeys__Storefront__0*");
    }

    [Fact]
    public async Task ProductionWithConfiguredKeys_StartsAndOnlyTheConfiguredKeysWork()
    {
        using var factory = new ProductionFactory(keys: true);
        var live = factory.CreateClient();
        live.DefaultRequestHeaders.Add("X-API-Key", "sk_live_storefront_0123456789");
        var developmentKey = factory.Storefront();

        await live.CreateOrderAsync();
        await (await developmentKey.GetAsync("/v1/orders/order_x")).ShouldBeProblem(HttpStatusCode.Unauthorized, "api_key_invalid");
    }

    private sealed class ProductionFactory(bool keys) : ApiFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseEnvironment("Production");
            if (keys)
            {
                builder.UseSetting("ApiKeys:Storefront:0", "sk_live_storefront_0123456789");
                builder.UseSetting("ApiKeys:PaymentSystem:0", "sk_live_payment_system_0123456789");
            }
        }
    }
}

public sealed class ProcessorSettingsTests
{
    [Theory]
    [InlineData("Processor:Resilience:MaxRetryAttempts", "0", "MaxRetryAttempts")]
    [InlineData("Processor:Resilience:AttemptTimeout", "00:00:00.001", "AttemptTimeout")]
    [InlineData("Processor:Sandbox:FailureRate", "1.5", "FailureRate")]
    [InlineData("Idempotency:Retention", "-01:00:00", "Idempotency:Retention")]
    // Values that parse but would fail later: every keyed POST (DateTime overflow), a timer that throws, a stalled payment.
    [InlineData("Idempotency:Retention", "3650.00:00:00", "Idempotency:Retention")]
    [InlineData("Idempotency:PurgeInterval", "900", "a bare number means days")]
    [InlineData("ThreeDSecure:SweepInterval", "900", "ThreeDSecure:SweepInterval")]
    [InlineData("Processor:Sandbox:Latency", "60", "Processor:Sandbox:Latency")]
    [InlineData("Webhooks:RetryFor", "10675199.00:00:00", "Webhooks:RetryFor")]
    [InlineData("ApiKeys:Storefront:1", "sk_live_storefront_0123456789\n", "white space")]
    [InlineData("ApiKeys:Storefront:1", " sk_live_storefront_0123456789", "white space")]
    [InlineData("ApiKeys:Storefront:1", "sk_short", "shorter than 16 characters")]
    [InlineData("PublicBaseUrl", "payments.example.com", "PublicBaseUrl")]
    [InlineData("PublicBaseUrl", "/payments", "PublicBaseUrl")]
    [InlineData("PublicBaseUrl", "ftp://payments.example.com", "PublicBaseUrl")]
    [InlineData("PublicBaseUrl", "https://payments.example.com/?tenant=1", "PublicBaseUrl")]
    [InlineData("PublicBaseUrl", "https://payments.example.com/#top", "PublicBaseUrl")]
    [InlineData("PublicBaseUrl", "https://user:password@payments.example.com", "PublicBaseUrl")]
    [InlineData("PublicBaseUrl", "https://payments.example.com ", "PublicBaseUrl")]
    public void BadSetting_StopsStartUpNamingIt(string setting, string value, string named)
    {
        using var factory = new SettingFactory(setting, value);

        var start = () => factory.CreateClient();

        start.Should().Throw<OptionsValidationException>().WithMessage($"*{named}*");
    }

    private sealed class SettingFactory(string setting, string value) : ApiFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting(setting, value);
        }
    }
}

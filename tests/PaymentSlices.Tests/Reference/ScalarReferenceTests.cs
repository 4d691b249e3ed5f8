using System.Net;
using Microsoft.AspNetCore.Hosting;

namespace PaymentSlices.Tests.Reference;

public sealed class ScalarReferenceTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Root_RedirectsToTheReference()
    {
        var client = factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        var response = await client.GetAsync("/");

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        response.Headers.Location!.ToString().Should().Be("/scalar/v1");
    }

    [Fact]
    public async Task ReferenceInDevelopment_UsesTheLocalBundleAndPrefillsTheDevelopmentKey()
    {
        var page = await factory.CreateClient().GetStringAsync("/scalar/v1");
        var bundle = await factory.CreateClient().GetAsync("/scalar/standalone.js");

        page.Should().Contain("src=\"/scalar/standalone.js\"").And.Contain("withDefaultFonts: false").And.Contain("url: '/openapi/v1.json'");
        page.Should().Contain("telemetry: false").And.Contain("agent: { disabled: true }").And.Contain("mcp: { disabled: true }");
        page.Should().Contain(ApiFactory.StorefrontKey);
        page.Should().NotContain("https://", "the reference makes no outside request");
        bundle.StatusCode.Should().Be(HttpStatusCode.OK, "the build fetched the pinned bundle");
        (await bundle.Content.ReadAsByteArrayAsync()).Length.Should().BeGreaterThan(1_000_000);
    }

    [Fact]
    public async Task ReferenceOutsideDevelopment_PrefillsNoKey()
    {
        using var production = new ProductionFactory();

        var page = await production.CreateClient().GetStringAsync("/scalar/v1");

        page.Should().Contain("Scalar.createApiReference").And.NotContain("sk_live_").And.NotContain("sk_test_").And.NotContain("securitySchemes");
    }

    private sealed class ProductionFactory : ApiFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseEnvironment("Production");
            builder.UseSetting("ApiKeys:Storefront:0", "sk_live_storefront_0123456789");
            builder.UseSetting("ApiKeys:PaymentSystem:0", "sk_live_payment_system_0123456789");
        }
    }
}

using System.Net;
using System.Text;
using Microsoft.AspNetCore.Hosting;

namespace PaymentSlices.Tests.Pipeline;

public sealed class HealthTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task Health_IsOpenWithoutAKeyAndHealthy(string path)
    {
        var response = await factory.CreateClient().GetAsync(path);

        var body = await response.ShouldBe(HttpStatusCode.OK);
        body.Str("status").Should().Be("Healthy");
    }

    [Fact]
    public async Task ReadyWithoutItsDatabase_Is503WhileLiveStaysUp()
    {
        using var isolated = new ApiFactory();
        var client = isolated.CreateClient();
        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);
        await using (await TestDatabase.TakeAwayAsync(isolated.ConnectionString))
        {
            var ready = await client.GetAsync("/health/ready");
            var live = await client.GetAsync("/health/live");

            (await ready.ShouldBe(HttpStatusCode.ServiceUnavailable)).Str("status").Should().Be("Unhealthy");
            await live.ShouldBe(HttpStatusCode.OK);
        }
    }
}

public sealed class TightLimitsFactory : ApiFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Limits:RequestsPerSecond", "1");
        builder.UseSetting("Limits:Burst", "3");
        builder.UseSetting("Limits:MaxRequestBodyBytes", "2048");
    }
}

public sealed class LimitsTests(TightLimitsFactory factory) : IClassFixture<TightLimitsFactory>
{
    [Fact]
    public async Task KeyOverItsRate_Is429ProblemWithRetryAfter_AndOtherKeysAreNotAffected()
    {
        var storefront = factory.Storefront();
        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 6; i++)
        {
            responses.Add(await storefront.GetAsync("/v1/orders/order_missing"));
        }

        var limited = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        var problem = await limited.ShouldBeProblem(HttpStatusCode.TooManyRequests, "rate_limited");
        limited.Headers.RetryAfter!.Delta.Should().BePositive();
        problem.Str("detail").Should().NotContain(ApiFactory.StorefrontKey);
        await (await factory.PaymentSystem().GetAsync("/v1/orders/order_missing")).ShouldBeProblem(HttpStatusCode.NotFound, "order_not_found");
        // The limited key itself still gets the probes, which are not rate limited.
        await (await storefront.GetAsync("/health/live")).ShouldBe(HttpStatusCode.OK);
        await (await storefront.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task BodyOverTheLimit_Is413ProblemAndWritesNothing()
    {
        var client = factory.Storefront();
        var before = await factory.ScalarAsync<long>("SELECT COUNT(*) FROM orders");
        // A valid order, only too large: without the limit it would be created.
        var items = string.Join(",", Enumerable.Range(0, 5).Select(i => $"{{\"name\":\"Item {i}\",\"amount\":1,\"quantity\":1,\"description\":\"{new string('x', 900)}\"}}"));
        var json = "{\"currency\":\"USD\",\"items\":[" + items + "]}";

        var response = await client.PostAsync("/v1/orders", new StringContent(json, Encoding.UTF8, "application/json"));

        var problem = await response.ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        problem.Str("detail").Should().Contain("2048");
        problem.Str("title").Should().Be("Content Too Large");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM orders")).Should().Be(before);
    }
}

/// <summary>A streamed (chunked) body has no Content-Length: only Kestrel, on a real socket, enforces the limit as it reads.</summary>
public sealed class ChunkedLimitFactory : ApiFactory
{
    public ChunkedLimitFactory()
    {
        UseKestrel(options => options.Listen(System.Net.IPAddress.Loopback, 0));
        StartServer();
    }

    public Uri BaseAddress => new(((Microsoft.AspNetCore.Hosting.Server.IServer)Services.GetService(typeof(Microsoft.AspNetCore.Hosting.Server.IServer))!)
        .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First());

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Limits:MaxRequestBodyBytes", "2048");
    }
}

public sealed class ChunkedBodyTests(ChunkedLimitFactory factory) : IClassFixture<ChunkedLimitFactory>
{
    [Fact]
    public async Task ChunkedBodyOverTheLimit_Is413ProblemAndWritesNothing()
    {
        using var client = new HttpClient { BaseAddress = factory.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ApiFactory.StorefrontKey);
        var items = string.Join(",", Enumerable.Range(0, 5).Select(i => $"{{\"name\":\"Item {i}\",\"amount\":1,\"quantity\":1,\"description\":\"{new string('x', 900)}\"}}"));
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"currency\":\"USD\",\"items\":[" + items + "]}")));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/orders") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        var response = await client.SendAsync(request);

        var problem = await response.ShouldBeProblem(HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        problem.Str("title").Should().Be("Content Too Large");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM orders")).Should().Be(0);
    }
}

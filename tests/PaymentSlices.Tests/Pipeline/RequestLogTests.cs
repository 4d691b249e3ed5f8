using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Tests.Pipeline;

/// <summary>The service with a processor that throws, its log lines captured.</summary>
public sealed class RequestLogFactory : ApiFactory
{
    public RequestLogFactory() => ConfigureTestServices = services => services.AddSingleton<IPaymentProcessor, ThrowingProcessor>();

    public CapturingLoggerProvider Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
    }
}

public sealed class RequestLogTests(RequestLogFactory factory) : IClassFixture<RequestLogFactory>
{
    [Fact]
    public async Task EachRequest_HasOneLine_WithItsRouteTemplate_AlsoWhenItThrewOrWasRefused()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBeProblem(HttpStatusCode.InternalServerError, "internal_error");
        await (await client.GetAsync("/v1/nothing-here")).ShouldBeProblem(HttpStatusCode.NotFound, "route_not_found");
        await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
        await (await factory.CreateClient().GetAsync($"/v1/orders/{order.Id()}")).ShouldBeProblem(HttpStatusCode.Unauthorized, "api_key_missing");

        // The line is written once the response is; the client may have it a moment earlier.
        var expected = new[]
        {
            "POST /v1/orders answered 201 in ",
            "POST /v1/orders/{orderId}/pay answered 500 in ",
            "GET (no route) answered 404 in ",
            "GET /v1/orders/{orderId} answered 200 in ",
            "GET /v1/orders/{orderId} answered 401 in ",
        };
        var deadline = DateTime.UtcNow.AddSeconds(10);
        List<string> lines;
        do
        {
            lines = factory.Logs.Lines.Where(line => line.StartsWith($"Information {RequestLog.Category}: ", StringComparison.Ordinal))
                .Select(line => line[$"Information {RequestLog.Category}: ".Length..]).ToList();
            if (lines.Count >= expected.Length)
            {
                break;
            }

            await Task.Delay(20);
        }
        while (DateTime.UtcNow < deadline);

        lines.Should().HaveCount(expected.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            lines[i].Should().StartWith(expected[i]).And.MatchRegex(@" answered \d{3} in \d+\.\d ms \| ");
        }
    }
}

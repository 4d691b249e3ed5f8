using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Tests.Pipeline;

/// <summary>The idempotency filter is on every route of the group that can be a POST, and on no other.</summary>
public sealed class IdempotencyFilterPlacementTests
{
    [Fact]
    public async Task RoutesThatCanBePosts_HaveTheFilter_GetsHaveNone()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        await using var app = builder.Build();
        var group = app.MapGroup("/v1").WithIdempotencyKeys();
        group.MapGet("/thing", () => "got");
        group.MapPost("/thing", () => "posted");
        group.MapMethods("/both", [HttpMethods.Get, HttpMethods.Post], () => "either");
        group.Map("/any", () => "any");
        await app.StartAsync();
        using var client = app.GetTestClient();

        // Without AddIdempotency the filter cannot be resolved: a route that has it fails, whatever the method.
        (await Filtered(client, HttpMethod.Get, "/v1/thing")).Should().BeFalse();
        (await Filtered(client, HttpMethod.Post, "/v1/thing")).Should().BeTrue();
        (await Filtered(client, HttpMethod.Get, "/v1/both")).Should().BeTrue();
        (await Filtered(client, HttpMethod.Get, "/v1/any")).Should().BeTrue();
    }

    [Fact]
    public void InTheService_EveryV1PostHasTheFilter_AndNoGet()
    {
        using var factory = new ApiFactory();
        var routes = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(route => route.RoutePattern.RawText?.StartsWith("/v1", StringComparison.Ordinal) == true)
            .Select(route => (Methods: route.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [], route.Metadata))
            .ToList();

        routes.Should().Contain(route => route.Methods.Contains(HttpMethods.Post)).And.Contain(route => route.Methods.Contains(HttpMethods.Get));
        routes.Should().OnlyContain(route => IdempotencyRegistration.MayBePost(route.Metadata) == route.Methods.Contains(HttpMethods.Post));
    }

    private static async Task<bool> Filtered(HttpClient client, HttpMethod method, string path)
    {
        try
        {
            using var response = await client.SendAsync(new HttpRequestMessage(method, path));
            return response.StatusCode == HttpStatusCode.InternalServerError;
        }
        catch (InvalidOperationException error) when (error.Message.Contains(nameof(IdempotencyFilter), StringComparison.Ordinal))
        {
            return true;
        }
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Reference;

namespace PaymentSlices.Tests.Reference;

public sealed class OpenApiDocumentTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task EveryMappedRoute_IsDocumented()
    {
        var document = await Document();
        var routes = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(endpoint => endpoint.RoutePattern.RawText!.StartsWith("/v1", StringComparison.Ordinal))
            .SelectMany(endpoint => endpoint.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods
                .Select(method => (Method: method.ToLowerInvariant(), Path: endpoint.RoutePattern.RawText!.TrimEnd('/'))))
            .ToList();

        routes.Should().HaveCountGreaterThanOrEqualTo(15);
        foreach (var (method, path) in routes)
        {
            document["paths"]![path]?[method].Should().NotBeNull($"{method.ToUpperInvariant()} {path} is mapped, so it must be documented");
        }
    }

    [Fact]
    public async Task Document_DescribesSecurityIdempotencyAndProblems()
    {
        var document = await Document();

        document["info"]!["title"]!.GetValue<string>().Should().Be("PaymentSlices API");
        document["components"]!["securitySchemes"]!.AsObject().Select(pair => pair.Key).Should().BeEquivalentTo(OpenApi.BearerScheme, OpenApi.HeaderScheme);
        var pay = document["paths"]!["/v1/orders/{orderId}/pay"]!["post"]!;
        pay["parameters"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()).Should().Contain("Idempotency-Key");
        pay["responses"]!.AsObject().Select(pair => pair.Key).Should().Contain(["201", "400", "401", "402", "403", "404", "409", "422", "503"]);
        pay["responses"]!["402"]!["content"]!["application/problem+json"]!["schema"]!["$ref"]!.GetValue<string>().Should().EndWith("/Problem");
        pay["requestBody"]!["content"]!["application/json"]!["example"].Should().NotBeNull();
        pay["responses"]!["201"]!["headers"]!["Location"].Should().NotBeNull();
        pay["responses"]!["201"]!["headers"]!["Idempotent-Replayed"].Should().NotBeNull();
        foreach (var status in new[] { "409", "429", "503" })
        {
            pay["responses"]![status]!["headers"]!["Retry-After"].Should().NotBeNull($"{status} says when to retry");
        }

        pay["responses"]!.AsObject().Select(pair => pair.Key).Should().Contain(["413", "415", "429", "500"]);
        document["paths"]!["/health/ready"]!["get"]!["responses"]!.AsObject().Select(pair => pair.Key).Should().BeEquivalentTo("200", "503");
        var command = document["components"]!["schemas"]!["CreateOrderCommand"]!;
        command["required"]!.AsArray().Select(n => n!.GetValue<string>()).Should().BeEquivalentTo("currency", "items");
        command["properties"]!["currency"]!["type"]!.ToJsonString().Should().NotContain("null", "a required field is not nullable either");
        document["components"]!["schemas"]!["Payment"]!["properties"]!["status"]!["enum"]!.AsArray().Select(value => value!.GetValue<string>()).Should().Equal("processing", "succeeded", "failed", "requires_action", "canceled");
    }

    [Fact]
    public async Task EveryRef_Resolves_AndEveryExample_MatchesItsSchema()
    {
        var document = await Document();
        var validator = new SchemaValidator(document.AsObject());
        var text = document.ToJsonString();
        var schemas = document["components"]!["schemas"]!.AsObject();
        foreach (var reference in System.Text.RegularExpressions.Regex.Matches(text, "#/components/schemas/([A-Za-z0-9]+)").Select(m => m.Groups[1].Value).Distinct())
        {
            schemas.ContainsKey(reference).Should().BeTrue($"$ref {reference} must resolve");
        }

        var responseExamples = 0;
        foreach (var (path, operations) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in operations!.AsObject())
            {
                if (operation!["requestBody"]?["content"]?["application/json"] is { } media && media["example"] is { } example)
                {
                    validator.Validate(example, media["schema"]!).Should().BeEmpty($"the example of {method} {path} must match its schema");
                }

                foreach (var (status, response) in operation["responses"]!.AsObject())
                {
                    foreach (var (type, content) in response!["content"]?.AsObject() ?? [])
                    {
                        if (content!["example"] is { } responseExample)
                        {
                            responseExamples++;
                            validator.Validate(responseExample, content["schema"]!).Should().BeEmpty($"the {status} {type} example of {method} {path} must match its schema");
                        }
                    }
                }

                if (path.StartsWith("/v1/", StringComparison.Ordinal) && !path.StartsWith("/v1/sandbox/", StringComparison.Ordinal))
                {
                    var hasRequestExample = operation["requestBody"]?["content"]?["application/json"]?["example"] is not null ||
                                            operation["parameters"]?.AsArray().Any(parameter => parameter!["in"]!.GetValue<string>() is "path" or "query" && parameter["example"] is not null) == true;
                    hasRequestExample.Should().BeTrue($"{method} {path} has an example request");
                    operation["responses"]!.AsObject().Any(pair => pair.Key.StartsWith('2') && pair.Value!["content"]?.AsObject().Any(c => c.Value!["example"] is not null) == true)
                        .Should().BeTrue($"{method} {path} has an example response");
                }
            }
        }

        responseExamples.Should().BeGreaterThanOrEqualTo(15);
    }

    [Fact]
    public async Task RealResponses_MatchTheDocumentedSchemaOfTheirStatus()
    {
        var document = await Document();
        var validator = new SchemaValidator(document.AsObject());
        var storefront = factory.Storefront();
        var checks = new List<string>();

        async Task<JsonNode?> Check(string method, string template, HttpResponseMessage response)
        {
            var operation = document["paths"]![template]![method]!;
            var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var documented = operation["responses"]![status];
            documented.Should().NotBeNull($"{method.ToUpperInvariant()} {template} answered {status}, which must be documented");
            var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
            var body = await response.Content.ReadAsStringAsync();
            var content = documented!["content"]?[mediaType];
            content.Should().NotBeNull($"{method.ToUpperInvariant()} {template} {status} answered {mediaType}, which must be documented");
            checks.Add($"{method} {template} {status}");
            if (mediaType.EndsWith("json", StringComparison.Ordinal))
            {
                var json = JsonNode.Parse(body);
                validator.Validate(json, content!["schema"]!).Should().BeEmpty($"{method.ToUpperInvariant()} {template} {status}: {body}");
                return json;
            }

            return null;
        }

        Task<HttpResponseMessage> Send(HttpClient client, string url, string? json) =>
            client.PostAsync(url, json is null ? null : new StringContent(json, Encoding.UTF8, "application/json"));

        // The seeds' examples, driven through the service.
        var order = (await Check("post", "/v1/orders", await Send(storefront, "/v1/orders", Examples.Requests["CreateOrder"])))!;
        var payment = (await Check("post", "/v1/orders/{orderId}/pay", await Send(storefront, $"/v1/orders/{order.Id()}/pay", Examples.Requests["PayOrder"])))!;
        await Check("post", "/v1/payments", await Send(storefront, "/v1/payments", Examples.Requests["CreatePayment"]));
        var refund = (await Check("post", "/v1/refunds", await Send(storefront, "/v1/refunds", Examples.Requests["CreateRefund"].Replace("pay_12345", payment.Id(), StringComparison.Ordinal))))!;
        var customer = (await Check("post", "/v1/customers", await Send(storefront, "/v1/customers", Examples.Requests["CreateCustomer"])))!;
        var order2 = await storefront.CreateOrderAsync();
        var intent = (await Check("post", "/v1/orders/{orderId}/payment-intent", await Send(storefront, $"/v1/orders/{order2.Id()}/payment-intent", null)))!;
        await Check("post", "/v1/orders/{orderId}/payment-intent", await Send(storefront, $"/v1/orders/{order2.Id()}/payment-intent", null));
        var confirm = Examples.Requests["ConfirmPaymentIntent"].Replace("pi_3R8f5yQ9LjHruSyq1ofjdVY5_secret_wWSgKgsyjo6WRpCf1aXJN3zRw", intent.Str("client_secret"), StringComparison.Ordinal);
        await Check("post", "/v1/payment-intents/{intentId}/confirm", await Send(storefront, $"/v1/payment-intents/{intent.Id()}/confirm", confirm));
        var mark = Examples.Requests["MarkOrderPaid"].Replace("pi_3R8f5yQ9LjHruSyq1ofjdVY5", intent.Id(), StringComparison.Ordinal);
        await Check("post", "/v1/orders/{orderId}/mark-paid", await Send(factory.PaymentSystem(), $"/v1/orders/{order2.Id()}/mark-paid", mark));
        await Check("get", "/v1/orders/{orderId}", await storefront.GetAsync($"/v1/orders/{order.Id()}"));
        await Check("get", "/v1/payments/{paymentId}", await storefront.GetAsync($"/v1/payments/{payment.Id()}"));
        await Check("get", "/v1/refunds/{refundId}", await storefront.GetAsync($"/v1/refunds/{refund.Id()}"));
        await Check("get", "/v1/customers/{customerId}", await storefront.GetAsync($"/v1/customers/{customer.Id()}"));

        // Errors: every problem is the documented Problem.
        await Check("get", "/v1/orders/{orderId}", await storefront.GetAsync("/v1/orders/order_missing"));
        await Check("get", "/v1/orders/{orderId}", await factory.CreateClient().GetAsync("/v1/orders/order_missing"));
        await Check("post", "/v1/orders", await Send(factory.PaymentSystem(), "/v1/orders", Examples.Requests["CreateOrder"]));
        await Check("post", "/v1/orders", await Send(storefront, "/v1/orders", """{"currency":"XYZ"}"""));
        await Check("post", "/v1/orders/{orderId}/pay", await Send(storefront, $"/v1/orders/{order.Id()}/pay", """{"source":"tok_visa"}"""));
        var order3 = await storefront.CreateOrderAsync();
        await Check("post", "/v1/orders/{orderId}/pay", await Send(storefront, $"/v1/orders/{order3.Id()}/pay", """{"source":"tok_chargeDeclined"}"""));
        await Check("post", "/v1/refunds", await Send(storefront, "/v1/refunds", $$"""{"payment_id":"{{payment.Id()}}","amount":100000}"""));
        await Check("post", "/v1/payment-intents/{intentId}/confirm", await Send(storefront, $"/v1/payment-intents/{intent.Id()}/confirm", """{"client_secret":"wrong","source":"tok_visa"}"""));
        var reuse = new HttpRequestMessage(HttpMethod.Post, "/v1/payments") { Content = new StringContent(Examples.Requests["CreatePayment"], Encoding.UTF8, "application/json") };
        reuse.Headers.Add("Idempotency-Key", "openapi-check");
        await storefront.SendAsync(reuse);
        var reused = new HttpRequestMessage(HttpMethod.Post, "/v1/payments") { Content = new StringContent("""{"amount":1,"currency":"USD","source":"tok_visa"}""", Encoding.UTF8, "application/json") };
        reused.Headers.Add("Idempotency-Key", "openapi-check");
        await Check("post", "/v1/payments", await storefront.SendAsync(reused));

        await Check("post", "/v1/orders", await storefront.PostAsync("/v1/orders", new StringContent("currency=USD", Encoding.UTF8, "text/plain")));
        await Check("get", "/health/ready", await factory.CreateClient().GetAsync("/health/ready"));

        // The 3-D Secure page answers HTML.
        var threeDs = (await Check("post", "/v1/payments", await Send(storefront, "/v1/payments", """{"amount":5,"currency":"EUR","source":{"object":"card","number":"4000002500003155","cvc":"123","exp_month":12,"exp_year":2030}}""")))!;
        await Check("get", "/v1/sandbox/3ds/{paymentId}", await factory.CreateClient().GetAsync(threeDs.Str("redirect_url")));
        await Check("post", "/v1/sandbox/3ds/{paymentId}/complete", await factory.CreateClient().PostAsync($"{threeDs.Str("redirect_url")}/complete", null));
        await Check("post", "/v1/sandbox/3ds/{paymentId}/complete", await factory.CreateClient().PostAsync($"{threeDs.Str("redirect_url")}/complete", null));

        // Events: this service has no webhook endpoint, so redelivery is a 409.
        var events = (await Check("get", "/v1/events", await storefront.GetAsync("/v1/events?limit=2")))!;
        var eventId = events["data"]![0]!.Id();
        await Check("get", "/v1/events/{eventId}", await factory.PaymentSystem().GetAsync($"/v1/events/{eventId}"));
        await Check("get", "/v1/events/{eventId}", await storefront.GetAsync("/v1/events/evt_missing"));
        await Check("get", "/v1/events", await storefront.GetAsync("/v1/events?status=sent"));
        await Check("get", "/v1/events", await storefront.GetAsync("/v1/events?limit=ten"));
        await Check("post", "/v1/events/{eventId}/redeliver", await storefront.PostAsync($"/v1/events/{eventId}/redeliver", null));
        await Check("post", "/v1/events/{eventId}/redeliver", await storefront.PostAsync("/v1/events/evt_missing/redeliver", null));

        checks.Should().HaveCountGreaterThan(20);
    }

    private async Task<JsonNode> Document()
    {
        var response = await factory.CreateClient().GetAsync("/openapi/v1.json");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Tests;

/// <summary>What a storefront does over HTTP, written as it would write it: snake_case JSON, literal values.</summary>
public static class Api
{
    public const string VisaCard = "4242424242424242";

    /// <summary>A card object as seed 000 sends it (in the contract's snake_case).</summary>
    public static object Card(string number = VisaCard, string cvc = "123", int expMonth = 12, int expYear = 2030, string? name = "J. Doe") =>
        new Dictionary<string, object?>
        {
            ["object"] = "card",
            ["number"] = number,
            ["cvc"] = cvc,
            ["exp_month"] = expMonth,
            ["exp_year"] = expYear,
            ["name"] = name,
        };

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string url, object body) =>
        client.PostAsJsonAsync(url, body);

    /// <summary>Posts <paramref name="body"/> as JSON with an <c>Idempotency-Key</c>, as a storefront that may retry it does.</summary>
    public static Task<HttpResponseMessage> PostJsonAsync(
        this HttpClient client, string url, object body, string idempotencyKey, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonContent.Create(body) };
        request.Headers.Add(IdempotencyFilter.Header, idempotencyKey);
        return client.SendAsync(request, cancellationToken);
    }

    /// <summary>Posts a body exactly as written, for malformed or oddly typed JSON.</summary>
    public static Task<HttpResponseMessage> PostRawAsync(this HttpClient client, string url, string json, string contentType = "application/json") =>
        client.PostAsync(url, new StringContent(json, Encoding.UTF8, contentType));

    public static async Task<JsonNode> JsonAsync(this HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    /// <summary>Asserts the status and returns the JSON body.</summary>
    public static async Task<JsonNode> ShouldBe(this HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(status, body);
        return JsonNode.Parse(body)!;
    }

    /// <summary>Asserts an RFC 9457 problem with the contract's members and the given stable code.</summary>
    public static async Task<JsonNode> ShouldBeProblem(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var problem = await response.ShouldBe(status);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        problem["status"]!.GetValue<int>().Should().Be((int)status);
        problem["code"]!.GetValue<string>().Should().Be(code);
        problem["type"]!.GetValue<string>().Should().NotBeNullOrEmpty();
        problem["title"]!.GetValue<string>().Should().NotBeNullOrEmpty();
        problem["instance"]!.GetValue<string>().Should().StartWith("/");
        problem["trace_id"]!.GetValue<string>().Should().NotBeNullOrEmpty();
        return problem;
    }

    public static async Task<JsonNode> CreateOrderAsync(this HttpClient client, string currency = "USD", decimal amount = 49.99m, int quantity = 1)
    {
        var response = await client.PostJsonAsync("/v1/orders", new
        {
            currency,
            items = new[] { new { name = "Deluxe Gamer's Chair", amount, quantity } },
        });
        return await response.ShouldBe(HttpStatusCode.Created);
    }

    /// <summary>Creates an order and pays it with the given source (a card by default); returns the payment.</summary>
    public static async Task<JsonNode> CreatePaidOrderAsync(this HttpClient client, string currency = "USD", decimal amount = 49.99m, object? source = null)
    {
        var order = await client.CreateOrderAsync(currency, amount);
        var response = await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = source ?? Card() });
        return await response.ShouldBe(HttpStatusCode.Created);
    }

    /// <summary>Creates (or gets) the payment intent of an order, as seed 002 step 1; returns the intent.</summary>
    public static async Task<JsonNode> CreatePaymentIntentAsync(this HttpClient client, string orderId)
    {
        var response = await client.PostJsonAsync($"/v1/orders/{orderId}/payment-intent", new { });
        response.StatusCode.Should().BeOneOf(HttpStatusCode.Created, HttpStatusCode.OK);
        return await response.JsonAsync();
    }

    /// <summary>Confirms an intent with its own client_secret and the given source (tok_visa by default); returns the succeeded intent.</summary>
    public static async Task<JsonNode> ConfirmPaymentIntentAsync(this HttpClient client, JsonNode intent, object? source = null)
    {
        var response = await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new
        {
            client_secret = intent.Str("client_secret"),
            source = source ?? "tok_visa",
        });
        return await response.ShouldBe(HttpStatusCode.OK);
    }

    /// <summary>Stripe's test PaymentMethods and what the sandbox makes of each: payment status, decline code, last four digits shown.</summary>
    public static TheoryData<string, string, string?, string> TestPaymentMethods => new()
    {
        { "pm_card_visa", "succeeded", null, "4242" },
        { "pm_card_mastercard", "succeeded", null, "4444" },
        { "pm_card_chargeDeclined", "failed", "generic_decline", "0002" },
        { "pm_card_chargeDeclinedInsufficientFunds", "failed", "insufficient_funds", "9995" },
        { "pm_card_threeDSecure2Required", "requires_action", null, "3155" },
    };

    /// <summary>The payment a charge made: the response's own body, or, for a 402 with <paramref name="declineCode"/>, the failed payment it names.</summary>
    public static async Task<JsonNode> ChargedPaymentAsync(this HttpClient client, HttpResponseMessage response, string? declineCode)
    {
        if (declineCode is null)
        {
            return await response.ShouldBe(HttpStatusCode.Created);
        }

        var problem = await response.ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");
        problem.Str("decline_code").Should().Be(declineCode);
        return await (await client.GetAsync($"/v1/payments/{problem.Str("payment_id")}")).ShouldBe(HttpStatusCode.OK);
    }

    public static string Id(this JsonNode node) => node["id"]!.GetValue<string>();

    public static string Str(this JsonNode node, string name) => node[name]!.GetValue<string>();

    public static decimal Dec(this JsonNode node, string name) => node[name]!.GetValue<decimal>();

    /// <summary>The messages of one field in a problem's <c>errors</c>.</summary>
    public static string[] FieldErrors(this JsonNode problem, string field) =>
        problem["errors"]?[field]?.AsArray().Select(message => message!.GetValue<string>()).ToArray() ?? [];
}

using System.Net;
using System.Net.Http.Json;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Tests.Pipeline;

/// <summary>The Idempotency-Key rules on each POST route that moves money or state.</summary>
public sealed class IdempotencyRoutesTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    public static TheoryData<string> Routes => new() { "PayOrder", "CreatePayment", "CreateRefund", "MarkOrderPaid" };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Repeat_ReplaysTheStoredBytes(string route)
    {
        var scenario = await Arrange(route);
        var key = NewKey();

        var first = await Send(scenario, scenario.Body, key);
        var second = await Send(scenario, scenario.Body, key);

        ((int)first.StatusCode).Should().BeOneOf(200, 201);
        second.StatusCode.Should().Be(first.StatusCode);
        second.Headers.GetValues(IdempotencyFilter.ReplayedHeader).Should().Equal("true");
        (await second.Content.ReadAsByteArrayAsync()).Should().Equal(await first.Content.ReadAsByteArrayAsync());
        (await factory.ScalarAsync<long>(scenario.CountSql, scenario.CountArgs)).Should().Be(scenario.CountAfterOne);
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task SameKeyOtherBody_Is422(string route)
    {
        var scenario = await Arrange(route);
        var key = NewKey();
        await Send(scenario, scenario.Body, key);

        var reused = await Send(scenario, scenario.OtherBody, key);

        await reused.ShouldBeProblem(HttpStatusCode.UnprocessableEntity, "idempotency_key_reused");
        (await factory.ScalarAsync<long>(scenario.CountSql, scenario.CountArgs)).Should().Be(scenario.CountAfterOne);
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task MalformedKey_Is400AndRunsNothing(string route)
    {
        var scenario = await Arrange(route);
        var before = await factory.ScalarAsync<long>(scenario.CountSql, scenario.CountArgs);

        var response = await Send(scenario, scenario.Body, new string('x', 256));

        await response.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_idempotency_key");
        (await factory.ScalarAsync<long>(scenario.CountSql, scenario.CountArgs)).Should().Be(before);
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task InvalidInput_IsNotStored_SoACorrectedRequestRunsWithTheSameKey(string route)
    {
        var scenario = await Arrange(route);
        var key = NewKey();

        await (await Send(scenario, scenario.InvalidBody, key)).ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        var corrected = await Send(scenario, scenario.Body, key);

        ((int)corrected.StatusCode).Should().BeOneOf(200, 201);
        corrected.Headers.Contains(IdempotencyFilter.ReplayedHeader).Should().BeFalse();
    }

    private sealed record Scenario(
        HttpClient Client, string Url, object Body, object OtherBody, object InvalidBody, string CountSql, object CountArgs, long CountAfterOne);

    private async Task<Scenario> Arrange(string route)
    {
        var storefront = factory.Storefront();
        switch (route)
        {
            case "PayOrder":
            {
                var order = await storefront.CreateOrderAsync();
                return new Scenario(storefront, $"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, new { source = "tok_mastercard" },
                    new { source = Api.Card("4242424242424241") }, "SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() }, 1);
            }

            case "CreatePayment":
            {
                var description = NewKey();
                return new Scenario(storefront, "/v1/payments", new { amount = 5m, currency = "USD", source = "tok_visa", description },
                    new { amount = 6m, currency = "USD", source = "tok_visa", description }, new { amount = 10.001m, currency = "USD", source = "tok_visa", description },
                    "SELECT COUNT(*) FROM payments WHERE description = @description", new { description }, 1);
            }

            case "CreateRefund":
            {
                var payment = await storefront.CreatePaidOrderAsync("USD", 100m);
                return new Scenario(storefront, "/v1/refunds", new { payment_id = payment.Id(), amount = 10m }, new { payment_id = payment.Id(), amount = 20m },
                    new { payment_id = payment.Id(), amount = 10m, reason = "bogus" }, "SELECT COUNT(*) FROM refunds WHERE payment_id = @id", new { id = payment.Id() }, 1);
            }

            default:
            {
                var order = await storefront.CreateOrderAsync();
                var intent = await (await storefront.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);
                await (await storefront.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = intent.Str("client_secret"), source = "tok_visa" }))
                    .ShouldBe(HttpStatusCode.OK);
                return new Scenario(factory.PaymentSystem(), $"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = intent.Id() },
                    new { payment_intent_id = intent.Id(), amount = 49.99m }, new { payment_intent_id = "not-an-intent" },
                    "SELECT COUNT(*) FROM orders WHERE id = @id AND status = 'paid'", new { id = order.Id() }, 1);
            }
        }
    }

    private static Task<HttpResponseMessage> Send(Scenario scenario, object body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, scenario.Url) { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation(IdempotencyFilter.Header, key);
        return scenario.Client.SendAsync(request);
    }

    private static string NewKey() => $"key-{Guid.NewGuid()}";
}

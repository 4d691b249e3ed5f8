using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Tests.Pipeline;

/// <summary>A clock the tests move, instead of sleeping.</summary>
public sealed class ManualClock : TimeProvider
{
    private DateTimeOffset now = DateTimeOffset.UtcNow;

    public override DateTimeOffset GetUtcNow() => now;

    public void Advance(TimeSpan by) => now += by;
}

/// <summary>The sandbox, with a charge that can be held in flight or made to throw.</summary>
public sealed class ControllableProcessor(SandboxPaymentProcessor sandbox) : IPaymentProcessor
{
    private int failures;
    private int charging;

    public SandboxPaymentProcessor Sandbox => sandbox;

    /// <summary>Charges that have entered the processor so far (held ones included).</summary>
    public int Charging => Volatile.Read(ref charging);

    public TaskCompletionSource? Hold { get; set; }

    public TaskCompletionSource Entered { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void FailNext(int count) => failures = count;

    public async Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref charging);
        Entered.TrySetResult();
        if (Hold is { } hold)
        {
            await hold.Task;
        }

        if (Interlocked.Decrement(ref failures) >= 0)
        {
            throw new HttpRequestException("processor connection reset");
        }

        return await sandbox.ChargeAsync(request, cancellationToken);
    }

    /// <summary>Holds refunds in flight as <see cref="Hold"/> holds charges (they enter <see cref="Entered"/> too).</summary>
    public TaskCompletionSource? HoldRefunds { get; set; }

    public async Task<string?> RefundAsync(ProcessorRefund request, CancellationToken cancellationToken)
    {
        if (HoldRefunds is { } hold)
        {
            Entered.TrySetResult();
            await hold.Task;
        }

        return await sandbox.RefundAsync(request, cancellationToken);
    }

    public Task<ChargeResult> ResolveChargeAsync(string idempotencyKey, CancellationToken cancellationToken) => sandbox.ResolveChargeAsync(idempotencyKey, cancellationToken);

    public Task<string?> ResolveRefundAsync(string idempotencyKey, CancellationToken cancellationToken) => sandbox.ResolveRefundAsync(idempotencyKey, cancellationToken);

    public Task<SaveCardResult> SaveCardAsync(string idempotencyKey, PaymentSource source, CancellationToken cancellationToken) => sandbox.SaveCardAsync(idempotencyKey, source, cancellationToken);

    public void Reset()
    {
        Hold = null;
        HoldRefunds = null;
        failures = 0;
        Entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

public sealed class IdempotencyFactory : ApiFactory
{
    public const string SecondStorefrontKey = "sk_test_storefront_second";

    public IdempotencyFactory() =>
        ConfigureTestServices = services =>
        {
            services.AddSingleton<TimeProvider>(Clock);
            services.AddSingleton<ControllableProcessor>();
            services.AddSingleton<IPaymentProcessor>(provider => provider.GetRequiredService<ControllableProcessor>());
        };

    public ManualClock Clock { get; } = new();

    public ControllableProcessor Controls => Services.GetRequiredService<ControllableProcessor>();

    public HttpClient SecondStorefront()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", SecondStorefrontKey);
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("ApiKeys:Storefront:1", SecondStorefrontKey);
        builder.UseSetting("Idempotency:PurgeInterval", "00:00:00.050");
    }
}

public sealed class IdempotencyTests(IdempotencyFactory factory) : IClassFixture<IdempotencyFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task PayOrderRepeated_ReplaysTheSameBytesAndChargesOnce()
    {
        var order = await client.CreateOrderAsync();
        var key = NewKey();
        var charges = factory.Processor.SucceededCharges;

        var first = await Post($"/v1/orders/{order.Id()}/pay", new { source = Api.Card() }, key);
        var second = await Post($"/v1/orders/{order.Id()}/pay", new { source = Api.Card() }, key);

        first.StatusCode.Should().Be(HttpStatusCode.Created);
        first.Headers.Contains(IdempotencyFilter.ReplayedHeader).Should().BeFalse();
        second.StatusCode.Should().Be(HttpStatusCode.Created);
        second.Headers.GetValues(IdempotencyFilter.ReplayedHeader).Should().Equal("true");
        second.Headers.Location.Should().Be(first.Headers.Location);
        second.Content.Headers.ContentType!.ToString().Should().Be(first.Content.Headers.ContentType!.ToString());
        (await second.Content.ReadAsByteArrayAsync()).Should().Equal(await first.Content.ReadAsByteArrayAsync());
        (await CountPayments(order.Id())).Should().Be(1);
        factory.Processor.SucceededCharges.Should().Be(charges + 1);
    }

    [Fact]
    public async Task CreatePaymentRepeated_Replays()
    {
        var key = NewKey();
        var body = new { amount = 100.00m, currency = "USD", source = "tok_visa", description = "Payment for order #12345" };

        var first = await Post("/v1/payments", body, key);
        var second = await Post("/v1/payments", body, key);

        var payment = await first.ShouldBe(HttpStatusCode.Created);
        await ShouldReplay(second, first);
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE description = 'Payment for order #12345' AND id = @id", new { id = payment.Id() }))
            .Should().Be(1);
    }

    [Fact]
    public async Task CreateRefundRepeated_RefundsOnce()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100m);
        var key = NewKey();

        var first = await Post("/v1/refunds", new { payment_id = payment.Id(), amount = 30m }, key);
        var second = await Post("/v1/refunds", new { payment_id = payment.Id(), amount = 30m }, key);

        await first.ShouldBe(HttpStatusCode.Created);
        await ShouldReplay(second, first);
        (await factory.ScalarAsync<long>("SELECT amount_refunded FROM payments WHERE id = @id", new { id = payment.Id() })).Should().Be(3000);
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM refunds WHERE payment_id = @id", new { id = payment.Id() })).Should().Be(1);
    }

    [Fact]
    public async Task MarkOrderPaidRepeated_Replays()
    {
        var order = await client.CreateOrderAsync();
        var intent = await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);
        await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = intent.Str("client_secret"), source = "tok_visa" }))
            .ShouldBe(HttpStatusCode.OK);
        var paymentSystem = factory.PaymentSystem();
        var key = NewKey();

        var first = await Post($"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = intent.Id() }, key, paymentSystem);
        var second = await Post($"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = intent.Id() }, key, paymentSystem);

        (await first.ShouldBe(HttpStatusCode.OK)).Str("status").Should().Be("paid");
        await ShouldReplay(second, first);
    }

    [Fact]
    public async Task DeclineRepeated_ReplaysTheDeclineWithoutASecondAttempt()
    {
        var order = await client.CreateOrderAsync();
        var key = NewKey();

        var first = await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_chargeDeclined" }, key);
        var second = await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_chargeDeclined" }, key);

        await first.ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");
        await ShouldReplay(second, first);
        (await CountPayments(order.Id())).Should().Be(1);
    }

    [Theory]
    [InlineData("other body")]
    [InlineData("other route")]
    public async Task SameKeyForADifferentRequest_Is422AndRunsNothing(string difference)
    {
        var order = await client.CreateOrderAsync();
        var other = await client.CreateOrderAsync();
        var key = NewKey();
        await (await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, key)).ShouldBe(HttpStatusCode.Created);

        var response = difference == "other body"
            ? await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_mastercard" }, key)
            : await Post($"/v1/orders/{other.Id()}/pay", new { source = "tok_visa" }, key);

        await response.ShouldBeProblem(HttpStatusCode.UnprocessableEntity, "idempotency_key_reused");
        (await CountPayments(other.Id())).Should().Be(0);
        (await CountPayments(order.Id())).Should().Be(1);
    }

    [Fact]
    public async Task SameCardWithAnotherCvc_IsTheSameRequest_ForTheCvcIsNeverPartOfTheFingerprint()
    {
        var order = await client.CreateOrderAsync();
        var key = NewKey();
        var first = await Post($"/v1/orders/{order.Id()}/pay", new { source = Api.Card(cvc: "123") }, key);

        var second = await Post($"/v1/orders/{order.Id()}/pay", new { source = Api.Card(cvc: "456") }, key);

        await first.ShouldBe(HttpStatusCode.Created);
        await ShouldReplay(second, first);
        var stored = await factory.QueryAsync<string>("SELECT fingerprint FROM idempotency_keys WHERE idempotency_key = @key", new { key });
        stored.Should().ContainSingle().Which.Should().MatchRegex("^[0-9a-f]{64}$");
    }

    [Fact]
    public async Task KeysAreScopedPerApiKey()
    {
        var key = NewKey();
        await (await Post("/v1/payments", new { amount = 5m, currency = "USD", source = "tok_visa" }, key)).ShouldBe(HttpStatusCode.Created);

        var other = await Post("/v1/payments", new { amount = 7m, currency = "USD", source = "tok_visa" }, key, factory.SecondStorefront());

        var payment = await other.ShouldBe(HttpStatusCode.Created);
        payment.Dec("amount").Should().Be(7.00m);
        other.Headers.Contains(IdempotencyFilter.ReplayedHeader).Should().BeFalse();
    }

    [Theory]
    [InlineData("clé-avec-accent")]
    [InlineData("tab\tinside")]
    public async Task MalformedKey_Is400(string key)
    {
        var order = await client.CreateOrderAsync();

        var response = await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, key);

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_idempotency_key");
        problem.FieldErrors("Idempotency-Key").Should().NotBeEmpty();
        (await CountPayments(order.Id())).Should().Be(0);
    }

    [Fact]
    public async Task KeyOf256Characters_Is400And255IsFine()
    {
        var order = await client.CreateOrderAsync();

        await (await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, new string('k', 256)))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_idempotency_key");
        await (await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, new string('k', 254) + Guid.NewGuid().ToString("N")[..1]))
            .ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task InvalidInput_IsNotStored_SoTheCorrectedRetryRunsWithTheSameKey()
    {
        var order = await client.CreateOrderAsync();
        var key = NewKey();

        await (await Post($"/v1/orders/{order.Id()}/pay", new { source = Api.Card("4242424242424241") }, key))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        var corrected = await Post($"/v1/orders/{order.Id()}/pay", new { source = Api.Card() }, key);

        await corrected.ShouldBe(HttpStatusCode.Created);
        corrected.Headers.Contains(IdempotencyFilter.ReplayedHeader).Should().BeFalse();
    }

    [Fact]
    public async Task ServerError_IsNotStored_AndTheRetryContinuesTheSameCharge()
    {
        var order = await client.CreateOrderAsync();
        var key = NewKey();
        factory.Controls.FailNext(1);
        var charges = factory.Controls.Sandbox.SucceededCharges;

        await (await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, key))
            .ShouldBeProblem(HttpStatusCode.InternalServerError, "internal_error");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = @key AND status_code IS NOT NULL", new { key }))
            .Should().Be(0, "a 500 is not stored");
        (await factory.ScalarAsync<string>("SELECT status FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be("processing");
        var retry = await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, key);

        var payment = await retry.ShouldBe(HttpStatusCode.Created);
        retry.Headers.Contains(IdempotencyFilter.ReplayedHeader).Should().BeFalse("the retry ran, continuing the first request's payment");
        (await CountPayments(order.Id())).Should().Be(1);
        payment.Str("status").Should().Be("succeeded");
        factory.Controls.Sandbox.SucceededCharges.Should().Be(charges + 1);
        await (await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, key)).ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task SameKeyWhileTheFirstIsRunning_Is409WithRetryAfter()
    {
        var order = await client.CreateOrderAsync();
        var key = NewKey();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        factory.Controls.Reset();
        factory.Controls.Hold = release;
        try
        {
            var first = Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, key);
            await factory.Controls.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

            var second = await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, key);

            await second.ShouldBeProblem(HttpStatusCode.Conflict, "idempotency_request_in_progress");
            second.Headers.RetryAfter!.Delta.Should().BePositive();
            release.SetResult();
            await (await first).ShouldBe(HttpStatusCode.Created);
        }
        finally
        {
            release.TrySetResult();
            factory.Controls.Reset();
        }

        var third = await Post($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }, key);
        third.Headers.GetValues(IdempotencyFilter.ReplayedHeader).Should().Equal("true");
    }

    [Fact]
    public async Task FiftyParallelRequestsWithOneKey_RunOnceAndChargeOnce()
    {
        var order = await client.CreateOrderAsync("USD", 75m);
        var key = NewKey();
        var charges = factory.Processor.SucceededCharges;

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            Post($"/v1/orders/{order.Id()}/pay", new { source = Api.Card() }, key, factory.Storefront())));

        var executed = responses.Where(r => r.StatusCode == HttpStatusCode.Created && !r.Headers.Contains(IdempotencyFilter.ReplayedHeader)).ToList();
        executed.Should().ContainSingle();
        var body = await executed[0].Content.ReadAsByteArrayAsync();
        foreach (var other in responses.Except(executed))
        {
            if (other.StatusCode == HttpStatusCode.Conflict)
            {
                await other.ShouldBeProblem(HttpStatusCode.Conflict, "idempotency_request_in_progress");
            }
            else
            {
                other.StatusCode.Should().Be(HttpStatusCode.Created);
                other.Headers.GetValues(IdempotencyFilter.ReplayedHeader).Should().Equal("true");
                (await other.Content.ReadAsByteArrayAsync()).Should().Equal(body);
            }
        }

        (await CountPayments(order.Id())).Should().Be(1);
        factory.Processor.SucceededCharges.Should().Be(charges + 1);
    }

    [Fact]
    public async Task KeyAfterItsRetention_RunsAsNew()
    {
        var key = NewKey();
        await (await Post("/v1/payments", new { amount = 5m, currency = "USD", source = "tok_visa" }, key)).ShouldBe(HttpStatusCode.Created);
        var withinRetention = await Post("/v1/payments", new { amount = 6m, currency = "USD", source = "tok_visa" }, key);
        await withinRetention.ShouldBeProblem(HttpStatusCode.UnprocessableEntity, "idempotency_key_reused");

        factory.Clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        var afterRetention = await Post("/v1/payments", new { amount = 6m, currency = "USD", source = "tok_visa" }, key);

        (await afterRetention.ShouldBe(HttpStatusCode.Created)).Dec("amount").Should().Be(6.00m);
        afterRetention.Headers.Contains(IdempotencyFilter.ReplayedHeader).Should().BeFalse();
    }

    [Fact]
    public async Task ExpiredKeys_ArePurgedInTheBackground()
    {
        var key = NewKey();
        await (await Post("/v1/payments", new { amount = 5m, currency = "USD", source = "tok_visa" }, key)).ShouldBe(HttpStatusCode.Created);
        (await CountKeys(key)).Should().Be(1);

        factory.Clock.Advance(TimeSpan.FromHours(25));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await CountKeys(key) > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        (await CountKeys(key)).Should().Be(0, "the purger runs every 50 ms in this factory");
    }

    [Fact]
    public async Task WithoutAKey_EveryRequestRuns()
    {
        var body = new { amount = 5m, currency = "USD", source = "tok_visa" };

        var first = await (await client.PostJsonAsync("/v1/payments", body)).ShouldBe(HttpStatusCode.Created);
        var second = await (await client.PostJsonAsync("/v1/payments", body)).ShouldBe(HttpStatusCode.Created);

        second.Id().Should().NotBe(first.Id());
    }

    private static string NewKey() => $"key-{Guid.NewGuid()}";

    private Task<long> CountPayments(string orderId) =>
        factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @orderId", new { orderId });

    private Task<long> CountKeys(string key) =>
        factory.ScalarAsync<long>("SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = @key", new { key });

    private Task<HttpResponseMessage> Post(string url, object body, string key, HttpClient? with = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation(IdempotencyFilter.Header, key);
        return (with ?? client).SendAsync(request);
    }

    private static async Task ShouldReplay(HttpResponseMessage replay, HttpResponseMessage original)
    {
        replay.StatusCode.Should().Be(original.StatusCode);
        replay.Headers.GetValues(IdempotencyFilter.ReplayedHeader).Should().Equal("true");
        (await replay.Content.ReadAsByteArrayAsync()).Should().Equal(await original.Content.ReadAsByteArrayAsync());
    }
}

public sealed class IdempotencyRestartTests
{
    [Fact]
    public async Task ReplayAfterARestart_ReturnsTheStoredResponseAndChargesNothing()
    {
        var key = $"key-{Guid.NewGuid()}";
        var before = new ApiFactory { KeepDatabaseOnDispose = true };
        var order = await before.Storefront().CreateOrderAsync();
        var first = await Send(before.Storefront(), $"/v1/orders/{order.Id()}/pay", key);
        var firstBytes = await first.Content.ReadAsByteArrayAsync();
        first.StatusCode.Should().Be(HttpStatusCode.Created);
        await before.DisposeAsync();

        await using var after = ApiFactory.OnDatabase(before.ConnectionString);
        var replay = await Send(after.Storefront(), $"/v1/orders/{order.Id()}/pay", key);

        replay.StatusCode.Should().Be(HttpStatusCode.Created);
        replay.Headers.GetValues(IdempotencyFilter.ReplayedHeader).Should().Equal("true");
        (await replay.Content.ReadAsByteArrayAsync()).Should().Equal(firstBytes);
        after.Processor.SucceededCharges.Should().Be(0, "the restarted service charged nothing");
        (await before.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(1);
        await after.DisposeAsync();
        before.DeleteDatabase();
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, string url, string key) =>
        client.PostJsonAsync(url, new { source = Api.Card() }, key);
}

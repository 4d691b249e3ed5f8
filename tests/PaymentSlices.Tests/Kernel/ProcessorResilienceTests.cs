using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests.Kernel;

/// <summary>The real sandbox with injected faults behind the real resilience pipeline (short delays).</summary>
public class FaultyProcessorFactory : ApiFactory
{
    public SandboxOptions Faults => Services.GetRequiredService<IOptions<SandboxOptions>>().Value;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Processor:Resilience:RetryDelay", "00:00:00.005");
        builder.UseSetting("Processor:Resilience:AttemptTimeout", "00:00:02");
        builder.UseSetting("Processor:Resilience:MinimumThroughput", "10");
        builder.UseSetting("Processor:Resilience:SamplingDuration", "00:00:05");
        builder.UseSetting("Processor:Resilience:BreakDuration", "00:00:00.5");
    }
}

/// <summary>A service of its own, so that no other test's calls are in the breaker's sampling window.</summary>
public sealed class DownProcessorFactory : FaultyProcessorFactory;

/// <summary>
/// A service of its own (one per test class), whose breaker the class's failed calls cannot open: for tests of what a
/// processor that does not answer leaves behind, not of the breaker.
/// </summary>
public sealed class BreakerHeldClosedFactory : FaultyProcessorFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Processor:Resilience:MinimumThroughput", "100");
    }
}

public sealed class ProcessorResilienceTests(FaultyProcessorFactory factory) : IClassFixture<FaultyProcessorFactory>
{
    [Fact]
    public async Task ThirtyPercentTransientFailures_TwoHundredOrdersArePaidExactlyOnce()
    {
        var client = factory.Storefront();
        var orders = new List<string>();
        for (var i = 0; i < 200; i++)
        {
            orders.Add((await client.CreateOrderAsync("USD", 10m + i)).Id());
        }

        var charges = factory.Processor.SucceededCharges;
        var failures = factory.Processor.InjectedFailures;
        factory.Faults.FailureRate = 0.3;
        try
        {
            await Parallel.ForEachAsync(orders, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (order, _) =>
                await PayUntilDone(factory.Storefront(), order));
        }
        finally
        {
            factory.Faults.FailureRate = 0;
        }

        factory.Processor.InjectedFailures.Should().BeGreaterThan(failures + 20, "about 30% of at least 200 calls failed");
        factory.Processor.SucceededCharges.Should().Be(charges + 200);
        var paid = await factory.QueryAsync<(string Id, string Status, long Payments)>(
            $"SELECT o.id, o.status, (SELECT COUNT(*) FROM payments p WHERE p.order_id = o.id) FROM orders o WHERE o.id {TestDatabase.InList("@orders")}", new { orders });
        paid.Should().HaveCount(200).And.OnlyContain(order => order.Status == "paid" && order.Payments == 1);
    }

    internal static async Task<System.Text.Json.Nodes.JsonNode> PayUntilDone(HttpClient client, string orderId, string? key = null)
    {
        key ??= $"pay-{orderId}";
        for (var attempt = 0; attempt < 40; attempt++)
        {
            var response = await Pay(client, orderId, key);
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
            {
                return await response.ShouldBe(HttpStatusCode.Created);
            }

            await Task.Delay(response.Headers.RetryAfter?.Delta is { } wait && wait < TimeSpan.FromSeconds(2) ? wait : TimeSpan.FromMilliseconds(250));
        }

        throw new TimeoutException($"Order {orderId} was not paid after 40 attempts.");
    }

    internal static Task<HttpResponseMessage> Pay(HttpClient client, string orderId, string key) =>
        client.PostJsonAsync($"/v1/orders/{orderId}/pay", new { source = Api.Card() }, key);
}

public sealed class ProcessorDownTests(DownProcessorFactory factory) : IClassFixture<DownProcessorFactory>
{
    [Fact]
    public async Task ProcessorDown_Is503WithRetryAfter_OpensTheBreaker_ThenRecovers()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        var charges = factory.Processor.SucceededCharges;
        factory.Faults.Down = true;
        var others = new List<string>();
        string neverSent;
        try
        {
            // The processor does not answer: whether it charged is unknown, so the payment stays processing (the order
            // pending: no second charge can start) until a retry with the same key, or the reconciler, settles it.
            var first = await ProcessorResilienceTests.Pay(client, order.Id(), "down-1");
            var problem = await first.ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "processor_unavailable");
            first.Headers.RetryAfter!.Delta.Should().BePositive();
            problem.Str("detail").Should().Contain("Idempotency-Key");
            (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be("pending");
            (await factory.ScalarAsync<string>("SELECT status FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be("processing");
            await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }))
                .ShouldBeProblem(HttpStatusCode.Conflict, "order_payment_pending");

            // Keep failing (other orders) until the breaker opens: then the processor is not even called.
            var open = false;
            for (var i = 0; i < 10 && !open; i++)
            {
                var other = (await client.CreateOrderAsync()).Id();
                others.Add(other);
                var attemptsBefore = factory.Processor.InjectedFailures;
                var response = await ProcessorResilienceTests.Pay(client, other, $"down-{i + 2}");
                await response.ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "processor_unavailable");
                open = factory.Processor.InjectedFailures == attemptsBefore;
            }

            open.Should().BeTrue("after enough failures the breaker answers without calling the processor");

            // With the breaker open nothing leaves: a new payment is removed again at once, its order payable.
            neverSent = (await client.CreateOrderAsync()).Id();
            await (await ProcessorResilienceTests.Pay(client, neverSent, "down-open")).ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "processor_unavailable");
            (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = neverSent })).Should().Be("created");
            (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = neverSent })).Should().Be(0);
        }
        finally
        {
            factory.Faults.Down = false;
        }

        // Recovered: the retry with the first key continues its charge, made once.
        var recovered = await ProcessorResilienceTests.PayUntilDone(client, order.Id(), "down-1");
        recovered.Str("status").Should().Be("succeeded");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(1);

        // The others' storefront never retried: the reconciler asks the processor, which never got them. They fail as not
        // made, and can never be made late; their orders are payable again.
        await factory.ReconcileAsync();
        var settled = await factory.QueryAsync<(string Status, string FailureCode, string OrderStatus)>(
            $"SELECT p.status, p.failure_code, o.status FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.order_id {TestDatabase.InList("@others")}", new { others });
        settled.Should().NotBeEmpty().And.OnlyContain(row => row.Status == "failed" && row.FailureCode == "processing_error" && row.OrderStatus == "created");
        (await ProcessorResilienceTests.PayUntilDone(client, neverSent)).Str("status").Should().Be("succeeded");
        factory.Processor.SucceededCharges.Should().Be(charges + 2);
    }

}

/// <summary>
/// A processor that charges and then loses its answer while <see cref="LosingAnswers"/> is set, behind a breaker that
/// opens after two failed calls: the breaker opens between the retries of the one charge that reached it.
/// </summary>
public sealed class BreakerMidRetryFactory : FaultyProcessorFactory
{
    public bool LosingAnswers { get; set; } = true;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder); // short delays; then a breaker that two failures in 30 s open
        builder.UseSetting("Processor:Resilience:MinimumThroughput", "2");
        builder.UseSetting("Processor:Resilience:SamplingDuration", "00:00:30");
        builder.ConfigureTestServices(services => services.AddSingleton<IPaymentProcessor>(provider => new ResilientPaymentProcessor(
            new AnswerLosingProcessor(provider.GetRequiredService<SandboxPaymentProcessor>(), this),
            provider.GetRequiredService<Polly.ResiliencePipeline>(),
            provider.GetRequiredService<IOptions<ProcessorResilienceOptions>>())));
    }

    private sealed class AnswerLosingProcessor(IPaymentProcessor inner, BreakerMidRetryFactory factory) : IPaymentProcessor
    {
        public async Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken cancellationToken)
        {
            var result = await inner.ChargeAsync(request, cancellationToken);
            return factory.LosingAnswers ? throw new ProcessorTransientException("The answer was lost after the charge (test).") : result;
        }

        public Task<string?> RefundAsync(ProcessorRefund request, CancellationToken cancellationToken) => inner.RefundAsync(request, cancellationToken);

        public Task<ChargeResult> ResolveChargeAsync(string idempotencyKey, CancellationToken cancellationToken) =>
            inner.ResolveChargeAsync(idempotencyKey, cancellationToken);

        public Task<string?> ResolveRefundAsync(string idempotencyKey, CancellationToken cancellationToken) =>
            inner.ResolveRefundAsync(idempotencyKey, cancellationToken);

        public Task<SaveCardResult> SaveCardAsync(string idempotencyKey, PaymentSource source, CancellationToken cancellationToken) =>
            inner.SaveCardAsync(idempotencyKey, source, cancellationToken);
    }
}

public sealed class BreakerMidRetryTests(BreakerMidRetryFactory factory) : IClassFixture<BreakerMidRetryFactory>
{
    [Fact]
    public async Task TheBreakerOpeningBetweenTheRetriesOfACharge_KeepsItProcessing_SoItIsMadeOnce()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        var charges = factory.Processor.SucceededCharges;

        // Two attempts charge and lose their answer; the breaker opens, and the third attempt is refused by it. The processor
        // has charged: the payment must not be dropped as never sent, or the order would be payable, and charged, again.
        var first = await ProcessorResilienceTests.Pay(client, order.Id(), "mid-retry");
        await first.ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "processor_unavailable");
        factory.Processor.SucceededCharges.Should().Be(charges + 1);
        (await factory.ScalarAsync<string>("SELECT status FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be("processing");
        (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be("pending");
        await (await ProcessorResilienceTests.Pay(client, order.Id(), "another-key")).ShouldBeProblem(HttpStatusCode.Conflict, "order_payment_pending");

        // The answers come back: the retry with the key finds the charge the processor made, and nothing is charged twice.
        factory.LosingAnswers = false;
        var paid = await ProcessorResilienceTests.PayUntilDone(client, order.Id(), "mid-retry");
        paid.Str("status").Should().Be("succeeded");
        factory.Processor.SucceededCharges.Should().Be(charges + 1);
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(1);
    }
}

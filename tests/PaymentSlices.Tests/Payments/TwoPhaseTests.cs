using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Tests.Pipeline;

namespace PaymentSlices.Tests.Payments;

/// <summary>The sandbox behind a processor whose charges can be held in flight, as a hung processor would hold them.</summary>
public sealed class HeldProcessorFactory : ApiFactory
{
    public HeldProcessorFactory() =>
        ConfigureTestServices = services =>
        {
            services.AddSingleton<ControllableProcessor>();
            services.AddSingleton<IPaymentProcessor>(provider => provider.GetRequiredService<ControllableProcessor>());
        };

    public ControllableProcessor Controls => Services.GetRequiredService<ControllableProcessor>();
}

/// <summary>Issue 15: the processor is never called while a write is held, and a failing write takes only its own writes back.</summary>
public sealed class TwoPhaseTests(HeldProcessorFactory factory) : IClassFixture<HeldProcessorFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task AHangingCharge_DoesNotHoldBackOtherWrites()
    {
        var paid = await client.CreatePaidOrderAsync();
        var order = await client.CreateOrderAsync();

        var payment = await (await PayHeldAsync(order.Id(), async pay =>
        {
            // While the charge is inside the processor: its payment is recorded as processing, its order pending...
            var pending = await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
            pending.Str("status").Should().Be("pending");
            pending["payments"]!.AsArray().Select(payment => payment!.Str("status")).Should().Equal("processing");

            // ...and every other write goes through: a refund, an order, a payment intent.
            var refund = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = paid.Id(), amount = 1.00m })).ShouldBe(HttpStatusCode.Created);
            refund.Str("status").Should().Be("succeeded");
            await (await client.PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "Tea", amount = 3.50m, quantity = 2 } } }))
                .ShouldBe(HttpStatusCode.Created);
            var other = await client.CreateOrderAsync();
            await client.CreatePaymentIntentAsync(other.Id());
            pay.IsCompleted.Should().BeFalse("the charge is still held inside the processor");
        })).ShouldBe(HttpStatusCode.Created);

        payment.Str("status").Should().Be("succeeded");
        (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be("paid");
    }

    [Fact]
    public async Task AnOrderThatLeftPendingAnotherWay_WhileItsChargeWasHeld_GetsNoOrderPaidEventFromThatCharge()
    {
        var order = await client.CreateOrderAsync();

        // Not a path of the API: the order's claim keeps every other payment out. An operator's hand stands for it here.
        var payment = await (await PayHeldAsync(order.Id(), _ =>
            factory.ExecuteAsync("UPDATE orders SET status = 'paid' WHERE id = @id", new { id = order.Id() }))).ShouldBe(HttpStatusCode.Created);

        payment.Str("status").Should().Be("succeeded");
        (await EventTypesAsync(order.Id())).Should().Equal(["payment.succeeded"], "no event says this payment paid the order: it did not");
    }

    [Fact]
    public async Task ThreeDSecureCompletedForAnOrderThatLeftPendingAnotherWay_SendsNoOrderPaidEvent()
    {
        var order = await client.CreateOrderAsync();
        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card("4000002500003155") })).ShouldBe(HttpStatusCode.Created);
        payment.Str("status").Should().Be("requires_action");
        await factory.ExecuteAsync("UPDATE orders SET status = 'paid' WHERE id = @id", new { id = order.Id() });

        await factory.CreateClient().PostAsync($"{payment.Str("redirect_url")}/complete", null);

        (await factory.ScalarAsync<string>("SELECT status FROM payments WHERE id = @id", new { id = payment.Id() })).Should().Be("succeeded");
        (await EventTypesAsync(order.Id())).Should().Equal(["payment.requires_action", "payment.succeeded"]);
    }

    /// <summary>
    /// Pays the order with tok_visa while the processor holds the charge; runs <paramref name="whileHeld"/> (given the pay
    /// still under way) once the charge is inside the processor, then lets it go: the pay's answer.
    /// </summary>
    private async Task<HttpResponseMessage> PayHeldAsync(string orderId, Func<Task<HttpResponseMessage>, Task> whileHeld)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        factory.Controls.Reset();
        factory.Controls.Hold = release;
        try
        {
            var pay = client.PostJsonAsync($"/v1/orders/{orderId}/pay", new { source = "tok_visa" });
            await factory.Controls.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await whileHeld(pay);
            release.SetResult();
            return await pay;
        }
        finally
        {
            release.TrySetResult();
            factory.Controls.Reset();
        }
    }

    private async Task<List<string>> EventTypesAsync(string orderId) =>
        await factory.QueryAsync<string>("SELECT type FROM events WHERE subject = @orderId ORDER BY seq", new { orderId });

    [Fact]
    public async Task AFailingWriteAmongConcurrentOnes_RollsBackAlone_WhileTheOthersCommit()
    {
        // One order in the burst fails after its order row was written (the database refuses its item), so only a rollback
        // of its own writes takes that row out again; the others, written alongside it, must stay.
        await BurstWithOneFailingWriteAsync(factory);
    }

    /// <summary>
    /// 40 concurrent order creations, the 20th of which the database refuses after its order row was written (its item):
    /// it answers 500 and leaves no row; the other 39 answer 201 and are all kept.
    /// </summary>
    internal static async Task BurstWithOneFailingWriteAsync(ApiFactory factory)
    {
        await using (await factory.RefuseWritesAsync("order_items", "INSERT", "NEW.amount = 4242", "test: this write fails"))
        {
            var amounts = Enumerable.Range(1, 40).Select(i => i == 20 ? 42.42m : 100m + i).ToList();
            var responses = await Task.WhenAll(amounts.Select(amount =>
                factory.Storefront().PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "Item", amount, quantity = 1 } } })));

            await responses[19].ShouldBeProblem(HttpStatusCode.InternalServerError, "internal_error");
            var created = new List<string>();
            foreach (var response in responses.Where((_, i) => i != 19))
            {
                created.Add((await response.ShouldBe(HttpStatusCode.Created)).Id());
            }

            (await factory.ScalarAsync<long>($"SELECT COUNT(*) FROM orders WHERE id {TestDatabase.InList("@created")}", new { created })).Should().Be(39);
            (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE amount = 4242")).Should().Be(0);
        }
    }

    [Fact]
    public async Task SameKeyWhileTheChargeIsHeld_Is409_ThenReplaysTheSettledCharge()
    {
        var order = await client.CreateOrderAsync();
        var key = $"held-{Guid.NewGuid()}";
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        factory.Controls.Reset();
        factory.Controls.Hold = release;
        Task<HttpResponseMessage> first;
        try
        {
            first = Post(order.Id(), key);
            await factory.Controls.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var duplicates = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Post(order.Id(), key)));
            foreach (var duplicate in duplicates)
            {
                await duplicate.ShouldBeProblem(HttpStatusCode.Conflict, "idempotency_request_in_progress");
            }
        }
        finally
        {
            release.TrySetResult();
        }

        var payment = await (await first).ShouldBe(HttpStatusCode.Created);
        var replay = await Post(order.Id(), key);
        (await replay.ShouldBe(HttpStatusCode.Created)).Id().Should().Be(payment.Id());
        replay.Headers.GetValues(IdempotencyFilter.ReplayedHeader).Should().Equal("true");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(1);
        factory.Controls.Reset();
    }

    private Task<HttpResponseMessage> Post(string orderId, string key) =>
        factory.Storefront().PostJsonAsync($"/v1/orders/{orderId}/pay", new { source = "tok_visa" }, key);
}

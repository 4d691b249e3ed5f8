using System.Net;
using System.Net.Sockets;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Tests.Webhooks;

/// <summary>
/// A dead endpoint must not hold up a healthy one, an event that waited behind an earlier one keeps its whole retry
/// window, and the retry schedule is what the README says.
/// </summary>
public sealed class WebhookFairnessTests
{
    [Fact]
    public async Task AHangingEndpointWithABacklog_DoesNotHoldUpAHealthyEndpoint()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var hanging = HangingEndpoint.Start();
        await using var factory = new WebhookFactory(receiver) { KeepDatabaseOnDispose = true };
        factory.Settings["Webhooks:Endpoints:2:Url"] = hanging.Url;
        factory.Settings["Webhooks:Endpoints:2:Secret"] = "whsec_hanging_0a1b2c3d4e5f6a7b";
        factory.Settings["Webhooks:MaxConcurrentDeliveries"] = "4";
        factory.Settings["Webhooks:AttemptTimeout"] = "00:01:00";
        var client = factory.Storefront();

        // Five orders: five events first in line for the hanging endpoint, more than all the slots there are. Once the
        // healthy endpoint has its events, nothing else is due, and the dispatcher gives the hanging one all it may.
        var orders = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            orders.Add((await client.CreatePaidOrderAsync()).Str("order_id"));
        }

        foreach (var order in orders)
        {
            await receiver.DeliveredAboutAsync(order, "payment.succeeded", "order.paid");
        }

        await hanging.WaitForConnectionAsync();
        await Task.Delay(TimeSpan.FromSeconds(1)); // twenty polls

        // Four slots shared by three endpoints: the hanging one may borrow the idle ones, but the others keep their share.
        hanging.Connections.Should().BeInRange(1, 4, "the hanging endpoint holds its share and at most the slots left idle");

        // A new payment reaches the healthy endpoint in seconds, not after the hanging attempts time out (a minute).
        var orderId = (await client.CreatePaidOrderAsync()).Str("order_id");
        await receiver.WaitForAsync(
            hooks => hooks.Any(hook => hook.Succeeded && hook.IsAbout(orderId) && hook.Type == "payment.succeeded")
                && hooks.Any(hook => hook.Succeeded && hook.IsAbout(orderId) && hook.Type == "order.paid"),
            "the new order's events at the healthy endpoint", seconds: 15);

        // Stopping with attempts hanging: the stop waits for them, and they stay pending (no failed attempt recorded),
        // to be sent again after a restart.
        await factory.DisposeAsync();
        var hangingDeliveries = await factory.QueryAsync<(string Status, long Attempts)>(
            "SELECT status, attempt_count FROM event_deliveries WHERE endpoint = @Url", new { hanging.Url });
        hangingDeliveries.Should().HaveCount(12).And.OnlyContain(delivery => delivery.Status == "pending" && delivery.Attempts == 0);
        factory.DeleteDatabase();
    }

    [Fact]
    public async Task AnEventThatWaitedBehindAnEarlierOne_GetsItsWholeRetryWindow_FromItsFirstAttempt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new WebhookFactory(receiver);
        factory.Settings["Webhooks:RetryFor"] = "00:00:01";
        factory.Settings["Webhooks:ImmediateRetries"] = "0";
        factory.Settings["Webhooks:AttemptTimeout"] = "00:00:10";
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        receiver.Hold(order.Id());

        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
        var ids = await factory.EventIdsAboutAsync(order.Id());
        await receiver.WaitForAsync(hooks => hooks.Any(hook => hook.EventId == ids[0]), "payment.succeeded, held");
        // order.paid waits behind the held payment.succeeded for longer than the whole window (1 s) since it was written.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        receiver.Fail(order.Id(), times: 2, status: 500);
        receiver.Release(order.Id());

        // payment.succeeded is answered 200; order.paid fails twice, and is still retried because its window began at its first attempt.
        var orderPaid = await factory.EventWhenAsync(ids[1], "delivered");
        orderPaid.Str("type").Should().Be("order.paid");
        orderPaid["deliveries"]!.AsArray().Single()!["attempts"]!.AsArray().Select(attempt => attempt!["status_code"]!.GetValue<int>())
            .Should().Equal(500, 500, 200);
    }

    [Fact]
    public void Slots_GiveEachEndpointItsShare_AndEveryEndpointAtLeastOne()
    {
        WebhookDispatcher.Slots(new WebhookOptions { MaxConcurrentDeliveries = 8, Endpoints = new WebhookEndpoint[1] }).Should().Be((8, 8));
        WebhookDispatcher.Slots(new WebhookOptions { MaxConcurrentDeliveries = 8, Endpoints = new WebhookEndpoint[2] }).Should().Be((8, 4));
        WebhookDispatcher.Slots(new WebhookOptions { MaxConcurrentDeliveries = 8, Endpoints = new WebhookEndpoint[3] }).Should().Be((8, 2));
        WebhookDispatcher.Slots(new WebhookOptions { MaxConcurrentDeliveries = 4, Endpoints = new WebhookEndpoint[10] }).Should().Be((10, 1));
        WebhookDispatcher.Slots(new WebhookOptions { MaxConcurrentDeliveries = 8, Endpoints = [] }).Should().Be((8, 8));
    }

    [Fact]
    public void RetrySchedule_DoublesWithJitter_UpToTheLongestDelay_LastRoundAtTheWindowsEnd_ThenNone()
    {
        var now = new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
        var window = now.AddDays(3);
        var first = TimeSpan.FromMinutes(1);
        var longest = TimeSpan.FromHours(1);

        RetrySchedule.Next(0, window, now, first, longest, random: 0.5).Should().Be(now.AddMinutes(1));
        RetrySchedule.Next(3, window, now, first, longest, random: 0.5).Should().Be(now.AddMinutes(8));
        RetrySchedule.Next(3, window, now, first, longest, random: 0).Should().Be(now.AddMinutes(8 * 0.8));
        RetrySchedule.Next(3, window, now, first, longest, random: 0.999999).Should().BeCloseTo(now.AddMinutes(8 * 1.2), TimeSpan.FromSeconds(1));
        RetrySchedule.Next(10, window, now, first, longest, random: 0.5).Should().Be(now.AddHours(1), "capped at the longest delay");
        RetrySchedule.Next(int.MaxValue, window, now, first, longest, random: 0.5).Should().Be(now.AddHours(1), "no overflow after many rounds");

        RetrySchedule.Next(10, now.AddMinutes(10), now, first, longest, random: 0.5).Should().Be(now.AddMinutes(10), "the last round falls at the window's end");
        RetrySchedule.Next(10, now, now, first, longest, random: 0.5).Should().BeNull("the window is over: the delivery fails");
        RetrySchedule.Next(0, now.AddSeconds(-1), now, first, longest, random: 0.5).Should().BeNull();
    }

    [Fact]
    public void TheDefaultSchedule_RetriesForThreeDays_WithRoundsAtMostAnHourApart()
    {
        var settings = new WebhookOptions();
        var start = new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
        var window = start + settings.RetryFor;
        var rounds = new List<DateTimeOffset> { start };
        for (var round = 0; round < 1000 && RetrySchedule.Next(round, window, rounds[^1], settings.RetryDelay, settings.MaxRetryDelay, random: 0.5) is { } next; round++)
        {
            rounds.Add(next);
        }

        rounds[^1].Should().Be(window, "the last round is at the end of the three days");
        rounds.Zip(rounds.Skip(1), (a, b) => b - a).Should().OnlyContain(gap => gap > TimeSpan.Zero && gap <= TimeSpan.FromHours(1.2));
        rounds.Count.Should().BeInRange(70, 90, "about 7 rounds in the first two hours, then one an hour for three days");
    }

    [Theory]
    [InlineData("Webhooks:RetryFor", "3650.00:00:00", "Webhooks:RetryFor")]
    [InlineData("Webhooks:ImmediateRetryDelay", "00:00:00", "Webhooks:ImmediateRetryDelay")]
    public void AnOutOfRangeSchedule_FailsValidation_NamingIt(string key, string value, string named)
    {
        var settings = new WebhookOptions();
        if (key.EndsWith("RetryFor", StringComparison.Ordinal))
        {
            settings.RetryFor = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        }
        else
        {
            settings.ImmediateRetryDelay = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        }

        var result = new WebhookOptionsValidator().Validate(null, settings);

        result.Failed.Should().BeTrue();
        result.Failures.Should().ContainSingle().Which.Should().Contain(named);
    }

    /// <summary>An endpoint that accepts connections and never answers: a receiver that hangs.</summary>
    private sealed class HangingEndpoint : IAsyncDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly List<TcpClient> clients = [];
        private readonly TaskCompletionSource firstConnection = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task accepting = Task.CompletedTask;

        public string Url => $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/hang";

        public int Connections
        {
            get
            {
                lock (clients)
                {
                    return clients.Count;
                }
            }
        }

        public static HangingEndpoint Start()
        {
            var endpoint = new HangingEndpoint();
            endpoint.listener.Start();
            endpoint.accepting = endpoint.AcceptAsync();
            return endpoint;
        }

        public Task WaitForConnectionAsync() => firstConnection.Task.WaitAsync(TimeSpan.FromSeconds(30));

        public async ValueTask DisposeAsync()
        {
            listener.Stop();
            await accepting;
            lock (clients)
            {
                clients.ForEach(client => client.Dispose());
            }
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await listener.AcceptTcpClientAsync();
                    lock (clients)
                    {
                        clients.Add(client);
                    }

                    firstConnection.TrySetResult();
                }
            }
            catch (Exception error) when (error is SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }
    }
}

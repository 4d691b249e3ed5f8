using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Tests.Webhooks;

/// <summary>Restarts, retries that run out, redelivery of failed events, no endpoints, and bad webhook settings.</summary>
public sealed class WebhookLifecycleTests
{
    [Fact]
    public async Task ARestartMidRetry_StillDeliversTheEvent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var before = new WebhookFactory(receiver) { KeepDatabaseOnDispose = true };
        before.Settings["Webhooks:RetryDelay"] = "00:00:00.300";
        before.Settings["Webhooks:MaxRetryDelay"] = "00:00:01";
        var client = before.Storefront();
        var order = await client.CreateOrderAsync();
        receiver.Fail(order.Id(), times: int.MaxValue);
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
        var eventId = (await before.EventIdsAboutAsync(order.Id()))[0];
        await receiver.WaitForAsync(hooks => hooks.Count(hook => hook.EventId == eventId) >= 3, "a failed round and a retry");
        await before.DisposeAsync(); // the service stops with the event still pending

        var stored = await before.ScalarAsync<string>("SELECT status FROM events WHERE id = @eventId", new { eventId });
        stored.Should().Be("pending", "it was neither delivered nor given up");
        var recorded = await before.ScalarAsync<long>("SELECT COUNT(*) FROM event_attempts WHERE event_id = @eventId", new { eventId });
        recorded.Should().BeGreaterThanOrEqualTo(2, "the first round's two attempts were recorded before the next round began");
        receiver.Received.Should().NotContain(hook => hook.IsAbout(order.Id()) && hook.Succeeded);
        receiver.Fail(order.Id(), times: 0); // the endpoint is back

        await using (var after = new WebhookFactory(receiver, before.ConnectionString))
        {
            after.StartServer(); // the service starts again; nobody calls it: the dispatcher resumes on its own
            await receiver.DeliveredAboutAsync(order.Id(), "payment.succeeded", "order.paid");
            var shown = await after.EventWhenAsync(eventId, "delivered");
            var attempts = shown["deliveries"]!.AsArray().Single()!["attempts"]!.AsArray();
            attempts.Take((int)recorded).Should().OnlyContain(attempt => attempt!["status_code"]!.GetValue<int>() == 503, "the attempts before the restart are kept");
            attempts.Last()!["status_code"]!.GetValue<int>().Should().Be(200);
        }

        before.DeleteDatabase();
    }

    [Fact]
    public async Task AnEndpointQuietedAfterASlowLookThatFoundNothing_GetsItsNewEventsAtOnce_AndOtherEndpointsEventsLeaveItQuiet()
    {
        // Every look that finds nothing counts as slow here, and quiets the endpoint until the next poll, a minute away:
        // only the commit of events for that endpoint can end it in time.
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new WebhookFactory(receiver)
        {
            ConfigureTestServices = services => services.PostConfigure<WebhookOptions>(options => options.QuietAfterQuery = TimeSpan.Zero),
        };
        factory.Settings["Webhooks:PollInterval"] = "00:01:00";
        factory.Settings["Logging:LogLevel:PaymentSlices.Api.Webhooks"] = "Debug";
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        var all = WebhookEndpoint.Display(factory.EndpointUrl);
        var refundsOnly = WebhookEndpoint.Display(factory.RefundsUrl);
        int Looks(string endpoint) => factory.Logs.Lines.Count(line => line.Contains($"{endpoint}: nothing due and a slow look", StringComparison.Ordinal));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Looks(all) == 0 || Looks(refundsOnly) == 0)
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the dispatcher's first look finds nothing and quiets both endpoints");
            await Task.Delay(20);
        }

        var refundsOnlyLooks = Looks(refundsOnly);
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
        var delivered = await receiver.WaitForAsync(
            hooks => hooks.Count(hook => hook.IsAbout(order.Id()) && hook.Succeeded) >= 2, "payment.succeeded and order.paid well before the next poll", seconds: 15);
        delivered.Where(hook => hook.IsAbout(order.Id())).Select(hook => hook.Type).Should().BeEquivalentTo(["payment.succeeded", "order.paid"]);
        Looks(refundsOnly).Should().Be(refundsOnlyLooks, "no payment event goes to the refunds-only endpoint, so its backlog is not looked at again");

        var payment = (await factory.QueryAsync<string>("SELECT id FROM payments WHERE order_id = @id", new { id = order.Id() })).Single();
        var refund = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment, amount = 1.00m })).ShouldBe(HttpStatusCode.Created);
        await receiver.WaitForAsync(
            hooks => hooks.Any(hook => hook.Path.StartsWith("/refunds-only", StringComparison.Ordinal) && hook.IsAbout(refund.Id()) && hook.Succeeded),
            "refund.succeeded at the refunds-only endpoint well before the next poll", seconds: 15);
    }

    [Fact]
    public async Task RetriesThatRunOut_MarkTheEventFailed_AndRedeliveryThenDeliversIt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new WebhookFactory(receiver);
        factory.Settings["Webhooks:RetryFor"] = "00:00:00.500";
        factory.Settings["Webhooks:ImmediateRetries"] = "0";
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        receiver.Fail(order.Id(), times: int.MaxValue, status: 500);
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
        var ids = await factory.EventIdsAboutAsync(order.Id());

        var failed = await factory.EventWhenAsync(ids[0], "failed");
        var delivery = failed["deliveries"]!.AsArray().Single()!;
        delivery.Str("status").Should().Be("failed");
        delivery["next_attempt_at"].Should().BeNull();
        delivery["attempts"]!.AsArray().Should().NotBeEmpty().And.OnlyContain(attempt => attempt!["status_code"]!.GetValue<int>() == 500);
        await factory.EventWhenAsync(ids[1], "failed"); // order.paid went next once payment.succeeded gave up, and failed too
        var listed = await (await client.GetAsync("/v1/events?status=failed")).ShouldBe(HttpStatusCode.OK);
        listed["data"]!.AsArray().Select(node => node!.Id()).Should().Equal(ids[1], ids[0]);
        (await (await client.GetAsync("/v1/events?status=pending")).ShouldBe(HttpStatusCode.OK))["data"]!.AsArray().Should().BeEmpty();

        receiver.Fail(order.Id(), times: 0);
        foreach (var id in ids)
        {
            await (await client.PostAsync($"/v1/events/{id}/redeliver", null)).ShouldBe(HttpStatusCode.Accepted);
        }

        var delivered = await receiver.DeliveredAboutAsync(order.Id(), "payment.succeeded", "order.paid");
        delivered.Select(hook => hook.EventId).Should().Equal(ids, "redelivery sends the same events, in their order");
        var shown = await factory.EventWhenAsync(ids[0], "delivered");
        shown["deliveries"]!.AsArray().Single()!["attempts"]!.AsArray().Last()!["status_code"]!.GetValue<int>().Should().Be(200);
    }

    [Fact]
    public async Task AnEndpointWhoseUrlChanged_FailsItsPendingDeliveriesAtStart_AndRedeliveryToTheNewUrlMakesTheEventDelivered()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (before, order, ids) = await StoppedWithAPendingOrderAsync(receiver);

        await using (var after = new WebhookFactory(receiver, before.ConnectionString))
        {
            after.Settings["Webhooks:Endpoints:0:Url"] = $"{receiver.BaseUrl}/hooks-v2";
            after.StartServer();

            // The old URL is no longer configured: its pending deliveries fail at start, saying why.
            var failed = await after.EventWhenAsync(ids[0], "failed");
            var old = failed["deliveries"]!.AsArray().Single()!;
            old.Str("endpoint").Should().Be($"{receiver.BaseUrl}/hooks");
            old["attempts"]!.AsArray().Last()!["error"]!.GetValue<string>().Should().Be("The endpoint is no longer configured.");
            await after.EventWhenAsync(ids[1], "failed");

            // Redelivered to the endpoint's new URL, the events are delivered, and show so.
            var storefront = after.Storefront();
            foreach (var id in ids)
            {
                await (await storefront.PostAsync($"/v1/events/{id}/redeliver", null)).ShouldBe(HttpStatusCode.Accepted);
            }

            var delivered = await receiver.DeliveredAboutAsync(order.Id(), "payment.succeeded", "order.paid");
            delivered.Should().OnlyContain(hook => hook.Path == "/hooks-v2");
            foreach (var id in ids)
            {
                var shown = await after.EventWhenAsync(id, "delivered");
                shown["deliveries"]!.AsArray().Select(delivery => (delivery!.Str("endpoint"), delivery!.Str("status")))
                    .Should().BeEquivalentTo([($"{receiver.BaseUrl}/hooks", "failed"), ($"{receiver.BaseUrl}/hooks-v2", "delivered")]);
            }

            (await (await storefront.GetAsync("/v1/events?status=failed")).ShouldBe(HttpStatusCode.OK))["data"]!.AsArray()
                .Select(node => node!.Id()).Should().NotIntersectWith(ids);
        }

        before.DeleteDatabase();
    }

    [Fact]
    public async Task StartedWithNoEndpointConfigured_ThePendingBacklogWaits_AndIsDeliveredWhenTheEndpointIsBack()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (before, order, ids) = await StoppedWithAPendingOrderAsync(receiver);

        // A deployment that lost its webhook settings: the backlog must not be failed for good.
        await using (var unconfigured = new SettingsFactory(new() { ["Webhooks:PollInterval"] = "00:00:00.050" }, before.ConnectionString))
        {
            var storefront = unconfigured.Storefront();
            await Task.Delay(TimeSpan.FromMilliseconds(500)); // ten polls
            foreach (var id in ids)
            {
                (await (await storefront.GetAsync($"/v1/events/{id}")).ShouldBe(HttpStatusCode.OK)).Str("status").Should().Be("pending");
            }
        }

        await using (var after = new WebhookFactory(receiver, before.ConnectionString))
        {
            after.StartServer();
            await receiver.DeliveredAboutAsync(order.Id(), "payment.succeeded", "order.paid");
            await after.EventWhenAsync(ids[1], "delivered");
        }

        before.DeleteDatabase();
    }

    [Fact]
    public async Task RedeliveringAnEventWhileItsAttemptHangs_SendsItAgainAfterThatAttempt_NotAlongside()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new WebhookFactory(receiver);
        factory.Settings["Webhooks:AttemptTimeout"] = "00:00:20";
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        receiver.Hold(order.Id());
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
        var ids = await factory.EventIdsAboutAsync(order.Id());
        await receiver.WaitForAsync(hooks => hooks.Any(hook => hook.EventId == ids[0]), "the held attempt");

        await (await client.PostAsync($"/v1/events/{ids[0]}/redeliver", null)).ShouldBe(HttpStatusCode.Accepted);
        await Task.Delay(TimeSpan.FromMilliseconds(500)); // ten polls: the redelivered copy must wait for the held attempt
        receiver.Received.Count(hook => hook.EventId == ids[0]).Should().Be(1, "the same delivery is never sent twice at once");
        receiver.Release(order.Id());

        // The held copy is answered 200 now (the receiver records it once, when it arrived), then the redelivered copy goes.
        var copies = await receiver.WaitForAsync(hooks => hooks.Any(hook => hook.EventId == ids[0] && hook.Succeeded), "the redelivered copy");
        copies.Where(hook => hook.EventId == ids[0]).Select(hook => hook.AnsweredWith).Should().Equal(0, 200);
        var shown = await factory.EventWhenAsync(ids[0], "delivered");
        shown["deliveries"]!.AsArray().Single()!.Str("status").Should().Be("delivered");
        await receiver.DeliveredAboutAsync(order.Id(), "order.paid");
    }

    [Fact]
    public async Task WhenAnOutcomeCannotBeRecorded_TheEventIsSentAgainAfterAPause_NotInATightLoop_AndThenRecorded()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var factory = new WebhookFactory(receiver);
        factory.Settings["Webhooks:RetryDelay"] = "00:00:03";
        factory.Settings["Webhooks:MaxRetryDelay"] = "00:00:03";
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        // The database refuses to record attempts (as a full disk would): every delivery's outcome fails to be written.
        List<string> ids;
        await using (await factory.RefuseWritesAsync("event_attempts", "INSERT", null, "disk full"))
        {
            await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
            ids = await factory.EventIdsAboutAsync(order.Id());
            await receiver.WaitForAsync(hooks => hooks.Any(hook => hook.EventId == ids[0]), "the first send");
            await Task.Delay(TimeSpan.FromSeconds(1)); // twenty polls
            receiver.Received.Count(hook => hook.EventId == ids[0]).Should().Be(1, "it waits RetryDelay (3 s) before sending again, not every poll");
        }

        var shown = await factory.EventWhenAsync(ids[0], "delivered");
        shown["deliveries"]!.AsArray().Single()!["attempts"]!.AsArray().Should().ContainSingle("only the attempt that could be recorded is shown");
        receiver.Received.Count(hook => hook.EventId == ids[0]).Should().Be(2, "at least once: sent again after the pause");
    }

    /// <summary>
    /// A service whose endpoint fails an order's events, stopped with them still pending (the next round 5 s away); the
    /// endpoint then recovers. Returns the stopped service (its database kept), the order and its event ids.
    /// </summary>
    private static async Task<(WebhookFactory Before, JsonNode Order, List<string> Ids)> StoppedWithAPendingOrderAsync(WebhookReceiver receiver)
    {
        var before = new WebhookFactory(receiver) { KeepDatabaseOnDispose = true };
        before.Settings["Webhooks:RetryDelay"] = "00:00:05";
        before.Settings["Webhooks:MaxRetryDelay"] = "00:00:05";
        var client = before.Storefront();
        var order = await client.CreateOrderAsync();
        receiver.Fail(order.Id(), times: int.MaxValue);
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
        var ids = await before.EventIdsAboutAsync(order.Id());
        await receiver.WaitForAsync(hooks => hooks.Count(hook => hook.EventId == ids[0]) >= 2, "a failed round");
        await before.DisposeAsync();
        receiver.Fail(order.Id(), times: 0);
        return (before, order, ids);
    }

    [Fact]
    public async Task WithNoEndpoint_EventsAreStillRecorded_AndRedeliveryIs409()
    {
        await using var factory = new ApiFactory();
        var client = factory.Storefront();
        var payment = await client.CreatePaidOrderAsync();

        var listed = await (await client.GetAsync("/v1/events")).ShouldBe(HttpStatusCode.OK);
        var events = listed["data"]!.AsArray();
        events.Select(node => node!.Str("type")).Should().Equal("order.paid", "payment.succeeded");
        events.Should().OnlyContain(node => node!.Str("status") == "delivered" && node!["deliveries"]!.AsArray().Count == 0, "nothing is left to send");
        events[1]!["data"]!["object"]!.Id().Should().Be(payment.Id());

        await (await client.PostAsync($"/v1/events/{events[1]!.Id()}/redeliver", null)).ShouldBeProblem(HttpStatusCode.Conflict, "webhook_endpoints_missing");
    }

    [Theory]
    [InlineData("Webhooks:Endpoints:0:Url", "not-a-url", "Webhooks:Endpoints:0:Url")]
    [InlineData("Webhooks:Endpoints:0:Secret", "short", "Webhooks:Endpoints:0:Secret")]
    [InlineData("Webhooks:Endpoints:0:Events:0", "payment.created", "Webhooks:Endpoints:0:Events")]
    [InlineData("Webhooks:RetryFor", "-00:00:01", "Webhooks:RetryFor")]
    public async Task ABadWebhookSetting_StopsStartUp_NamingIt(string key, string value, string named)
    {
        await using var factory = new SettingsFactory(new()
        {
            ["Webhooks:Endpoints:0:Url"] = "http://127.0.0.1:9/hooks",
            ["Webhooks:Endpoints:0:Secret"] = "whsec_test_3f9a1c7e5b2d4f60",
            [key] = value,
        });

        var start = () => factory.CreateClient();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(named).And.NotContain("whsec_test_3f9a1c7e5b2d4f60");
    }

    private sealed class SettingsFactory(Dictionary<string, string?> settings, string? database = null) : ApiFactory(database)
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        }
    }
}

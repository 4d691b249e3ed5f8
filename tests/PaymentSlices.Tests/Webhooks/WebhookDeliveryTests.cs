using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace PaymentSlices.Tests.Webhooks;

/// <summary>Events reach a real local receiver, signed, in order, after failures, and the events routes show each attempt.</summary>
public sealed class WebhookDeliveryTests(WebhookFactory factory) : IClassFixture<WebhookFactory>
{
    private const string ThreeDSecureCard = "4000002500003155";
    private const string DeclinedCard = "4000000000000002";

    [Fact]
    public async Task PayingAnOrder_DeliversPaymentSucceededThenOrderPaid_SignedWithTheEndpointSecret()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync(amount: 410m);
        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card() })).ShouldBe(HttpStatusCode.Created);

        var delivered = await factory.Receiver.DeliveredAboutAsync(order.Id(), "payment.succeeded", "order.paid");

        delivered.Select(hook => hook.Type).Should().Equal(["payment.succeeded", "order.paid"], "the payment happened first");
        foreach (var hook in delivered)
        {
            hook.Path.Should().Be("/hooks");
            hook.SignatureIsValid(WebhookFactory.Secret).Should().BeTrue($"{hook.Type} is signed with the endpoint's secret");
            hook.SignatureIsValid(WebhookFactory.RefundsSecret).Should().BeFalse("another endpoint's secret does not verify it");
            hook.Headers["PaymentSlices-Event-Id"].Should().Be(hook.EventId);
            hook.Headers["PaymentSlices-Event-Type"].Should().Be(hook.Type);
            hook.Headers["Content-Type"].Should().StartWith("application/json");
            hook.EventId.Should().StartWith("evt_");
            hook.Body["created_at"]!.GetValue<string>().Should().EndWith("Z");
            hook.RawBody.Should().NotContain("4242424242424242").And.NotContain("\"cvc\"");
        }

        var succeeded = delivered[0].Object;
        succeeded["id"]!.GetValue<string>().Should().Be(payment.Id());
        succeeded["status"]!.GetValue<string>().Should().Be("succeeded");
        succeeded["amount"]!.GetValue<decimal>().Should().Be(410m);
        succeeded["source"]!["number"]!.GetValue<string>().Should().Be("************4242");
        var paid = delivered[1].Object;
        paid["id"]!.GetValue<string>().Should().Be(order.Id());
        paid["status"]!.GetValue<string>().Should().Be("paid");
        paid["payments"]!.AsArray().Single()!["id"]!.GetValue<string>().Should().Be(payment.Id());
        var read = await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
        paid.ToJsonString().Should().Be(read.ToJsonString(), "order.paid carries the order as a storefront reads it once paid");
        delivered.Should().NotContain(hook => hook.Path == "/refunds-only", "that endpoint receives refund events only");

        var shown = await factory.EventWhenAsync(delivered[0].EventId, "delivered");
        shown.Str("type").Should().Be("payment.succeeded");
        shown["data"]!["object"]!.ToJsonString().Should().Be(delivered[0].Object.ToJsonString(), "the event shows the body its endpoint received");
        var delivery = shown["deliveries"]!.AsArray().Single()!;
        delivery.Str("endpoint").Should().Be($"{factory.Receiver.BaseUrl}/hooks", "the URL is shown without its query");
        delivery.Str("status").Should().Be("delivered");
        delivery["attempts"]!.AsArray().Single()!["status_code"]!.GetValue<int>().Should().Be(200);
    }

    [Fact]
    public async Task ReceiverFailingThreeTimes_GetsTheEventAfterRetries_InOrder_AndTheEventShowsEveryAttempt()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        factory.Receiver.Fail(order.Id(), times: 3, status: 503);

        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
        await factory.Receiver.DeliveredAboutAsync(order.Id(), "payment.succeeded", "order.paid");

        var about = factory.Receiver.Received.Where(hook => hook.IsAbout(order.Id())).ToList();
        about.Select(hook => (hook.Type, hook.AnsweredWith)).Should().Equal(
            [("payment.succeeded", 503), ("payment.succeeded", 503), ("payment.succeeded", 503), ("payment.succeeded", 200), ("order.paid", 200)],
            "order.paid waits until payment.succeeded, created first, is delivered");
        about.Take(4).Select(hook => hook.EventId).Distinct().Should().ContainSingle("a retry sends the same event");
        about.Take(4).Select(hook => hook.RawBody).Distinct().Should().ContainSingle("a retry sends the same body, byte for byte");
        about.Should().OnlyContain(hook => hook.SignatureIsValid(WebhookFactory.Secret), "every attempt is signed afresh");

        var shown = await factory.EventWhenAsync(about[0].EventId, "delivered");
        var delivery = shown["deliveries"]!.AsArray().Single()!;
        delivery["attempt_count"]!.GetValue<int>().Should().Be(4);
        delivery["next_attempt_at"].Should().BeNull();
        delivery.Str("delivered_at").Should().NotBeNullOrEmpty();
        var attempts = delivery["attempts"]!.AsArray();
        attempts.Select(attempt => attempt!["status_code"]!.GetValue<int>()).Should().Equal(503, 503, 503, 200);
        attempts.Take(3).Should().OnlyContain(attempt => attempt!["error"]!.GetValue<string>() == "The endpoint answered 503.");
        attempts.Last()!["error"].Should().BeNull();
        attempts.Select(attempt => DateTimeOffset.Parse(attempt!["attempted_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture))
            .Should().BeInAscendingOrder();
    }

    [Fact]
    public async Task ARolledBackChange_EmitsNothing_AndTheChargeItLeftIsSettledOnceByTheReconciler()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();

        // The pay request's last write (its stored idempotent response) fails, so its second turn rolls back after the
        // payment's outcome and its events were written in it; the charge made at the processor stays processing here.
        await using (await factory.RefuseWritesAsync("idempotency_keys", "UPDATE", "NEW.status_code IS NOT NULL", "test: the commit fails"))
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{order.Id()}/pay") { Content = JsonContent.Create(new { source = "tok_visa" }) };
            request.Headers.Add("Idempotency-Key", $"rollback-{Guid.NewGuid()}");
            await (await client.SendAsync(request)).ShouldBeProblem(HttpStatusCode.InternalServerError, "internal_error");
        }

        (await factory.EventIdsAboutAsync(order.Id())).Should().BeEmpty("the change rolled back, and its events with it");
        (await factory.ScalarAsync<string>("SELECT status FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be("processing");

        // The reconciler finds the charge at the processor and records it: its events are the only ones that reach the receiver.
        (await factory.ReconcileAsync()).Should().BeGreaterThanOrEqualTo(1);
        (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be("paid");
        await factory.Receiver.DeliveredAboutAsync(order.Id(), "payment.succeeded", "order.paid");
        factory.Receiver.Received.Where(hook => hook.IsAbout(order.Id())).Select(hook => hook.Type).Should().Equal("payment.succeeded", "order.paid");
        (await factory.EventIdsAboutAsync(order.Id())).Should().HaveCount(2);
    }

    [Fact]
    public async Task Redeliver_SendsTheSameEventAgain_AndShowsBothAttempts()
    {
        var client = factory.Storefront();
        var payment = await client.CreatePaidOrderAsync();
        var first = (await factory.Receiver.DeliveredAboutAsync(payment.Id(), "payment.succeeded")).Single(hook => hook.Type == "payment.succeeded");
        await factory.EventWhenAsync(first.EventId, "delivered");

        var response = await client.PostAsync($"/v1/events/{first.EventId}/redeliver", null);

        var accepted = await response.ShouldBe(HttpStatusCode.Accepted);
        response.Headers.Location!.ToString().Should().Be($"/v1/events/{first.EventId}");
        accepted.Id().Should().Be(first.EventId);
        accepted.Str("status").Should().Be("pending");
        var again = await factory.Receiver.WaitForAsync(
            hooks => hooks.Count(hook => hook.EventId == first.EventId && hook.Succeeded) == 2, "the event a second time");
        var copies = again.Where(hook => hook.EventId == first.EventId).ToList();
        copies[1].RawBody.Should().Be(first.RawBody, "the same event, byte for byte");
        copies[1].SignatureIsValid(WebhookFactory.Secret).Should().BeTrue();

        var shown = await factory.EventWhenAsync(first.EventId, "delivered");
        shown["deliveries"]!.AsArray().Single()!["attempts"]!.AsArray().Select(attempt => attempt!["status_code"]!.GetValue<int>()).Should().Equal(200, 200);
    }

    [Fact]
    public async Task Redeliver_UnknownEventIs404_AndThePaymentSystemKeyIs403()
    {
        await (await factory.Storefront().PostAsync("/v1/events/evt_missing/redeliver", null)).ShouldBeProblem(HttpStatusCode.NotFound, "event_not_found");
        await (await factory.Storefront().GetAsync("/v1/events/evt_missing")).ShouldBeProblem(HttpStatusCode.NotFound, "event_not_found");
        var payment = await factory.Storefront().CreatePaidOrderAsync();
        var eventId = (await factory.EventIdsAboutAsync(payment.Id())).First();
        await (await factory.PaymentSystem().PostAsync($"/v1/events/{eventId}/redeliver", null)).ShouldBeProblem(HttpStatusCode.Forbidden, "forbidden");
        (await (await factory.PaymentSystem().GetAsync($"/v1/events/{eventId}")).ShouldBe(HttpStatusCode.OK)).Id().Should().Be(eventId, "both roles read events");
    }

    [Fact]
    public async Task ADeclinedCard_DeliversPaymentFailed_AndNoOrderPaid()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        var declined = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card(DeclinedCard) }))
            .ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");

        var failed = (await factory.Receiver.DeliveredAboutAsync(order.Id(), "payment.failed")).Single();
        failed.Object["id"]!.GetValue<string>().Should().Be(declined.Str("payment_id"));
        failed.Object["decline_code"]!.GetValue<string>().Should().Be("generic_decline");

        // A later payment's events follow; order.paid comes only with it.
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
        var all = await factory.Receiver.DeliveredAboutAsync(order.Id(), "payment.failed", "payment.succeeded", "order.paid");
        all.Select(hook => hook.Type).Should().Equal("payment.failed", "payment.succeeded", "order.paid");
        var read = await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
        read["payments"]!.AsArray().Select(row => row!.Str("status")).Should().Equal("failed", "succeeded");
        all[2].Object.ToJsonString().Should().Be(read.ToJsonString(), "order.paid shows the earlier failed payment too, as a read of the order does");
    }

    [Fact]
    public async Task ThreeDSecure_DeliversRequiresActionThenSucceededAndOrderPaid()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = Api.Card(ThreeDSecureCard) })).ShouldBe(HttpStatusCode.Created);
        payment.Str("status").Should().Be("requires_action");
        (await factory.Receiver.DeliveredAboutAsync(order.Id(), "payment.requires_action")).Single().Object["redirect_url"]!.GetValue<string>()
            .Should().Be(payment.Str("redirect_url"));

        await factory.CreateClient().PostAsync($"{payment.Str("redirect_url")}/complete", null);

        var all = await factory.Receiver.DeliveredAboutAsync(order.Id(), "payment.requires_action", "payment.succeeded", "order.paid");
        all.Select(hook => hook.Type).Should().Equal("payment.requires_action", "payment.succeeded", "order.paid");
        all[1].Object["id"]!.GetValue<string>().Should().Be(payment.Id());
        all[1].Object["status"]!.GetValue<string>().Should().Be("succeeded");
    }

    [Fact]
    public async Task MarkingAnOrderPaid_DeliversOrderPaidOnce_EvenWhenCalledAgain()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        var intent = await client.ConfirmPaymentIntentAsync(await client.CreatePaymentIntentAsync(order.Id()));
        await factory.Receiver.DeliveredAboutAsync(order.Id(), "payment.succeeded");
        factory.Receiver.Received.Should().NotContain(hook => hook.IsAbout(order.Id()) && hook.Type == "order.paid", "the payment system has not marked it paid yet");

        for (var call = 0; call < 2; call++)
        {
            await (await factory.PaymentSystem().PostJsonAsync($"/v1/orders/{order.Id()}/mark-paid", new { payment_intent_id = intent.Id() }))
                .ShouldBe(HttpStatusCode.OK);
        }

        var paid = (await factory.Receiver.DeliveredAboutAsync(order.Id(), "order.paid")).Where(hook => hook.Type == "order.paid").ToList();
        paid.Should().ContainSingle();
        paid[0].Object["status"]!.GetValue<string>().Should().Be("paid");
        (await factory.EventIdsAboutAsync(order.Id())).Should().HaveCount(2, "payment.succeeded and one order.paid");
    }

    [Fact]
    public async Task ARefund_DeliversRefundSucceeded_ToBothEndpoints_EachSignedWithItsOwnSecret()
    {
        var client = factory.Storefront();
        var payment = await client.CreatePaidOrderAsync(amount: 30m);
        var refund = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 10.5m })).ShouldBe(HttpStatusCode.Created);

        var hooks = await factory.Receiver.WaitForAsync(
            all => all.Count(hook => hook.Succeeded && hook.Type == "refund.succeeded" && hook.Object["id"]!.GetValue<string>() == refund.Id()) == 2,
            "refund.succeeded at both endpoints");
        var refunds = hooks.Where(hook => hook.Type == "refund.succeeded" && hook.Object["id"]!.GetValue<string>() == refund.Id()).ToList();
        refunds.Single(hook => hook.Path == "/hooks").SignatureIsValid(WebhookFactory.Secret).Should().BeTrue();
        var filtered = refunds.Single(hook => hook.Path == "/refunds-only");
        filtered.SignatureIsValid(WebhookFactory.RefundsSecret).Should().BeTrue();
        filtered.SignatureIsValid(WebhookFactory.Secret).Should().BeFalse();
        filtered.Object["amount"]!.GetValue<decimal>().Should().Be(10.5m);
        filtered.Object["payment_id"]!.GetValue<string>().Should().Be(payment.Id());
        hooks.Where(hook => hook.Path == "/refunds-only").Should().OnlyContain(hook => hook.Type == "refund.succeeded", "its filter names refunds only");

        var shown = await factory.EventWhenAsync(filtered.EventId, "delivered");
        shown["deliveries"]!.AsArray().Select(delivery => delivery!.Str("endpoint"))
            .Should().BeEquivalentTo([$"{factory.Receiver.BaseUrl}/hooks", $"{factory.Receiver.BaseUrl}/refunds-only"]);
    }

    [Fact]
    public async Task AHangingReceiver_DoesNotSlowTheApi()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        factory.Receiver.Hold(order.Id());
        try
        {
            await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
            await factory.Receiver.WaitForAsync(hooks => hooks.Any(hook => hook.IsAbout(order.Id()) && hook.AnsweredWith == 0), "the held delivery");

            // While that delivery hangs, the API keeps answering, and other orders' events keep flowing.
            var others = new List<JsonNode>();
            for (var i = 0; i < 3; i++)
            {
                others.Add(await client.CreatePaidOrderAsync());
            }

            await (await client.GetAsync("/v1/events?limit=5")).ShouldBe(HttpStatusCode.OK);
            foreach (var other in others)
            {
                await factory.Receiver.DeliveredAboutAsync(other.Str("order_id"), "payment.succeeded", "order.paid");
            }

            factory.Receiver.Received.Should().NotContain(hook => hook.IsAbout(order.Id()) && hook.Succeeded, "its endpoint still hangs");
        }
        finally
        {
            factory.Receiver.Release(order.Id());
        }

        // Released: the held answer (or the retry after it timed out) delivers it, and order.paid follows.
        var ids = await factory.EventIdsAboutAsync(order.Id());
        await factory.EventWhenAsync(ids[0], "delivered");
        await factory.Receiver.DeliveredAboutAsync(order.Id(), "order.paid");
    }

    [Fact]
    public async Task SecretsAndTheUrlsCredential_AreInNoResponseAndNoLogLine()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        factory.Receiver.Fail(order.Id(), times: 2, status: 500); // a failed round: the dispatcher logs a retry
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
        await factory.Receiver.DeliveredAboutAsync(order.Id(), "payment.succeeded", "order.paid");

        var listed = await (await client.GetAsync("/v1/events?limit=100")).Content.ReadAsStringAsync();
        listed.Should().Contain("/hooks\"").And.NotContain(WebhookFactory.Secret).And.NotContain(WebhookFactory.RefundsSecret).And.NotContain(WebhookFactory.UrlCredential);
        var lines = factory.Logs.Lines.ToList();
        lines.Should().Contain(line => line.Contains("next round", StringComparison.Ordinal), "the failed round was logged");
        lines.Should().NotContain(line => line.Contains(WebhookFactory.Secret, StringComparison.Ordinal)
            || line.Contains(WebhookFactory.RefundsSecret, StringComparison.Ordinal)
            || line.Contains(WebhookFactory.UrlCredential, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ListingEvents_FiltersByStatusAndType_NewestFirst_APageAtATime()
    {
        var client = factory.Storefront();
        var payment = await client.CreatePaidOrderAsync();
        await factory.Receiver.DeliveredAboutAsync(payment.Str("order_id"), "payment.succeeded", "order.paid");
        var ids = await factory.EventIdsAboutAsync(payment.Str("order_id"));
        await factory.EventWhenAsync(ids[1], "delivered");

        var paid = await (await client.GetAsync("/v1/events?type=order.paid&status=delivered&limit=1")).ShouldBe(HttpStatusCode.OK);
        paid.Str("object").Should().Be("list");
        paid["data"]!.AsArray().Single()!.Id().Should().Be(ids[1], "the newest order.paid is this order's");
        paid["has_more"]!.GetValue<bool>().Should().BeTrue();

        var page = await (await client.GetAsync($"/v1/events?limit=2&starting_after={ids[1]}")).ShouldBe(HttpStatusCode.OK);
        page["data"]!.AsArray()[0]!.Id().Should().Be(ids[0], "the page after order.paid starts with the payment's event, created just before");
        var failed = await (await client.GetAsync("/v1/events?status=failed&limit=100")).ShouldBe(HttpStatusCode.OK);
        failed["data"]!.AsArray().Should().NotContain(node => node!["id"]!.GetValue<string>() == ids[0]);
    }

    [Theory]
    [InlineData("status=sent", "status")]
    [InlineData("type=payment.created", "type")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    public async Task ListingEvents_WithABadFilter_Is400NamingIt(string query, string field)
    {
        var problem = await (await factory.Storefront().GetAsync($"/v1/events?{query}")).ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors(field).Should().NotBeEmpty();
    }

    [Fact]
    public async Task ListingEvents_AfterAnUnknownEvent_OrWithALimitThatIsNoNumber_Is400()
    {
        (await (await factory.Storefront().GetAsync("/v1/events?starting_after=evt_missing")).ShouldBeProblem(HttpStatusCode.BadRequest, "event_not_found"))
            .FieldErrors("starting_after").Should().NotBeEmpty();
        var problem = await (await factory.Storefront().GetAsync("/v1/events?limit=ten")).ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors("limit").Should().Equal("Expected a whole number.");
    }
}

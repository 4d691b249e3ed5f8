using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using PaymentSlices.Tests.Webhooks;
using Xunit.Abstractions;

namespace PaymentSlices.Tests.Operations;

/// <summary>
/// Two instances of the published service, each its own process on its own loopback port, on one PostgreSQL database,
/// as a load balancer would spread a storefront's requests over them: what holds across instances (one succeeded payment
/// per order, refunds within what was captured, an Idempotency-Key's one charge, each webhook event delivered once, no
/// charge lost or doubled when an instance is killed), seen through HTTP and counted in the database. Both instances
/// share one sandbox processor (one journal file), as they would share an outside one, unless a test gives each its own
/// to see which instance called it. Compiled into the PostgreSQL
/// test project only (a SQLite file has one instance).
/// </summary>
public sealed class TwoInstanceTests(PublishedApp app, ITestOutputHelper log) : IClassFixture<PublishedApp>
{
    private const string StorefrontKey = "sk_live_storefront_2f8c4a9e1b";
    private const string PaymentSystemKey = "sk_live_payment_system_6d0b3c7a52";
    private const string WebhookSecret = "whsec_two_instances_4c9e2a7b";
    private const string InProgress = "idempotency_request_in_progress";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly string[] TcpTables = ["/proc/net/tcp", "/proc/net/tcp6"];

    [Fact]
    public async Task TwentyConcurrentPaysOfOneOrder_SplitAcrossBothInstances_OneSucceeds_TheOthersAre409_OneCharge()
    {
        await using var two = await StartAsync();
        // Both started at once on an empty database: each migration was applied once (the other waited on the lock).
        (await two.QueryAsync<long>("SELECT version FROM schema_migrations ORDER BY version")).Should()
            .Equal(PaymentSlices.Api.Database.Migrator.Migrations(PaymentSlices.Api.Database.DatabaseProvider.PostgreSql).Select(migration => (long)migration.Version));
        var order = await two[0].CreateOrderAsync(amount: 120m);

        var answers = await AllAtOnceAsync(two, 20, i => (i % 2, $"/v1/orders/{order.Id()}/pay", new { source = Api.Card() }, null));

        log.WriteLine(Summary(answers));
        answers.Should().OnlyContain(answer => answer.Status != null, "both instances are up: every request is answered");
        var created = answers.Where(answer => answer.Status == HttpStatusCode.Created).Should().ContainSingle(Summary(answers)).Subject;
        answers.Where(answer => answer != created).Should().OnlyContain(
            answer => answer.Status == HttpStatusCode.Conflict && (answer.Code == "order_already_paid" || answer.Code == "order_payment_pending"),
            Summary(answers));
        var payment = created.Json();
        payment.Str("status").Should().Be("succeeded");

        var stored = await two.QueryAsync<(string Id, string Status)>("SELECT id, status FROM payments WHERE order_id = @Id", new { Id = order.Id() });
        stored.Should().Equal([(payment.Id(), "succeeded")], "one payment was made for the order, and it succeeded");
        (await two.QueryAsync<(string, string)>("SELECT status, payment_id FROM orders WHERE id = @Id", new { Id = order.Id() }))
            .Should().Equal([("paid", payment.Id())]);
        two.JournalLines().Should().ContainSingle("the processor charged once").Which.Should().Contain("\"succeeded\"");
        for (var instance = 0; instance < 2; instance++)
        {
            var shown = await (await two[instance].GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
            shown.Str("status").Should().Be("paid");
            shown["payments"]!.AsArray().Select(item => item!.Id()).Should().Equal(payment.Id());
        }
    }

    [Fact]
    public async Task TenConcurrentRefundsOfOnePayment_SplitAcrossBothInstances_NeverRefundMoreThanWasCaptured()
    {
        await using var two = await StartAsync();
        var payment = await two[0].CreatePaidOrderAsync(amount: 100m);

        var answers = await AllAtOnceAsync(two, 10, i => (i % 2, "/v1/refunds", new { payment_id = payment.Id(), amount = 15.00m }, null));

        log.WriteLine(Summary(answers));
        answers.Should().OnlyContain(answer => answer.Status == HttpStatusCode.Created
            || (answer.Status == HttpStatusCode.BadRequest && answer.Code == "invalid_refund_amount"), Summary(answers));
        var refunds = answers.Where(answer => answer.Status == HttpStatusCode.Created).Select(answer => answer.Json()).ToList();
        refunds.Should().OnlyContain(refund => refund.Str("status") == "succeeded" && refund.Dec("amount") == 15.00m);
        var refunded = refunds.Sum(refund => refund.Dec("amount"));
        refunded.Should().BeLessThanOrEqualTo(100m, "the refunds never pass what was captured");
        foreach (var refused in answers.Where(answer => answer.Status == HttpStatusCode.BadRequest))
        {
            // Refused only when what was left had become less than 15.00: so six succeeded, as many as fit in 100.00.
            refused.Json()["refundable_amount"]!.GetValue<decimal>().Should().BeLessThan(15.00m, refused.Body);
        }

        refunds.Should().HaveCount(6, "15.00 fits six times in 100.00, and nothing else refuses a refund");
        var paymentRow = (await two.QueryAsync<(long Refunded, string Status)>(
            "SELECT amount_refunded, status FROM payments WHERE id = @Id", new { Id = payment.Id() })).Single();
        var rows = await two.QueryAsync<(string Id, long Amount, string Status)>(
            "SELECT id, amount, status FROM refunds WHERE payment_id = @Id", new { Id = payment.Id() });
        rows.Should().OnlyContain(row => row.Status == "succeeded", "no refund is left processing or failed");
        rows.Select(row => row.Id).Should().BeEquivalentTo(refunds.Select(refund => refund.Id()), "each 201 is a refund row, and each row was answered 201");
        paymentRow.Refunded.Should().Be(rows.Sum(row => row.Amount)).And.Be(9000, "the payment's amount_refunded is the sum of its succeeded refunds");
        paymentRow.Status.Should().Be("succeeded");
        (await two.QueryAsync<(long, string)>("SELECT amount_refunded, status FROM orders WHERE id = @Id", new { Id = payment.Str("order_id") }))
            .Should().Equal([(9000L, "partially_refunded")]);
        two.JournalLines().Count(line => line.Contains("\"refund\"", StringComparison.Ordinal)).Should().Be(6, "the processor made six refunds");

        // What is left, 10.00, is refunded in full at either instance; then nothing is left at the other.
        var rest = await (await two[1].PostJsonAsync("/v1/refunds", new { payment_id = payment.Id() })).ShouldBe(HttpStatusCode.Created);
        rest.Dec("amount").Should().Be(10.00m);
        var none = await (await two[0].PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 0.01m }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_refund_amount");
        none["refundable_amount"]!.GetValue<decimal>().Should().Be(0m);
        (await two.QueryAsync<(long, string)>("SELECT amount_refunded, status FROM orders WHERE id = @Id", new { Id = payment.Str("order_id") }))
            .Should().Equal([(10000L, "refunded")]);
    }

    [Fact]
    public async Task FiftyConcurrentRequestsWithOneIdempotencyKey_AcrossBothInstances_MakeOnePayment_AndAnswer201OrInProgress()
    {
        // Each instance with a processor of its own: its journal shows whether it was asked to charge.
        await using var two = await StartAsync(oneProcessor: false);

        // Three rounds, each a new order and key: the requests of the two instances race differently each time.
        for (var round = 0; round < 3; round++)
        {
            var order = await two[round % 2].CreateOrderAsync(amount: 75m + round);
            var key = "two-instances-" + Guid.NewGuid().ToString("N");

            var answers = await AllAtOnceAsync(two, 50, i => (i % 2, $"/v1/orders/{order.Id()}/pay", new { source = Api.Card() }, key));

            log.WriteLine($"round {round}: {Summary(answers)}");
            answers.Should().OnlyContain(answer => answer.Status == HttpStatusCode.Created
                || (answer.Status == HttpStatusCode.Conflict && answer.Code == InProgress), Summary(answers));
            var created = answers.Where(answer => answer.Status == HttpStatusCode.Created).ToList();
            var ran = created.Where(answer => !answer.Replayed).Should().ContainSingle("one request ran; every other 201 is its replay").Subject;
            created.Should().OnlyContain(answer => answer.Body == ran.Body, "a replay is the original's bytes");

            // Afterwards, the key replays the same bytes at either instance.
            foreach (var instance in new[] { 0, 1 })
            {
                var again = await SendAsync(two[instance], instance, $"/v1/orders/{order.Id()}/pay", new { source = Api.Card() }, key);
                again.Status.Should().Be(HttpStatusCode.Created, again.Body);
                again.Replayed.Should().BeTrue();
                again.Body.Should().Be(ran.Body);
            }

            var stored = await two.QueryAsync<(string Id, string Status, string ProcessorKey)>(
                "SELECT id, status, processor_key FROM payments WHERE order_id = @Id", new { Id = order.Id() });
            stored.Should().ContainSingle("one payment for the order, whichever instance a request reached")
                .Which.Should().Be((ran.Json().Id(), "succeeded", stored[0].ProcessorKey));
            var processorKey = stored[0].ProcessorKey;
            (await two.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE processor_key = @Key", new { Key = processorKey })).Should().Be(1);
            (await two.QueryAsync<int?>("SELECT status_code FROM idempotency_keys WHERE idempotency_key = @Key", new { Key = key })).Should().Equal(201);

            // Only the request that held the key called the processor: one charge, at the instance that answered the
            // original 201. A repeat answered 409 (in progress) did not charge, not even as a continuation of the same
            // processor key (which a shared processor would have answered with the same charge, hiding the call).
            two.JournalLines(ran.Instance).Where(line => line.Contains(processorKey, StringComparison.Ordinal)).Should().ContainSingle();
            two.JournalLines(1 - ran.Instance).Should().NotContain(line => line.Contains(processorKey, StringComparison.Ordinal),
                $"round {round}: the other instance's requests were answered 409 or replayed, and never reached its processor");
        }
    }

    [Fact]
    public async Task BothDispatchersRunning_DeliverEachEventOnce_AndAll()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var two = await StartAsync(new()
        {
            ["Webhooks__Endpoints__0__Url"] = $"{receiver.BaseUrl}/hooks",
            ["Webhooks__Endpoints__0__Secret"] = WebhookSecret,
            // Both dispatchers look often, so that they contend for the same deliveries; a failed round is retried soon,
            // by whichever dispatcher finds it due first.
            ["Webhooks__PollInterval"] = "00:00:00.050",
            ["Webhooks__ImmediateRetries"] = "0",
            ["Webhooks__RetryDelay"] = "00:00:00.200",
        });
        var orders = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            orders.Add((await two[i % 2].CreateOrderAsync()).Id());
        }

        // Every fifth order's first event is refused once: its retry round goes to whichever dispatcher takes it.
        var failedOnce = orders.Where((_, i) => i % 5 == 0).ToHashSet();
        foreach (var order in failedOnce)
        {
            receiver.Fail(order, times: 1, status: 503);
        }

        var pays = await AllAtOnceAsync(two, orders.Count, i => (i % 2, $"/v1/orders/{orders[i]}/pay", new { source = "tok_visa" }, null));
        pays.Should().OnlyContain(answer => answer.Status == HttpStatusCode.Created, Summary(pays));

        await receiver.WaitForAsync(
            hooks => orders.All(order => hooks.Count(hook => hook.Succeeded && hook.IsAbout(order)) >= 2),
            "payment.succeeded and order.paid of all 20 orders", seconds: 60);
        // Both dispatchers go on polling (every 50 ms) for a while: a duplicate would arrive now.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var received = receiver.Received;

        var events = await two.QueryAsync<(string Id, string Type, string Status)>("SELECT id, type, status FROM events");
        events.Should().HaveCount(40, "each paid order has payment.succeeded and order.paid");
        events.Should().OnlyContain(row => row.Status == "delivered");
        var delivered = received.Where(hook => hook.Succeeded).ToList();
        delivered.GroupBy(hook => hook.EventId).Where(group => group.Count() > 1).Select(group => group.Key)
            .Should().BeEmpty("each event is delivered once, though both dispatchers run");
        delivered.Select(hook => hook.EventId).Should().BeEquivalentTo(events.Select(row => row.Id), "every event is delivered");
        received.Should().OnlyContain(hook => hook.SignatureIsValid(WebhookSecret));

        // Both dispatchers delivered (each its instance's events at once, on its wake-up; the other's on its polls).
        if (OperatingSystem.IsLinux())
        {
            var ports = two.Services.Select(service => LocalPorts(service.Id)).ToList();
            var senders = delivered.GroupBy(hook => ports.FindIndex(local => local.Contains(hook.RemotePort))).ToDictionary(group => group.Key, group => group.Count());
            log.WriteLine("delivered by: " + string.Join(", ", senders.OrderBy(sender => sender.Key).Select(sender => $"instance {sender.Key}: {sender.Value}")));
            senders.Keys.Should().BeEquivalentTo([0, 1], "each delivery came from one of the instances, and both delivered");
        }
        foreach (var order in orders)
        {
            var about = received.Where(hook => hook.IsAbout(order)).Select(hook => (hook.Type, hook.AnsweredWith)).ToList();
            about.Should().Equal(failedOnce.Contains(order)
                ? [("payment.succeeded", 503), ("payment.succeeded", 200), ("order.paid", 200)]
                : [("payment.succeeded", 200), ("order.paid", 200)], $"order {order}: in order, a refused round retried once");
        }

        var deliveries = await two.QueryAsync<(string EventId, string Status, int Attempts, string? LeasedBy)>(
            "SELECT event_id, status, attempt_count, leased_by FROM event_deliveries");
        deliveries.Should().HaveCount(40).And.OnlyContain(row => row.Status == "delivered" && row.LeasedBy == null);
        deliveries.Sum(row => row.Attempts).Should().Be(received.Count, "each delivery's attempts are the requests the receiver got");
        (await two.ScalarAsync<long>("SELECT COUNT(*) FROM event_attempts")).Should().Be(received.Count);
    }

    [Fact]
    public async Task AnInstanceKilledMidBurst_LosesNoCharge_AndRetriesAtTheSurvivorEndInTheSameSingleCharge()
    {
        await using var two = await StartAsync(new()
        {
            // A killed instance's keys are free for a retry 2 s after they were taken; its payments left processing are
            // settled by the survivor's reconciler once 2 s old.
            ["Idempotency__Lease"] = "00:00:02",
            ["Reconciler__MinAge"] = "00:00:02",
            ["Reconciler__Interval"] = "00:00:00.500",
        });
        const int Count = 40;
        var orders = new List<string>();
        for (var i = 0; i < Count; i++)
        {
            orders.Add((await two[i % 2].CreateOrderAsync(amount: 10m + i)).Id());
        }

        var keys = orders.Select(order => $"kill-{order}").ToList();
        const int Killed = 1;
        const int Survivor = 0;

        // Each instance pays one order first, so that the burst's pays take their usual 300 ms (no start-up work).
        var warmUp = new List<string>();
        for (var instance = 0; instance < 2; instance++)
        {
            warmUp.Add((await two[instance].CreatePaidOrderAsync()).Str("order_id"));
        }

        // One pay every 25 ms, alternating between the instances. The instance is killed once it has answered three and
        // has a charge under way (a processing payment in the database: between the phases, at the processor), and at
        // least eight pays are sent after the kill (the burst waits for it when eight are left).
        const int SentAfterKill = 8;
        var killedOrders = orders.Where((_, i) => i % 2 == Killed).ToList();
        var answeredByKilled = 0;
        var processingAtKill = 0L;
        // Asked on a connection opened beforehand, so that the kill follows what it saw at once.
        await using var watch = await two.OpenAsync();
        Task<long> ProcessingAsync() => watch.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM payments WHERE status = 'processing' AND order_id = ANY(@Orders)", new { Orders = killedOrders });
        await ProcessingAsync();
        var kill = Task.Run(async () =>
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Volatile.Read(ref answeredByKilled) < 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(5);
            }

            while (DateTime.UtcNow < deadline && await ProcessingAsync() == 0)
            {
                await Task.Delay(5);
            }

            await two.Services[Killed].KillAsync();
            processingAtKill = await ProcessingAsync();
        });
        // The storefront retries a pay that got no answer at once, with its key, at the survivor: 409 while the dead
        // instance's lease on the key runs (2 s); then the charge the dead instance began is continued (or found settled
        // by the survivor's reconciler), or, where the pay had written nothing, it runs anew.
        var inProgress = 0;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        var retries = new System.Collections.Concurrent.ConcurrentDictionary<string, Task<Answer>>();
        async Task<Answer> RetryAtSurvivorAsync(int i)
        {
            while (true)
            {
                var retry = await SendAsync(two[Survivor], Survivor, $"/v1/orders/{orders[i]}/pay", new { source = Api.Card() }, keys[i]);
                if (retry.Status != HttpStatusCode.Conflict || retry.Code != InProgress || DateTime.UtcNow > until)
                {
                    return retry;
                }

                Interlocked.Increment(ref inProgress);
                await Task.Delay(TimeSpan.FromMilliseconds(250));
            }
        }

        var burst = new List<Task<Answer>>();
        for (var i = 0; i < Count; i++)
        {
            if (i == Count - SentAfterKill)
            {
                await kill.WaitAsync(TimeSpan.FromSeconds(60));
            }

            var index = i;
            burst.Add(Task.Run(async () =>
            {
                var answer = await SendAsync(two[index % 2], index % 2, $"/v1/orders/{orders[index]}/pay", new { source = Api.Card() }, keys[index]);
                if (index % 2 == Killed && answer.Status is not null)
                {
                    Interlocked.Increment(ref answeredByKilled);
                }

                if (answer.Status is null)
                {
                    retries[orders[index]] = RetryAtSurvivorAsync(index);
                }

                return answer;
            }));
            await Task.Delay(TimeSpan.FromMilliseconds(25));
        }

        var answers = await Task.WhenAll(burst);
        log.WriteLine("burst: " + Summary(answers) + "; no answer: " + string.Join(", ", answers.Where(answer => answer.Error is not null)
            .GroupBy(answer => (answer.Error as HttpRequestException)?.HttpRequestError.ToString() ?? answer.Error!.GetType().Name)
            .Select(group => $"{group.Count()} x {group.Key}")) + $"; {processingAtKill} payments processing at the kill");
        processingAtKill.Should().BeGreaterThan(0, "the instance was killed with charges under way");

        answers.Where((_, i) => i % 2 == Survivor).Should().OnlyContain(answer => answer.Status == HttpStatusCode.Created, Summary(answers));
        var fromKilled = answers.Where((_, i) => i % 2 == Killed).ToList();
        fromKilled.Should().OnlyContain(answer => answer.Status == HttpStatusCode.Created || answer.Status == null, Summary(answers));
        fromKilled.Should().Contain(answer => answer.Status == HttpStatusCode.Created, "the instance answered some before it died");
        fromKilled.Should().Contain(answer => answer.Status == null, "the instance died with pays in flight or not yet sent");

        // Every 201 is a succeeded payment, readable at the survivor.
        var paid = new Dictionary<string, string>(); // order -> payment id, from the 201s
        foreach (var (answer, i) in answers.Select((answer, i) => (answer, i)).Where(pair => pair.answer.Status == HttpStatusCode.Created))
        {
            var payment = answer.Json();
            payment.Str("order_id").Should().Be(orders[i]);
            payment.Str("status").Should().Be("succeeded");
            paid[orders[i]] = payment.Id();
            var shown = await (await two[Survivor].GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK);
            shown.Str("status").Should().Be("succeeded");
        }

        var retried = new Dictionary<string, Answer>();
        foreach (var (order, retry) in retries)
        {
            retried[order] = await retry;
        }

        log.WriteLine($"retries: {Summary(retried.Values)}; {inProgress} answers {InProgress} before them");
        inProgress.Should().BeGreaterThan(0, "a key the dead instance claimed for a charge under way stays leased to it for 2 s");

        // A pay killed after its payment was recorded but before the processor was called made no charge: the
        // reconciler, if it comes first, records it at the processor as never made, and the retry is told so (402
        // processing_error, nothing charged, the order payable with a new key). Rare: that gap is a moment of a 300 ms pay.
        var neverMade = new HashSet<string>();
        foreach (var (order, retry) in retried)
        {
            if (retry.Status == HttpStatusCode.PaymentRequired && retry.Code == "processing_error")
            {
                neverMade.Add(order);
                continue;
            }

            retry.Status.Should().Be(HttpStatusCode.Created, $"the retry of order {order}'s pay: {retry.Body}");
            var payment = retry.Json();
            payment.Str("order_id").Should().Be(order);
            payment.Str("status").Should().Be("succeeded");
            paid[order] = payment.Id();
            var shown = await (await two[Survivor].GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK);
            shown.Str("status").Should().Be("succeeded");
        }

        log.WriteLine($"{neverMade.Count} pays were killed before their charge");

        // Nothing is left processing: each was continued by its retry or settled by the survivor's reconciler.
        var settled = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < settled && await two.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE status = 'processing'") > 0)
        {
            await Task.Delay(200);
        }

        var payments = await two.QueryAsync<(string OrderId, string Id, string Status, string ProcessorKey, string? Reference, string? FailureCode)>(
            "SELECT order_id, id, status, processor_key, processor_reference, failure_code FROM payments WHERE order_id = ANY(@Orders)", new { Orders = orders });
        payments.GroupBy(row => row.OrderId).Should().OnlyContain(group => group.Count() == 1, "no order has two payments");
        payments.Where(row => row.Status == "succeeded").ToDictionary(row => row.OrderId, row => row.Id)
            .Should().BeEquivalentTo(paid, "every payment answered 201 is the order's one succeeded payment, and no other succeeded");
        payments.Where(row => row.Status != "succeeded")
            .Where(row => !(neverMade.Contains(row.OrderId) && row.Status == "failed" && row.FailureCode == "processing_error"))
            .Should().BeEmpty("no charge was lost, declined or left processing");
        (await two.QueryAsync<(string Id, string Status)>("SELECT id, status FROM orders WHERE id = ANY(@Orders)", new { Orders = orders }))
            .Should().OnlyContain(row => row.Status == (neverMade.Contains(row.Id) ? "created" : "paid"));
        (await two.QueryAsync<int?>("SELECT status_code FROM idempotency_keys WHERE idempotency_key = ANY(@Keys)", new { Keys = keys })).Should().HaveCount(Count).And.OnlyContain(status => status == 201 || status == 402);

        // The processor charged once per paid order, under its payment's key, and that charge is the one the payment records.
        var charges = two.JournalCharges();
        var warmUpKeys = await two.QueryAsync<string>("SELECT processor_key FROM payments WHERE order_id = ANY(@Orders)", new { Orders = warmUp });
        charges.Keys.Should().BeEquivalentTo(payments.Select(row => row.ProcessorKey).Concat(warmUpKeys), "the processor was asked under each payment's key, and no other");
        foreach (var row in payments)
        {
            charges[row.ProcessorKey].Should().Be(row.Status == "succeeded" ? ("succeeded", row.Reference) : ("not_made", null), $"payment {row.Id}");
        }

        // An order whose charge was never made is payable at the survivor, with a new key.
        foreach (var order in neverMade)
        {
            var payment = await SendAsync(two[Survivor], Survivor, $"/v1/orders/{order}/pay", new { source = Api.Card() }, $"kill-again-{order}");
            payment.Status.Should().Be(HttpStatusCode.Created, payment.Body);
            payment.Json().Str("status").Should().Be("succeeded");
        }

        // The survivor saw the other die and carried on, without an error of its own.
        two.Services[Survivor].HasExited.Should().BeFalse();
        two.ErrorLines(Survivor).Should().BeEmpty();
    }

    /// <summary>Starts both instances on a new database (they migrate it together) and waits until both are ready.</summary>
    /// <param name="settings">Environment variables of both, over the defaults.</param>
    /// <param name="oneProcessor">One sandbox processor for both (one journal); false: each its own, so that the
    /// journals tell which instance called the processor.</param>
    private async Task<TwoInstances> StartAsync(Dictionary<string, string>? settings = null, bool oneProcessor = true)
    {
        var database = TestDatabase.Create();
        var data = app.NewDataDirectory();
        var journals = oneProcessor
            ? [Path.Combine(data, "processor.journal"), Path.Combine(data, "processor.journal")]
            : new[] { Path.Combine(data, "processor-0.journal"), Path.Combine(data, "processor-1.journal") };
        var two = new TwoInstances(database, journals, log);
        try
        {
            for (var instance = 0; instance < 2; instance++)
            {
                var port = PublishedApp.FreePort();
                var environment = new Dictionary<string, string>
                {
                    ["ASPNETCORE_ENVIRONMENT"] = "Production",
                    ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                    ["PublicBaseUrl"] = $"http://127.0.0.1:{port}",
                    ["Database__Provider"] = TestDatabase.SettingValue,
                    ["ConnectionStrings__PaymentSlices"] = database,
                    ["ApiKeys__Storefront__0"] = StorefrontKey,
                    ["ApiKeys__PaymentSystem__0"] = PaymentSystemKey,
                    // Bursts of a test are far over a storefront's default rate.
                    ["Limits__RequestsPerSecond"] = "10000",
                    ["Limits__Burst"] = "10000",
                    // One processor for both, and each charge takes a moment, so that requests overlap at it.
                    ["Processor__Sandbox__JournalPath"] = journals[instance],
                    ["Processor__Sandbox__Latency"] = "00:00:00.300",
                };
                foreach (var (name, value) in settings ?? [])
                {
                    environment[name] = value;
                }

                two.Add(app.Start(environment), port);
            }

            await two.WaitUntilReadyAsync(StartTimeout);
            return two;
        }
        catch
        {
            await two.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="count"/> POSTs at once, request i to the instance and path <paramref name="request"/> gives it:
    /// each on a connection of its own opened beforehand, all released together.
    /// </summary>
    private static async Task<Answer[]> AllAtOnceAsync(
        TwoInstances two, int count, Func<int, (int Instance, string Path, object Body, string? Key)> request)
    {
        var requests = Enumerable.Range(0, count).Select(request).ToList();
        await Task.WhenAll(Enumerable.Range(0, 2).Select(instance => two.WarmUpAsync(instance, requests.Count(r => r.Instance == instance))));
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = requests.Select(async r =>
        {
            await go.Task;
            return await SendAsync(two[r.Instance], r.Instance, r.Path, r.Body, r.Key);
        }).ToList();
        go.SetResult();
        return await Task.WhenAll(sent);
    }

    private static async Task<Answer> SendAsync(HttpClient client, int instance, string path, object body, string? idempotencyKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        try
        {
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var code = response.Content.Headers.ContentType?.MediaType == "application/problem+json" ? JsonNode.Parse(text)?["code"]?.GetValue<string>() : null;
            var replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Contains("true");
            return new Answer(instance, response.StatusCode, text, code, replayed, null);
        }
        catch (Exception error) when (error is HttpRequestException or IOException or TaskCanceledException)
        {
            return new Answer(instance, null, "", null, false, error);
        }
    }

    /// <summary>The local TCP ports of a process's sockets: its descriptors' socket inodes, looked up in /proc/net/tcp and tcp6 (Linux).</summary>
    private static HashSet<int> LocalPorts(int processId)
    {
        var inodes = new HashSet<string>();
        foreach (var descriptor in Directory.GetFiles($"/proc/{processId}/fd"))
        {
            if (new FileInfo(descriptor).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                inodes.Add(target["socket:[".Length..^1]);
            }
        }

        var ports = new HashSet<int>();
        foreach (var table in TcpTables.Where(File.Exists))
        {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
            foreach (var fields in File.ReadLines(table).Skip(1).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
            {
                if (fields.Length > 9 && inodes.Contains(fields[9]))
                {
                    ports.Add(int.Parse(fields[1].Split(':')[^1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                }
            }
        }

        return ports;
    }

    private static string Summary(IEnumerable<Answer> answers) => string.Join(", ", answers
        .GroupBy(answer => (answer.Instance, Status: answer.Status is { } status ? ((int)status).ToString(CultureInfo.InvariantCulture) : "no answer", answer.Code, answer.Replayed))
        .OrderBy(group => group.Key.Instance).ThenBy(group => group.Key.Status)
        .Select(group => $"instance {group.Key.Instance}: {group.Count()} x {group.Key.Status}{(group.Key.Code is null ? "" : " " + group.Key.Code)}{(group.Key.Replayed ? " (replayed)" : "")}"));

    private sealed record Answer(int Instance, HttpStatusCode? Status, string Body, string? Code, bool Replayed, Exception? Error)
    {
        public JsonNode Json() => JsonNode.Parse(Body)!;
    }

    /// <summary>The two service processes, a client for each, their database and their processors' journals.</summary>
    private sealed class TwoInstances(string database, string[] journals, ITestOutputHelper log) : IAsyncDisposable
    {
        private readonly List<HttpClient> clients = [];

        public List<ServiceProcess> Services { get; } = [];

        public HttpClient this[int instance] => clients[instance];

        public void Add(ServiceProcess service, int port)
        {
            Services.Add(service);
            var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 100 })
            {
                BaseAddress = new Uri($"http://127.0.0.1:{port}"),
                Timeout = TimeSpan.FromSeconds(60),
            };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", StorefrontKey);
            clients.Add(client);
        }

        public async Task WaitUntilReadyAsync(TimeSpan timeout)
        {
            var ready = await Task.WhenAll(Services.Select((service, i) => service.WaitUntilOkAsync(clients[i], "/health/ready", timeout)));
            for (var i = 0; i < ready.Length; i++)
            {
                ready[i].Should().BeTrue($"instance {i} should become ready; it wrote:\n{string.Join('\n', Services[i].Output.Concat(Services[i].Errors))}");
            }
        }

        /// <summary>Opens <paramref name="connections"/> connections to the instance (each request of a burst then has its own).</summary>
        public Task WarmUpAsync(int instance, int connections) => Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            using var response = await clients[instance].GetAsync("/health/live");
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }));

        public Task<System.Data.Common.DbConnection> OpenAsync() => TestDatabase.OpenAsync(database);

        public Task<List<T>> QueryAsync<T>(string sql, object? parameters = null) => TestDatabase.QueryAsync<T>(database, sql, parameters);

        public Task<T> ScalarAsync<T>(string sql, object? parameters = null) => TestDatabase.ScalarAsync<T>(database, sql, parameters);

        /// <summary>The processor's records, one line per first answer under a key (charges, refunds, keys recorded as not made).</summary>
        public List<string> JournalLines() => [.. journals.Distinct().SelectMany(ReadJournal)];

        /// <summary>The lines of the journal of one instance's processor.</summary>
        public List<string> JournalLines(int instance) => ReadJournal(journals[instance]);

        /// <summary>The charges in the journal by processor key: what the processor answered first, and its reference.</summary>
        public Dictionary<string, (string Kind, string? Reference)> JournalCharges()
        {
            var charges = new Dictionary<string, (string, string?)>();
            foreach (var entry in JournalLines().Select(line => JsonNode.Parse(line)!).Where(entry => entry["Kind"]!.GetValue<string>() != "refund"))
            {
                charges.Add(entry["Key"]!.GetValue<string>(), (entry["Kind"]!.GetValue<string>(), entry["Reference"]?.GetValue<string>()));
            }

            return charges;
        }

        /// <summary>The instance's log lines at Warning or above, and what it wrote to standard error.</summary>
        public List<string> ErrorLines(int instance) =>
        [
            .. Services[instance].Output.Where(line => line.Contains("\"LogLevel\":\"Error\"", StringComparison.Ordinal)
                || line.Contains("\"LogLevel\":\"Critical\"", StringComparison.Ordinal)),
            .. Services[instance].Errors,
        ];

        private static List<string> ReadJournal(string journal) => File.Exists(journal) ? [.. File.ReadAllLines(journal).Where(line => line.Length > 0)] : [];

        public async ValueTask DisposeAsync()
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }

            for (var i = 0; i < Services.Count; i++)
            {
                var exited = Services[i].HasExited;
                await Services[i].DisposeAsync();
                var notable = Services[i].Output.Where(line => !line.Contains("\"LogLevel\":\"Information\"", StringComparison.Ordinal))
                    .Concat(Services[i].Errors).ToList();
                log.WriteLine($"instance {i} ({(exited ? "had exited" : "stopped by the test")}): {notable.Count} log lines above Information");
                foreach (var line in notable.TakeLast(20))
                {
                    log.WriteLine("  " + line);
                }
            }

            TestDatabase.Delete(database);
        }
    }
}

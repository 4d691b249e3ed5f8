using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using PaymentSlices.Api.Database;
using Xunit.Abstractions;

namespace PaymentSlices.Tests.Operations;

/// <summary>
/// The published app as a container runs it: its own process, Production, configured by environment variables only,
/// its database in a <c>/data</c>-like folder, stopped by SIGTERM. What an operator and a storefront would see.
/// </summary>
public sealed class PublishedAppTests(PublishedApp app, ITestOutputHelper log) : IClassFixture<PublishedApp>
{
    private const string StorefrontKey = "sk_live_storefront_7c1e9a2b4d";
    private const string PaymentSystemKey = "sk_live_payment_system_5f3a8e0c61";
    private const string WebhookSecret = "whsec_live_9b2d7f4e1a6c3e58";
    private const string WebhookPassword = "hook-password-4e1a";
    private const string WebhookToken = "hook-token-8c2f";
    private const string ThreeDSecureCard = "4000002500003155";
    private const string CardInAPath = "4111111111111111";
    private const string CardInABadRequest = "4000056655665556";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>On SQLite, the database file in the data folder (the default provider); on PostgreSQL, a new database on the test server.</summary>
    private static Dictionary<string, string> ProductionEnvironment(int port, string dataDirectory)
    {
        var environment = BaseEnvironment(port, dataDirectory);
        if (ApiFactory.Provider == DatabaseProvider.PostgreSql)
        {
            environment["Database__Provider"] = TestDatabase.SettingValue;
            environment["ConnectionStrings__PaymentSlices"] = TestDatabase.Create();
        }

        return environment;
    }

    private static Dictionary<string, string> BaseEnvironment(int port, string dataDirectory) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        ["ConnectionStrings__PaymentSlices"] = $"Data Source={Path.Combine(dataDirectory, "paymentslices.db")}",
        ["ApiKeys__Storefront__0"] = StorefrontKey,
        ["ApiKeys__PaymentSystem__0"] = PaymentSystemKey,
        ["PublicBaseUrl"] = $"http://127.0.0.1:{port}",
        // An endpoint nobody listens on: deliveries fail and are logged, with the URL's password and token masked.
        ["Webhooks__Endpoints__0__Url"] = $"http://shop:{WebhookPassword}@127.0.0.1:{PublishedApp.FreePort()}/hooks?token={WebhookToken}",
        ["Webhooks__Endpoints__0__Secret"] = WebhookSecret,
        ["Webhooks__ImmediateRetryDelay"] = "00:00:00.050",
        // Each charge takes a moment, so that requests are in flight when SIGTERM comes.
        ["Processor__Sandbox__Latency"] = "00:00:00.100",
    };

    [Fact]
    public void PublishedApp_RunsWithWorkstationGcAndWithoutDynamicPgo()
    {
        // What the runtime reads at start: the memory measured in bench/RESULTS.md depends on both (features.md, Known limits).
        var runtimeConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(app.AppDirectory, "PaymentSlices.Api.runtimeconfig.json")))!;
        var properties = runtimeConfig["runtimeOptions"]!["configProperties"]!;
        properties["System.GC.Server"]!.GetValue<bool>().Should().BeFalse("Server GC held 40-60 MB more at its peaks under the bench");
        properties["System.Runtime.TieredPGO"]!.GetValue<bool>().Should().BeFalse();
    }

    [Fact]
    public async Task PublishedApp_ServesPayments_StopsOnSigtermWithoutLosingARequest_AndLogsJsonWithoutSecrets()
    {
        var port = PublishedApp.FreePort();
        var environment = ProductionEnvironment(port, app.NewDataDirectory());
        var database = ReadOnly(environment);
        await using var service = app.Start(environment);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", StorefrontKey);

        var ready = await service.WaitUntilOkAsync(client, "/health/ready", StartTimeout);
        ready.Should().BeTrue("the service should become ready; it wrote:\n" + string.Join('\n', service.Output.Concat(service.Errors)));
        (await client.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK);

        // A storefront pays an order by card, and another through a payment intent and its client secret.
        var payment = await client.CreatePaidOrderAsync();
        payment.Str("status").Should().Be("succeeded");
        var intentOrder = await client.CreateOrderAsync();
        var intent = await client.CreatePaymentIntentAsync(intentOrder.Id());
        var clientSecret = intent.Str("client_secret");
        (await client.ConfirmPaymentIntentAsync(intent)).Str("status").Should().Be("succeeded");
        // A card that needs 3-D Secure: its response carries an absolute redirect (PublicBaseUrl), its payment stays requires_action.
        var threeDsOrder = await client.CreateOrderAsync();
        var threeDs = await (await client.PostJsonAsync($"/v1/orders/{threeDsOrder.Id()}/pay", new { source = Api.Card(ThreeDSecureCard) })).JsonAsync();
        threeDs.Str("status").Should().Be("requires_action");
        threeDs.Str("redirect_url").Should().Be($"http://127.0.0.1:{port}/v1/sandbox/3ds/{threeDs.Id()}");

        using var stranger = new HttpClient { BaseAddress = client.BaseAddress };
        stranger.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sk_live_not_a_key_0000");
        await (await stranger.GetAsync($"/v1/payments/{payment.Id()}")).ShouldBeProblem(HttpStatusCode.Unauthorized, "api_key_invalid");
        var notFound = await (await client.GetAsync("/v1/payments/pay_does_not_exist")).ShouldBeProblem(HttpStatusCode.NotFound, "payment_not_found");
        var traceId = notFound.Str("trace_id");
        // What a careless client may send: a card number in a URL, a card in a request that fails validation.
        await (await client.GetAsync($"/v1/orders/{CardInAPath}")).ShouldBeProblem(HttpStatusCode.NotFound, "order_not_found");
        var badCard = new Dictionary<string, object?> { ["object"] = "card", ["number"] = CardInABadRequest, ["cvc"] = "98x", ["exp_month"] = 13, ["exp_year"] = 2030 };
        await (await client.PostJsonAsync($"/v1/orders/{threeDsOrder.Id()}/pay", new { source = badCard })).ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        // The webhook endpoint nobody listens on: the first delivery fails and is logged (checked below, masked) before
        // SIGTERM. It may come up to a poll interval or two after the first event (a slow first query on a loaded machine
        // quiets the endpoint until the next poll), so it is waited for rather than assumed.
        (await service.WaitForOutputAsync(IsWebhookLine, TimeSpan.FromSeconds(30))).Should().BeTrue(
            "the failing webhook endpoint is logged; the service wrote:\n" + string.Join('\n', service.Errors));

        // A burst of payments, each for its own order, on its own connection; SIGTERM once the first is answered.
        var orders = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            orders.Add((await client.CreateOrderAsync()).Id());
        }

        var (outcomes, sigtermAt) = await PayAllThenSigtermAsync(service, client, orders);
        var exitCode = await service.WaitForExitAsync(TimeSpan.FromSeconds(45));
        log.WriteLine($"burst: {outcomes.Count(o => o.Status is not null)} answered ({outcomes.Count(o => o.AnsweredAt > sigtermAt && o.Status is not null)} after SIGTERM), " +
            $"{outcomes.Count(o => o.Status is null)} not taken; exit code {exitCode}");
        exitCode.Should().Be(0, "SIGTERM is a graceful stop; the service wrote:\n" + string.Join('\n', service.Errors));

        // Every request the service took got its complete answer; one it never took wrote nothing.
        var paid = await PaymentStatusesAsync(database);
        foreach (var outcome in outcomes)
        {
            if (outcome.Status is { } status)
            {
                status.Should().Be(HttpStatusCode.Created, outcome.Body);
                var body = JsonNode.Parse(outcome.Body!)!;
                body.Str("status").Should().Be("succeeded");
                body.Str("order_id").Should().Be(outcome.OrderId);
                paid.Should().Contain((outcome.OrderId, "succeeded"));
            }
            else
            {
                // Refused (the listener is closed), reset with the listener while still in its accept queue, or closed before
                // the request was read (an idle connection); a request the service took and then cut off would also end here,
                // and is caught by the charge check below.
                var error = outcome.Error.Should().BeOfType<HttpRequestException>().Which;
                var refused = error.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.ResponseEnded ||
                    error.InnerException?.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset };
                refused.Should().BeTrue(error.ToString());
                paid.Select(row => row.OrderId).Should().NotContain(outcome.OrderId, "a request that got no answer must not have charged");
            }
        }

        outcomes.Count(outcome => outcome.Status is not null && outcome.AnsweredAt > sigtermAt).Should().BeGreaterThan(0,
            "requests in flight when SIGTERM came finish with their answers");
        paid.Count(row => orders.Contains(row.OrderId)).Should().Be(outcomes.Count(outcome => outcome.Status is not null));

        await CheckIntegrityAsync(database);

        // Logs: one JSON object per line, the trace id in the scope of each request's line, nothing an attacker wants.
        var lines = service.Output;
        lines.Should().NotBeEmpty();
        var entries = lines.Select(line => ParseLine(line)).ToList();
        entries.Should().NotContain(entry => entry.Str("LogLevel") == "Error" || entry.Str("LogLevel") == "Critical");
        var requestLines = entries.Where(entry => entry.Str("Category") == "PaymentSlices.Requests").ToList();
        requestLines.Should().HaveCountGreaterThan(40);
        requestLines.Should().OnlyContain(entry => TraceIdOf(entry) != null);
        requestLines.Should().ContainSingle(entry => TraceIdOf(entry) == traceId)
            .Which["Message"]!.GetValue<string>().Should().StartWith("GET /v1/payments/{paymentId} answered 404 in ");
        lines.Should().Contain(line => IsWebhookLine(line), "the failing webhook endpoint is logged, masked");

        var everything = string.Join('\n', lines.Concat(service.Errors));
        foreach (var secret in new[]
                 {
                     Api.VisaCard, ThreeDSecureCard, clientSecret, "_secret_", StorefrontKey, PaymentSystemKey, "sk_live_not_a_key_0000",
                     WebhookSecret, WebhookPassword, WebhookToken, "\"cvc\"", "\"number\"", CardInAPath, CardInABadRequest,
                 })
        {
            everything.Should().NotContain(secret);
        }
    }

    [Fact]
    public async Task OnSigterm_ChargesUnderWayAreRecorded_AndWritesNotBegunByTheDrainDeadlineAre503WithNothingWritten()
    {
        var port = PublishedApp.FreePort();
        var environment = ProductionEnvironment(port, app.NewDataDirectory());
        // Every processor call takes 5 s; the longest is 2 attempts x 6 s = 12 s, so with a 16 s shutdown timeout the drain
        // deadline is 16 - 12 - 2 = 2 s after SIGTERM. A payment records its processing charge at once and is let finish
        // after the deadline (its second turn records what the processor did); saving a customer's card calls the
        // processor before its first write, which comes 2.5 s after the deadline: refused, nothing recorded. (With 3 s
        // calls the margin was 0.5 s, and a CI run with both test projects at once once saw SIGTERM handled later than that.)
        environment["Processor__Sandbox__Latency"] = "00:00:05";
        environment["Processor__Resilience__AttemptTimeout"] = "00:00:06";
        environment["Processor__Resilience__MaxRetryAttempts"] = "1";
        environment["Processor__Resilience__RetryDelay"] = "00:00:00";
        environment["Shutdown__Timeout"] = "00:00:16";
        await using var service = app.Start(environment);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", StorefrontKey);
        (await service.WaitUntilOkAsync(client, "/health/ready", StartTimeout)).Should().BeTrue(string.Join('\n', service.Errors));
        var orders = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            orders.Add((await client.CreateOrderAsync()).Id());
        }

        using var burstClient = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = client.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        burstClient.DefaultRequestHeaders.Authorization = client.DefaultRequestHeaders.Authorization;
        var unused = new TaskCompletionSource();
        var pays = orders.Select(order => PayAsync(burstClient, order, unused)).ToList();
        var customers = Enumerable.Range(0, 10).Select(i => SendAsync(burstClient, "/v1/customers", new { name = $"Customer {i}", email = "c@example.com", source = "tok_visa" })).ToList();
        await Task.Delay(TimeSpan.FromMilliseconds(500)); // the requests reach the service; their processor calls take 3 s
        service.SendSigterm();
        var paid = await Task.WhenAll(pays);
        var saved = await Task.WhenAll(customers);
        var exitCode = await service.WaitForExitAsync(TimeSpan.FromSeconds(45));
        log.WriteLine($"drain: {paid.Count(o => o.Status == HttpStatusCode.Created)} paid, {saved.Count(o => o.Status == HttpStatusCode.ServiceUnavailable)} customers refused; exit code {exitCode}");

        exitCode.Should().Be(0, string.Join('\n', service.Errors));
        var database = ReadOnly(environment);
        var recorded = await PaymentStatusesAsync(database);
        foreach (var outcome in paid.Where(outcome => outcome.Status is not null))
        {
            if (outcome.Status == HttpStatusCode.ServiceUnavailable)
            {
                // A machine slow enough that this pay reached its first turn only after the deadline: refused, nothing written.
                JsonNode.Parse(outcome.Body!)!.Str("code").Should().Be("service_unavailable");
                recorded.Select(row => row.OrderId).Should().NotContain(outcome.OrderId);
                continue;
            }

            outcome.Status.Should().Be(HttpStatusCode.Created, outcome.Body);
            recorded.Should().Contain((outcome.OrderId, "succeeded"));
        }

        paid.Should().Contain(outcome => outcome.Status == HttpStatusCode.Created, "payments under way at SIGTERM finish");
        recorded.Should().NotContain(row => row.Status == "processing", "no charge is left unrecorded");
        saved.Should().Contain(outcome => outcome.Status == HttpStatusCode.ServiceUnavailable, "writes not begun by the drain deadline are refused");
        foreach (var outcome in saved.Where(outcome => outcome.Status is not null))
        {
            outcome.Status.Should().Be(HttpStatusCode.ServiceUnavailable, outcome.Body);
            var problem = JsonNode.Parse(outcome.Body!)!;
            problem.Str("code").Should().Be("service_unavailable");
            problem.Str("detail").Should().Contain("nothing was recorded");
        }

        (await TestDatabase.ScalarAsync<long>(database, "SELECT COUNT(*) FROM customers")).Should().Be(0, "a refused request wrote nothing");
    }

    [Fact]
    public async Task KilledBetweenThePhasesOfACharge_RestartsWithOneChargeAndThePaymentSettled()
    {
        var port = PublishedApp.FreePort();
        var data = app.NewDataDirectory();
        var journal = Path.Combine(data, "processor.journal"); // the sandbox's own records: an outside processor survives our crash
        var environment = ProductionEnvironment(port, data);
        var database = ReadOnly(environment);
        environment["Processor__Sandbox__JournalPath"] = journal;
        environment["Processor__Sandbox__Latency"] = "00:00:05"; // the charge is made at once; its answer takes 5 s
        environment["Reconciler__MinAge"] = "00:00:00";
        if (ApiFactory.Provider == DatabaseProvider.PostgreSql)
        {
            // On PostgreSQL another instance may hold a key's lease, so a restart does not release the dead one's: the key
            // answers 409 until its lease runs out. SQLite (one instance) releases it at start.
            environment["Idempotency__Lease"] = "00:00:08";
        }
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", StorefrontKey);
        const string key = "crash-test-pay-1";
        string orderId;
        await using (var service = app.Start(environment))
        {
            (await service.WaitUntilOkAsync(client, "/health/ready", StartTimeout)).Should().BeTrue(string.Join('\n', service.Errors));
            orderId = (await client.CreateOrderAsync()).Id();
            var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{orderId}/pay") { Content = System.Net.Http.Json.JsonContent.Create(new { source = "tok_visa" }) };
            request.Headers.Add("Idempotency-Key", key);
            var pay = client.SendAsync(request);

            // Phase one committed and the processor charged: then the process dies before the answer comes back.
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            string[] charged = [];
            while (DateTime.UtcNow < until &&
                   !((await PaymentStatusesAsync(database)).Contains((orderId, "processing")) && (charged = JournalLines(journal)).Any(Succeeded)))
            {
                await Task.Delay(50);
            }

            (await PaymentStatusesAsync(database)).Should().Equal([(orderId, "processing")]);
            charged.Should().ContainSingle(line => Succeeded(line));
            await service.KillAsync();
            (await pay.ContinueWith(task => task.IsFaulted)).Should().BeTrue("the client got no answer");
        }

        await using (var service = app.Start(environment))
        {
            (await service.WaitUntilOkAsync(client, "/health/ready", StartTimeout)).Should().BeTrue(string.Join('\n', service.Errors));

            // The reconciler, at start-up, asks the processor about the processing payment and records the charge it made.
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < until && (await PaymentStatusesAsync(database)).Contains((orderId, "processing")))
            {
                await Task.Delay(100);
            }

            (await PaymentStatusesAsync(database)).Should().Equal([(orderId, "succeeded")]);
            var order = await (await client.GetAsync($"/v1/orders/{orderId}")).ShouldBe(HttpStatusCode.OK);
            order.Str("status").Should().Be("paid");
            order["receipt"].Should().NotBeNull();

            // The storefront's retry with its key gets that payment; the processor made one charge in all.
            var answer = await RetryAsync();
            if (ApiFactory.Provider == DatabaseProvider.PostgreSql)
            {
                var leaseOver = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (answer.StatusCode == HttpStatusCode.Conflict && DateTime.UtcNow < leaseOver)
                {
                    (await answer.JsonAsync()).Str("code").Should().Be("idempotency_request_in_progress");
                    await Task.Delay(500);
                    answer = await RetryAsync();
                }
            }

            var payment = await answer.ShouldBe(HttpStatusCode.Created);
            payment.Str("status").Should().Be("succeeded");
            payment.Id().Should().Be(order["payments"]![0]!.Id());
            File.ReadAllLines(journal).Count(line => line.Contains("\"succeeded\"", StringComparison.Ordinal)).Should().Be(1);
            service.SendSigterm();
            (await service.WaitForExitAsync(TimeSpan.FromSeconds(30))).Should().Be(0);
        }

        await CheckIntegrityAsync(database);

        Task<HttpResponseMessage> RetryAsync()
        {
            var retry = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{orderId}/pay") { Content = System.Net.Http.Json.JsonContent.Create(new { source = "tok_visa" }) };
            retry.Headers.Add("Idempotency-Key", key);
            return client.SendAsync(retry);
        }
    }

    private static async Task<Outcome> SendAsync(HttpClient client, string path, object body)
    {
        try
        {
            using var response = await client.PostJsonAsync(path, body);
            return new Outcome(path, response.StatusCode, await response.Content.ReadAsStringAsync(), null, Stopwatch.GetTimestamp());
        }
        catch (Exception error) when (error is HttpRequestException or IOException or TaskCanceledException)
        {
            return new Outcome(path, null, null, error, Stopwatch.GetTimestamp());
        }
    }

    [Theory]
    [InlineData("Shutdown__Timeout", "00:00:30", "Shutdown:Timeout")]
    [InlineData("ApiKeys__Storefront__0", null, "ApiKeys:Storefront")]
    [InlineData("Idempotency__Retention", "soon", "Idempotency:Retention")]
    [InlineData("ConnectionStrings__PaymentSlices", "Data Source=/nonexistent-volume/paymentslices.db", "ConnectionStrings:PaymentSlices")]
    [InlineData("Webhooks__Endpoints__0__Secret", "whsec_short", "Webhooks:Endpoints:0:Secret")]
    [InlineData("Limits__RequestsPerSecond", "0", "Limits:RequestsPerSecond")]
    [InlineData("Processor__Sandbox__FailureRate", "1.5", "Processor:Sandbox:FailureRate")]
    [InlineData("Idempotency__PurgeInterval", "900", "Idempotency:PurgeInterval")]
    [InlineData("ApiKeys__PaymentSystem__0", PaymentSystemKey + "\n", "white space")]
    [InlineData("PublicBaseUrl", "https://payments.example.com/?tenant=1", "PublicBaseUrl")]
    public async Task ABadSetting_StopsStartUpWithExitCode2_AndOneLineNamingIt(string variable, string? value, string named)
    {
        var port = PublishedApp.FreePort();
        var environment = ProductionEnvironment(port, app.NewDataDirectory());
        if (variable == "ConnectionStrings__PaymentSlices" && ApiFactory.Provider == DatabaseProvider.PostgreSql)
        {
            value = "Host=127.0.0.1;Port=9;Database=paymentslices;Username=postgres;Timeout=5"; // a server that is not there
        }

        if (value is null)
        {
            environment.Remove(variable);
        }
        else
        {
            environment[variable] = value;
        }

        await using var service = app.Start(environment);

        var exitCode = await service.WaitForExitAsync(StartTimeout);

        exitCode.Should().Be(2, "a setting the service cannot run with stops start-up");
        service.Errors.Should().ContainSingle(line => line.StartsWith("PaymentSlices did not start: ", StringComparison.Ordinal))
            .Which.Should().Contain(named);
        var everything = string.Join('\n', service.Output.Concat(service.Errors));
        everything.Should().NotContain(WebhookSecret).And.NotContain(StorefrontKey).And.NotContain(PaymentSystemKey);
        if (variable.EndsWith("Secret", StringComparison.Ordinal))
        {
            everything.Should().NotContain(value!);
        }

        everything.Should().NotContain("   at ", "a setting is not a bug: no stack trace");
    }

    private sealed record Outcome(string OrderId, HttpStatusCode? Status, string? Body, Exception? Error, long AnsweredAt);

    /// <summary>
    /// Pays every order, each on its own connection, one every 10 ms (charges run side by side, so a burst sent at once
    /// would all be answered together), and sends SIGTERM once the first is answered, with later ones still in flight.
    /// </summary>
    private static async Task<(Outcome[] Outcomes, long SigtermAt)> PayAllThenSigtermAsync(ServiceProcess service, HttpClient client, List<string> orders)
    {
        using var burstClient = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 })
        {
            BaseAddress = client.BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        burstClient.DefaultRequestHeaders.Authorization = client.DefaultRequestHeaders.Authorization;
        var firstAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var burst = orders.Select((order, i) => PayAsync(burstClient, order, firstAnswered, TimeSpan.FromMilliseconds(10 * i))).ToList();
        await firstAnswered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var sigtermAt = Stopwatch.GetTimestamp();
        service.SendSigterm();
        return (await Task.WhenAll(burst), sigtermAt);
    }

    private static async Task<Outcome> PayAsync(HttpClient client, string orderId, TaskCompletionSource firstAnswered, TimeSpan after = default)
    {
        await Task.Delay(after);
        try
        {
            using var response = await client.PostJsonAsync($"/v1/orders/{orderId}/pay", new { source = Api.Card() });
            var body = await response.Content.ReadAsStringAsync();
            firstAnswered.TrySetResult();
            return new Outcome(orderId, response.StatusCode, body, null, Stopwatch.GetTimestamp());
        }
        catch (Exception error) when (error is HttpRequestException or IOException or TaskCanceledException)
        {
            firstAnswered.TrySetResult();
            return new Outcome(orderId, null, null, error, Stopwatch.GetTimestamp());
        }
    }

    private static bool Succeeded(string journalLine) => journalLine.Contains("\"succeeded\"", StringComparison.Ordinal);

    /// <summary>The sandbox's journal as far as it is written; nothing while the service holds the file's lock to append to it.</summary>
    private static string[] JournalLines(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllLines(path) : [];
        }
        catch (IOException)
        {
            return [];
        }
    }

    private static Task<List<(string OrderId, string Status)>> PaymentStatusesAsync(string database) =>
        TestDatabase.QueryAsync<(string, string)>(database, "SELECT order_id, status FROM payments WHERE order_id IS NOT NULL");

    /// <summary>The service's database, for the test to read: a SQLite file opened read-only and not kept open.</summary>
    private static string ReadOnly(Dictionary<string, string> environment) => ApiFactory.Provider == DatabaseProvider.Sqlite
        ? environment["ConnectionStrings__PaymentSlices"] + ";Mode=ReadOnly;Pooling=False"
        : environment["ConnectionStrings__PaymentSlices"];

    /// <summary>The SQLite database file is intact after the stop (a PostgreSQL server keeps its own files whole).</summary>
    private static async Task CheckIntegrityAsync(string database)
    {
        if (ApiFactory.Provider == DatabaseProvider.Sqlite)
        {
            (await TestDatabase.ScalarAsync<string>(database, "PRAGMA integrity_check")).Should().Be("ok");
        }
    }

    private static bool IsWebhookLine(string line) =>
        ParseLine(line).Str("Category").StartsWith("PaymentSlices.Api.Webhooks", StringComparison.Ordinal);

    private static JsonNode ParseLine(string line)
    {
        try
        {
            return JsonNode.Parse(line) ?? throw new JsonException("null");
        }
        catch (JsonException error)
        {
            throw new Xunit.Sdk.XunitException($"A log line is not JSON ({error.Message}): {line}");
        }
    }

    private static string? TraceIdOf(JsonNode entry) =>
        entry["Scopes"] is JsonArray scopes
            ? scopes.Select(scope => scope?["TraceId"]?.GetValue<string>()).FirstOrDefault(id => id is not null)
            : null;
}

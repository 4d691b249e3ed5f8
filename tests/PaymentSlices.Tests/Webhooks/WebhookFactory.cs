using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using PaymentSlices.Tests.Pipeline;

namespace PaymentSlices.Tests.Webhooks;

/// <summary>
/// The service with two webhook endpoints on a real local receiver (one for every event, one for refunds only) and a
/// fast retry schedule: quick retries after 10 ms, scheduled rounds 100 to 200 ms apart. Every log line is captured.
/// </summary>
public class WebhookFactory : ApiFactory, IAsyncLifetime
{
    public const string Secret = "whsec_test_3f9a1c7e5b2d4f60";
    public const string RefundsSecret = "whsec_refunds_8c1e2a9f7b3d5e04";

    // The query carries a credential, as some receivers' URLs do: it must show nowhere but in the requests themselves.
    public const string UrlCredential = "query-credential-51c2";

    private readonly bool ownsReceiver;

    public WebhookFactory()
    {
        ownsReceiver = true;
    }

    /// <summary>A service on a receiver its test owns; with a connection string, on another service's database (a restart).</summary>
    internal WebhookFactory(WebhookReceiver receiver, string? connectionString = null)
        : base(connectionString)
    {
        Receiver = receiver;
    }

    public WebhookReceiver Receiver { get; private set; } = null!;

    public CapturingLoggerProvider Logs { get; } = new();

    /// <summary>Settings over the defaults below, for one factory.</summary>
    public Dictionary<string, string?> Settings { get; } = [];

    public string EndpointUrl => $"{Receiver.BaseUrl}/hooks?token={UrlCredential}";

    public string RefundsUrl => $"{Receiver.BaseUrl}/refunds-only";

    public async Task InitializeAsync() => Receiver ??= await WebhookReceiver.StartAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (ownsReceiver)
        {
            await Receiver.DisposeAsync();
        }
    }

    /// <summary>The event as <c>GET /v1/events/{id}</c> shows it.</summary>
    public async Task<JsonNode> EventAsync(string eventId) =>
        await (await Storefront().GetAsync($"/v1/events/{eventId}")).ShouldBe(HttpStatusCode.OK);

    /// <summary>Waits (bounded) until the event's status is <paramref name="status"/>, and returns it.</summary>
    public async Task<JsonNode> EventWhenAsync(string eventId, string status, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var found = await EventAsync(eventId);
            if (found.Str("status") == status)
            {
                return found;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Event {eventId} did not become {status} within {seconds} s: {found.ToJsonString()}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The ids of the events about an order, payment or refund, oldest first, read from the database.</summary>
    public Task<List<string>> EventIdsAboutAsync(string subject) =>
        QueryAsync<string>("SELECT id FROM events WHERE subject = @subject OR payload LIKE @like ORDER BY seq", new { subject, like = $"%\"{subject}\"%" });

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
        var settings = new Dictionary<string, string?>
        {
            ["Webhooks:Endpoints:0:Url"] = EndpointUrl,
            ["Webhooks:Endpoints:0:Secret"] = Secret,
            ["Webhooks:Endpoints:1:Url"] = RefundsUrl,
            ["Webhooks:Endpoints:1:Secret"] = RefundsSecret,
            ["Webhooks:Endpoints:1:Events:0"] = "refund.succeeded",
            ["Webhooks:PollInterval"] = "00:00:00.050",
            ["Webhooks:AttemptTimeout"] = "00:00:02",
            ["Webhooks:ImmediateRetries"] = "1",
            ["Webhooks:ImmediateRetryDelay"] = "00:00:00.010",
            ["Webhooks:RetryDelay"] = "00:00:00.100",
            ["Webhooks:MaxRetryDelay"] = "00:00:00.200",
        };
        foreach (var (key, value) in Settings)
        {
            settings[key] = value;
        }

        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
    }
}

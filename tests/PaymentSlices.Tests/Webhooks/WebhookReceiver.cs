using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Storefront.Webhooks;

namespace PaymentSlices.Tests.Webhooks;

/// <summary>One POST the receiver got: its path, headers and the raw body, byte for byte, and what it answered.</summary>
public sealed record ReceivedWebhook(string Path, IReadOnlyDictionary<string, string> Headers, string RawBody, int AnsweredWith)
{
    public JsonNode Body => JsonNode.Parse(RawBody)!;

    public string EventId => Body["id"]!.GetValue<string>();

    public string Type => Body["type"]!.GetValue<string>();

    public JsonNode Object => Body["data"]!["object"]!;

    /// <summary>Whether the event is about this order, payment or refund (as its subject or its order).</summary>
    public bool IsAbout(string id) =>
        Object["id"]?.GetValue<string>() == id || Object["order_id"]?.GetValue<string>() == id || Object["payment_id"]?.GetValue<string>() == id;

    public bool Succeeded => AnsweredWith is >= 200 and < 300;

    /// <summary>The sender's TCP port: which process sent it, when several deliver to one receiver.</summary>
    public int RemotePort { get; init; }

    /// <summary>Verified with the README's receiver code (<see cref="PaymentSlicesSignature"/>), not the service's, with its 5-minute tolerance.</summary>
    public bool SignatureIsValid(string secret) =>
        PaymentSlicesSignature.IsValid(Headers.GetValueOrDefault("PaymentSlices-Signature"), RawBody, secret, TimeSpan.FromMinutes(5), DateTimeOffset.UtcNow);
}

/// <summary>
/// A storefront's webhook endpoint: real Kestrel on 127.0.0.1 and a free port. It records every POST and answers
/// 200, unless told to fail the requests about an id (with a status, or by not answering until released).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly Lock gate = new();
    private readonly List<ReceivedWebhook> received = [];
    private readonly Dictionary<string, (int Times, int Status)> failures = [];
    private readonly Dictionary<string, TaskCompletionSource> holds = [];
    private readonly SemaphoreSlim arrived = new(0);

    private WebhookReceiver(WebApplication app)
    {
        this.app = app;
        app.MapPost("/{**path}", HandleAsync);
    }

    public string BaseUrl { get; private set; } = "";

    public IReadOnlyList<ReceivedWebhook> Received
    {
        get
        {
            lock (gate)
            {
                return received.ToList();
            }
        }
    }

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var receiver = new WebhookReceiver(builder.Build());
        await receiver.app.StartAsync();
        receiver.BaseUrl = receiver.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return receiver;
    }

    /// <summary>The next <paramref name="times"/> requests about <paramref name="id"/> are answered with <paramref name="status"/>.</summary>
    public void Fail(string id, int times, int status = 503)
    {
        lock (gate)
        {
            failures[id] = (times, status);
        }
    }

    /// <summary>Requests about <paramref name="id"/> get no answer until <see cref="Release"/>.</summary>
    public void Hold(string id)
    {
        lock (gate)
        {
            holds[id] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Release(string id)
    {
        lock (gate)
        {
            if (holds.Remove(id, out var hold))
            {
                hold.SetResult();
            }
        }
    }

    /// <summary>Waits (bounded) until the requests received satisfy <paramref name="condition"/>, and returns them.</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(Func<IReadOnlyList<ReceivedWebhook>, bool> condition, string because, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var now = Received;
            if (condition(now))
            {
                return now;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"The receiver did not get {because} within {seconds} s; it got: " +
                    string.Join(", ", now.Select(hook => $"{hook.Path} {hook.Type} {hook.AnsweredWith}")));
            }

            await arrived.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>Waits until the events about <paramref name="id"/> were delivered (answered 2xx) with these types, and returns those deliveries.</summary>
    public async Task<List<ReceivedWebhook>> DeliveredAboutAsync(string id, params string[] types)
    {
        var all = await WaitForAsync(
            hooks => types.All(type => hooks.Any(hook => hook.Succeeded && hook.IsAbout(id) && hook.Type == type)),
            $"{string.Join(" and ", types)} about {id}");
        return all.Where(hook => hook.Succeeded && hook.IsAbout(id)).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        lock (gate)
        {
            foreach (var hold in holds.Values)
            {
                hold.TrySetResult();
            }
        }

        await app.StopAsync();
        await app.DisposeAsync();
        arrived.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var headers = context.Request.Headers.ToDictionary(header => header.Key, header => header.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        headers["Content-Type"] = context.Request.ContentType ?? "";
        var subjects = Subjects(body);

        Task? hold = null;
        var status = StatusCodes.Status200OK;
        lock (gate)
        {
            foreach (var subject in subjects)
            {
                if (holds.TryGetValue(subject, out var held))
                {
                    hold = held.Task;
                }

                if (failures.TryGetValue(subject, out var failure) && failure.Times > 0)
                {
                    failures[subject] = (failure.Times - 1, failure.Status);
                    status = failure.Status;
                }
            }
        }

        if (hold is not null)
        {
            Record(new ReceivedWebhook(context.Request.Path, headers, body, 0) { RemotePort = context.Connection.RemotePort }); // seen, not answered
            await hold.WaitAsync(context.RequestAborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return;
        }

        Record(new ReceivedWebhook(context.Request.Path, headers, body, status) { RemotePort = context.Connection.RemotePort });
        context.Response.StatusCode = status;
    }

    private void Record(ReceivedWebhook hook)
    {
        lock (gate)
        {
            received.Add(hook);
        }

        arrived.Release();
    }

    private static string[] Subjects(string body)
    {
        try
        {
            var data = JsonNode.Parse(body)?["data"]?["object"];
            return new[] { data?["id"]?.GetValue<string>(), data?["order_id"]?.GetValue<string>(), data?["payment_id"]?.GetValue<string>() }
                .OfType<string>().ToArray();
        }
        catch (System.Text.Json.JsonException)
        {
            return [];
        }
    }
}

using System.Collections.Concurrent;
using System.Threading.Channels;

namespace PaymentSlices.Api.Webhooks;

/// <summary>Wakes the dispatcher when a transaction with events commits, so delivery does not wait for the next poll.</summary>
public sealed class WebhookSignal
{
    private readonly Channel<bool> wakeUps = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    // Per endpoint URL: how many commits with deliveries to it this process has seen.
    private readonly ConcurrentDictionary<string, long> written = new(StringComparer.Ordinal);

    /// <summary>How many commits with new deliveries to this endpoint (events or redeliveries) this process has seen: a change means one may be due.</summary>
    public long Written(string endpointUrl) => written.TryGetValue(endpointUrl, out var count) ? count : 0;

    /// <summary>A slot is free or something else may have come due: look again.</summary>
    public void Wake() => wakeUps.Writer.TryWrite(true);

    /// <summary>A transaction with new deliveries to these endpoints (events or redeliveries) committed: they are due now.</summary>
    public void EventsWritten(IReadOnlyList<WebhookEndpoint> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            written.AddOrUpdate(endpoint.Url, 1, static (_, count) => count + 1);
        }

        Wake();
    }

    /// <summary>Returns when woken or after <paramref name="timeout"/>, whichever comes first.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        waiting.CancelAfter(timeout);
        try
        {
            await wakeUps.Reader.ReadAsync(waiting.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // the poll interval passed: look again
        }
    }
}

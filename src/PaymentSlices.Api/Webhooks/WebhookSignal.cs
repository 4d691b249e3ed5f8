using System.Threading.Channels;

namespace PaymentSlices.Api.Webhooks;

/// <summary>Wakes the dispatcher when a transaction with events commits, so delivery does not wait for the next poll.</summary>
public sealed class WebhookSignal
{
    private readonly Channel<bool> wakeUps = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    private long written;

    /// <summary>How many commits with new events (or redeliveries) this process has seen: a change means new deliveries may be due.</summary>
    public long Written => Interlocked.Read(ref written);

    /// <summary>A slot is free or something else may have come due: look again.</summary>
    public void Wake() => wakeUps.Writer.TryWrite(true);

    /// <summary>A transaction with new events (or redeliveries) committed: their deliveries are due now.</summary>
    public void EventsWritten()
    {
        Interlocked.Increment(ref written);
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

namespace PaymentSlices.Api.Kernel;

public static class Clock
{
    /// <summary>Now, to the millisecond: the precision timestamps are stored and shown with.</summary>
    public static DateTimeOffset Now(this TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }
}

using Microsoft.Extensions.Options;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Pipeline;

/// <summary>How long a stop (SIGTERM) may take (<c>Shutdown</c>).</summary>
public sealed class ShutdownOptions
{
    public const string Section = "Shutdown";

    /// <summary>The host's shutdown timeout: every request the service took is answered within it.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Drains writes on shutdown. A request may spend as long as the processor's retries allow between its two write
/// turns (<see cref="LongestWrite"/>). When the service is asked to stop, requests may still begin writing until the
/// drain deadline (<c>Shutdown:Timeout</c> less the longest processor call and a margin); a request whose first turn
/// comes later is answered 503 <c>service_unavailable</c> with nothing written, so that every charge under way, and
/// every answer, fits in the timeout. Later turns of a request, and background jobs, are never refused: they record
/// what the processor did.
/// </summary>
public sealed class ShutdownDrain : IDisposable
{
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource closed = new();
    private readonly CancellationTokenRegistration stopping;

    public ShutdownDrain(IHostApplicationLifetime lifetime, IOptions<ShutdownOptions> shutdown, IOptions<ProcessorResilienceOptions> processor)
    {
        Deadline = DrainTime(shutdown.Value.Timeout, LongestWrite(processor.Value));
        stopping = lifetime.ApplicationStopping.Register(() => closed.CancelAfter(Deadline));
    }

    /// <summary>How long after the stop signal queued writes are still let in.</summary>
    public TimeSpan Deadline { get; }

    /// <summary>Cancelled at the drain deadline.</summary>
    public CancellationToken Closed => closed.Token;

    /// <summary>
    /// The longest one processor call can take with these settings: every attempt timing out, and the backoff between
    /// them (Polly's exponential delays with jitter, bounded here by four times the nominal delay, at most 30 s each).
    /// </summary>
    public static TimeSpan LongestWrite(ProcessorResilienceOptions options)
    {
        var attempts = options.AttemptTimeout * (options.MaxRetryAttempts + 1);
        var backoff = Enumerable.Range(0, options.MaxRetryAttempts)
            .Select(retry => TimeSpan.FromMilliseconds(Math.Min(options.RetryDelay.TotalMilliseconds * Math.Pow(2, retry + 2), 30_000)))
            .Aggregate(TimeSpan.Zero, (sum, delay) => sum + delay);
        return attempts + backoff;
    }

    public static TimeSpan DrainTime(TimeSpan timeout, TimeSpan longestWrite) =>
        timeout - longestWrite - Margin is var drain && drain > TimeSpan.Zero ? drain : TimeSpan.Zero;

    public void Dispose()
    {
        stopping.Dispose();
        closed.Dispose();
    }
}

/// <summary>A request that was queued for the database when the drain deadline passed: 503, nothing written.</summary>
public sealed class ServiceStoppingException() : Exception("The service is stopping.");

/// <summary><c>Shutdown:Timeout</c> must leave room for the longest write the processor settings allow.</summary>
public sealed class ShutdownOptionsValidator(IOptions<ProcessorResilienceOptions> processor) : IValidateOptions<ShutdownOptions>
{
    public static readonly TimeSpan Longest = TimeSpan.FromMinutes(10);

    public ValidateOptionsResult Validate(string? name, ShutdownOptions options)
    {
        if (options.Timeout < TimeSpan.FromSeconds(5) || options.Timeout > Longest)
        {
            return ValidateOptionsResult.Fail("Shutdown:Timeout must be between 00:00:05 and 00:10:00 (a bare number means days).");
        }

        var longestWrite = ShutdownDrain.LongestWrite(processor.Value);
        var needed = longestWrite + ShutdownDrain.Margin + TimeSpan.FromSeconds(1);
        return options.Timeout >= needed
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Shutdown:Timeout ({options.Timeout:c}) must be at least {needed.TotalSeconds:0.#} s: a payment in progress may take " +
                $"{longestWrite.TotalSeconds:0.#} s with the Processor:Resilience settings (AttemptTimeout x (MaxRetryAttempts + 1), plus backoff). " +
                "Raise Shutdown:Timeout or lower those settings.");
    }
}

public static class ShutdownRegistration
{
    public static IServiceCollection AddShutdown(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ShutdownOptions>().Bind(configuration.GetSection(ShutdownOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ShutdownOptions>, ShutdownOptionsValidator>();
        services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>>((host, shutdown) => host.ShutdownTimeout = shutdown.Value.Timeout);
        services.AddSingleton<ShutdownDrain>();
        return services;
    }
}

using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace PaymentSlices.Api.Kernel;

/// <summary>How processor calls ride out a slow or failing processor (<c>Processor:Resilience</c>).</summary>
public sealed class ProcessorResilienceOptions
{
    public const string Section = "Processor:Resilience";

    /// <summary>Each attempt's time limit.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries of a transient failure (the same charge, with the same processor idempotency key).</summary>
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>The first retry's delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The breaker opens when this share of calls failed within <see cref="SamplingDuration"/>...</summary>
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>...out of at least this many calls.</summary>
    public int MinimumThroughput { get; set; } = 20;

    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the breaker stays open: pay calls answer 503 with this as <c>Retry-After</c>.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>A processor failure worth retrying: a timeout, a reset connection, a 5xx.</summary>
public sealed class ProcessorTransientException(string message) : Exception(message);

/// <summary>The processor cannot be reached now (retries exhausted or the breaker is open): a 503 with <c>Retry-After</c>.</summary>
public sealed class ProcessorUnavailableException(TimeSpan retryAfter, Exception inner, bool neverSent = false)
    : Exception("The payment processor is unavailable.", inner)
{
    public TimeSpan RetryAfter { get; } = retryAfter;

    /// <summary>
    /// The breaker was open before the first attempt: the call never left, so nothing can have been charged or refunded.
    /// False when the breaker opened between the retries of a call whose earlier attempts reached the processor.
    /// </summary>
    public bool NeverSent { get; } = neverSent;
}

/// <summary>
/// Every processor call goes through one Polly pipeline: retry (exponential backoff with jitter) around a
/// circuit breaker around a per-attempt timeout. A retried charge carries the same idempotency key (the
/// payment id), so the processor answers it with the first attempt's result and never charges twice.
/// </summary>
public sealed class ResilientPaymentProcessor(IPaymentProcessor inner, ResiliencePipeline pipeline, IOptions<ProcessorResilienceOptions> options)
    : IPaymentProcessor
{
    public Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken cancellationToken) =>
        Run(token => inner.ChargeAsync(request, token), cancellationToken);

    public Task<string?> RefundAsync(ProcessorRefund request, CancellationToken cancellationToken) =>
        Run(token => inner.RefundAsync(request, token), cancellationToken);

    public Task<ChargeResult> ResolveChargeAsync(string idempotencyKey, CancellationToken cancellationToken) =>
        Run(token => inner.ResolveChargeAsync(idempotencyKey, token), cancellationToken);

    public Task<string?> ResolveRefundAsync(string idempotencyKey, CancellationToken cancellationToken) =>
        Run(token => inner.ResolveRefundAsync(idempotencyKey, token), cancellationToken);

    public Task<SaveCardResult> SaveCardAsync(string idempotencyKey, PaymentSource source, CancellationToken cancellationToken) =>
        Run(token => inner.SaveCardAsync(idempotencyKey, source, token), cancellationToken);

    public static ResiliencePipeline Build(ProcessorResilienceOptions options, TimeProvider clock)
    {
        var transient = new PredicateBuilder().Handle<ProcessorTransientException>().Handle<TimeoutRejectedException>();
        return new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = transient,
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = transient,
                FailureRatio = options.FailureRatio,
                MinimumThroughput = options.MinimumThroughput,
                SamplingDuration = options.SamplingDuration,
                BreakDuration = options.BreakDuration,
            })
            .AddTimeout(options.AttemptTimeout)
            .Build();
    }

    private async Task<T> Run<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        // Whether an attempt got past the breaker: the processor may then have acted, whatever the last attempt met.
        var sent = false;
        try
        {
            return await pipeline.ExecuteAsync(
                async token =>
                {
                    sent = true;
                    return await call(token);
                },
                cancellationToken);
        }
        catch (BrokenCircuitException open)
        {
            throw new ProcessorUnavailableException(open.RetryAfter ?? options.Value.BreakDuration, open, neverSent: !sent);
        }
        catch (Exception failure) when (failure is ProcessorTransientException or TimeoutRejectedException)
        {
            throw new ProcessorUnavailableException(options.Value.RetryDelay * 5, failure);
        }
    }
}

public static class ProcessorRegistration
{
    /// <summary>The built-in sandbox behind the resilience pipeline.</summary>
    public static IServiceCollection AddPaymentProcessor(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SandboxOptions>()
            .Bind(configuration.GetSection(SandboxOptions.Section))
            .Validate(o => o.FailureRate is >= 0 and <= 1, "Processor:Sandbox:FailureRate must be between 0 and 1.")
            .Validate(o => o.Latency >= TimeSpan.Zero && o.Latency <= TimeSpan.FromMinutes(1),
                "Processor:Sandbox:Latency must be between 00:00:00 and 00:01:00 (a bare number means days).")
            .Validate(o => o.KeyRetention >= TimeSpan.FromMinutes(1) && o.KeyRetention <= TimeSpan.FromDays(30),
                "Processor:Sandbox:KeyRetention must be between 00:01:00 and 30.00:00:00, e.g. 1.00:00:00 (a bare number means days).")
            .ValidateOnStart();
        // Polly's own ranges, so that a bad value stops start-up instead of failing every payment.
        services.AddOptions<ProcessorResilienceOptions>()
            .Bind(configuration.GetSection(ProcessorResilienceOptions.Section))
            .Validate(o => o.AttemptTimeout >= TimeSpan.FromMilliseconds(10) && o.AttemptTimeout <= TimeSpan.FromHours(24),
                "Processor:Resilience:AttemptTimeout must be between 00:00:00.010 and 1.00:00:00 (a bare number means days).")
            .Validate(o => o.MaxRetryAttempts is >= 1 and <= 10, "Processor:Resilience:MaxRetryAttempts must be between 1 and 10.")
            .Validate(o => o.RetryDelay >= TimeSpan.Zero && o.RetryDelay <= TimeSpan.FromMinutes(1),
                "Processor:Resilience:RetryDelay must be between 00:00:00 and 00:01:00.")
            .Validate(o => o.FailureRatio is > 0 and <= 1, "Processor:Resilience:FailureRatio must be in (0, 1].")
            .Validate(o => o.MinimumThroughput >= 2, "Processor:Resilience:MinimumThroughput must be at least 2.")
            .Validate(o => o.SamplingDuration >= TimeSpan.FromMilliseconds(500) && o.SamplingDuration <= TimeSpan.FromHours(24) &&
                           o.BreakDuration >= TimeSpan.FromMilliseconds(500) && o.BreakDuration <= TimeSpan.FromHours(24),
                "Processor:Resilience:SamplingDuration and BreakDuration must be between 00:00:00.5 and 1.00:00:00.")
            .ValidateOnStart();

        services.AddSingleton<SandboxPaymentProcessor>();
        services.AddSingleton(provider =>
            ResilientPaymentProcessor.Build(provider.GetRequiredService<IOptions<ProcessorResilienceOptions>>().Value, TimeProvider.System));
        services.AddSingleton<IPaymentProcessor>(provider => new ResilientPaymentProcessor(
            provider.GetRequiredService<SandboxPaymentProcessor>(), provider.GetRequiredService<ResiliencePipeline>(),
            provider.GetRequiredService<IOptions<ProcessorResilienceOptions>>()));
        return services;
    }
}

using Dapper;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Payments;

/// <summary>How often, and how late, processing payments and refunds are settled (<c>Reconciler</c>).</summary>
public sealed class ReconcilerOptions
{
    public const string Section = "Reconciler";

    /// <summary>How often the reconciler looks; it also looks once at start-up.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How old a processing row must be before it is settled here. Unset: 10 s on SQLite (one process, which leaves its
    /// own running requests alone); on PostgreSQL, where a request of another instance may still run it, the longest a
    /// processor call can take under <c>Processor:Resilience</c> plus 5 s (see <see cref="Effective"/>).
    /// </summary>
    public TimeSpan? MinAge { get; set; }

    /// <summary>The age in effect: <see cref="MinAge"/> when set, else the provider's default above.</summary>
    public static TimeSpan Effective(TimeSpan? minAge, DatabaseProvider provider, ProcessorResilienceOptions processor) =>
        minAge ?? (provider == DatabaseProvider.PostgreSql ? ShutdownDrain.LongestWrite(processor) + TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(10));
}

/// <summary>
/// Settles the payments and refunds left <c>processing</c>: by a crash between the two phases, or by a processor that
/// did not answer. It asks the processor with the same processor key what became of each (the charge is found, or
/// recorded at the processor as not made so that it can never be made late) and records the answer with what
/// follows from it, exactly as the request would have. Rows whose request still runs in this process are left alone.
/// </summary>
public sealed partial class Reconciler(
    IServiceScopeFactory scopes, IPaymentProcessor processor, ChargesInFlight inFlight, IOptions<ReconcilerOptions> options,
    DbConnectionFactory database, IOptions<ProcessorResilienceOptions> resilience, TimeProvider clock, ILogger<Reconciler> logger) : BackgroundService
{
    private const int Batch = 100;

    private readonly Lazy<TimeSpan> minAge = new(() => ReconcilerOptions.Effective(options.Value.MinAge, database.Provider, resilience.Value));

    private const string SelectPayments = """
        SELECT * FROM payments WHERE status = 'processing' AND created_at <= @Before ORDER BY created_at LIMIT @Batch
        """;

    private const string SelectRefunds = """
        SELECT * FROM refunds WHERE status = 'processing' AND created_at <= @Before ORDER BY created_at LIMIT @Batch
        """;

    /// <summary>One look: settles what it can and returns how many rows it settled.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Db>();
        var connection = await db.OpenAsync(cancellationToken);
        var window = new { Before = clock.Now() - minAge.Value, Batch };
        var payments = (await connection.QueryAsync<PaymentRow>(db.Command(SelectPayments, window, cancellationToken))).ToList();
        var refunds = (await connection.QueryAsync<RefundRow>(db.Command(SelectRefunds, window, cancellationToken))).ToList();
        await db.ReleaseReadAsync(); // none held while the processor is asked

        var settled = 0;
        var charges = scope.ServiceProvider.GetRequiredService<Charges>();
        foreach (var payment in payments.Where(payment => !inFlight.Contains(payment.Id)))
        {
            var result = await processor.ResolveChargeAsync(payment.ProcessorKey!, cancellationToken);
            await db.BeginAsync(cancellationToken);
            var row = await charges.SettleAsync(payment, result, clock.Now(), cancellationToken);
            await db.CommitAsync(cancellationToken);
            LogSettled(logger, payment.Id, row?.Status ?? "removed");
            settled++;
        }

        var refunding = scope.ServiceProvider.GetRequiredService<Refunds>();
        foreach (var refund in refunds.Where(refund => !inFlight.Contains(refund.Id)))
        {
            var reference = await processor.ResolveRefundAsync(refund.ProcessorKey!, cancellationToken);
            await db.BeginAsync(cancellationToken);
            var row = await refunding.SettleAsync(refund, reference, clock.Now(), cancellationToken);
            await db.CommitAsync(cancellationToken);
            LogSettled(logger, refund.Id, row.Status);
            settled++;
        }

        return settled;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var longest = ShutdownDrain.LongestWrite(resilience.Value);
        if (database.Provider == DatabaseProvider.PostgreSql && minAge.Value <= longest)
        {
            LogMinAgeShort(logger, minAge.Value, longest);
        }

        using var timer = new PeriodicTimer(options.Value.Interval, clock);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // A processor that does not answer now is asked again at the next look.
                LogRunFailed(logger, exception);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reconciler settled {Id}: {Status}")]
    private static partial void LogSettled(ILogger logger, string id, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciler:MinAge is {MinAge}, but a processor call can take {Longest} (Processor:Resilience): with several instances, a charge still running on another one may be settled as not made and fail")]
    private static partial void LogMinAgeShort(ILogger logger, TimeSpan minAge, TimeSpan longest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciler could not settle every processing payment; it looks again at its next interval")]
    private static partial void LogRunFailed(ILogger logger, Exception exception);
}

public static class PaymentsRegistration
{
    public static IServiceCollection AddPayments(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ReconcilerOptions>()
            .Bind(configuration.GetSection(ReconcilerOptions.Section))
            .Validate(o => o.Interval >= TimeSpan.FromMilliseconds(10) && o.Interval <= TimeSpan.FromHours(1),
                "Reconciler:Interval must be between 00:00:00.010 and 01:00:00 (a bare number means days).")
            .Validate(o => o.MinAge is null || (o.MinAge >= TimeSpan.Zero && o.MinAge <= TimeSpan.FromHours(1)),
                "Reconciler:MinAge must be between 00:00:00 and 01:00:00 (a bare number means days).")
            .ValidateOnStart();
        services.AddSingleton<ChargesInFlight>();
        services.AddScoped<Charges>();
        services.AddScoped<Refunds>();
        services.AddSingleton<Reconciler>();
        services.AddHostedService(provider => provider.GetRequiredService<Reconciler>());
        return services;
    }
}

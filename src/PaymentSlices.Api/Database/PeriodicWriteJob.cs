using System.Data.Common;

namespace PaymentSlices.Api.Database;

/// <summary>
/// A background job that runs every <see cref="Interval"/> inside one write transaction (queued with the
/// requests' writes), on one instance at a time: a run that finds another instance's run under way does nothing. A
/// failed run is logged and the next tick tries again.
/// </summary>
public abstract partial class PeriodicWriteJob(IServiceScopeFactory scopes, ILogger logger) : BackgroundService
{
    protected abstract TimeSpan Interval { get; }

    /// <summary>One run's work, with the run's scoped services; returns how many rows it changed.</summary>
    protected abstract Task<int> RunAsync(IServiceProvider services, Db db, DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Runs the job once, now, in its own transaction.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Db>();
        await db.BeginAsync(cancellationToken);
        if (!await db.TryLockAsync(GetType().Name, cancellationToken))
        {
            await db.EndAsync();
            return 0;
        }

        var changed = await RunAsync(scope.ServiceProvider, db, await db.OpenAsync(cancellationToken), cancellationToken);
        await db.CommitAsync(cancellationToken);
        return changed;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogRunFailed(logger, GetType().Name, exception);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Background job {Job} failed; it runs again at its next interval")]
    private static partial void LogRunFailed(ILogger logger, string job, Exception exception);
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Dapper;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Webhooks;

/// <summary>
/// Delivers the outbox's events, at least once, in the background: no request waits for an endpoint.
/// Each delivery round is a Polly pipeline (a timeout per attempt, quick retries with exponential backoff
/// and jitter); a round that fails is scheduled again in the database, doubling with jitter up to
/// <see cref="WebhookOptions.MaxRetryDelay"/>, until <see cref="WebhookOptions.RetryFor"/> (counted from the first
/// attempt) runs out. The schedule lives in the database, so a restart resumes it. Per endpoint, an order's events go
/// out in the order they were created: a later one waits while an earlier one is still pending. Each endpoint has its
/// own share of the concurrent deliveries, taken in turn, so a hanging endpoint holds only its own.
/// </summary>
public sealed partial class WebhookDispatcher(
    IServiceScopeFactory scopes, IOptions<WebhookOptions> options, WebhookSignal signal, TimeProvider clock, ILogger<WebhookDispatcher> logger)
    : BackgroundService
{
    // One endpoint's due deliveries that are first in line (no earlier event of the same subject still pending for this
    // endpoint), oldest first: a walk of ix_event_deliveries_queue with a probe of ix_event_deliveries_subject per row.
    private const string SelectDue = """
        SELECT d.id, d.event_id, d.endpoint, d.generation, d.rounds, d.retry_until
        FROM event_deliveries d
        WHERE d.endpoint = @Endpoint AND d.status = 'pending' AND d.next_attempt_at <= @Now
          AND (d.leased_until IS NULL OR d.leased_until <= @Now OR d.leased_by = @Instance)
          AND NOT EXISTS (
              SELECT 1 FROM event_deliveries p
              WHERE p.endpoint = d.endpoint AND p.status = 'pending' AND p.subject = d.subject AND p.seq < d.seq)
        ORDER BY d.seq
        LIMIT @Limit
        """;

    // The deliveries this dispatcher is about to send, leased to it: a concurrent dispatcher's UPDATE of the same rows
    // waits for this one's commit (PostgreSQL) or its turn (SQLite), then finds the lease taken and skips them. Its own
    // leases (a delivery whose outcome could not be recorded) are its in-memory state's to manage: in flight, cooling down.
    private const string Lease = """
        UPDATE event_deliveries SET leased_by = @Instance, leased_until = @LeasedUntil
        WHERE id IN @Ids AND status = 'pending' AND (leased_until IS NULL OR leased_until <= @Now OR leased_by = @Instance)
        RETURNING id
        """;

    /// <summary>A dispatcher's leases left by an earlier run of a single-instance service (see <see cref="LeftoverLeases"/>).</summary>
    public const string ReleaseLeftoverLeases = "UPDATE event_deliveries SET leased_by = NULL, leased_until = NULL WHERE leased_by IS NOT NULL";

    private const string SelectEvents = "SELECT id, type, payload FROM events WHERE id IN @Ids";

    // Deliveries left pending for endpoints that are no longer configured (read at start; settings do not change later).
    private const string SelectOrphans = """
        SELECT id, event_id, endpoint, generation, retry_until FROM event_deliveries
        WHERE status = 'pending' AND endpoint NOT IN @Configured
        """;

    private const string FailOrphan = """
        UPDATE event_deliveries SET status = 'failed', attempt_count = attempt_count + 1, next_attempt_at = NULL
        WHERE id = @Id AND generation = @Generation AND status = 'pending'
        """;

    private const string InsertAttempt = """
        INSERT INTO event_attempts (event_id, endpoint, attempted_at, status_code, error, duration_ms)
        VALUES (@EventId, @Endpoint, @AttemptedAt, @StatusCode, @Error, @DurationMs)
        """;

    // Guarded by the generation read before sending (a redelivery asked for meanwhile is not undone) and by the lease (a
    // dispatcher whose lease ran out and was taken by another leaves the outcome to that one).
    private const string UpdateDelivery = """
        UPDATE event_deliveries SET
            status = @Status, attempt_count = attempt_count + @Attempts, rounds = rounds + @Rounds,
            next_attempt_at = @NextAttemptAt, retry_until = @RetryUntil, delivered_at = COALESCE(@DeliveredAt, delivered_at),
            leased_by = NULL, leased_until = NULL
        WHERE id = @Id AND generation = @Generation AND leased_by = @Instance
        """;

    private const string ReleaseLease = """
        UPDATE event_deliveries SET leased_by = NULL, leased_until = NULL WHERE id = @Id AND leased_by = @Instance
        """;

    // Failed if an endpoint configured now failed it, or it reached none; a failure at an endpoint since removed from the
    // configuration does not count once the event was delivered elsewhere (say, redelivered to the endpoint's new URL).
    private const string UpdateEventStatus = """
        UPDATE events SET status = CASE
            WHEN EXISTS (SELECT 1 FROM event_deliveries WHERE event_id = @EventId AND status = 'pending') THEN 'pending'
            WHEN EXISTS (SELECT 1 FROM event_deliveries WHERE event_id = @EventId AND status = 'failed'
                         AND (endpoint IN @Configured
                              OR NOT EXISTS (SELECT 1 FROM event_deliveries WHERE event_id = @EventId AND status = 'delivered'))) THEN 'failed'
            ELSE 'delivered' END
        WHERE id = @EventId
        """;

    private const int MaxErrorLength = 300;

    // The longest pause before a delivery whose outcome could not be recorded is sent again.
    private static readonly TimeSpan CoolDown = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<long, InFlight> inFlight = new();

    // Deliveries whose outcome could not be recorded: not sent again before this time, instead of at once.
    private readonly ConcurrentDictionary<long, DateTimeOffset> coolingDown = new();

    // Endpoints whose due deliveries are not looked for again before this time, unless new deliveries to them were
    // written since (WebhookSignal.Written then differs) or one of their deliveries finished (see StartDueAsync).
    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, long Written)> quietUntil = new();

    // One client for the process (pooled connections). Redirects are not followed: a 3xx is a failed delivery,
    // and a signed body is never re-posted somewhere the configuration did not name.
    private readonly HttpClient http = new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan, // the Polly timeout bounds each attempt
    };

    private readonly Lazy<ResiliencePipeline<int>> pipeline = new(() => BuildPipeline(options.Value));

    private readonly Lazy<string[]> configured = new(() => options.Value.Endpoints.Select(endpoint => endpoint.Url).ToArray());

    private readonly Lazy<TimeSpan> leaseFor = new(() => LeaseDuration(options.Value));

    public override void Dispose()
    {
        http.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var orphansSettled = false;
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    if (!orphansSettled)
                    {
                        await SettleOrphansAsync(stoppingToken);
                        orphansSettled = true;
                    }
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    LogSettleFailed(logger, exception); // deliveries go on; settling is tried again at the next poll
                }

                try
                {
                    await StartDueAsync(stoppingToken);
                }
                catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
                {
                    LogDispatchFailed(logger, exception);
                }

                await signal.WaitAsync(options.Value.PollInterval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the wait or the query was cancelled.
        }
        finally
        {
            // Deliveries in flight were cancelled with the host; each records what it got and stays pending.
            await Task.WhenAll(inFlight.Values.Select(delivery => delivery.Task));
        }
    }

    private async Task StartDueAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var (total, share) = Slots(settings);

        // Taken before the query: a delivery that finishes while the query runs may be read as still pending, and
        // must not be sent again from that stale row. One not in flight now cannot start before the query ends
        // (only this loop starts deliveries), so the query sees its last recorded state.
        var busy = inFlight.ToDictionary(entry => entry.Key, entry => entry.Value.Endpoint);
        var now = clock.Now();
        foreach (var (id, until) in coolingDown)
        {
            if (until <= now)
            {
                coolingDown.TryRemove(id, out _);
            }
        }

        // Per endpoint, its first due deliveries (those in flight or cooling down come back too, and are skipped).
        var candidates = new List<Queue<DueDelivery>>();
        var running = new List<int>();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Db>();
        var connection = await db.OpenAsync(stoppingToken);
        foreach (var endpoint in settings.Endpoints)
        {
            running.Add(busy.Values.Count(url => url == endpoint.Url));

            // Before the query too: deliveries to this endpoint committed while it runs end the quiet it may set.
            var written = signal.Written(endpoint.Url);
            if (quietUntil.TryGetValue(endpoint.Url, out var quiet) && quiet.Until > now && quiet.Written == written)
            {
                candidates.Add(new Queue<DueDelivery>());
                continue;
            }

            var started = Stopwatch.GetTimestamp();
            var rows = await connection.QueryAsync<DueDelivery>(db.Command(
                SelectDue, new { Endpoint = endpoint.Url, Now = now, Limit = total + busy.Count + coolingDown.Count, db.Instance }, stoppingToken));
            var startable = new Queue<DueDelivery>(rows.Where(row => !busy.ContainsKey(row.Id) && !coolingDown.ContainsKey(row.Id)));
            candidates.Add(startable);

            // A long backlog with nothing due (a dead endpoint's, all in backoff) costs a walk of its rows: look again
            // at the next poll rather than at every wake-up, unless events for it are written (their deliveries are due at
            // once) or one of its deliveries finishes first.
            if (startable.Count == 0 && Stopwatch.GetElapsedTime(started) > settings.QuietAfterQuery)
            {
                quietUntil[endpoint.Url] = (now + settings.PollInterval, written);
                LogQuiet(logger, endpoint, settings.PollInterval);
            }
        }

        // First every endpoint up to its share, whatever the others hold, so a hanging one never starves the rest; then
        // what is left under the total, one at a time in turn, to endpoints that have more due (idle shares are lent).
        var chosen = new List<DueDelivery>();
        for (var i = 0; i < candidates.Count; i++)
        {
            while (running[i] < share && candidates[i].TryDequeue(out var delivery))
            {
                running[i]++;
                chosen.Add(delivery);
            }
        }

        var capacity = total - inFlight.Count - chosen.Count;
        while (capacity > 0 && candidates.Any(queue => queue.Count > 0))
        {
            foreach (var queue in candidates.Where(queue => queue.Count > 0))
            {
                if (capacity-- > 0)
                {
                    chosen.Add(queue.Dequeue());
                }
            }
        }

        if (chosen.Count == 0)
        {
            return;
        }

        // Leased before the first attempt: what another instance's dispatcher leased first is left to it.
        await db.BeginAsync(stoppingToken);
        var leased = (await (await db.OpenAsync(stoppingToken)).QueryAsync<long>(db.Command(Lease, new
        {
            db.Instance, LeasedUntil = now + leaseFor.Value, Now = now, Ids = chosen.Select(delivery => delivery.Id).ToList(),
        }, stoppingToken))).ToHashSet();
        await db.CommitAsync(stoppingToken);
        chosen.RemoveAll(delivery => !leased.Contains(delivery.Id));
        if (chosen.Count == 0)
        {
            return;
        }

        connection = await db.OpenAsync(stoppingToken); // the turn closed the read connection
        var events = (await connection.QueryAsync<(string Id, string Type, string Payload)>(
            db.Command(SelectEvents, new { Ids = chosen.Select(delivery => delivery.EventId).Distinct().ToList() }, stoppingToken)))
            .ToDictionary(row => row.Id);
        foreach (var delivery in chosen)
        {
            (delivery.Type, delivery.Payload) = (events[delivery.EventId].Type, events[delivery.EventId].Payload);
            Start(delivery, settings, stoppingToken);
        }
    }

    /// <summary>
    /// How long a dispatcher keeps a delivery leased: longer than one round can last (every attempt timing out, with the
    /// longest delays between them), and a minute more, so that a live dispatcher's lease never runs out under it.
    /// </summary>
    internal static TimeSpan LeaseDuration(WebhookOptions settings)
    {
        var delays = TimeSpan.Zero;
        for (var retry = 0; retry < settings.ImmediateRetries; retry++)
        {
            var delay = settings.ImmediateRetryDelay * Math.Pow(2, retry) * 1.5; // exponential with jitter, as BuildPipeline
            delays += delay < TimeSpan.FromMinutes(1) ? delay : TimeSpan.FromMinutes(1);
        }

        return (settings.AttemptTimeout * (settings.ImmediateRetries + 1)) + delays + TimeSpan.FromMinutes(1);
    }

    /// <summary>
    /// Once, at start: deliveries still pending for endpoints no longer configured fail, with an attempt saying why,
    /// and their events' status follows. With no endpoint configured at all, webhooks are off: nothing is settled, and
    /// pending deliveries wait for their endpoint to come back (a missing setting must not fail a whole backlog).
    /// </summary>
    private async Task SettleOrphansAsync(CancellationToken stoppingToken)
    {
        if (options.Value.Endpoints.Length == 0)
        {
            return;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Db>();
        await db.BeginAsync(stoppingToken);
        if (!await db.TryLockAsync(nameof(SettleOrphansAsync), stoppingToken))
        {
            await db.EndAsync(); // another instance settles them now
            return;
        }

        var connection = await db.OpenAsync(stoppingToken);
        var orphans = (await connection.QueryAsync<DueDelivery>(db.Command(SelectOrphans, new { Configured = configured.Value }, stoppingToken))).ToList();
        var now = clock.Now();
        foreach (var orphan in orphans)
        {
            await connection.ExecuteAsync(db.Command(InsertAttempt, new
            {
                orphan.EventId, orphan.Endpoint, AttemptedAt = now, StatusCode = (int?)null, Error = "The endpoint is no longer configured.", DurationMs = 0L,
            }, stoppingToken));
            await connection.ExecuteAsync(db.Command(FailOrphan, new { orphan.Id, orphan.Generation }, stoppingToken));
        }

        foreach (var eventId in orphans.Select(orphan => orphan.EventId).Distinct())
        {
            await connection.ExecuteAsync(db.Command(UpdateEventStatus, new { EventId = eventId, Configured = configured.Value }, stoppingToken));
        }

        await db.CommitAsync(stoppingToken);
    }

    /// <summary>
    /// Deliveries in flight at once, and each endpoint's share of them: a hanging endpoint holds only its share,
    /// and every endpoint has at least one slot.
    /// </summary>
    internal static (int Total, int PerEndpoint) Slots(WebhookOptions settings)
    {
        var endpoints = Math.Max(1, settings.Endpoints.Length);
        return (Math.Max(settings.MaxConcurrentDeliveries, endpoints), Math.Max(1, settings.MaxConcurrentDeliveries / endpoints));
    }

    private void Start(DueDelivery delivery, WebhookOptions settings, CancellationToken stoppingToken)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        inFlight[delivery.Id] = new InFlight(delivery.Endpoint, Task.Run(async () =>
        {
            await start.Task;
            try
            {
                await DeliverAsync(delivery, settings, stoppingToken);
            }
            catch (Exception exception)
            {
                // It stays pending, so it is sent again: after a pause, not in a tight loop while the database fails.
                var pause = settings.RetryDelay < CoolDown ? settings.RetryDelay : CoolDown;
                coolingDown[delivery.Id] = clock.Now() + pause;
                LogDeliveryNotRecorded(logger, delivery.EventId, pause, exception);
            }
            finally
            {
                inFlight.TryRemove(delivery.Id, out _);
                quietUntil.TryRemove(delivery.Endpoint, out _);
                signal.Wake(); // a slot is free, and the next event of this subject may be first in line now
            }
        }, CancellationToken.None));
        start.SetResult();
    }

    private async Task DeliverAsync(DueDelivery delivery, WebhookOptions settings, CancellationToken stoppingToken)
    {
        var attempts = new List<Attempt>();
        // Only configured endpoints' deliveries are read (the others are settled at start).
        var endpoint = settings.Find(delivery.Endpoint) ?? throw new InvalidOperationException("A delivery to an endpoint not configured was read.");
        var context = ResilienceContextPool.Shared.Get(stoppingToken);
        bool delivered;
        try
        {
            var outcome = await pipeline.Value.ExecuteOutcomeAsync(
                (attemptContext, state) => state.Dispatcher.SendAsync(state.Delivery, state.Endpoint, state.Attempts, attemptContext.CancellationToken, stoppingToken),
                context,
                (Dispatcher: this, Delivery: delivery, Endpoint: endpoint, Attempts: attempts));
            delivered = outcome.Exception is null && outcome.Result is >= 200 and < 300;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        await RecordAsync(delivery, settings, attempts, delivered, interrupted: stoppingToken.IsCancellationRequested);
    }

    private async ValueTask<Outcome<int>> SendAsync(
        DueDelivery delivery, WebhookEndpoint endpoint, List<Attempt> attempts, CancellationToken attemptToken, CancellationToken stoppingToken)
    {
        var body = Encoding.UTF8.GetBytes(delivery.Payload);
        var attemptedAt = clock.Now();
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.TryAddWithoutValidation(WebhookSignature.Header, WebhookSignature.Create(endpoint.Secret, attemptedAt.ToUnixTimeSeconds(), body));
        request.Headers.TryAddWithoutValidation(WebhookSignature.EventIdHeader, delivery.EventId);
        request.Headers.TryAddWithoutValidation(WebhookSignature.EventTypeHeader, delivery.Type);
        request.Headers.UserAgent.ParseAdd("PaymentSlices-Webhooks/1.0");
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptToken);
            var status = (int)response.StatusCode;
            attempts.Add(new Attempt(attemptedAt, status, status is >= 200 and < 300 ? null : $"The endpoint answered {status}.", Elapsed(started)));
            return Outcome.FromResult(status);
        }
        catch (OperationCanceledException exception) when (stoppingToken.IsCancellationRequested)
        {
            return Outcome.FromException<int>(exception); // shutting down: not the endpoint's failure, not recorded
        }
        catch (OperationCanceledException exception)
        {
            attempts.Add(new Attempt(attemptedAt, null, $"No answer within {options.Value.AttemptTimeout.TotalSeconds:0.###} s.", Elapsed(started)));
            return Outcome.FromException<int>(exception);
        }
        catch (HttpRequestException exception)
        {
            var error = $"{exception.HttpRequestError}: {exception.Message}";
            attempts.Add(new Attempt(attemptedAt, null, error.Length > MaxErrorLength ? error[..MaxErrorLength] : error, Elapsed(started)));
            return Outcome.FromException<int>(exception);
        }
    }

    private async Task RecordAsync(DueDelivery delivery, WebhookOptions settings, List<Attempt> attempts, bool delivered, bool interrupted)
    {
        var now = clock.Now();
        var rounds = interrupted ? 0 : 1;
        // The retry window starts at the first attempt, not when the event was written: an event that waited behind
        // an earlier one of its order still gets the whole window.
        var retryUntil = delivery.Rounds == 0 && attempts.Count > 0 && attempts[0].AttemptedAt + settings.RetryFor > delivery.RetryUntil
            ? attempts[0].AttemptedAt + settings.RetryFor
            : delivery.RetryUntil;
        DateTimeOffset? next = delivered ? null
            : interrupted ? now // resumes at the next start
            : RetrySchedule.Next(delivery.Rounds, retryUntil, now, settings.RetryDelay, settings.MaxRetryDelay, Random.Shared.NextDouble());
        var status = delivered ? "delivered" : next is null ? "failed" : "pending";

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Db>();
        await db.BeginAsync(CancellationToken.None); // what was sent is recorded even while the host stops
        var connection = await db.OpenAsync(CancellationToken.None);
        foreach (var attempt in attempts)
        {
            await connection.ExecuteAsync(db.Command(InsertAttempt, new
            {
                delivery.EventId,
                delivery.Endpoint,
                attempt.AttemptedAt,
                attempt.StatusCode,
                attempt.Error,
                attempt.DurationMs,
            }, CancellationToken.None));
        }

        var updated = await connection.ExecuteAsync(db.Command(UpdateDelivery, new
        {
            delivery.Id,
            delivery.Generation,
            Status = status,
            Attempts = attempts.Count,
            Rounds = rounds,
            NextAttemptAt = next,
            RetryUntil = retryUntil,
            DeliveredAt = delivered ? now : (DateTimeOffset?)null,
            db.Instance,
        }, CancellationToken.None));
        if (updated == 0)
        {
            await connection.ExecuteAsync(db.Command(ReleaseLease, new { delivery.Id, db.Instance }, CancellationToken.None));
        }

        await connection.ExecuteAsync(db.Command(UpdateEventStatus, new { delivery.EventId, Configured = configured.Value }, CancellationToken.None));
        await db.CommitAsync(CancellationToken.None);
        if (updated == 0)
        {
            return; // redelivered meanwhile: the new round decides, and logs, the outcome
        }

        var endpoint = WebhookEndpoint.Display(delivery.Endpoint);
        if (status == "failed")
        {
            LogGaveUp(logger, delivery.EventId, delivery.Type, endpoint, delivery.Rounds + 1);
        }
        else if (!delivered && !interrupted)
        {
            LogRetryScheduled(logger, delivery.EventId, delivery.Type, endpoint, attempts.LastOrDefault()?.Error, next);
        }
    }

    // Settings are read once, at start (IOptions): one pipeline, one list of configured endpoints for the SQL.
    private static ResiliencePipeline<int> BuildPipeline(WebhookOptions settings)
    {
        var builder = new ResiliencePipelineBuilder<int>();
        if (settings.ImmediateRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<int>
            {
                ShouldHandle = arguments => ValueTask.FromResult(arguments.Outcome.Exception is not null || arguments.Outcome.Result is < 200 or >= 300),
                MaxRetryAttempts = settings.ImmediateRetries,
                Delay = settings.ImmediateRetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                MaxDelay = TimeSpan.FromMinutes(1),
            });
        }

        return builder.AddTimeout(new TimeoutStrategyOptions { Timeout = settings.AttemptTimeout }).Build();
    }

    private static long Elapsed(long started) => (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;

    private sealed record InFlight(string Endpoint, Task Task);

    private sealed record Attempt(DateTimeOffset AttemptedAt, int? StatusCode, string? Error, long DurationMs);

    private sealed class DueDelivery
    {
        public long Id { get; init; }
        public string EventId { get; init; } = "";
        public string Endpoint { get; init; } = "";
        public long Generation { get; init; }
        public int Rounds { get; init; }
        public DateTimeOffset RetryUntil { get; init; }
        public string Type { get; set; } = "";
        public string Payload { get; set; } = "";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The webhook dispatcher could not settle deliveries for endpoints no longer configured; it tries again at its next poll")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Webhook endpoint {Endpoint}: nothing due and a slow look; the next in {PollInterval}, or once events for it are written")]
    private static partial void LogQuiet(ILogger logger, WebhookEndpoint endpoint, TimeSpan pollInterval);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The webhook dispatcher could not read due deliveries; it tries again at its next poll")]
    private static partial void LogDispatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook event {EventId}: the delivery's outcome could not be recorded; it stays pending and is sent again in {Pause}")]
    private static partial void LogDeliveryNotRecorded(ILogger logger, string eventId, TimeSpan pause, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook event {EventId} ({EventType}) to {Endpoint} failed ({Error}); next round at {NextAttemptAt}")]
    private static partial void LogRetryScheduled(ILogger logger, string eventId, string eventType, string endpoint, string? error, DateTimeOffset? nextAttemptAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook event {EventId} ({EventType}) to {Endpoint} failed after {Rounds} rounds; it is marked failed and can be redelivered")]
    private static partial void LogGaveUp(ILogger logger, string eventId, string eventType, string endpoint, int rounds);
}

/// <summary>When a delivery whose round failed is tried again: the delay doubles each round from the first retry's, with ±20% jitter, up to the longest; the last round falls at the window's end; past it, never (the delivery fails).</summary>
internal static class RetrySchedule
{
    /// <param name="rounds">Failed rounds before this one.</param>
    /// <param name="windowEnd">The end of the retry window.</param>
    /// <param name="now">When this round failed.</param>
    /// <param name="retryDelay">The first retry's delay.</param>
    /// <param name="maxRetryDelay">The longest delay.</param>
    /// <param name="random">A number in [0, 1) for the jitter.</param>
    public static DateTimeOffset? Next(int rounds, DateTimeOffset windowEnd, DateTimeOffset now, TimeSpan retryDelay, TimeSpan maxRetryDelay, double random)
    {
        if (now >= windowEnd)
        {
            return null;
        }

        var delay = Math.Min(retryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(rounds, 30)), maxRetryDelay.TotalMilliseconds);
        var next = now + TimeSpan.FromMilliseconds(delay * (0.8 + (0.4 * random)));
        return next < windowEnd ? next : windowEnd;
    }
}

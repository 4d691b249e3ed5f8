using Dapper;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.ThreeDSecure;

/// <summary>How often payments left in 3-D Secure are checked for expiry (<c>ThreeDSecure:SweepInterval</c>).</summary>
public sealed class ThreeDSecureOptions
{
    public const string Section = "ThreeDSecure";

    /// <summary>A payment left in 3-D Secure fails at most this long after its 15 minutes run out.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Fails the payments whose cardholder did not complete 3-D Secure within 15 minutes
/// (<c>authentication_expired</c>) and makes their orders payable again.
/// </summary>
public sealed class ThreeDSecureExpiry(
    IServiceScopeFactory scopes, IOptions<ThreeDSecureOptions> options, TimeProvider clock, ILogger<ThreeDSecureExpiry> logger)
    : PeriodicWriteJob(scopes, logger)
{
    private const string SelectExpired = "SELECT * FROM payments WHERE status = 'requires_action' AND created_at <= @Cutoff";

    protected override TimeSpan Interval => options.Value.SweepInterval;

    public Task<int> ExpireAsync(CancellationToken cancellationToken) => RunOnceAsync(cancellationToken);

    protected override async Task<int> RunAsync(IServiceProvider services, Db db, System.Data.Common.DbConnection connection, CancellationToken cancellationToken)
    {
        var now = clock.Now();
        var expired = (await connection.QueryAsync<PaymentRow>(db.Command(SelectExpired, new { Cutoff = now - Kernel.ThreeDSecure.Window }, cancellationToken))).ToList();
        var outbox = services.GetRequiredService<Outbox>();
        foreach (var payment in expired)
        {
            await ThreeDSecure.Resolve(db, connection, outbox, payment, ThreeDSecure.Outcome.Expired, now, cancellationToken);
        }

        return expired.Count;
    }
}

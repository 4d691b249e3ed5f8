using Dapper;

namespace PaymentSlices.Api.Database;

/// <summary>
/// The statements that release every lease of one kind (an Idempotency-Key's, a webhook delivery's). On SQLite one
/// instance owns the database file, so leases left by an earlier run of it (killed mid-request) can be held by no one: they
/// are released at start, before the first request, and a retry continues at once. On PostgreSQL another instance may
/// hold them: they run out by themselves.
/// </summary>
public sealed class LeftoverLeases(string releaseAll)
{
    public string ReleaseAll { get; } = releaseAll;
}

public static class LeftoverLeasesRegistration
{
    public static IServiceCollection AddLeftoverLeases(this IServiceCollection services, string releaseAll) =>
        services.AddSingleton(new LeftoverLeases(releaseAll));

    public static async Task ReleaseLeftoverLeasesAsync(this IServiceProvider services)
    {
        if (services.GetRequiredService<DbConnectionFactory>().Provider != DatabaseProvider.Sqlite)
        {
            return;
        }

        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Db>();
        await db.BeginAsync(CancellationToken.None);
        var connection = await db.OpenAsync(CancellationToken.None);
        foreach (var leases in services.GetServices<LeftoverLeases>())
        {
            await connection.ExecuteAsync(db.Command(leases.ReleaseAll, null, CancellationToken.None));
        }

        await db.CommitAsync(CancellationToken.None);
    }
}

using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace PaymentSlices.Api.Database;

/// <summary>
/// Ready, on PostgreSQL, means the server answers on the service's pool within two seconds, takes writes (not a read-only
/// standby, not a read-only default transaction), and the database's schema is the one this build migrated it to.
/// Nothing is written.
/// </summary>
public sealed class PostgresHealthCheck(DbConnectionFactory factory) : IHealthCheck
{
    private const string Probe = """
        SELECT pg_is_in_recovery() AS in_recovery,
               current_setting('transaction_read_only') = 'on' AS read_only,
               (SELECT MAX(version) FROM schema_migrations) AS version
        """;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await using var connection = await factory.OpenReadAsync(timeout.Token);
            var state = await connection.QuerySingleAsync<ServerState>(new CommandDefinition(Probe, cancellationToken: timeout.Token));
            if (state.InRecovery || state.ReadOnly)
            {
                return HealthCheckResult.Unhealthy("The database cannot be written: PostgreSQL is a read-only standby or read-only by default.");
            }

            return state.Version == Migrator.LatestVersion
                ? HealthCheckResult.Healthy("PostgreSQL answers, takes writes and has this service's schema.")
                : HealthCheckResult.Unhealthy(
                    $"The database's schema is at migration {state.Version?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}; this service migrated it to {Migrator.LatestVersion}.");
        }
        catch (PostgresException error) when (error.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return HealthCheckResult.Unhealthy("The database's schema is at migration none (schema_migrations is missing).");
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.");
        }
    }

    private sealed class ServerState
    {
        public bool InRecovery { get; init; }

        public bool ReadOnly { get; init; }

        public long? Version { get; init; }
    }
}

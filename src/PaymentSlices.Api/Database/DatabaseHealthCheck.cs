using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace PaymentSlices.Api.Database;

/// <summary>Ready means the database answers a query.</summary>
public sealed class DatabaseHealthCheck(DbConnectionFactory factory) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await factory.OpenAsync(cancellationToken);
            await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT 1", cancellationToken: cancellationToken));
            return HealthCheckResult.Healthy("The database answers.");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.");
        }
    }
}

public static class Health
{
    /// <summary><c>{"status":"Healthy","checks":{"database":"Healthy"}}</c>; 503 when unhealthy.</summary>
    public static Task WriteAsync(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(entry => entry.Key, entry => entry.Value.Status.ToString()),
        });
}

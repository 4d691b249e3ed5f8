using System.Globalization;
using System.Reflection;
using Dapper;

namespace PaymentSlices.Api.Database;

/// <summary>
/// Applies the numbered migrations (<c>Migrations/0001_*.sql</c>, embedded) that the database has not
/// recorded in <c>schema_migrations</c>, each in its own transaction, at start-up.
/// </summary>
public sealed partial class Migrator(DbConnectionFactory factory, TimeProvider clock, ILogger<Migrator> logger)
{
    private const string CreateLedger = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )
        """;

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await factory.OpenAsync(cancellationToken);
        // WAL lets readers run while the one writer writes; the setting is kept in the database file.
        await connection.ExecuteAsync(new CommandDefinition("PRAGMA journal_mode = WAL;", cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(CreateLedger, cancellationToken: cancellationToken));

        foreach (var (version, name, sql) in Migrations())
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var applied = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT COUNT(*) FROM schema_migrations WHERE version = @version", new { version }, transaction, cancellationToken: cancellationToken));
            if (applied > 0)
            {
                continue;
            }

            await connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @appliedAt)",
                new { version, name, appliedAt = clock.GetUtcNow() }, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            LogApplied(logger, version, name);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Version} {Name}")]
    private static partial void LogApplied(ILogger logger, int version, string name);

    private static IEnumerable<(int Version, string Name, string Sql)> Migrations()
    {
        var assembly = Assembly.GetExecutingAssembly();
        const string prefix = "PaymentSlices.Api.Database.Migrations.";
        return assembly.GetManifestResourceNames()
            .Where(resource => resource.StartsWith(prefix, StringComparison.Ordinal) && resource.EndsWith(".sql", StringComparison.Ordinal))
            .Select(resource =>
            {
                var name = resource[prefix.Length..^".sql".Length];
                using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
                return (int.Parse(name.Split('_')[0], CultureInfo.InvariantCulture), name, reader.ReadToEnd());
            })
            .OrderBy(migration => migration.Item1);
    }
}

public static class DatabaseRegistration
{
    public const string ConnectionStringName = "PaymentSlices";

    public static IServiceCollection AddDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionStringName} is not set (environment ConnectionStrings__{ConnectionStringName}), e.g. 'Data Source=paymentslices.db'.");
        }

        TimestampHandler.Register();
        services.AddSingleton(new DbConnectionFactory(connectionString));
        services.AddSingleton<WriteGate>();
        services.AddSingleton<Migrator>();
        // A hosted service: it runs after configuration is validated and before the server takes requests.
        services.AddHostedService<MigrateOnStart>();
        services.AddScoped<Db>();
        return services;
    }

    private sealed class MigrateOnStart(Migrator migrator) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => migrator.MigrateAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

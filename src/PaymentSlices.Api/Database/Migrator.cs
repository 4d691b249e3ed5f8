using System.Data.Common;
using System.Globalization;
using System.Reflection;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Database;

/// <summary>
/// Applies the provider's numbered migrations (<c>Migrations/Sqlite/0001_*.sql</c>, <c>Migrations/PostgreSql/0006_*.sql</c>,
/// embedded) that the database has not recorded in <c>schema_migrations</c>, each in its own transaction, at start-up. On
/// PostgreSQL each transaction first takes an advisory lock, so that instances starting at once apply each migration once:
/// the second waits, then finds it recorded.
/// </summary>
public sealed partial class Migrator(DbConnectionFactory factory, TimeProvider clock, ILogger<Migrator> logger)
{
    // Any constant: the lock only has to be the same number in every instance of this service.
    private const long MigrationLock = 0x5061796d656e7453; // "PaymentS"

    private const string CreateLedger = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )
        """;

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await factory.OpenAsync(cancellationToken);
        if (factory.Provider == DatabaseProvider.Sqlite)
        {
            // WAL lets readers run while the one writer writes; the setting is kept in the database file.
            await connection.ExecuteAsync(new CommandDefinition("PRAGMA journal_mode = WAL;", cancellationToken: cancellationToken));
        }

        await using (var transaction = await BeginLockedAsync(connection, cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition(CreateLedger, transaction: transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
        }

        foreach (var (version, name, sql) in Migrations(factory.Provider))
        {
            await using var transaction = await BeginLockedAsync(connection, cancellationToken);
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

    /// <summary>A transaction that holds the migration lock until it ends (PostgreSQL; SQLite's file has one writer).</summary>
    private async Task<DbTransaction> BeginLockedAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (factory.Provider == DatabaseProvider.PostgreSql)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "SELECT pg_advisory_xact_lock(@MigrationLock)", new { MigrationLock }, transaction, cancellationToken: cancellationToken));
        }

        return transaction;
    }

    /// <summary>
    /// The highest migration this build embeds: the schema version of a database it has migrated. Both providers' sets
    /// end at the same version (a test holds them to it).
    /// </summary>
    public static int LatestVersion { get; } = Migrations(DatabaseProvider.Sqlite).Last().Version;

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied migration {Version} {Name}")]
    private static partial void LogApplied(ILogger logger, int version, string name);

    public static IEnumerable<(int Version, string Name, string Sql)> Migrations(DatabaseProvider provider)
    {
        var assembly = Assembly.GetExecutingAssembly();
        var prefix = $"PaymentSlices.Api.Database.Migrations.{provider}.";
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

    public const string ProviderSetting = "Database:Provider";

    public static IServiceCollection AddDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        TimestampHandler.Register();
        if (CheckedProvider(configuration) == DatabaseProvider.PostgreSql)
        {
            var connectionString = CheckedPostgresConnectionString(configuration);
            services.AddSingleton<DbConnectionFactory>(_ => new PostgresConnectionFactory(connectionString)); // owned: disposed with the container
            services.AddSingleton<IWriteTurns, PostgresWriteTurns>();
            services.AddHealthChecks().AddCheck<PostgresHealthCheck>("database", tags: ["ready"]);
        }
        else
        {
            var connectionString = CheckedSqliteConnectionString(configuration);
            services.AddSingleton<DbConnectionFactory>(_ => new SqliteConnectionFactory(connectionString)); // owned: its kept read connections close with the container
            services.AddSingleton<GroupCommit>();
            services.AddSingleton<IWriteTurns>(provider => provider.GetRequiredService<GroupCommit>());
            services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        }

        services.AddSingleton<Migrator>();
        services.AddScoped<Db>();
        return services;
    }

    private const string Setting = $"ConnectionStrings:{ConnectionStringName} (environment ConnectionStrings__{ConnectionStringName})";

    private static DatabaseProvider CheckedProvider(IConfiguration configuration)
    {
        var value = configuration[ProviderSetting];
        if (string.IsNullOrWhiteSpace(value))
        {
            return DatabaseProvider.Sqlite;
        }

        return Enum.TryParse<DatabaseProvider>(value, ignoreCase: true, out var provider) && Enum.IsDefined(provider)
            ? provider
            : throw new InvalidConfigurationException(
                $"{ProviderSetting} (environment Database__Provider) is '{value}'; it must be Sqlite (the default) or PostgreSql.");
    }

    private static string CheckedPostgresConnectionString(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ConnectionStringName);
        const string example = "'Host=db;Port=5432;Database=paymentslices;Username=paymentslices;Password=...'";
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidConfigurationException($"{Setting} is not set; with {ProviderSetting}=PostgreSql set it to e.g. {example}.");
        }

        NpgsqlConnectionStringBuilder parsed;
        try
        {
            parsed = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception error) when (error is ArgumentException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            throw new InvalidConfigurationException($"{Setting} is not a valid PostgreSQL (Npgsql) connection string: {error.Message}");
        }

        return string.IsNullOrWhiteSpace(parsed.Host)
            ? throw new InvalidConfigurationException($"{Setting} has no Host; with {ProviderSetting}=PostgreSql set it to e.g. {example}.")
            : connectionString;
    }

    /// <summary>The connection string, or a start-up error naming the setting: unset, unparsable, or a file in a folder that does not exist.</summary>
    private static string CheckedSqliteConnectionString(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidConfigurationException($"{Setting} is not set; set it to e.g. 'Data Source=/data/paymentslices.db'.");
        }

        SqliteConnectionStringBuilder parsed;
        try
        {
            parsed = new SqliteConnectionStringBuilder(connectionString);
        }
        catch (Exception error) when (error is ArgumentException or FormatException or InvalidOperationException)
        {
            // The parser's message names the keyword, never the whole string (which may hold a password).
            throw new InvalidConfigurationException($"{Setting} is not a valid SQLite connection string: {error.Message}");
        }

        var file = parsed.DataSource;
        if (string.IsNullOrWhiteSpace(file))
        {
            throw new InvalidConfigurationException($"{Setting} has no Data Source; set it to e.g. 'Data Source=/data/paymentslices.db'.");
        }

        if (file != ":memory:" && !file.StartsWith("file:", StringComparison.OrdinalIgnoreCase) && parsed.Mode != SqliteOpenMode.Memory)
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(file));
            if (folder is not null && !Directory.Exists(folder))
            {
                throw new InvalidConfigurationException($"{Setting}: the folder of Data Source '{file}' ({folder}) does not exist; create it or mount a volume there.");
            }
        }

        return connectionString;
    }

    /// <summary>
    /// Applies the migrations; a database that cannot be opened for writing is a start-up error naming the setting.
    /// Program runs it once, before the host starts (the tests' factory runs Program too).
    /// </summary>
    public static async Task MigrateDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        try
        {
            await services.GetRequiredService<Migrator>().MigrateAsync(cancellationToken);
        }
        catch (SqliteException error) when (error.SqliteErrorCode is 14 /* SQLITE_CANTOPEN */ or 8 /* SQLITE_READONLY */ or 23 /* SQLITE_AUTH */)
        {
            throw new InvalidConfigurationException(
                $"{Setting}: the database '{services.GetRequiredService<DbConnectionFactory>().DataSource}' cannot be opened for writing ({error.Message}). " +
                "Check the path and that the service's user may write the folder.", error);
        }
        catch (NpgsqlException error) when (error is not PostgresException || ((PostgresException)error).SqlState is "3D000" or "28P01" or "28000" or "42501")
        {
            // Unreachable, no such database, a wrong password or role, no right to create tables: the operator's to fix.
            throw new InvalidConfigurationException(
                $"{Setting}: PostgreSQL '{services.GetRequiredService<DbConnectionFactory>().DataSource}' cannot be migrated ({error.Message}). " +
                "Check the host, the database (it must exist), the user and its password.", error);
        }
    }
}

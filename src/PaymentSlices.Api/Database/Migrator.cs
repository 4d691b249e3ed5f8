using System.Globalization;
using System.Reflection;
using Dapper;
using Microsoft.Data.Sqlite;
using PaymentSlices.Api.Pipeline;

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

    /// <summary>The highest migration this build embeds: the schema version of a database it has migrated.</summary>
    public static int LatestVersion { get; } = Migrations().Last().Version;

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
        var connectionString = CheckedConnectionString(configuration);

        TimestampHandler.Register();
        services.AddSingleton(new DbConnectionFactory(connectionString));
        services.AddSingleton<GroupCommit>();
        services.AddSingleton<Migrator>();
        services.AddScoped<Db>();
        return services;
    }

    private const string Setting = $"ConnectionStrings:{ConnectionStringName} (environment ConnectionStrings__{ConnectionStringName})";

    /// <summary>The connection string, or a start-up error naming the setting: unset, unparsable, or a file in a folder that does not exist.</summary>
    private static string CheckedConnectionString(IConfiguration configuration)
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
    }
}

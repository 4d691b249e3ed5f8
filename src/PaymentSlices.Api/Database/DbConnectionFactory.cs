using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace PaymentSlices.Api.Database;

/// <summary>Which database the service runs on (<c>Database:Provider</c>, env <c>Database__Provider</c>).</summary>
public enum DatabaseProvider
{
    /// <summary>One file, nothing to set up: one instance.</summary>
    Sqlite,

    /// <summary>A PostgreSQL server: several instances on one database.</summary>
    PostgreSql,
}

/// <summary>Opens the provider's connections with the settings every connection needs.</summary>
public abstract class DbConnectionFactory(string connectionString)
{
    public abstract DatabaseProvider Provider { get; }

    public string ConnectionString { get; } = connectionString;

    /// <summary>This process, as the holder of the leases it takes (on Idempotency-Keys, on webhook deliveries).</summary>
    public string Instance { get; } = Kernel.Ids.New("instance");

    /// <summary>What the connection string points at, for messages; never the string itself (it may hold a password).</summary>
    public abstract string DataSource { get; }

    /// <summary>A connection for writes, migrations and background jobs.</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A connection for reads only.</summary>
    public abstract Task<DbConnection> OpenReadAsync(CancellationToken cancellationToken);

    /// <summary>The slices' SQL as this provider takes it (see <see cref="PostgresConnectionFactory"/>); SQLite takes it as written.</summary>
    public virtual string Dialect(string sql) => sql;
}

public sealed class SqliteConnectionFactory(string connectionString) : DbConnectionFactory(connectionString)
{
    // synchronous=FULL: an acknowledged payment survives power loss (WAL's default NORMAL may lose the
    // last commits). foreign_keys and busy_timeout are per connection in SQLite, so they are set on each.
    private const string ConnectionPragmas = "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;";

    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;

    public override string DataSource { get; } = new SqliteConnectionStringBuilder(connectionString).DataSource;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(ConnectionPragmas, cancellationToken: cancellationToken));
        return connection;
    }

    /// <summary>
    /// No PRAGMAs: a reader needs neither foreign_keys nor synchronous (both concern writes), and in WAL a reader waits
    /// for no lock; in the rare case SQLite still says busy (WAL recovery), Microsoft.Data.Sqlite retries the statement
    /// itself until the command timeout (30 s), busy_timeout or not.
    /// </summary>
    public override async Task<DbConnection> OpenReadAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}

/// <summary>PostgreSQL through one pooled <see cref="NpgsqlDataSource"/> for the process.</summary>
public sealed partial class PostgresConnectionFactory(string connectionString) : DbConnectionFactory(connectionString), IDisposable
{
    private readonly NpgsqlDataSource source = NpgsqlDataSource.Create(connectionString);

    public override DatabaseProvider Provider => DatabaseProvider.PostgreSql;

    public override string DataSource { get; } = Describe(connectionString);

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => await source.OpenConnectionAsync(cancellationToken);

    public override Task<DbConnection> OpenReadAsync(CancellationToken cancellationToken) => OpenAsync(cancellationToken);

    public void Dispose() => source.Dispose();

    /// <summary>
    /// Dapper expands a list parameter (<c>id IN @Ids</c>) into one parameter per item on SQLite, but hands Npgsql the list
    /// as one array parameter, which <c>IN</c> cannot take: on PostgreSQL the slices' <c>IN @Ids</c> is sent as
    /// <c>= ANY(@Ids)</c> and <c>NOT IN @Ids</c> as <c>&lt;&gt; ALL(@Ids)</c>. Each statement is rewritten once.
    /// </summary>
    public override string Dialect(string sql) => dialect.GetOrAdd(sql, static text =>
        InList().Replace(text, match => match.Groups["not"].Success ? $"<> ALL({match.Groups["list"].Value})" : $"= ANY({match.Groups["list"].Value})"));

    private readonly ConcurrentDictionary<string, string> dialect = new();

    [GeneratedRegex(@"\b(?<not>NOT\s+)?IN\s+(?<list>@\w+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex InList();

    private static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{builder.Database ?? builder.Username ?? "postgres"} on {builder.Host}:{builder.Port}";
    }
}

using System.Collections.Concurrent;
using System.Data.Common;
using System.Runtime.CompilerServices;
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
public abstract class DbConnectionFactory(string connectionString) : IDisposable
{
    public abstract DatabaseProvider Provider { get; }

    public string ConnectionString { get; } = connectionString;

    /// <summary>This process, as the holder of the leases it takes (on Idempotency-Keys, on webhook deliveries).</summary>
    public string Instance { get; } = Kernel.Ids.Random("instance");

    /// <summary>What the connection string points at, for messages; never the string itself (it may hold a password).</summary>
    public abstract string DataSource { get; }

    /// <summary>A connection for writes, migrations and background jobs.</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A connection for reads only; give it back with <see cref="ReleaseReadAsync"/>.</summary>
    public abstract Task<DbConnection> OpenReadAsync(CancellationToken cancellationToken);

    /// <summary>Gives back a connection from <see cref="OpenReadAsync"/>: closed, or kept for the next reader.</summary>
    public virtual ValueTask ReleaseReadAsync(DbConnection connection) => connection.DisposeAsync();

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>The slices' SQL as this provider takes it (see <see cref="PostgresConnectionFactory"/>); SQLite takes it as written.</summary>
    public virtual string Dialect(string sql) => sql;
}

public sealed class SqliteConnectionFactory(string connectionString) : DbConnectionFactory(connectionString)
{
    // synchronous=FULL: an acknowledged payment survives power loss (WAL's default NORMAL may lose the
    // last commits). foreign_keys and busy_timeout are per connection in SQLite, so they are set on each.
    // cache_size: SQLite's default (2 MB), set again because a connection may reuse the handle of a read connection
    // (Microsoft.Data.Sqlite pools handles), whose cache is smaller.
    private const string ConnectionPragmas = "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA cache_size = -2000; " + BusyTimeoutPragma;

    /// <summary>The busy_timeout every writing connection sets (5 s).</summary>
    public const string BusyTimeoutPragma = "PRAGMA busy_timeout = 5000;";

    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;

    public override string DataSource { get; } = new SqliteConnectionStringBuilder(connectionString).DataSource;

    /// <summary>Read connections kept open between requests, each with the statements it prepared (<see cref="StatementKeepingConnection"/>).</summary>
    public const int MaxIdleReaders = 32;

    /// <summary>A read connection's own page cache (256 KiB). Small: a commit by the writer empties it anyway, and the OS caches the file.</summary>
    private const string ReaderPragmas = "PRAGMA cache_size = -256;";

    private readonly Stack<StatementKeepingConnection> idleReaders = new();
    private readonly StrongBox<long> prepared = new();
    private bool disposed;

    /// <summary>Statements prepared so far by this factory's connections (each keeps what it prepared).</summary>
    public long StatementsPrepared => Interlocked.Read(ref prepared.Value);

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => await OpenAsync(ConnectionPragmas, cancellationToken);

    /// <summary>
    /// A kept read connection, or a new one. No PRAGMAs but the cache size: a reader needs neither foreign_keys nor
    /// synchronous (both concern writes), and in WAL a reader waits for no lock; in the rare case SQLite still says busy
    /// (WAL recovery), Microsoft.Data.Sqlite retries the statement itself until the command timeout (30 s), busy_timeout or not.
    /// </summary>
    public override async Task<DbConnection> OpenReadAsync(CancellationToken cancellationToken)
    {
        lock (idleReaders)
        {
            if (idleReaders.TryPop(out var idle))
            {
                return idle;
            }
        }

        return await OpenAsync(ReaderPragmas, cancellationToken);
    }

    private async Task<StatementKeepingConnection> OpenAsync(string pragmas, CancellationToken cancellationToken)
    {
        var connection = new StatementKeepingConnection(ConnectionString, prepared);
        await connection.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(pragmas, cancellationToken: cancellationToken));
        return connection;
    }

    /// <summary>Keeps the connection for the next reader, up to <see cref="MaxIdleReaders"/>; closes it otherwise.</summary>
    public override ValueTask ReleaseReadAsync(DbConnection connection)
    {
        // A connection still running a statement (a caller that kept a reader open) is closed, never handed on.
        if (connection is StatementKeepingConnection { State: System.Data.ConnectionState.Open, Idle: true } reader)
        {
            lock (idleReaders)
            {
                if (!disposed && idleReaders.Count < MaxIdleReaders)
                {
                    idleReaders.Push(reader);
                    return ValueTask.CompletedTask;
                }
            }
        }

        return connection.DisposeAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (idleReaders)
            {
                disposed = true;
                while (idleReaders.TryPop(out var reader))
                {
                    reader.Dispose();
                }
            }
        }

        base.Dispose(disposing);
    }
}

/// <summary>PostgreSQL through one pooled <see cref="NpgsqlDataSource"/> for the process.</summary>
public sealed partial class PostgresConnectionFactory(string connectionString) : DbConnectionFactory(connectionString)
{
    private readonly NpgsqlDataSource source = NpgsqlDataSource.Create(connectionString);

    public override DatabaseProvider Provider => DatabaseProvider.PostgreSql;

    public override string DataSource { get; } = Describe(connectionString);

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => await source.OpenConnectionAsync(cancellationToken);

    public override Task<DbConnection> OpenReadAsync(CancellationToken cancellationToken) => OpenAsync(cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            source.Dispose();
        }

        base.Dispose(disposing);
    }

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

using System.Globalization;
using System.Runtime.InteropServices;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using SQLitePCL;

namespace PaymentSlices.Api.Database;

/// <summary>
/// Ready means the database takes the service's writes: its files and folder may be written, it opens, its schema is the
/// one this build migrated it to, and SQLite takes a write (rolled back). A read-only file, folder or volume fails, and
/// so does a database recreated empty, restored from an older backup or migrated by a newer build. Nothing is written,
/// and nothing waits for the service's writer.
/// </summary>
public sealed class DatabaseHealthCheck(DbConnectionFactory factory) : IHealthCheck
{
    // ReadWrite, not ReadWriteCreate: a missing file is not created. Not pooled, so each probe opens the file anew. Reads
    // (WAL) never wait for the writer; the timeout only bounds a rare busy read.
    private readonly string probe = ProbeConnectionString(factory.ConnectionString);

    // The database's file; null for an in-memory database or a URI file name, which have no path to ask about.
    private readonly string? file = DatabaseFile(factory.ConnectionString);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (UnwritablePath() is { } path)
            {
                return HealthCheckResult.Unhealthy($"The database cannot be written: {path} is read-only.");
            }

            await using var connection = new SqliteConnection(probe);
            await connection.OpenAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition("PRAGMA busy_timeout = 0", cancellationToken: cancellationToken));

            var version = await SchemaVersionAsync(connection, cancellationToken);
            if (version != Migrator.LatestVersion)
            {
                return HealthCheckResult.Unhealthy(
                    $"The database's schema is at migration {(version is null ? "none (schema_migrations is missing or empty)" : version)}; this service migrated it to {Migrator.LatestVersion}.");
            }

            var userVersion = await connection.ExecuteScalarAsync<long>(new CommandDefinition("PRAGMA user_version", cancellationToken: cancellationToken));
            return WriteProbe(connection, userVersion) switch
            {
                raw.SQLITE_OK => HealthCheckResult.Healthy("The database takes writes and has this service's schema."),
                // Held by the service's writer (a payment in progress): the database is being written, which is the answer.
                raw.SQLITE_BUSY => HealthCheckResult.Healthy("The database takes writes (the write lock is held) and has this service's schema."),
                raw.SQLITE_READONLY => HealthCheckResult.Unhealthy("The database cannot be written: SQLite opened it read-only."),
                var code => HealthCheckResult.Unhealthy($"The database refuses a write ({raw.sqlite3_errstr(code).utf8_to_string()})."),
            };
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database does not answer.");
        }
    }

    /// <summary>
    /// The database file, its write-ahead log and index, or its folder (where SQLite creates them), when this process may
    /// not write it, as the kernel answers for permission bits, the immutable attribute and read-only mounts alike (root
    /// included). Asked with access(2), never by opening a file: closing a descriptor of the database would drop the
    /// POSIX locks SQLite holds on it in this process. And SQLite's own answer is not enough here, because it reuses
    /// descriptors this process opened while the file was still writable.
    /// </summary>
    private string? UnwritablePath()
    {
        if (OperatingSystem.IsWindows() || file is null)
        {
            return null;
        }

        string[] paths = [file, file + "-wal", file + "-shm", Path.GetDirectoryName(file)!];
        return paths.FirstOrDefault(path => (File.Exists(path) || Directory.Exists(path)) && Access(path, WriteOk) != 0);
    }

    private const int WriteOk = 2; // W_OK

    [DllImport("libc", EntryPoint = "access")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Access([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int mode);

    private static string? DatabaseFile(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        return builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:" || builder.DataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase)
            ? null
            : Path.GetFullPath(builder.DataSource);
    }

    private static string ProbeConnectionString(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString) { Pooling = false, DefaultTimeout = 2 };
        if (builder.Mode == SqliteOpenMode.ReadWriteCreate)
        {
            builder.Mode = SqliteOpenMode.ReadWrite;
        }

        return builder.ToString();
    }

    private static async Task<long?> SchemaVersionAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            return await connection.ExecuteScalarAsync<long?>(new CommandDefinition("SELECT MAX(version) FROM schema_migrations", cancellationToken: cancellationToken));
        }
        catch (SqliteException error) when (error.SqliteErrorCode == raw.SQLITE_ERROR)
        {
            return null; // no such table: a database that was never migrated
        }
    }

    /// <summary>
    /// BEGIN IMMEDIATE, a page write (the header's user_version set to itself), ROLLBACK: nothing reaches the file. The
    /// write is the test, because in WAL mode BEGIN IMMEDIATE alone succeeds on a read-only file. Run through SQLite
    /// itself, since Microsoft.Data.Sqlite would retry a busy answer for whole seconds; with busy_timeout 0 the probe never
    /// waits behind (or holds up) the service's writer.
    /// </summary>
    private static int WriteProbe(SqliteConnection connection, long userVersion)
    {
        var code = raw.sqlite3_exec(connection.Handle, "BEGIN IMMEDIATE");
        if (code == raw.SQLITE_OK)
        {
            code = raw.sqlite3_exec(connection.Handle, $"PRAGMA user_version = {userVersion.ToString(CultureInfo.InvariantCulture)}");
            raw.sqlite3_exec(connection.Handle, "ROLLBACK");
        }

        return code & 0xFF; // the primary result code (SQLITE_READONLY_* are extended forms of SQLITE_READONLY)
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

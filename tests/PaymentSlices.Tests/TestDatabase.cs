using System.Data.Common;
using System.Text;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests;

/// <summary>The test project's databases, of its provider: made, opened, broken and dropped the same way from every test.</summary>
/// <remarks>The PostgreSQL test project compiles the same sources with <c>POSTGRESQL</c> defined.</remarks>
public static class TestDatabase
{
#if POSTGRESQL
    public static DatabaseProvider Provider { get; } = DatabaseProvider.PostgreSql;
#else
    public static DatabaseProvider Provider { get; } = DatabaseProvider.Sqlite;
#endif

    private const string SqliteFolderPrefix = "paymentslices-tests-";

    /// <summary>The value of the service's <c>Database:Provider</c> setting for this project's provider.</summary>
    public static string SettingValue => Provider.ToString();

    /// <summary>A new, empty database of its own: a SQLite file in a temporary folder, or a PostgreSQL database.</summary>
    public static string Create() => Provider == DatabaseProvider.PostgreSql
        ? PostgresServer.CreateDatabase()
        : $"Data Source={Path.Combine(Directory.CreateTempSubdirectory(SqliteFolderPrefix).FullName, "paymentslices.db")}";

    /// <summary>Deletes the database (its folder, for SQLite), closing the test's pooled connections to it first.</summary>
    public static void Delete(string connectionString)
    {
        if (Provider == DatabaseProvider.PostgreSql)
        {
            PostgresServer.DropDatabase(connectionString);
            return;
        }

        SqliteConnection.ClearAllPools();
        var folder = Path.GetDirectoryName(SqlitePath(connectionString))!;
        if (!Path.GetFileName(folder).StartsWith(SqliteFolderPrefix, StringComparison.Ordinal))
        {
            return; // not a folder this class made
        }

        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a pooled connection is left to the OS's temp clean-up.
        }
    }

    /// <summary>An open connection of the provider's kind.</summary>
    public static async Task<DbConnection> OpenAsync(string connectionString)
    {
        DbConnection connection = Provider == DatabaseProvider.PostgreSql ? new NpgsqlConnection(connectionString) : new SqliteConnection(connectionString);
        await connection.OpenAsync();
        return connection;
    }

    public static async Task<T> ScalarAsync<T>(string connectionString, string sql, object? parameters = null)
    {
        await using var connection = await OpenAsync(connectionString);
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    public static async Task<List<T>> QueryAsync<T>(string connectionString, string sql, object? parameters = null)
    {
        await using var connection = await OpenAsync(connectionString);
        return (await connection.QueryAsync<T>(sql, parameters)).ToList();
    }

    public static async Task<int> ExecuteAsync(string connectionString, string sql, object? parameters = null)
    {
        await using var connection = await OpenAsync(connectionString);
        return await connection.ExecuteAsync(sql, parameters);
    }

    /// <summary>
    /// "Is one of the list <paramref name="parameter"/>" in the provider's SQL: Dapper expands <c>IN @list</c> into one
    /// parameter per item for SQLite, but hands Npgsql the list as one array parameter, which PostgreSQL compares with ANY.
    /// </summary>
    public static string InList(string parameter) => Provider == DatabaseProvider.PostgreSql ? $"= ANY({parameter})" : $"IN {parameter}";

    /// <summary>The SQLite database file named in the connection string.</summary>
    public static string SqlitePath(string connectionString) => Provider == DatabaseProvider.Sqlite
        ? new SqliteConnectionStringBuilder(connectionString).DataSource
        : throw new InvalidOperationException("A PostgreSQL database has no file of its own: this test is for SQLite only.");

    /// <summary>
    /// A trigger that makes the database refuse a write (<paramref name="operation"/> INSERT or UPDATE on
    /// <paramref name="table"/>, when <paramref name="condition"/> holds, if given) with <paramref name="message"/>, as a
    /// full disk or a broken constraint would; disposing it drops the trigger.
    /// </summary>
    public static async Task<IAsyncDisposable> RefuseWritesAsync(string connectionString, string table, string operation, string? condition, string message)
    {
        var name = $"refuse_{table}_{Guid.NewGuid().ToString("N")[..8]}";
        if (Provider == DatabaseProvider.PostgreSql)
        {
            await ExecuteAsync(connectionString, $"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN RAISE EXCEPTION '{message}'; END $body$");
            await ExecuteAsync(connectionString,
                $"CREATE TRIGGER {name} BEFORE {operation} ON {table} FOR EACH ROW {(condition is null ? "" : $"WHEN ({condition})")} EXECUTE FUNCTION {name}()");
            return new Undo(async () =>
            {
                await ExecuteAsync(connectionString, $"DROP TRIGGER {name} ON {table}");
                await ExecuteAsync(connectionString, $"DROP FUNCTION {name}()");
            });
        }

        await ExecuteAsync(connectionString,
            $"CREATE TRIGGER {name} BEFORE {operation} ON {table} {(condition is null ? "" : $"WHEN {condition}")} BEGIN SELECT RAISE(ABORT, '{message}'); END");
        return new Undo(() => ExecuteAsync(connectionString, $"DROP TRIGGER {name}"));
    }

    /// <summary>
    /// Takes the database away from the service, as a lost volume or a stopped server would (SQLite: its folder moves;
    /// PostgreSQL: it takes no connections, and those open are closed); disposing it brings the database back.
    /// </summary>
    public static async Task<IAsyncDisposable> TakeAwayAsync(string connectionString)
    {
        if (Provider == DatabaseProvider.PostgreSql)
        {
            var name = PostgresServer.DatabaseName(connectionString);
            PostgresServer.Admin($"ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false");
            PostgresServer.Admin($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
            await using (var connection = new NpgsqlConnection(connectionString))
            {
                NpgsqlConnection.ClearPool(connection);
            }

            return new Undo(() =>
            {
                PostgresServer.Admin($"ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true");
                return Task.CompletedTask;
            });
        }

        var folder = Path.GetDirectoryName(SqlitePath(connectionString))!;
        SqliteConnection.ClearAllPools();
        Directory.Move(folder, folder + "-gone");
        return new Undo(() =>
        {
            SqliteConnection.ClearAllPools();
            Directory.Move(folder + "-gone", folder);
            return Task.CompletedTask;
        });
    }

    /// <summary>Makes the database empty again, as a recreated volume or database would be, under the same name.</summary>
    public static async Task RecreateEmptyAsync(string connectionString)
    {
        if (Provider == DatabaseProvider.PostgreSql)
        {
            PostgresServer.RecreateDatabase(connectionString);
            return;
        }

        var file = SqlitePath(connectionString);
        SqliteConnection.ClearAllPools();
        foreach (var path in Directory.GetFiles(Path.GetDirectoryName(file)!))
        {
            File.Delete(path);
        }

        await using var connection = new SqliteConnection($"{connectionString};Pooling=False");
        await connection.ExecuteAsync("PRAGMA user_version = 0"); // an empty database file again, as a fresh volume would hold
    }

    /// <summary>The names of the database's tables (the service's schema, its migrations ledger included).</summary>
    public static Task<List<string>> TablesAsync(string connectionString) => QueryAsync<string>(connectionString, Provider == DatabaseProvider.PostgreSql
        ? "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");

    /// <summary>Every value of every column of every table, one per line.</summary>
    public static async Task<string> AllStoredTextAsync(string connectionString)
    {
        await using var connection = await OpenAsync(connectionString);
        var values = new StringBuilder();
        foreach (var table in await TablesAsync(connectionString))
        {
            foreach (IDictionary<string, object?> row in await connection.QueryAsync($"SELECT * FROM \"{table}\""))
            {
                foreach (var value in row.Values)
                {
                    values.Append(value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : value?.ToString()).Append('\n');
                }
            }
        }

        return values.ToString();
    }

    /// <summary>
    /// The database's own files on disk that hold <paramref name="text"/> (ASCII) anywhere, deleted rows and free pages
    /// included: SQLite's file and its write-ahead log (recent commits live there until a checkpoint); PostgreSQL's
    /// relation files after a checkpoint has written every change to them. Empty when the files cannot be read (a
    /// PostgreSQL server this process did not start).
    /// </summary>
    public static async Task<List<string>> FilesContainingAsync(string connectionString, string text)
    {
        List<string> files;
        if (Provider == DatabaseProvider.PostgreSql)
        {
            if (PostgresServer.DataDirectory is not { } data)
            {
                return [];
            }

            PostgresServer.Admin("CHECKPOINT");
            var oid = await ScalarAsync<long>(connectionString, "SELECT oid FROM pg_database WHERE datname = current_database()");
            // The relation files (named by number: 16384, 16384.1, 16384_fsm); the server's own caches come and go.
            files = [.. Directory.GetFiles(Path.Combine(data, "base", oid.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                .Where(path => char.IsAsciiDigit(Path.GetFileName(path)[0]))];
        }
        else
        {
            var file = SqlitePath(connectionString);
            files = [.. new[] { file, file + "-wal" }.Where(File.Exists)];
        }

        var needle = Encoding.ASCII.GetBytes(text);
        var found = new List<string>();
        foreach (var path in files)
        {
            if (await ContainsAsync(path, needle))
            {
                found.Add(path);
            }
        }

        return found;
    }

    private static async Task<bool> ContainsAsync(string path, byte[] needle)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return false; // removed since it was listed (a dropped relation's file): it holds nothing now
        }

        await using var _ = stream;
        var buffer = new byte[(1 << 20) + needle.Length];
        var kept = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer.AsMemory(kept, buffer.Length - kept))) > 0)
        {
            var filled = kept + read;
            if (buffer.AsSpan(0, filled).IndexOf(needle) >= 0)
            {
                return true;
            }

            // The tail that a match may start in is kept in front of the next read.
            kept = Math.Min(needle.Length - 1, filled);
            buffer.AsSpan(filled - kept, kept).CopyTo(buffer);
        }

        return false;
    }

    private sealed class Undo(Func<Task> undo) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await undo();
    }
}

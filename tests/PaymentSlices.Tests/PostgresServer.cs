using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace PaymentSlices.Tests;

/// <summary>
/// The PostgreSQL server the PostgreSQL test project runs the service on. With <see cref="Variable"/> set, an existing
/// server, reached with that admin connection string; otherwise, on first use, a throwaway cluster of this test process's
/// own: a temporary data folder (initdb as the <c>postgres</c> user when the tests run as root), a free port on 127.0.0.1,
/// trust authentication, fsync off; stopped and deleted when the process exits. Each test process (each test project)
/// starts its own, on its own port. Every database a test asks for is a fresh one with a name of its own.
/// </summary>
public static class PostgresServer
{
    public const string Variable = "PAYMENTSLICES_TEST_POSTGRES";

    private const string FolderPrefix = "paymentslices-postgres-";

    private static readonly Lazy<Server> Instance = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    // The databases this process made and has not dropped: on an existing server, dropped when the process exits.
    private static readonly ConcurrentDictionary<string, byte> Created = new();

    private static int sequence;

    /// <summary>A superuser connection string to the server's <c>postgres</c> database.</summary>
    public static string AdminConnectionString => Instance.Value.Admin;

    /// <summary>The cluster's data folder when this process started it; null on an existing server.</summary>
    public static string? DataDirectory => Instance.Value.DataDirectory;

    /// <summary>Makes a new, empty database and returns a connection string to it.</summary>
    public static string CreateDatabase()
    {
        var name = string.Create(CultureInfo.InvariantCulture,
            $"paymentslices_test_{Environment.ProcessId}_{Interlocked.Increment(ref sequence)}_{Guid.NewGuid().ToString("N")[..8]}");
        Created[name] = 0;
        Admin($"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'");
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>Drops the database, closing whatever connections are still open on it (the service's, the test's).</summary>
    public static void DropDatabase(string connectionString)
    {
        var name = DatabaseName(connectionString);
        using (var connection = new NpgsqlConnection(connectionString))
        {
            NpgsqlConnection.ClearPool(connection);
        }

        Admin($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        Created.TryRemove(name, out _);
    }

    /// <summary>Drops the database and makes it again under the same name, empty, as a fresh volume would hold.</summary>
    public static void RecreateDatabase(string connectionString)
    {
        var name = DatabaseName(connectionString);
        DropDatabase(connectionString);
        Created[name] = 0;
        Admin($"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'");
    }

    /// <summary>Runs a statement on the server's <c>postgres</c> database.</summary>
    public static void Admin(string sql)
    {
        using var connection = new NpgsqlConnection(AdminConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    public static string DatabaseName(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString).Database ?? throw new ArgumentException("The connection string names no database.", nameof(connectionString));

    private sealed record Server(string Admin, string? DataDirectory);

    private static Server Start()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } existing)
        {
            var admin = new NpgsqlConnectionStringBuilder(existing) { Pooling = false };
            AppDomain.CurrentDomain.ProcessExit += (_, _) => DropLeftovers(admin.ConnectionString);
            return new Server(admin.ConnectionString, null);
        }

        var bin = FindBinaries();
        StopAbandonedClusters(bin);
        var root = Directory.CreateTempSubdirectory(FolderPrefix).FullName;
        var data = Path.Combine(root, "data");
        var sockets = Path.Combine(root, "sockets");
        Directory.CreateDirectory(sockets);
        File.WriteAllText(Path.Combine(root, "owner.pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        var asPostgres = Environment.IsPrivilegedProcess;
        if (asPostgres)
        {
            // initdb and the server refuse to run as root: they run as the postgres user, who owns the folder.
            Run("chown", ["-R", "postgres:postgres", root], "a postgres user: Debian's postgresql package makes it");
        }

        try
        {
            Run(bin, "initdb", asPostgres, ["-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C", "-A", "trust", "--no-sync"]);
            var port = 0;
            for (var attempt = 1; ; attempt++)
            {
                port = FreePort();
                var options = string.Create(CultureInfo.InvariantCulture,
                    $"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} -c fsync=off -c max_connections=400");
                try
                {
                    Run(bin, "pg_ctl", asPostgres, ["-D", data, "-l", Path.Combine(root, "server.log"), "-o", options, "-w", "-t", "60", "start"]);
                    break;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                    // Another process took the port between our look and the server's bind: try another one.
                }
                catch (InvalidOperationException error)
                {
                    throw new InvalidOperationException($"{error.Message}\nThe server's log:\n{ReadOrEmpty(Path.Combine(root, "server.log"))}", error);
                }
            }

            // At exit the server stops at once; the folder goes when this process is gone, even killed (see StartJanitor).
            StartJanitor(bin, data, root, asPostgres);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(bin, data, root: null, asPostgres);
            var admin = new NpgsqlConnectionStringBuilder
            {
                Host = "127.0.0.1",
                Port = port,
                Username = "postgres",
                Database = "postgres",
                Pooling = false,
            };
            return new Server(admin.ConnectionString, data);
        }
        catch
        {
            Stop(bin, data, root, asPostgres);
            throw;
        }
    }

    /// <summary>The newest of Debian's <c>/usr/lib/postgresql/N/bin</c>, or the folder of an <c>initdb</c> on the PATH.</summary>
    private static string FindBinaries()
    {
        var debian = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(folder => Path.Combine(folder, "bin"))
                .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl")))
                .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), CultureInfo.InvariantCulture, out var version) ? version : 0)
                .FirstOrDefault()
            : null;
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(folder => File.Exists(Path.Combine(folder, "initdb")) && File.Exists(Path.Combine(folder, "pg_ctl")));
        return debian ?? onPath ?? throw new InvalidOperationException(
            "The PostgreSQL tests need PostgreSQL's server programs (initdb, pg_ctl), found neither under /usr/lib/postgresql/*/bin nor on the PATH. " +
            "Install Debian's postgresql (apt-get install postgresql): the tests start a throwaway cluster of their own with it. " +
            $"Or set {Variable} to an admin connection string of an existing server (e.g. Host=127.0.0.1;Port=5432;Username=postgres;Password=...).");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// A shell of its own session, outside this process's tree, that waits for this process to end (the test host may be
    /// killed before its exit handlers finish), then stops the server if it still runs and deletes the cluster's folder.
    /// </summary>
    private static void StartJanitor(string bin, string data, string root, bool asPostgres)
    {
        var pgCtl = Path.Combine(bin, "pg_ctl");
        var stop = asPostgres ? $"runuser -u postgres -- '{pgCtl}'" : $"'{pgCtl}'";
        var script = $"""
            exec </dev/null >/dev/null 2>&1
            while kill -0 {Environment.ProcessId}; do sleep 0.5; done
            if [ -f '{data}/postmaster.pid' ]; then {stop} -D '{data}' -m immediate -w -t 30 stop; fi
            rm -rf '{root}'
            """;
        try
        {
            using var janitor = Process.Start(new ProcessStartInfo("setsid", ["-f", "sh", "-c", script]) { UseShellExecute = false });
            janitor?.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No setsid: the exit handler deletes the folder itself, and a later test run deletes what a killed one left.
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(bin, data, root, asPostgres);
        }
    }

    private static void Stop(string bin, string data, string? root, bool asPostgres)
    {
        try
        {
            if (File.Exists(Path.Combine(data, "postmaster.pid")))
            {
                Run(bin, "pg_ctl", asPostgres, ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]);
            }
        }
        catch (InvalidOperationException)
        {
            // Already stopped: only its folder is left to delete.
        }

        if (root is null)
        {
            return;
        }

        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Clusters that test processes which died without their exit handler (killed) left running: stopped and deleted.</summary>
    private static void StopAbandonedClusters(string bin)
    {
        foreach (var root in Directory.GetDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            if (!int.TryParse(ReadOrEmpty(Path.Combine(root, "owner.pid")), CultureInfo.InvariantCulture, out var owner) || IsRunning(owner))
            {
                continue;
            }

            Stop(bin, Path.Combine(root, "data"), root, Environment.IsPrivilegedProcess);
        }
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void DropLeftovers(string admin)
    {
        foreach (var name in Created.Keys)
        {
            try
            {
                using var connection = new NpgsqlConnection(admin);
                connection.Open();
                using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
                command.ExecuteNonQuery();
            }
            catch (NpgsqlException)
            {
            }
        }
    }

    private static void Run(string bin, string program, bool asPostgres, string[] arguments) =>
        Run(asPostgres ? "runuser" : Path.Combine(bin, program),
            asPostgres ? ["-u", "postgres", "--", Path.Combine(bin, program), .. arguments] : arguments,
            null);

    private static void Run(string program, string[] arguments, string? needs)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} did not finish within 120 s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{program} {string.Join(' ', arguments)} failed (exit code {process.ExitCode}{(needs is null ? "" : "; it needs " + needs)}):\n{output.Result}\n{error.Result}");
        }
    }
}

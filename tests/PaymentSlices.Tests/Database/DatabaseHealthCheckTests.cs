using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Tests.Pipeline;

namespace PaymentSlices.Tests.Database;

/// <summary>Readiness on a database the service cannot use: each test breaks a database of its own, then mends it.</summary>
[SupportedOSPlatform("linux")]
public sealed class DatabaseHealthCheckTests
{
    [Fact]
    public async Task ReadOnlyDatabaseFile_IsNotReady_UntilItIsWritableAgain()
    {
        using var factory = new ApiFactory();
        var client = factory.CreateClient();
        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);

        using (Unwritable.Make(factory.DatabasePath))
        {
            (await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.ServiceUnavailable)).Str("status").Should().Be("Unhealthy");
            (await DatabaseCheckAsync(factory)).Description.Should().Contain("read-only");
            await (await client.GetAsync("/health/live")).ShouldBe(HttpStatusCode.OK);
        }

        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task ReadOnlyVolume_IsNotReady()
    {
        using var factory = new ApiFactory();
        var client = factory.CreateClient();
        await factory.Storefront().CreatePaidOrderAsync(); // the write-ahead log and its index exist, as in a running service
        var folder = Path.GetDirectoryName(factory.DatabasePath)!;

        // The -shm index stays writable: SQLite writes it through a shared memory map, and a write to the map of an immutable
        // file kills the process with SIGBUS (tried: it took the test host down).
        using (Unwritable.Make(folder, factory.DatabasePath, factory.DatabasePath + "-wal"))
        {
            (await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.ServiceUnavailable)).Str("status").Should().Be("Unhealthy");
            (await DatabaseCheckAsync(factory)).Description.Should().Contain("read-only");
        }

        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SchemaOlderThanTheService_IsNotReady()
    {
        using var factory = new ApiFactory();
        var client = factory.CreateClient();
        var latest = await factory.ScalarAsync<long>("SELECT MAX(version) FROM schema_migrations");
        latest.Should().Be(Migrator.LatestVersion);
        await ExecuteAsync(factory, "UPDATE schema_migrations SET version = -version WHERE version = @latest", new { latest });

        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await DatabaseCheckAsync(factory)).Description.Should().Contain($"at migration {latest - 1}").And.Contain($"migrated it to {latest}");

        await ExecuteAsync(factory, "UPDATE schema_migrations SET version = -version WHERE version = -@latest", new { latest });
        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SchemaMigratedByANewerBuild_IsNotReady()
    {
        using var factory = new ApiFactory();
        var client = factory.CreateClient();

        await ExecuteAsync(factory, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, 'from_a_newer_build', '2030-01-01T00:00:00.000Z')",
            new { version = Migrator.LatestVersion + 1 });

        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await DatabaseCheckAsync(factory)).Description.Should().Contain($"at migration {Migrator.LatestVersion + 1}");
    }

    [Fact]
    public async Task DatabaseRecreatedEmpty_IsNotReady()
    {
        using var factory = new ApiFactory();
        var client = factory.CreateClient();
        await factory.Storefront().CreatePaidOrderAsync();

        SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(factory.DatabasePath)!))
        {
            File.Delete(file);
        }

        await ExecuteAsync(factory, "PRAGMA user_version = 0", null); // an empty database file again, as a fresh volume would hold

        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await DatabaseCheckAsync(factory)).Description.Should().Contain("none");
    }

    [Fact]
    public async Task WriteInProgress_IsReady_WithoutWaitingForIt()
    {
        using var factory = new ApiFactory
        {
            ConfigureTestServices = services =>
            {
                services.AddSingleton<ControllableProcessor>();
                services.AddSingleton<IPaymentProcessor>(provider => provider.GetRequiredService<ControllableProcessor>());
            },
        };
        var storefront = factory.Storefront();
        var order = await storefront.CreateOrderAsync();
        var processor = factory.Services.GetRequiredService<ControllableProcessor>();
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        processor.Hold = hold;

        // A charge held inside the processor holds no lock (two-phase charges): the probe writes and rolls back.
        var pay = storefront.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" });
        await processor.Entered.Task;
        try
        {
            await (await factory.CreateClient().GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);
            (await DatabaseCheckAsync(factory)).Description.Should().Contain("takes writes");

            // Another writer holding SQLite's write lock (a transaction between two statements): ready at once, not a wait.
            await using var other = new SqliteConnection($"{factory.ConnectionString};Pooling=False");
            await other.OpenAsync();
            await using var transaction = other.BeginTransaction(deferred: false);
            await (await factory.CreateClient().GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);
            (await DatabaseCheckAsync(factory)).Description.Should().Contain("write lock is held");
            pay.IsCompleted.Should().BeFalse("the charge is still held");
        }
        finally
        {
            hold.SetResult();
        }

        await (await pay).ShouldBe(HttpStatusCode.Created);
    }

    private static async Task<HealthReportEntry> DatabaseCheckAsync(ApiFactory factory) =>
        (await factory.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(check => check.Tags.Contains("ready"))).Entries["database"];

    private static async Task ExecuteAsync(ApiFactory factory, string sql, object? parameters)
    {
        await using var connection = new SqliteConnection($"{factory.ConnectionString};Pooling=False");
        await connection.ExecuteAsync(sql, parameters);
    }
}

/// <summary>
/// Makes files and folders unwritable until disposed. Root ignores permission bits (these tests run as root here), so for
/// root it sets the immutable attribute (<c>chattr +i</c>, ext4 and most Linux file systems), which stops root too, even
/// through descriptors opened before; anyone else gets read-only permission bits.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class Unwritable : IDisposable
{
    private readonly List<Action> undo = [];

    public static Unwritable Make(params string[] paths)
    {
        var unwritable = new Unwritable();
        try
        {
            foreach (var path in paths)
            {
                unwritable.Protect(path);
            }
        }
        catch
        {
            unwritable.Dispose();
            throw;
        }

        return unwritable;
    }

    private void Protect(string path)
    {
        if (Environment.IsPrivilegedProcess)
        {
            Chattr("+i", path);
            undo.Add(() => Chattr("-i", path));
            return;
        }

        var mode = File.GetUnixFileMode(path);
        var readOnly = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        File.SetUnixFileMode(path, Directory.Exists(path) ? readOnly | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute : readOnly);
        undo.Add(() => File.SetUnixFileMode(path, mode));
    }

    public void Dispose()
    {
        foreach (var action in Enumerable.Reverse(undo))
        {
            action();
        }

        undo.Clear();
    }

    private static void Chattr(string flag, string path)
    {
        using var chattr = Process.Start(new ProcessStartInfo("chattr", [flag, path]) { RedirectStandardError = true })!;
        var error = chattr.StandardError.ReadToEnd();
        chattr.WaitForExit();
        chattr.ExitCode.Should().Be(0, $"root writes through permission bits, so this test needs chattr {flag} on {path} (an ext4-like file system): {error}");
    }
}

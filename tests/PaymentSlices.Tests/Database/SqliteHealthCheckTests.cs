using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using Microsoft.Data.Sqlite;
using static PaymentSlices.Tests.Database.DatabaseHealthCheckTests;

namespace PaymentSlices.Tests.Database;

/// <summary>Readiness on a SQLite file, folder or volume that cannot be written, and while SQLite's write lock is held.</summary>
[SupportedOSPlatform("linux")]
public sealed class SqliteHealthCheckTests
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
    public async Task AnotherWriterHoldingTheWriteLock_IsReady_WithoutWaitingForIt()
    {
        using var factory = new ApiFactory();
        var client = factory.CreateClient();
        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);

        // Another writer holding SQLite's write lock (a transaction between two statements): ready at once, not a wait.
        await using var other = new SqliteConnection($"{factory.ConnectionString};Pooling=False");
        await other.OpenAsync();
        await using var transaction = other.BeginTransaction(deferred: false);
        await (await factory.CreateClient().GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);
        (await DatabaseCheckAsync(factory)).Description.Should().Contain("write lock is held");
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

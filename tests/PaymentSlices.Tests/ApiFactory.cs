using System.Net.Http.Headers;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests;

/// <summary>
/// The real service over HTTP, on a real SQLite database file of its own (one per test class), with the
/// Development API keys. Tests read the database directly to check what was, and was not, written.
/// </summary>
public class ApiFactory : WebApplicationFactory<Program>
{
    public const string StorefrontKey = "sk_test_storefront";
    public const string PaymentSystemKey = "sk_test_payment_system";

    private readonly string directory = Directory.CreateTempSubdirectory("paymentslices-tests-").FullName;

    public string DatabasePath => Path.Combine(directory, "paymentslices.db");

    public string ConnectionString => $"Data Source={DatabasePath}";

    /// <summary>The built-in sandbox processor, to count the charges it made.</summary>
    public SandboxPaymentProcessor Processor => Services.GetRequiredService<SandboxPaymentProcessor>();

    /// <summary>One look of the reconciler, as its timer would run it: settles the charges and refunds left processing.</summary>
    public Task<int> ReconcileAsync() => Services.GetRequiredService<PaymentSlices.Api.Payments.Reconciler>().RunOnceAsync(CancellationToken.None);

    /// <summary>A client with the storefront key as <c>Authorization: Bearer</c>.</summary>
    public HttpClient Storefront()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", StorefrontKey);
        return client;
    }

    /// <summary>A client with the payment-system key as <c>X-API-Key</c>, the way seed 002 sends it.</summary>
    public HttpClient PaymentSystem()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", PaymentSystemKey);
        return client;
    }

    public async Task<T> ScalarAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = new SqliteConnection(ConnectionString);
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    public async Task<List<T>> QueryAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = new SqliteConnection(ConnectionString);
        return (await connection.QueryAsync<T>(sql, parameters)).ToList();
    }

    /// <summary>Leaves the database file when the host stops, for a restart on the same file.</summary>
    public bool KeepDatabaseOnDispose { get; init; }

    /// <summary>Replaces services for one factory (e.g. a processor that fails).</summary>
    public Action<IServiceCollection>? ConfigureTestServices { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("ConnectionStrings:PaymentSlices", ConnectionString);
        // Hundreds of requests a second from one key are the point of the concurrency tests; LimitsTests sets its own.
        builder.UseSetting("Limits:RequestsPerSecond", "1000000");
        builder.UseSetting("Limits:Burst", "1000000");
        // The reconciler looks once at start; tests that leave a charge processing run it themselves (ReconcileAsync).
        builder.UseSetting("Reconciler:Interval", "01:00:00");
        builder.UseSetting("Reconciler:MinAge", "00:00:00");
        if (ConfigureTestServices is not null)
        {
            builder.ConfigureTestServices(ConfigureTestServices);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && !KeepDatabaseOnDispose)
        {
            SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // A file still held open by a pooled connection is left to the OS's temp clean-up.
            }
        }
    }
}

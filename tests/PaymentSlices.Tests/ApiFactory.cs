using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests;

/// <summary>
/// The real service over HTTP, on a real database of its own (one per test class) of the test project's provider (a SQLite
/// file, or a PostgreSQL database: see <see cref="TestDatabase"/>), with the Development API keys. Tests read the database
/// directly to check what was, and was not, written.
/// </summary>
public class ApiFactory : WebApplicationFactory<Program>
{
    public const string StorefrontKey = "sk_test_storefront";
    public const string PaymentSystemKey = "sk_test_payment_system";

    private readonly Lazy<string> connectionString;
    private readonly bool ownsDatabase;

    /// <summary>The service on a new database of its own, made on first use.</summary>
    public ApiFactory()
        : this(null)
    {
    }

    /// <summary>The service on <paramref name="database"/>, another factory's (a restart), or on a new one of its own when null.</summary>
    protected ApiFactory(string? database)
    {
        ownsDatabase = database is null;
        connectionString = new Lazy<string>(() => database ?? TestDatabase.Create());
    }

    /// <summary>The service on another factory's database (kept with <see cref="KeepDatabaseOnDispose"/>): a restart. It does not delete it.</summary>
    public static ApiFactory OnDatabase(string connectionString) => new(connectionString);

    /// <summary>The database the service runs on: SQLite or PostgreSQL, as the test project says.</summary>
    public static DatabaseProvider Provider => TestDatabase.Provider;

    public string ConnectionString => connectionString.Value;

    /// <summary>The SQLite database file; SQLite-only tests use it.</summary>
    public string DatabasePath => TestDatabase.SqlitePath(ConnectionString);

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

    public Task<T> ScalarAsync<T>(string sql, object? parameters = null) => TestDatabase.ScalarAsync<T>(ConnectionString, sql, parameters);

    public Task<List<T>> QueryAsync<T>(string sql, object? parameters = null) => TestDatabase.QueryAsync<T>(ConnectionString, sql, parameters);

    public Task<int> ExecuteAsync(string sql, object? parameters = null) => TestDatabase.ExecuteAsync(ConnectionString, sql, parameters);

    /// <summary>An open connection to the service's database, of the provider's kind.</summary>
    public Task<System.Data.Common.DbConnection> OpenConnectionAsync() => TestDatabase.OpenAsync(ConnectionString);

    /// <summary>See <see cref="TestDatabase.RefuseWritesAsync"/>.</summary>
    public Task<IAsyncDisposable> RefuseWritesAsync(string table, string operation, string? condition, string message) =>
        TestDatabase.RefuseWritesAsync(ConnectionString, table, operation, condition, message);

    /// <summary>Deletes the database: for a test that kept it (<see cref="KeepDatabaseOnDispose"/>), once done with it.</summary>
    public void DeleteDatabase() => TestDatabase.Delete(ConnectionString);

    /// <summary>Leaves the database when the host stops, for a restart on the same database (<see cref="OnDatabase"/>).</summary>
    public bool KeepDatabaseOnDispose { get; init; }

    /// <summary>Replaces services for one factory (e.g. a processor that fails).</summary>
    public Action<IServiceCollection>? ConfigureTestServices { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        if (Provider != DatabaseProvider.Sqlite)
        {
            builder.UseSetting("Database:Provider", TestDatabase.SettingValue);
        }

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
        if (disposing && ownsDatabase && !KeepDatabaseOnDispose && connectionString.IsValueCreated)
        {
            TestDatabase.Delete(ConnectionString);
        }
    }
}

using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Tests.Pipeline;

namespace PaymentSlices.Tests.Database;

/// <summary>Readiness on a database the service cannot use: each test breaks a database of its own, then mends it.</summary>
public sealed class DatabaseHealthCheckTests
{
    [Fact]
    public async Task SchemaOlderThanTheService_IsNotReady()
    {
        using var factory = new ApiFactory();
        var client = factory.CreateClient();
        var latest = await factory.ScalarAsync<long>("SELECT MAX(version) FROM schema_migrations");
        latest.Should().Be(Migrator.LatestVersion);
        await factory.ExecuteAsync("UPDATE schema_migrations SET version = -version WHERE version = @latest", new { latest });

        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await DatabaseCheckAsync(factory)).Description.Should().Contain($"at migration {latest - 1}").And.Contain($"migrated it to {latest}");

        await factory.ExecuteAsync("UPDATE schema_migrations SET version = -version WHERE version = -@latest", new { latest });
        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SchemaMigratedByANewerBuild_IsNotReady()
    {
        using var factory = new ApiFactory();
        var client = factory.CreateClient();

        await factory.ExecuteAsync("INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, 'from_a_newer_build', '2030-01-01T00:00:00.000Z')",
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

        await TestDatabase.RecreateEmptyAsync(factory.ConnectionString);

        await (await client.GetAsync("/health/ready")).ShouldBe(HttpStatusCode.ServiceUnavailable);
        (await DatabaseCheckAsync(factory)).Description.Should().Contain("none");
    }

    [Fact]
    public async Task ChargeHeldInTheProcessor_IsReady_WithoutWaitingForIt()
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
            pay.IsCompleted.Should().BeFalse("the charge is still held");
        }
        finally
        {
            hold.SetResult();
        }

        await (await pay).ShouldBe(HttpStatusCode.Created);
    }

    /// <summary>The database check's own answer, with its description.</summary>
    internal static async Task<HealthReportEntry> DatabaseCheckAsync(ApiFactory factory) =>
        (await factory.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(check => check.Tags.Contains("ready"))).Entries["database"];
}

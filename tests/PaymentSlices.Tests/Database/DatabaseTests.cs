using System.Net;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests.Database;

public sealed class DatabaseTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task StartUp_AppliesTheNumberedMigrationsOnceInWalMode()
    {
        factory.CreateClient();

        (await factory.QueryAsync<long>("SELECT version FROM schema_migrations ORDER BY version")).Should().Equal(Migrations.Numbers);
        (await factory.ScalarAsync<string>("PRAGMA journal_mode")).Should().Be("wal");
    }

    [Fact]
    public async Task ServiceConnections_AreDurableAndEnforceForeignKeys()
    {
        factory.CreateClient();
        await using var connection = await factory.Services.GetRequiredService<DbConnectionFactory>().OpenAsync(CancellationToken.None);

        (await connection.ExecuteScalarAsync<long>("PRAGMA synchronous")).Should().Be(2, "2 is FULL: a commit is on disk before it is acknowledged");
        (await connection.ExecuteScalarAsync<long>("PRAGMA foreign_keys")).Should().Be(1);
        (await connection.ExecuteScalarAsync<long>("PRAGMA busy_timeout")).Should().BeGreaterThan(0);
    }

    [Fact]
    public async Task Money_IsStoredAsIntegerMinorUnits()
    {
        var payment = await factory.Storefront().CreatePaidOrderAsync("USD", 49.99m);

        var stored = await factory.QueryAsync<(string Type, long Amount)>(
            "SELECT typeof(amount), amount FROM payments WHERE id = @id", new { id = payment.Id() });

        stored.Should().Equal(("integer", 4999L));
    }
}

public sealed class RestartTests
{
    [Fact]
    public async Task Restart_KeepsEveryPaymentAndAppliesNoMigrationTwice()
    {
        using var first = new ApiFactory();
        var payment = await first.Storefront().CreatePaidOrderAsync();
        await using var second = new SameDatabaseFactory(first.ConnectionString);

        var read = await (await second.Storefront().GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK);

        read.Str("status").Should().Be("succeeded");
        (await first.QueryAsync<long>("SELECT version FROM schema_migrations ORDER BY version")).Should().Equal(Migrations.Numbers);
    }

    private sealed class SameDatabaseFactory(string connectionString) : ApiFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("ConnectionStrings:PaymentSlices", connectionString);
        }
    }

    [Fact]
    public void BothProviders_MigrateToTheSameSchemaVersion()
    {
        Migrator.Migrations(DatabaseProvider.PostgreSql).Last().Version.Should().Be(Migrator.LatestVersion);
        Migrator.Migrations(DatabaseProvider.Sqlite).Last().Version.Should().Be(Migrator.LatestVersion);
    }
}

/// <summary>The numbers of the migrations the service embeds: 1, 2, ... with no gap.</summary>
internal static class Migrations
{
    public static IEnumerable<long> Numbers =>
        Enumerable.Range(1, typeof(Program).Assembly.GetManifestResourceNames().Count(name => name.Contains(".Migrations.Sqlite.", StringComparison.Ordinal)))
            .Select(number => (long)number);
}

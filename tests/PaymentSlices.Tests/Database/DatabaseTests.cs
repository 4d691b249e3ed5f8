using System.Net;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests.Database;

public sealed class DatabaseTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task StartUp_AppliesTheNumberedMigrationsOnce()
    {
        factory.CreateClient();

        (await factory.QueryAsync<long>("SELECT version FROM schema_migrations ORDER BY version")).Should().Equal(Migrations.Numbers);
    }

    [Fact]
    public async Task Money_IsStoredAsIntegerMinorUnits()
    {
        var payment = await factory.Storefront().CreatePaidOrderAsync("USD", 49.99m);

        var (typeOf, integer) = ApiFactory.Provider == DatabaseProvider.PostgreSql ? ("pg_typeof(amount)::text", "bigint") : ("typeof(amount)", "integer");
        var stored = await factory.QueryAsync<(string Type, long Amount)>(
            $"SELECT {typeOf}, amount FROM payments WHERE id = @id", new { id = payment.Id() });

        stored.Should().Equal((integer, 4999L));
    }
}

public sealed class RestartTests
{
    [Fact]
    public async Task Restart_KeepsEveryPaymentAndAppliesNoMigrationTwice()
    {
        using var first = new ApiFactory();
        var payment = await first.Storefront().CreatePaidOrderAsync();
        await using var second = ApiFactory.OnDatabase(first.ConnectionString);

        var read = await (await second.Storefront().GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK);

        read.Str("status").Should().Be("succeeded");
        (await first.QueryAsync<long>("SELECT version FROM schema_migrations ORDER BY version")).Should().Equal(Migrations.Numbers);
    }

    [Fact]
    public void BothProviders_MigrateToTheSameSchemaVersion()
    {
        Migrator.Migrations(DatabaseProvider.PostgreSql).Last().Version.Should().Be(Migrator.LatestVersion);
        Migrator.Migrations(DatabaseProvider.Sqlite).Last().Version.Should().Be(Migrator.LatestVersion);
    }
}

/// <summary>The numbers of the migrations the service embeds for the test project's provider, in order.</summary>
internal static class Migrations
{
    public static IEnumerable<long> Numbers => Migrator.Migrations(ApiFactory.Provider).Select(migration => (long)migration.Version);
}

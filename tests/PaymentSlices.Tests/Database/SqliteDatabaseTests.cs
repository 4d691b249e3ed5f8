using Dapper;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests.Database;

/// <summary>SQLite's own settings: the journal mode kept in the file, and the PRAGMAs every service connection sets.</summary>
public sealed class SqliteDatabaseTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task StartUp_PutsTheDatabaseInWalMode()
    {
        factory.CreateClient();

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
}

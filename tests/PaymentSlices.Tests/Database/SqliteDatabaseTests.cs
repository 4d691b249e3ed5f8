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

    [Fact]
    public async Task AWritingConnection_HasSqlitesDefaultPageCache_EvenOnTheHandleOfAClosedReadConnection()
    {
        factory.CreateClient();
        var connections = factory.Services.GetRequiredService<DbConnectionFactory>();
        var readers = new List<System.Data.Common.DbConnection>();
        for (var i = 0; i < SqliteConnectionFactory.MaxIdleReaders + 8; i++)
        {
            readers.Add(await connections.OpenReadAsync(CancellationToken.None));
        }

        // The readers past the kept ones are closed: their handles go back to Microsoft.Data.Sqlite's pool, small cache and all.
        foreach (var reader in readers)
        {
            await connections.ReleaseReadAsync(reader);
        }

        await using var connection = await connections.OpenAsync(CancellationToken.None);

        (await connection.ExecuteScalarAsync<long>("PRAGMA cache_size")).Should().Be(-2000, "2,000 KiB, SQLite's default");
    }
}

using Npgsql;

namespace PaymentSlices.Tests;

/// <summary>The test server itself: each database asked for is new, empty and usable, and gone once dropped.</summary>
public sealed class PostgresServerTests
{
    [Fact]
    public async Task CreateDatabase_GivesANewEmptyDatabase_AndDropDatabaseRemovesIt()
    {
        var first = PostgresServer.CreateDatabase();
        var second = PostgresServer.CreateDatabase();
        try
        {
            PostgresServer.DatabaseName(first).Should().NotBe(PostgresServer.DatabaseName(second));
            (await TestDatabase.TablesAsync(first)).Should().BeEmpty();
            await TestDatabase.ExecuteAsync(first, "CREATE TABLE t (id BIGINT PRIMARY KEY)");
            (await TestDatabase.TablesAsync(first)).Should().Equal("t");
            (await TestDatabase.TablesAsync(second)).Should().BeEmpty();
        }
        finally
        {
            PostgresServer.DropDatabase(first);
            PostgresServer.DropDatabase(second);
        }

        var open = async () =>
        {
            await using var connection = new NpgsqlConnection(first);
            await connection.OpenAsync();
        };
        (await open.Should().ThrowAsync<PostgresException>()).Which.SqlState.Should().Be(PostgresErrorCodes.InvalidCatalogName);
    }

    [Fact]
    public async Task FilesContaining_FindsWhatARowHolds_InTheDatabasesOwnFiles()
    {
        var database = PostgresServer.CreateDatabase();
        try
        {
            await TestDatabase.ExecuteAsync(database, "CREATE TABLE t (value TEXT)");
            await TestDatabase.ExecuteAsync(database, "INSERT INTO t VALUES ('needle-5d1f0c2a')");

            (await TestDatabase.FilesContainingAsync(database, "needle-5d1f0c2a")).Should().NotBeEmpty("the checks that a card number is in no file would prove nothing otherwise");
            (await TestDatabase.FilesContainingAsync(database, "needle-0000")).Should().BeEmpty();
        }
        finally
        {
            PostgresServer.DropDatabase(database);
        }
    }

    [Fact]
    public async Task TheService_RunsOnPostgreSql()
    {
        await using var factory = new ApiFactory();
        factory.CreateClient();

        (await TestDatabase.TablesAsync(factory.ConnectionString)).Should().Contain(["orders", "payments", "refunds", "idempotency_keys", "events"]);
    }
}

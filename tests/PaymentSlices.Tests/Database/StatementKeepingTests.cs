using System.Net;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests.Database;

/// <summary>
/// Issue 15, on SQLite: the service's connections keep the statements they prepared, so a request runs its SQL without
/// parsing it again, and what it reads and writes is still the latest (a database of its own: it counts preparations).
/// </summary>
public sealed class StatementKeepingTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    private long Prepared => ((SqliteConnectionFactory)factory.Services.GetRequiredService<DbConnectionFactory>()).StatementsPrepared;

    [Fact]
    public async Task RepeatedReadsAndWrites_PrepareTheirStatementsOnce_AndSeeEachOthersChanges()
    {
        var order = await client.CreateOrderAsync();
        var payment = (await client.CreatePaidOrderAsync(amount: 100m)).Id();
        await (await client.GetAsync($"/v1/payments/{payment}")).ShouldBe(HttpStatusCode.OK);
        var before = Prepared;

        // One request at a time: each read finds the same kept connection, each write the writer's, with their statements.
        for (var i = 1; i <= 40; i++)
        {
            var refund = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment, amount = 0.01m })).ShouldBe(HttpStatusCode.Created);
            var read = await (await client.GetAsync($"/v1/payments/{payment}")).ShouldBe(HttpStatusCode.OK);
            read["amount_refunded"]!.GetValue<decimal>().Should().Be(0.01m * i, "a kept read statement still reads the latest commit");
            (await (await client.GetAsync($"/v1/refunds/{refund.Id()}")).ShouldBe(HttpStatusCode.OK)).Str("id").Should().Be(refund.Id());
            await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
        }

        // 160 requests that run several statements each: a handful of first preparations, not one per statement run.
        (Prepared - before).Should().BeLessThan(40, "each distinct statement is prepared once per connection and kept");
    }

    [Fact]
    public async Task ConcurrentReads_EachGetAConnectionOfTheirOwn_AndAllAnswer()
    {
        var payment = (await client.CreatePaidOrderAsync()).Id();

        var reads = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => client.GetAsync($"/v1/payments/{payment}")));

        foreach (var read in reads)
        {
            (await read.ShouldBe(HttpStatusCode.OK)).Str("id").Should().Be(payment);
        }
    }

    [Fact]
    public async Task AReadConnectionGivenBackWhileAStatementStillRuns_IsClosed_NotHandedToTheNextReader()
    {
        factory.CreateClient();
        var connections = factory.Services.GetRequiredService<DbConnectionFactory>();
        var first = await connections.OpenReadAsync(CancellationToken.None);
        await using var grid = await first.QueryMultipleAsync("SELECT 1; SELECT 2;"); // a reader left open

        await connections.ReleaseReadAsync(first);
        var next = await connections.OpenReadAsync(CancellationToken.None);

        next.Should().NotBeSameAs(first);
        first.State.Should().Be(System.Data.ConnectionState.Closed);

        // The same with the reader left open on a command of its own (its text's kept command was taken by another).
        var kept = await next.QueryMultipleAsync("SELECT 1; SELECT 2;");
        var own = await next.QueryMultipleAsync("SELECT 1; SELECT 2;");
        await kept.DisposeAsync();
        await connections.ReleaseReadAsync(next);
        var third = await connections.OpenReadAsync(CancellationToken.None);

        third.Should().NotBeSameAs(next);
        next.State.Should().Be(System.Data.ConnectionState.Closed);
        await own.DisposeAsync();
        await connections.ReleaseReadAsync(third);
    }

    [Fact]
    public async Task AKeptStatementsColumns_AreLearnedPerResultSet_AndAColumnReadsNullsAndValuesAlike()
    {
        factory.CreateClient();
        var connections = factory.Services.GetRequiredService<DbConnectionFactory>();
        var connection = await connections.OpenReadAsync(CancellationToken.None);
        const string Sql = "SELECT CASE WHEN @Empty = 1 THEN NULL ELSE 42 END AS Value, 'x' || @Empty AS Text";

        // The first run's NULL has no declared type (Microsoft.Data.Sqlite says byte[]); the next run's 42 is a number.
        var first = await connection.QuerySingleAsync<ExpressionRow>(Sql, new { Empty = 1 });
        var second = await connection.QuerySingleAsync<ExpressionRow>(Sql, new { Empty = 0 });
        var third = await connection.QuerySingleAsync<ExpressionRow>(Sql, new { Empty = 1 });

        first.Should().Be(new ExpressionRow(null, "x1"));
        second.Should().Be(new ExpressionRow(42, "x0"));
        third.Should().Be(new ExpressionRow(null, "x1"));

        // Each result set of a statement has columns of its own.
        await using (var grid = await connection.QueryMultipleAsync("SELECT 7 AS Value, 'a' AS Text; SELECT 'b' AS Text, 8 AS Value"))
        {
            (await grid.ReadSingleAsync<ExpressionRow>()).Should().Be(new ExpressionRow(7, "a"));
            (await grid.ReadSingleAsync<ExpressionRow>()).Should().Be(new ExpressionRow(8, "b"));
        }

        await connections.ReleaseReadAsync(connection);
    }

    [Fact]
    public async Task AKeptStatementsParameters_AreBoundByTheirWholeName_WithTheStatementsOwnPrefix()
    {
        factory.CreateClient();
        var connections = factory.Services.GetRequiredService<DbConnectionFactory>();
        var connection = await connections.OpenReadAsync(CancellationToken.None);

        // "@Id" is the start of "@IdempotencyKey", and this statement spells Id with a colon: Id must stay "Id" here.
        for (var run = 0; run < 3; run++)
        {
            var row = await connection.QuerySingleAsync<(string A, string B)>("SELECT :Id AS A, @IdempotencyKey AS B", new { Id = $"id{run}", IdempotencyKey = $"key{run}" });
            row.Should().Be(($"id{run}", $"key{run}"));
        }

        await connections.ReleaseReadAsync(connection);
    }

    // Settable properties, not a positional record: Dapper matches a constructor by the columns' types, and the first run's
    // NULL is a byte[] to Microsoft.Data.Sqlite itself.
    private sealed record ExpressionRow
    {
        public ExpressionRow()
        {
        }

        public ExpressionRow(long? value, string text) => (Value, Text) = (value, text);

        public long? Value { get; init; }

        public string Text { get; init; } = "";
    }
}

using System.Net;
using Dapper;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Features.ListEvents;

namespace PaymentSlices.Tests.Webhooks;

/// <summary>
/// <c>GET /v1/events?status=</c> reads its page through <c>ix_events_status</c>, in the plan the statement is prepared with
/// once for every value (SQLite's kept statement, PostgreSQL's generic plan), not by reading every event newest first.
/// </summary>
public sealed class ListEventsPlanTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task ByStatus_ReadsThroughTheStatusIndex()
    {
        factory.CreateClient(); // migrated

        (await PlanAsync(ListEvents.Handler.SelectPageByStatus)).Should().Contain("ix_events_status");
    }

    [Fact]
    public async Task ByStatus_PagesWithACursor()
    {
        var client = factory.Storefront();
        for (var i = 0; i < 3; i++)
        {
            await client.CreatePaidOrderAsync();
        }

        var newest = (await (await client.GetAsync("/v1/events?limit=1")).ShouldBe(HttpStatusCode.OK))["data"]![0]!;
        var status = newest.Str("status");
        var expected = await factory.QueryAsync<string>("SELECT id FROM events WHERE status = @status ORDER BY seq DESC", new { status });
        expected.Should().HaveCountGreaterThanOrEqualTo(3);

        var first = await (await client.GetAsync($"/v1/events?status={status}&limit=2")).ShouldBe(HttpStatusCode.OK);
        var second = await (await client.GetAsync($"/v1/events?status={status}&limit=2&starting_after={first["data"]![1]!.Id()}"))
            .ShouldBe(HttpStatusCode.OK);

        first["data"]!.AsArray().Select(e => e!.Id()).Concat(second["data"]!.AsArray().Take(1).Select(e => e!.Id()))
            .Should().Equal(expected.Take(3));
        first["has_more"]!.GetValue<bool>().Should().BeTrue();
    }

    // The plan of sql for every value: SQLite's EXPLAIN QUERY PLAN; PostgreSQL's generic plan, with sequential scans
    // priced out (a test table is small enough for one to win regardless of the indexes).
    private async Task<string> PlanAsync(string sql)
    {
        var parameters = new { Status = "failed", Type = (string?)null, Before = long.MaxValue, Take = 21 };
        if (ApiFactory.Provider == DatabaseProvider.Sqlite)
        {
            var rows = await factory.QueryAsync<(long Id, long Parent, long NotUsed, string Detail)>("EXPLAIN QUERY PLAN " + sql, parameters);
            return string.Join("\n", rows.Select(row => row.Detail));
        }

        await using var connection = await TestDatabase.OpenAsync(factory.ConnectionString);
        await connection.ExecuteAsync("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan");
        var positional = sql.Replace("@Status", "$1").Replace("@Type", "$2").Replace("@Before", "$3").Replace("@Take", "$4");
        await connection.ExecuteAsync($"PREPARE page (text, text, bigint, int) AS {positional}");
        return string.Join("\n", await connection.QueryAsync<string>("EXPLAIN EXECUTE page ('failed', NULL, 9223372036854775807, 21)"));
    }
}

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

        var plan = await PlanAsync(ListEvents.Handler.SelectPageByStatus);

        // A search of the index by status, in seq order already: not a scan of it, nor a sort after.
        if (ApiFactory.Provider == DatabaseProvider.Sqlite)
        {
            plan.Should().Contain("USING INDEX ix_events_status (status=? AND seq<?)").And.NotContain("TEMP B-TREE");
        }
        else
        {
            plan.Should().Contain("ix_events_status").And.Contain("Index Cond: ((status = $1) AND (seq < $3))").And.NotContain("Sort");
        }
    }

    [Fact]
    public async Task ByStatus_PagesWithACursor()
    {
        // This factory configures no webhook endpoint, so every event is written 'delivered' and stays so: the statuses
        // set here do not change under the test (on WebhookFactory the dispatcher would change them).
        var client = factory.Storefront();
        for (var i = 0; i < 4; i++)
        {
            await client.CreatePaidOrderAsync(); // two events each: payment.succeeded, order.paid
        }

        await factory.ExecuteAsync("UPDATE events SET status = 'failed' WHERE seq % 2 = 0");
        var all = await factory.QueryAsync<(string Id, string Status)>("SELECT id, status FROM events ORDER BY seq DESC");
        var failed = all.Where(e => e.Status == "failed").Select(e => e.Id).ToList();
        failed.Should().HaveCountGreaterThanOrEqualTo(4);

        var first = await (await client.GetAsync("/v1/events?status=failed&limit=2")).ShouldBe(HttpStatusCode.OK);
        Ids(first).Should().Equal(failed.Take(2));
        first["has_more"]!.GetValue<bool>().Should().BeTrue();

        // A cursor on an event of another status: the failed ones older than it.
        var delivered = all.SkipWhile(e => e.Id != failed[1]).First(e => e.Status == "delivered").Id;
        var next = await (await client.GetAsync($"/v1/events?status=failed&limit=100&starting_after={delivered}")).ShouldBe(HttpStatusCode.OK);
        Ids(next).Should().Equal(failed.Skip(2));
        next["has_more"]!.GetValue<bool>().Should().BeFalse();
    }

    private static List<string> Ids(System.Text.Json.Nodes.JsonNode list) => list["data"]!.AsArray().Select(e => e!.Id()).ToList();

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

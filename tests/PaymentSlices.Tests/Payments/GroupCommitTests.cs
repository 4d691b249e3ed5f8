using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests.Payments;

/// <summary>Issue 15, on SQLite: concurrent writes share commits (one fsync for several requests) through the group commit.</summary>
public sealed class GroupCommitTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task AFailingWriteInAGroupCommit_RollsBackAlone_WhileTheOthersCommit()
    {
        var writer = factory.Services.GetRequiredService<GroupCommit>();
        // One order in the burst fails inside its turn after its order row was written (a trigger refuses its item), so
        // only the rollback to its savepoint can take that row out again; the others in the batch must stay.
        var refusal = await factory.RefuseWritesAsync("order_items", "INSERT", "NEW.amount = 4242", "test: this write fails");
        try
        {
            var commits = writer.Commits;
            var turns = writer.CommittedTurns;
            var amounts = Enumerable.Range(1, 40).Select(i => i == 20 ? 42.42m : 100m + i).ToList();
            var responses = await Task.WhenAll(amounts.Select(amount =>
                factory.Storefront().PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "Item", amount, quantity = 1 } } })));

            await responses[19].ShouldBeProblem(HttpStatusCode.InternalServerError, "internal_error");
            var created = new List<string>();
            foreach (var response in responses.Where((_, i) => i != 19))
            {
                created.Add((await response.ShouldBe(HttpStatusCode.Created)).Id());
            }

            (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE id IN @created", new { created })).Should().Be(39);
            (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE amount = 4242")).Should().Be(0);
            (writer.CommittedTurns - turns).Should().Be(39);
            (writer.Commits - commits).Should().BeLessThan(39, "concurrent writes share commits (one fsync for several requests)");
        }
        finally
        {
            await refusal.DisposeAsync();
        }
    }
}

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
        var commits = writer.Commits;
        var turns = writer.CommittedTurns;

        // The failing order's turn is rolled back to its savepoint; the others in its batch commit with it.
        await TwoPhaseTests.BurstWithOneFailingWriteAsync(factory);

        (writer.CommittedTurns - turns).Should().Be(39);
        (writer.Commits - commits).Should().BeLessThan(39, "concurrent writes share commits (one fsync for several requests)");
    }
}

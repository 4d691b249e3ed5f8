using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
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

    [Fact]
    public async Task TheWritersCounters_CountItsCommitsTurnsAndTime_ForDotnetCounters()
    {
        // What `dotnet-counters monitor --counters PaymentSlices.GroupCommit` shows, read as any listener reads them.
        var writer = factory.Services.GetRequiredService<GroupCommit>();
        var meters = factory.Services.GetRequiredService<IMeterFactory>();
        var values = new ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, listening) =>
        {
            if (instrument.Meter.Name == GroupCommit.MeterName && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                listening.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.Start();
        listener.RecordObservableInstruments();
        var before = new Dictionary<string, double>(values);
        var turns = writer.CommittedTurns;
        var commits = writer.Commits;

        await TwoPhaseTests.BurstWithOneFailingWriteAsync(factory);
        listener.RecordObservableInstruments();

        double Grew(string name) => values[name] - before[name];
        Grew("paymentslices.group_commit.turns").Should().Be(writer.CommittedTurns - turns).And.BeGreaterThanOrEqualTo(39);
        Grew("paymentslices.group_commit.commits").Should().Be(writer.Commits - commits).And.BeGreaterThan(0);
        Grew("paymentslices.group_commit.commit_time").Should().BePositive();
        Grew("paymentslices.group_commit.busy_time").Should().BeGreaterThan(Grew("paymentslices.group_commit.commit_time"),
            "the writer's busy time holds its commits and the turns' own statements");
    }
}

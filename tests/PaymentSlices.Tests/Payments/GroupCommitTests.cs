using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests.Payments;

/// <summary>Issue 15, on SQLite: concurrent writes share commits (one fsync for several requests) through the group commit.</summary>
public sealed class GroupCommitTests(QuietWriterFactory factory) : IClassFixture<QuietWriterFactory>
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
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.Start();

        // A background job may commit between two reads: each counter must lie between the writer's totals read around it.
        Dictionary<string, double> Record()
        {
            var (turns, commits) = (writer.CommittedTurns, writer.Commits);
            listener.RecordObservableInstruments();
            values["paymentslices.group_commit.turns"].Should().BeInRange(turns, writer.CommittedTurns);
            values["paymentslices.group_commit.commits"].Should().BeInRange(commits, writer.Commits);
            values["paymentslices.group_commit.queued"].Should().BeGreaterThanOrEqualTo(0);
            return new Dictionary<string, double>(values);
        }

        var before = Record();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await TwoPhaseTests.BurstWithOneFailingWriteAsync(factory);
        var elapsed = clock.Elapsed.TotalSeconds;
        var after = Record();

        double Grew(string name) => after[name] - before[name];
        Grew("paymentslices.group_commit.turns").Should().BeGreaterThanOrEqualTo(39);
        Grew("paymentslices.group_commit.commits").Should().BeInRange(1, Grew("paymentslices.group_commit.turns"));
        Grew("paymentslices.group_commit.commit_time").Should().BePositive();
        Grew("paymentslices.group_commit.busy_time").Should().BeGreaterThan(Grew("paymentslices.group_commit.commit_time"),
            "the writer's busy time holds its commits and the turns' own statements")
            .And.BeLessThanOrEqualTo(elapsed, "it is seconds of the writer's time, within the burst's");

        // A writer with nothing to do is not busy.
        await Task.Delay(TimeSpan.FromMilliseconds(600));
        var idle = Record();
        (idle["paymentslices.group_commit.busy_time"] - after["paymentslices.group_commit.busy_time"]).Should().BeLessThan(0.3);
    }
}

/// <summary>The service with its periodic writer (the 3-D Secure sweep) quiet, so that the tests see their own writes alone.</summary>
public sealed class QuietWriterFactory : ApiFactory
{
    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("ThreeDSecure:SweepInterval", "01:00:00");
    }
}

/// <summary>
/// A batch that fails before it takes a turn (BEGIN IMMEDIATE stays busy while another connection holds the write lock)
/// fails the write that woke the writer, at once; and once the lock is gone, the next write is not left waiting behind it.
/// </summary>
public sealed class WriterBusyTests
{
    [Fact]
    public async Task AWriteWhoseBatchCannotBegin_Fails_AndTheNextWriteIsNotOneBehind()
    {
        // A command timeout of 1 s: Microsoft.Data.Sqlite gives up on the busy BEGIN after SQLite's own 5 s busy_timeout.
        await using var factory = ApiFactory.OnDatabase(TestDatabase.Create() + ";Default Timeout=1");
        var client = factory.Storefront();
        await client.CreateOrderAsync(); // the writer is running

        await using (var blocker = await TestDatabase.OpenAsync(factory.ConnectionString))
        {
            await Dapper.SqlMapper.ExecuteAsync(blocker, "BEGIN IMMEDIATE");
            var blocked = await client.PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "Chair", amount = 1m, quantity = 1 } } })
                .WaitAsync(TimeSpan.FromSeconds(30));
            ((int)blocked.StatusCode).Should().BeGreaterThanOrEqualTo(500, "the write could not be made, and nothing was written");
            await Dapper.SqlMapper.ExecuteAsync(blocker, "ROLLBACK");
        }

        await client.CreateOrderAsync().WaitAsync(TimeSpan.FromSeconds(30)); // 201
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM orders")).Should().Be(2);
    }
}

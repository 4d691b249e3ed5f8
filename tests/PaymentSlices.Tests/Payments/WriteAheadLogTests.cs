using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests.Payments;

/// <summary>Issue 15, on SQLite: the write-ahead log under a load that never pauses (each test on a database of its own: it measures the log's file).</summary>
public sealed class WriteAheadLogTests
{
    [Fact]
    public async Task UnderWritesThatNeverPause_TheWriteAheadLogIsReused_NotGrownWithoutEnd()
    {
        // Writers that never pause, and readers that never pause, as under load. The log must go back to its start once
        // its pages are in the database file; a log that only grows fills the disk and slows every commit (each write to
        // new blocks of the file costs the file system more than an overwrite).
        await using var factory = new ApiFactory();
        var wal = factory.DatabasePath + "-wal";
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();
        using var stop = new CancellationTokenSource();
        long largest = 0;
        var created = 0;
        async Task Write()
        {
            while (Interlocked.Increment(ref created) <= 4_000)
            {
                await (await client.PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "Tea", amount = 3.50m, quantity = 2 } } }))
                    .ShouldBe(HttpStatusCode.Created);
                if (File.Exists(wal))
                {
                    var length = new FileInfo(wal).Length;
                    InterlockedMax(ref largest, length);
                }
            }
        }

        async Task Read()
        {
            while (!stop.IsCancellationRequested)
            {
                await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
            }
        }

        var readers = Enumerable.Range(0, 8).Select(_ => Task.Run(Read)).ToList();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(Write)));
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        largest.Should().BeLessThan(GroupCommit.RestartLogAfterPages * 4096L * 3, "the log restarts from its beginning once it holds that many pages");
    }

    [Fact]
    public async Task AReaderThatHoldsItsSnapshot_DoesNotStallTheWriter_WhenTheLogIsDueForARestart()
    {
        // A reader in an open transaction keeps the log from restarting. The writer tries to restart it every few
        // commits once it is long; each try may wait for that reader only briefly (every write waits meanwhile), not
        // for the connection's 5 s busy timeout.
        await using var factory = new ApiFactory();
        var client = factory.Storefront();
        await using var reader = new Microsoft.Data.Sqlite.SqliteConnection(factory.ConnectionString);
        await reader.OpenAsync();
        await using var snapshot = reader.BeginTransaction(deferred: true); // BEGIN DEFERRED: a reader, not a writer
        await using (var read = reader.CreateCommand())
        {
            read.CommandText = "SELECT COUNT(*) FROM orders";
            await read.ExecuteScalarAsync();
        }

        var created = 0;
        async Task Write()
        {
            while (Interlocked.Increment(ref created) <= 3_000)
            {
                await (await client.PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "Tea", amount = 3.50m, quantity = 2 } } }))
                    .ShouldBe(HttpStatusCode.Created);
            }
        }

        var writes = Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(Write)));
        var finished = await Task.WhenAny(writes, Task.Delay(TimeSpan.FromSeconds(20)));

        finished.Should().Be(writes, "3,000 orders take about 2 s here; with each restart waiting up to 5 s for the reader they took 33 s");
        await writes;
    }

    [Fact]
    public async Task ALogRestartDueAfterABatchThatOnlyRolledBack_DoesNotStallTheWrites()
    {
        // Inside a batch's transaction SQLite refuses a checkpoint as locked, and Microsoft.Data.Sqlite retries that for
        // its 30 s command timeout: the restart must wait until the batch's transaction has ended, even when nothing of
        // the batch was kept.
        await using var factory = new ApiFactory();
        var client = factory.Storefront();
        await client.CreateOrderAsync();
        await using (await factory.RefuseWritesAsync("order_items", "INSERT", null, "test: this write fails"))
        {
            factory.Services.GetRequiredService<GroupCommit>().RequestLogRestart();
            await (await client.PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "Tea", amount = 3.50m, quantity = 2 } } }))
                .ShouldBeProblem(HttpStatusCode.InternalServerError, "internal_error");
        }

        var next = client.CreateOrderAsync();
        var finished = await Task.WhenAny(next, Task.Delay(TimeSpan.FromSeconds(10)));

        finished.Should().Be(next, "the next write waits for no checkpoint retried inside a transaction (it took 30 s)");
        await next;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current && Interlocked.CompareExchange(ref target, value, current) is var seen && seen != current)
        {
            current = seen;
        }
    }
}

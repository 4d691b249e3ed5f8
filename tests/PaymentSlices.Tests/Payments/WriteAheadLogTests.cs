using System.Net;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests.Payments;

/// <summary>Issue 15, on SQLite: the write-ahead log under a load that never pauses (a database of its own: it writes thousands of orders).</summary>
public sealed class WriteAheadLogTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task UnderWritesThatNeverPause_TheWriteAheadLogIsReused_NotGrownWithoutEnd()
    {
        // Writers that never pause, and readers that never pause, as under load. The log must go back to its start once
        // its pages are in the database file; a log that only grows fills the disk and slows every commit (each write to
        // new blocks of the file costs the file system more than an overwrite).
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

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current && Interlocked.CompareExchange(ref target, value, current) is var seen && seen != current)
        {
            current = seen;
        }
    }
}

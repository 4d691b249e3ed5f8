#if POSTGRESQL
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Tests.Pipeline;

namespace PaymentSlices.Tests.Payments;

/// <summary>A service whose PostgreSQL pool has 3 connections, with a processor that can hold every charge.</summary>
public sealed class SmallPoolFactory : ApiFactory
{
    public SmallPoolFactory() =>
        ConfigureTestServices = services =>
        {
            services.AddSingleton<ControllableProcessor>();
            services.AddSingleton<IPaymentProcessor>(provider => provider.GetRequiredService<ControllableProcessor>());
        };

    public ControllableProcessor Controls => Services.GetRequiredService<ControllableProcessor>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        // Pooled (the tests' databases are not, so that they can be dropped), 3 connections at most; a request that cannot
        // have one within 5 s fails: a pool held by waiting charges shows as waits and errors.
        builder.UseSetting("ConnectionStrings:PaymentSlices",
            new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = true, MaxPoolSize = 3, Timeout = 5 }.ConnectionString);
        builder.UseSetting("Processor:Resilience:MinimumThroughput", "100"); // the failures below leave the breaker closed
    }
}

/// <summary>Issues 15 and 16: a charge waiting for the processor holds no database connection, so a slow processor cannot hold PostgreSQL's pool.</summary>
public sealed class ConnectionPoolTests(SmallPoolFactory factory) : IClassFixture<SmallPoolFactory>
{
    [Fact]
    public async Task SixChargesHeldAtTheProcessor_WithAPoolOfThree_HoldNoConnection_AndOtherWritesGoOn()
    {
        var client = factory.Storefront();
        var orders = await SixOrdersAsync(client);

        // Each pay reads its order, records its processing payment, then waits at the processor, with an Idempotency-Key
        // (whose stored-response read is one more read on the way in).
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        factory.Controls.Hold = release;
        var pays = orders.Select(id =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{id}/pay") { Content = System.Net.Http.Json.JsonContent.Create(new { source = "tok_visa" }) };
            request.Headers.Add("Idempotency-Key", $"pool-{id}");
            return client.SendAsync(request);
        }).ToList();
        try
        {
            await WaitForChargingAsync(6);

            factory.Controls.Charging.Should().Be(6, "every pay reaches the processor: none waits for a connection another held charge keeps");

            // Meanwhile the pool serves everything else: an order is created and read.
            var order = await client.CreateOrderAsync();
            (await client.GetAsync($"/v1/orders/{order.Id()}")).StatusCode.Should().Be(HttpStatusCode.OK);
        }
        finally
        {
            release.TrySetResult();
        }

        foreach (var pay in pays)
        {
            (await (await pay).ShouldBe(HttpStatusCode.Created)).Str("status").Should().Be("succeeded");
        }

        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'")).Should().Be(6);
    }

    [Fact]
    public async Task SixRetriesContinuingChargesHeldAtTheProcessor_WithAPoolOfThree_HoldNoConnection()
    {
        var client = factory.Storefront();
        var orders = await SixOrdersAsync(client);

        // The processor call fails (this stand-in throws past the resilience pipeline: a 500): each pay ends with its
        // payment processing and its key free for the retry.
        factory.Controls.FailNext(int.MaxValue);
        try
        {
            foreach (var pay in await Task.WhenAll(orders.Select(id => PayAsync(client, id))))
            {
                pay.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
            }
        }
        finally
        {
            factory.Controls.FailNext(0);
        }

        (await factory.ScalarAsync<long>($"SELECT COUNT(*) FROM payments WHERE status = 'processing' AND order_id {TestDatabase.InList("@orders")}",
            new { orders })).Should().Be(6);

        // The retries with the keys continue those payments: each reads its order and payment, then waits at the processor.
        var charging = factory.Controls.Charging;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        factory.Controls.Hold = release;
        var retries = orders.Select(id => PayAsync(client, id)).ToList();
        try
        {
            await WaitForChargingAsync(charging + 6);

            (factory.Controls.Charging - charging).Should().Be(6, "every retry reaches the processor: none waits for a connection another keeps");
            (await client.GetAsync($"/v1/orders/{orders[0]}")).StatusCode.Should().Be(HttpStatusCode.OK);
        }
        finally
        {
            factory.Controls.Hold = null;
            release.TrySetResult();
        }

        foreach (var retry in retries)
        {
            (await (await retry).ShouldBe(HttpStatusCode.Created)).Str("status").Should().Be("succeeded");
        }
    }

    private static async Task<List<string>> SixOrdersAsync(HttpClient client)
    {
        var orders = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            orders.Add((await client.CreateOrderAsync()).Id());
        }

        return orders;
    }

    // Until that many charges have entered the processor, or 20 s.
    private async Task WaitForChargingAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (factory.Controls.Charging < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
    }

    private static Task<HttpResponseMessage> PayAsync(HttpClient client, string orderId)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{orderId}/pay") { Content = System.Net.Http.Json.JsonContent.Create(new { source = "tok_visa" }) };
        request.Headers.Add("Idempotency-Key", $"pool-retry-{orderId}");
        return client.SendAsync(request);
    }
}
#endif

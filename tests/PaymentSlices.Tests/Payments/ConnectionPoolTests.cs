#if POSTGRESQL
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests.Payments;

/// <summary>A service whose PostgreSQL pool has 3 connections, with a processor that holds every charge until released.</summary>
public sealed class SmallPoolFactory : ApiFactory
{
    public SmallPoolFactory() =>
        ConfigureTestServices = services =>
        {
            services.AddSingleton<HeldCharges>();
            services.AddSingleton<IPaymentProcessor>(provider => provider.GetRequiredService<HeldCharges>());
        };

    public HeldCharges Held => Services.GetRequiredService<HeldCharges>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        // Pooled (the tests' databases are not, so that they can be dropped), 3 connections at most; a request that cannot
        // have one within 5 s fails: a pool held by waiting charges shows as waits and errors.
        builder.UseSetting("ConnectionStrings:PaymentSlices",
            new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = true, MaxPoolSize = 3, Timeout = 5 }.ConnectionString);
    }
}

/// <summary>The sandbox, with each charge held inside the processor until <see cref="Release"/>; counts those held.</summary>
public sealed class HeldCharges(SandboxPaymentProcessor sandbox) : IPaymentProcessor
{
    private readonly TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int held;

    public int Held => Volatile.Read(ref held);

    public void Release() => release.TrySetResult();

    public async Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref held);
        await release.Task;
        return await sandbox.ChargeAsync(request, cancellationToken);
    }

    public Task<string?> RefundAsync(ProcessorRefund request, CancellationToken cancellationToken) => sandbox.RefundAsync(request, cancellationToken);

    public Task<ChargeResult> ResolveChargeAsync(string idempotencyKey, CancellationToken cancellationToken) => sandbox.ResolveChargeAsync(idempotencyKey, cancellationToken);

    public Task<string?> ResolveRefundAsync(string idempotencyKey, CancellationToken cancellationToken) => sandbox.ResolveRefundAsync(idempotencyKey, cancellationToken);

    public Task<SaveCardResult> SaveCardAsync(string idempotencyKey, PaymentSource source, CancellationToken cancellationToken) =>
        sandbox.SaveCardAsync(idempotencyKey, source, cancellationToken);
}

/// <summary>Issues 15 and 16: a charge waiting for the processor holds no database connection, so a slow processor cannot hold PostgreSQL's pool.</summary>
public sealed class ConnectionPoolTests(SmallPoolFactory factory) : IClassFixture<SmallPoolFactory>
{
    [Fact]
    public async Task SixChargesHeldAtTheProcessor_WithAPoolOfThree_HoldNoConnection_AndOtherWritesGoOn()
    {
        var client = factory.Storefront();
        var orders = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            orders.Add((await client.CreateOrderAsync()).Id());
        }

        // Each pay reads its order, records its processing payment, then waits at the processor, with an Idempotency-Key
        // (whose stored-response read is one more read on the way in).
        var pays = orders.Select(id =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/orders/{id}/pay") { Content = System.Net.Http.Json.JsonContent.Create(new { source = "tok_visa" }) };
            request.Headers.Add("Idempotency-Key", $"pool-{id}");
            return client.SendAsync(request);
        }).ToList();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (factory.Held.Held < 6 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            factory.Held.Held.Should().Be(6, "every pay reaches the processor: none waits for a connection another held charge keeps");

            // Meanwhile the pool serves everything else: an order is created and read.
            var order = await client.CreateOrderAsync();
            (await client.GetAsync($"/v1/orders/{order.Id()}")).StatusCode.Should().Be(HttpStatusCode.OK);
        }
        finally
        {
            factory.Held.Release();
        }

        foreach (var pay in pays)
        {
            (await (await pay).ShouldBe(HttpStatusCode.Created)).Str("status").Should().Be("succeeded");
        }

        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'")).Should().Be(6);
    }
}
#endif

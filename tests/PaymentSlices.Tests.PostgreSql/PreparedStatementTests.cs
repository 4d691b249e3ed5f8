using System.Net;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Tests;

/// <summary>
/// Issue 15, on PostgreSQL: the service's connections prepare the statements they run again and again (Npgsql's
/// <c>Max Auto Prepare</c>, 128 unless the connection string sets it), so the server does not parse and plan them anew
/// each time; a connection string that sets it (0 behind a pooler that cannot keep prepared statements) is obeyed.
/// </summary>
public sealed class PreparedStatementTests
{
    private const string PaymentById = "SELECT * FROM payments WHERE id = @PaymentId";

    [Fact]
    public async Task AStatementRunAgainAndAgain_IsPreparedOnTheServiceConnection()
    {
        await using var factory = new ApiFactory();
        var payment = await PaidPaymentIdAsync(factory);

        var prepared = await PreparedAfterRunningAsync(factory, payment);

        prepared.Should().ContainSingle(statement => statement.Contains("FROM payments WHERE id = $1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MaxAutoPrepareSetInTheConnectionString_IsObeyed()
    {
        await using var factory = new ConnectionStringFactory(";Max Auto Prepare=0");
        var payment = await PaidPaymentIdAsync(factory);

        var prepared = await PreparedAfterRunningAsync(factory, payment);

        prepared.Should().BeEmpty();
    }

    private static async Task<string> PaidPaymentIdAsync(ApiFactory factory)
    {
        var client = factory.Storefront();
        var payment = await (await client.PostJsonAsync("/v1/payments", new { amount = 12.34m, currency = "USD", source = "tok_visa" }))
            .ShouldBe(HttpStatusCode.Created);
        await (await client.GetAsync($"/v1/payments/{payment.Id()}")).ShouldBe(HttpStatusCode.OK);
        return payment.Id();
    }

    // On one connection of the service's own pool: the statement run as often as a busy service runs it, then what that
    // connection holds prepared (a session's prepared statements are visible to that session only).
    private static async Task<List<string>> PreparedAfterRunningAsync(ApiFactory factory, string payment)
    {
        await using var connection = await factory.Services.GetRequiredService<DbConnectionFactory>().OpenAsync(CancellationToken.None);
        for (var i = 0; i < 10; i++)
        {
            IEnumerable<object> rows = await connection.QueryAsync(PaymentById, new { PaymentId = payment });
            rows.Should().ContainSingle();
        }

        return (await connection.QueryAsync<string>("SELECT statement FROM pg_prepared_statements")).ToList();
    }

    private sealed class ConnectionStringFactory(string extra) : ApiFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("ConnectionStrings:PaymentSlices", ConnectionString + extra);
        }
    }
}

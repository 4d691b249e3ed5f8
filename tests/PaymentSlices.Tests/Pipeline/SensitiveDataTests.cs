using System.Collections.Concurrent;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace PaymentSlices.Tests.Pipeline;

/// <summary>Every log line the service writes, at every level, with its scopes and exceptions.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            lines.Enqueue($"{category} scope: {state}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} | {state} | {exception}");
    }
}

public sealed class LogCapturingFactory : ApiFactory
{
    public CapturingLoggerProvider Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs));
    }
}

public sealed class SensitiveDataTests(LogCapturingFactory factory) : IClassFixture<LogCapturingFactory>
{
    private const string Number = "4242424242424242";
    private const string Cvc = "123";

    [Fact]
    public async Task PayingByCardEveryWay_LeavesNoCardNumberCvcOrClientSecretInTheDatabaseOrTheLogs()
    {
        var client = factory.Storefront();
        var card = Api.Card(Number, Cvc);

        await client.CreatePaidOrderAsync(source: card);
        await (await client.PostJsonAsync("/v1/payments", new { amount = 12.34m, currency = "USD", source = card })).ShouldBe(HttpStatusCode.Created);
        await (await client.PostJsonAsync("/v1/customers", new { name = "J. Doe", source = card })).ShouldBe(HttpStatusCode.Created);
        var order = await client.CreateOrderAsync();
        var intent = await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);
        await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = intent.Str("client_secret"), source = card }))
            .ShouldBe(HttpStatusCode.OK);
        // Failures log too: an expired card, a wrong type inside the card, a wrong client secret.
        await (await client.PostJsonAsync("/v1/payments", new { amount = 1m, currency = "USD", source = Api.Card(Number, Cvc, 1, 2020) }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        await (await client.PostRawAsync("/v1/payments", "{\"amount\":1,\"currency\":\"USD\",\"source\":{\"object\":\"card\",\"number\":\"" + Number + "\",\"cvc\":\"" + Cvc + "\",\"exp_month\":\"12\",\"exp_year\":2030}}"))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", new { client_secret = intent.Str("client_secret") + "x", source = card }))
            .ShouldBeProblem(HttpStatusCode.Forbidden, "invalid_client_secret");

        var logs = string.Join('\n', factory.Logs.Lines);
        logs.Should().NotBeEmpty();
        logs.Should().NotContain(Number).And.NotContain("_secret_");
        Regex.IsMatch(logs, $@"cvc\W{{0,6}}{Cvc}", RegexOptions.IgnoreCase).Should().BeFalse();

        var stored = await TestDatabase.AllStoredTextAsync(factory.ConnectionString);
        stored.Should().NotContain(Number).And.NotContain("424242424242");
        stored.Split('\n').Should().NotContain(Cvc, "no column holds the CVC");
        // The raw files too: recent commits live in SQLite's write-ahead log until a checkpoint, deleted rows in free pages.
        (await TestDatabase.FilesContainingAsync(factory.ConnectionString, Number)).Should().BeEmpty("no file of the database may hold the card number");
    }
}

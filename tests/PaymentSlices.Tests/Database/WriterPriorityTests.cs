using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using PaymentSlices.Tests.Pipeline;

namespace PaymentSlices.Tests.Database;

/// <summary>
/// Issue 15, on SQLite: the writer thread, which runs every write, gets the nice value of <c>Database:WriterNice</c>. The
/// tests raise it (5): a higher nice value needs no privilege, so they hold wherever the tests run, as root or not.
/// </summary>
public sealed class WriterPriorityTests
{
    // The thread's name as Linux keeps it: its first 15 bytes ("PaymentSlices writer").
    private const string WriterThread = "PaymentSlices w";

    [Fact]
    public async Task TheWriterThread_RunsAtTheConfiguredNiceValue_AndSaysSo()
    {
        await using var factory = new WriterNiceFactory("5");
        var client = factory.Storefront();

        // The writer thread starts with the first write.
        await (await client.PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "Tea", amount = 3.50m, quantity = 1 } } }))
            .ShouldBe(HttpStatusCode.Created);

        // Other test classes' services have writer threads of their own, at the default; only this one asked for 5.
        WriterThreadNiceValues().Should().Contain(5);
        factory.Logs.Lines.Should().Contain(line => line.Contains("The database writer thread runs at nice 5 (Database:WriterNice)", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("-21")]
    [InlineData("20")]
    [InlineData("high")]
    public void AWriterNiceOutOfRange_StopsStartUpNamingIt(string value)
    {
        using var factory = new WriterNiceFactory(value);

        var start = () => factory.CreateClient();

        start.Should().Throw<Exception>().Which.ToString().Should().Contain("Database:WriterNice");
    }

    [Fact]
    public async Task WriterNiceZero_LeavesTheWriterThreadAsItIs_AndAsksForNothing()
    {
        await using var factory = new WriterNiceFactory("0");
        var client = factory.Storefront();

        await (await client.PostJsonAsync("/v1/orders", new { currency = "USD", items = new[] { new { name = "Tea", amount = 3.50m, quantity = 1 } } }))
            .ShouldBe(HttpStatusCode.Created);

        factory.Logs.Lines.Should().NotContain(line => line.Contains("Database:WriterNice", StringComparison.Ordinal));
    }

    private static List<int> WriterThreadNiceValues() =>
        Directory.GetDirectories("/proc/self/task")
            .Select(task => (Name: ReadOrEmpty(Path.Combine(task, "comm")).TrimEnd('\n'), Stat: ReadOrEmpty(Path.Combine(task, "stat"))))
            .Where(thread => thread.Name == WriterThread && thread.Stat.Length > 0)
            // stat: "tid (comm) state ..."; after the name's closing parenthesis, nice is the 17th field.
            .Select(thread => int.Parse(thread.Stat[(thread.Stat.LastIndexOf(')') + 2)..].Split(' ')[16], CultureInfo.InvariantCulture))
            .ToList();

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return ""; // a thread that ended meanwhile
        }
    }

    private sealed class WriterNiceFactory(string nice) : ApiFactory
    {
        public CapturingLoggerProvider Logs { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Database:WriterNice", nice);
            builder.ConfigureLogging(logging => logging.AddProvider(Logs));
        }
    }
}

using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Tests.Pipeline;

/// <summary>
/// The request line written straight to standard output is the line the console logger's JSON formatter writes, and the
/// line's state is what the source-generated logging method it replaces gave every logger.
/// </summary>
public sealed partial class RequestLineConsoleTests
{
    private static readonly Regex Timestamp = new("\"Timestamp\":\"[^\"]*\",", RegexOptions.CultureInvariant);

    public static TheoryData<string, string, int, double> Lines => new()
    {
        { "GET", "/v1/payments/{paymentId}", 200, 0.2329 },
        { "POST", "/v1/orders/{orderId}/pay", 201, 1234.56789 },
        { "GET", "(no route)", 404, 0 },
        { "DELETE", "/v1/a+b/\u00e9t\u00e9/\"quoted\"", 500, 3.05 },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void RequestLine_IsTheLineOfTheJsonConsoleFormatter_WithTheSameScopes(string method, string route, int status, double elapsedMs)
    {
        var options = ShippedOptions();
        using var factory = ScopeFactory(ActivityTrackingOptions.SpanId | ActivityTrackingOptions.TraceId | ActivityTrackingOptions.ParentId, out var scopes);
        using var source = new ActivitySource("test");
        using var listener = ListenTo(source);
        using var activity = source.StartActivity("request");
        activity.Should().NotBeNull();
        using var connection = factory.CreateLogger("Kestrel").BeginScope(new Dictionary<string, object?> { ["ConnectionId"] = "0HNQGKDESLHLN" });

        var line = new RequestLine(method, route, status, elapsedMs);
        var expected = FormatterLine(options, scopes, LogLevel.Information, RequestLog.CompletedEvent, line, null, RequestLine.Format);
        var actual = OurLine(options, scopes, LogLevel.Information, RequestLog.CompletedEvent, line, null, RequestLine.Format);

        Timestamp.Replace(actual, "").Should().Be(Timestamp.Replace(expected, ""));
        actual.Should().MatchRegex("^\\{\"Timestamp\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\",");
        actual.Should().EndWith("}" + Environment.NewLine).And.Contain(activity!.TraceId.ToHexString()).And.Contain("0HNQGKDESLHLN");
    }

    [Fact]
    public void OtherStates_ExceptionsAndOptions_AreWrittenAsTheFormatterWritesThem()
    {
        using var factory = ScopeFactory(ActivityTrackingOptions.None, out var scopes);
        using var outer = factory.CreateLogger("a").BeginScope("a plain scope");
        using var inner = factory.CreateLogger("b").BeginScope(new Dictionary<string, object?> { ["Flag"] = true, ["Number"] = 1.5m, ["Nothing"] = null, ["Char"] = 'x' });
        var define = LoggerMessage.Define<string, int>(LogLevel.Warning, new EventId(7, "Seven"), "{Name} has {Count}");
        Exception thrown;
        try
        {
            throw new InvalidOperationException("broken" + Environment.NewLine + "second line");
        }
        catch (InvalidOperationException error)
        {
            thrown = error;
        }

        foreach (var options in new[] { ShippedOptions(), new JsonConsoleFormatterOptions { IncludeScopes = false, TimestampFormat = null } })
        {
            Capture(define, "checkout", 3, out var state, out var format);
            Same(options, scopes, LogLevel.Warning, new EventId(7, "Seven"), state, null, format);
            Same(options, scopes, LogLevel.Error, new EventId(8), state, thrown, format);
            Same(options, scopes, LogLevel.Debug, default, "just a string", null, (text, _) => text);
            Same(options, scopes, LogLevel.Critical, default, new RequestLine("GET", "/x", 200, 1), thrown, RequestLine.Format);
        }
    }

    [Fact]
    public void RequestLine_HasTheMessagePropertiesAndEventIdOfTheGeneratedMethodItReplaces()
    {
        var generated = new CapturingLogger();
        Completed(generated, "GET", "/v1/payments/{paymentId}", 404, 12.345);
        var line = new RequestLine("GET", "/v1/payments/{paymentId}", 404, 12.345);

        generated.EventId.Id.Should().Be(RequestLog.CompletedEvent.Id);
        generated.EventId.Name.Should().Be(RequestLog.CompletedEvent.Name);
        line.ToString().Should().Be(generated.Message).And.Be("GET /v1/payments/{paymentId} answered 404 in 12.3 ms");
        line.ToList().Should().Equal(generated.State);
        RequestLine.Format(line, null).Should().Be(generated.Message);
    }

    [Fact]
    public void ThroughLogging_TheLineFollowsTheLevelFilters_AndOnlyTheRequestCategoryIsWritten()
    {
        foreach (var (level, expectLine) in new[] { (LogLevel.Information, true), (LogLevel.Warning, false) })
        {
            using var stream = new MemoryStream();
            var output = new StdoutBuffer(stream);
            using var services = new ServiceCollection()
                .AddLogging(logging =>
                {
                    logging.SetMinimumLevel(level).AddJsonConsole(options => options.IncludeScopes = true);
                    logging.Services.AddSingleton<ILoggerProvider>(provider =>
                        new RequestLineConsole(output, provider.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>()));
                    logging.AddFilter<ConsoleLoggerProvider>(RequestLog.Category, LogLevel.None);
                })
                .BuildServiceProvider();
            var factory = services.GetRequiredService<ILoggerFactory>();

            using (factory.CreateLogger("outer").BeginScope(new Dictionary<string, object?> { ["ConnectionId"] = "c1" }))
            {
                factory.CreateLogger(RequestLog.Category).Log(LogLevel.Information, RequestLog.CompletedEvent, new RequestLine("GET", "/x", 200, 0.5), null,
                    RequestLine.Format);
            }

            factory.CreateLogger("PaymentSlices.Other").Log(LogLevel.Warning, default, "not a request line", null, (text, _) => text);
            output.Flush();

            var written = Encoding.UTF8.GetString(stream.ToArray());
            if (expectLine)
            {
                var entry = JsonNode.Parse(written)!;
                entry["Category"]!.GetValue<string>().Should().Be(RequestLog.Category);
                entry["Message"]!.GetValue<string>().Should().Be("GET /x answered 200 in 0.5 ms");
                entry["Scopes"]![0]!["ConnectionId"]!.GetValue<string>().Should().Be("c1");
                written.Count(c => c == '\n').Should().Be(1);
            }
            else
            {
                written.Should().BeEmpty();
            }
        }
    }

    [Fact]
    public async Task StdoutBuffer_KeepsEveryWriteWholeAndInOrderPerWriter_UnderConcurrentWriters()
    {
        using var stream = new MemoryStream();
        var output = new StdoutBuffer(stream, capacity: 1000);
        var text = new StdoutBufferWriter(output);
        var writers = Enumerable.Range(0, 4).Select(writer => Task.Run(() =>
        {
            for (var i = 0; i < 2000; i++)
            {
                var line = $"{writer} {i} {new string((char)('a' + writer), i % 50)}";
                if (i % 2 == 0)
                {
                    output.Write(Encoding.UTF8.GetBytes(line + "\n"));
                }
                else
                {
                    lock (text)
                    {
                        text.WriteLine(line);
                    }
                }

                if (i % 500 == 0)
                {
                    output.Write(Encoding.UTF8.GetBytes($"{writer} big {new string('z', 3000)}\n")); // larger than a buffer
                    output.Flush();
                }
            }
        })).ToArray();
        await Task.WhenAll(writers);
        output.Flush();

        var lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(4 * 2000 + 4 * 4);
        var next = new int[4];
        foreach (var line in lines)
        {
            var parts = line.Split(' ');
            var writer = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
            if (parts[1] == "big")
            {
                parts[2].Should().Be(new string('z', 3000));
                continue;
            }

            int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture).Should().Be(next[writer]++);
            (parts.Length == 2 ? "" : parts[2]).Should().Be(new string((char)('a' + writer), (next[writer] - 1) % 50));
        }

        next.Should().OnlyContain(count => count == 2000);
    }

    [Fact]
    public void StdoutBufferWriter_WritesUtf8_EvenASurrogatePairSplitAcrossCalls()
    {
        using var stream = new MemoryStream();
        var output = new StdoutBuffer(stream);
        var text = new StdoutBufferWriter(output);
        const string Emoji = "\U0001F600";

        text.Write("caf\u00e9 ");
        text.Write(Emoji[0]);
        text.Write(Emoji[1]);
        text.WriteLine(new string('x', 2000));
        text.Flush();

        stream.ToArray().Should().Equal(new UTF8Encoding(false).GetBytes("caf\u00e9 " + Emoji + new string('x', 2000) + Environment.NewLine));
    }

    [Fact]
    public void IsoTimestamp_IsWhatTheLogAndApiFormatStringsGive()
    {
        var random = new Random(15);
        var instants = new List<DateTime> { DateTime.MinValue, DateTime.MaxValue, new(2026, 12, 31, 23, 59, 59, 999), new(1, 1, 1, 0, 0, 0, 7), DateTime.UtcNow };
        for (var i = 0; i < 10_000; i++)
        {
            instants.Add(new DateTime(random.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks), DateTimeKind.Utc));
        }

        var api = new System.Text.Json.JsonSerializerOptions();
        Json.Configure(api);
        Span<char> buffer = stackalloc char[64];
        foreach (var instant in instants)
        {
            var text = IsoTimestamp.Format(instant, buffer).ToString();
            text.Should().Be(instant.ToString(RequestLineJson.ShippedTimestampFormat, System.Globalization.CultureInfo.CurrentCulture))
                .And.Be(instant.ToString(Json.UtcTimestampConverter.Format, System.Globalization.CultureInfo.InvariantCulture));
            System.Text.Json.JsonSerializer.Serialize(new DateTimeOffset(instant.Ticks, TimeSpan.Zero), api).Should().Be($"\"{text}\"");
        }

        var shipped = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "appsettings.json")))!;
        shipped["Logging"]!["Console"]!["FormatterOptions"]!["TimestampFormat"]!.GetValue<string>().Should().Be(RequestLineJson.ShippedTimestampFormat);
    }

    private static JsonConsoleFormatterOptions ShippedOptions() => new()
    {
        IncludeScopes = true,
        UseUtcTimestamp = true,
        TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ",
    };

    private static void Same<TState>(JsonConsoleFormatterOptions options, IExternalScopeProvider scopes, LogLevel level, EventId eventId, TState state,
        Exception? exception, Func<TState, Exception?, string> format)
    {
        var actual = OurLine(options, scopes, level, eventId, state, exception, format);
        var expected = FormatterLine(options, scopes, level, eventId, state, exception, format);
        Timestamp.Replace(actual, "").Should().Be(Timestamp.Replace(expected, ""));
    }

    private static string OurLine<TState>(JsonConsoleFormatterOptions options, IExternalScopeProvider scopes, LogLevel level, EventId eventId, TState state,
        Exception? exception, Func<TState, Exception?, string> format)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        RequestLineJson.Write(buffer, options, DateTimeOffset.UtcNow, level, RequestLog.Category, eventId, state, exception, format, scopes).Should().BeTrue();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    // The console logger's own JSON formatter, configured with these options.
    private static string FormatterLine<TState>(JsonConsoleFormatterOptions options, IExternalScopeProvider scopes, LogLevel level, EventId eventId, TState state,
        Exception? exception, Func<TState, Exception?, string> format)
    {
        using var services = new ServiceCollection()
            .AddLogging(logging => logging.AddJsonConsole(configure =>
            {
                configure.IncludeScopes = options.IncludeScopes;
                configure.UseUtcTimestamp = options.UseUtcTimestamp;
                configure.TimestampFormat = options.TimestampFormat;
                configure.JsonWriterOptions = options.JsonWriterOptions;
            }))
            .BuildServiceProvider();
        var formatter = services.GetServices<ConsoleFormatter>().Single(candidate => candidate.Name == ConsoleFormatterNames.Json);
        using var text = new StringWriter();
        formatter.Write(new Microsoft.Extensions.Logging.Abstractions.LogEntry<TState>(level, RequestLog.Category, eventId, state, exception, format), scopes, text);
        return text.ToString();
    }

    // The scopes as a logger factory keeps them: with the activity's ids first when tracked.
    private static ILoggerFactory ScopeFactory(ActivityTrackingOptions tracking, out IExternalScopeProvider scopes)
    {
        var grabber = new ScopeGrabber();
        var factory = LoggerFactory.Create(logging => logging.Configure(options => options.ActivityTrackingOptions = tracking).AddProvider(grabber));
        scopes = grabber.Scopes!;
        return factory;
    }

    private sealed class ScopeGrabber : ILoggerProvider, ISupportExternalScope
    {
        public IExternalScopeProvider? Scopes { get; private set; }

        public ILogger CreateLogger(string categoryName) => Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => Scopes = scopeProvider;

        public void Dispose()
        {
        }
    }

    private static ActivityListener ListenTo(ActivitySource source)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = candidate => candidate == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private static void Capture(Action<ILogger, string, int, Exception?> define, string name, int count, out object state, out Func<object, Exception?, string> format)
    {
        var logger = new CapturingLogger();
        define(logger, name, count, null);
        state = logger.RawState!;
        format = (_, _) => logger.Message!;
    }

    // The method this service used to write the line with, generated the same way.
    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Route} answered {StatusCode} in {ElapsedMs:0.0} ms")]
    private static partial void Completed(ILogger logger, string method, string route, int statusCode, double elapsedMs);

    private sealed class CapturingLogger : ILogger
    {
        public EventId EventId { get; private set; }

        public string? Message { get; private set; }

        public object? RawState { get; private set; }

        public List<KeyValuePair<string, object?>> State { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            EventId = eventId;
            Message = formatter(state, exception);
            RawState = state;
            State.AddRange((IEnumerable<KeyValuePair<string, object?>>)state!);
        }
    }
}

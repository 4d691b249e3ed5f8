using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// The request log's lines on standard output: the line the console logger's JSON formatter would write (same
/// properties, same order, same scopes, same <c>Logging:Console:FormatterOptions</c>), written in UTF-8 straight into
/// the <see cref="StdoutBuffer"/> by the request's own thread. Through the console logger a line was formatted to a
/// string, queued, and the logger's thread woken to encode and write it: that hand-over was the largest cost of a fast
/// request. The other categories keep going through the console logger, which no longer writes this one.
/// </summary>
/// <remarks>
/// A logging provider, so the usual filters apply (<c>Logging:LogLevel</c>, and <c>Logging:Console:LogLevel</c>
/// through its alias): at <c>Warning</c> there is no request line, as before. Any other logger (the tests' capture)
/// still gets the line from <see cref="ILogger"/>. The line of a request is written when the request ends, by its
/// thread; the console logger writes the others from its queue, so on a busy service a line logged during a request
/// may land after that request's line (their timestamps tell the order).
/// </remarks>
[ProviderAlias("Console")]
public sealed class RequestLineConsole(StdoutBuffer output, IOptionsMonitor<JsonConsoleFormatterOptions> options) : ILoggerProvider, ISupportExternalScope
{
    private readonly StdoutBuffer output = output;
    private readonly IOptionsMonitor<JsonConsoleFormatterOptions> options = options;
    private IExternalScopeProvider? scopes;

    /// <summary>
    /// With the JSON console formatter (as shipped) and a buffered standard output (the service as the process): the
    /// request lines go through this provider instead of the console logger.
    /// </summary>
    public static ILoggingBuilder AddRequestLineConsole(ILoggingBuilder logging, IConfiguration configuration, StdoutBuffer? output)
    {
        if (output is null || !string.Equals(configuration["Logging:Console:FormatterName"], ConsoleFormatterNames.Json, StringComparison.OrdinalIgnoreCase))
        {
            return logging;
        }

        logging.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, RequestLineConsole>(services =>
            new RequestLineConsole(output, services.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>())));
        // Added after the configuration's rules, so it wins over an equally specific one from Logging:Console:LogLevel.
        return logging.AddFilter<ConsoleLoggerProvider>(RequestLog.Category, LogLevel.None);
    }

    public ILogger CreateLogger(string categoryName) =>
        categoryName == RequestLog.Category ? new Logger(this, categoryName) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(RequestLineConsole provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider.scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var line = Line.Rent();
            try
            {
                if (RequestLineJson.Write(line, provider.options.CurrentValue, DateTimeOffset.UtcNow, logLevel, category, eventId, state, exception, formatter,
                        provider.scopes))
                {
                    provider.output.Write(line.WrittenSpan);
                }
            }
            finally
            {
                Line.Return(line);
            }
        }
    }

    // One buffer a thread, kept while it stays small.
    private static class Line
    {
        private const int KeepUpTo = 16 * 1024;

        [ThreadStatic]
        private static ArrayBufferWriter<byte>? cached;

        public static ArrayBufferWriter<byte> Rent()
        {
            var line = cached ?? new ArrayBufferWriter<byte>(1024);
            cached = null;
            line.ResetWrittenCount();
            return line;
        }

        public static void Return(ArrayBufferWriter<byte> line)
        {
            if (line.Capacity <= KeepUpTo)
            {
                cached = line;
            }
        }
    }
}

/// <summary>
/// A log entry as one line of JSON, as <c>Microsoft.Extensions.Logging.Console</c>'s JSON formatter writes it:
/// <c>Timestamp</c> (if a format is set), <c>EventId</c>, <c>LogLevel</c>, <c>Category</c>, <c>Message</c>,
/// <c>Exception</c> (if any), <c>State</c> (the entry's properties, if any; <c>{}</c> for a state without) and <c>Scopes</c> (if included), then a new line.
/// A <see cref="RequestLine"/> is written without boxing its fields or formatting its message to a string.
/// </summary>
public static class RequestLineJson
{
    private static readonly byte[] NewLine = System.Text.Encoding.UTF8.GetBytes(Environment.NewLine);

    [ThreadStatic]
    private static Utf8JsonWriter? cachedWriter;

    [ThreadStatic]
    private static JsonWriterOptions cachedWriterOptions;

    /// <summary>Appends the line to <paramref name="output"/>; false (nothing written) if the entry has no message and no exception.</summary>
    public static bool Write<TState>(IBufferWriter<byte> output, JsonConsoleFormatterOptions options, DateTimeOffset utcNow, LogLevel logLevel, string category,
        EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter, IExternalScopeProvider? scopes)
    {
        var isRequestLine = state is RequestLine;
        var message = isRequestLine ? null : formatter(state, exception);
        if (!isRequestLine && message is null && exception is null)
        {
            return false;
        }

        var writer = WriterFor(output, options.JsonWriterOptions);
        try
        {
            writer.WriteStartObject();
            if (options.TimestampFormat is { } timestampFormat)
            {
                var stamp = options.UseUtcTimestamp ? utcNow : utcNow.ToLocalTime();
                Span<char> text = stackalloc char[64];
                if (timestampFormat == ShippedTimestampFormat && CultureInfo.CurrentCulture.DateTimeFormat.TimeSeparator == ":" &&
                    CultureInfo.CurrentCulture.Calendar is GregorianCalendar)
                {
                    writer.WriteString("Timestamp", IsoTimestamp.Format(stamp.DateTime, text));
                }
                else if (stamp.TryFormat(text, out var length, timestampFormat, CultureInfo.CurrentCulture))
                {
                    writer.WriteString("Timestamp", text[..length]);
                }
                else
                {
                    writer.WriteString("Timestamp", stamp.ToString(timestampFormat, CultureInfo.CurrentCulture));
                }
            }

            writer.WriteNumber("EventId", eventId.Id);
            writer.WriteString("LogLevel", LevelName(logLevel));
            writer.WriteString("Category", category);
            if (state is RequestLine line)
            {
                WriteMessage(writer, line);
            }
            else
            {
                writer.WriteString("Message", message);
            }

            if (exception is not null)
            {
                writer.WriteString("Exception", exception.ToString());
            }

            if (state is not null)
            {
                writer.WriteStartObject("State");
                WriteProperties(writer, state);
                writer.WriteEndObject();
            }

            if (options.IncludeScopes && scopes is not null)
            {
                writer.WriteStartArray("Scopes");
                scopes.ForEachScope(static (scope, writer) => WriteScope(writer, scope), writer);
                writer.WriteEndArray();
            }

            writer.WriteEndObject();
            writer.Flush();
        }
        finally
        {
            writer.Reset();
        }

        output.Write(NewLine);
        return true;
    }

    private static void WriteProperties<TState>(Utf8JsonWriter writer, TState state)
    {
        if (state is RequestLine line)
        {
            writer.WriteString("Method", line.Method);
            writer.WriteString("Route", line.Route);
            writer.WriteNumber("StatusCode", line.StatusCode);
            writer.WriteNumber("ElapsedMs", line.ElapsedMs);
            writer.WriteString("{OriginalFormat}", RequestLine.OriginalFormat);
        }
        else if (state is IReadOnlyList<KeyValuePair<string, object?>> list)
        {
            for (var i = 0; i < list.Count; i++)
            {
                WriteItem(writer, list[i]);
            }
        }
        else if (state is IReadOnlyCollection<KeyValuePair<string, object?>> collection)
        {
            foreach (var item in collection)
            {
                WriteItem(writer, item);
            }
        }
    }

    /// <summary>
    /// The format appsettings.json sets (<c>Logging:Console:FormatterOptions:TimestampFormat</c>): written by
    /// <see cref="IsoTimestamp"/>, not by parsing the format string for every line (a third of the line's cost).
    /// </summary>
    public const string ShippedTimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

    private static Utf8JsonWriter WriterFor(IBufferWriter<byte> output, JsonWriterOptions options)
    {
        if (cachedWriter is { } writer && SameOptions(cachedWriterOptions, options))
        {
            writer.Reset(output);
            return writer;
        }

        cachedWriter = writer = new Utf8JsonWriter(output, options);
        cachedWriterOptions = options;
        return writer;
    }

    private static bool SameOptions(JsonWriterOptions a, JsonWriterOptions b) =>
        a.Indented == b.Indented && a.SkipValidation == b.SkipValidation && a.MaxDepth == b.MaxDepth && ReferenceEquals(a.Encoder, b.Encoder) &&
        a.IndentCharacter == b.IndentCharacter && a.IndentSize == b.IndentSize && a.NewLine == b.NewLine;

    private static void WriteMessage(Utf8JsonWriter writer, RequestLine line)
    {
        Span<char> text = stackalloc char[256];
        if (line.TryFormat(text, out var length))
        {
            writer.WriteString("Message", text[..length]);
        }
        else
        {
            writer.WriteString("Message", line.ToString());
        }
    }

    private static void WriteScope(Utf8JsonWriter writer, object? scope)
    {
        if (scope is IReadOnlyList<KeyValuePair<string, object?>> list)
        {
            writer.WriteStartObject();
            writer.WriteString("Message", scope.ToString());
            for (var i = 0; i < list.Count; i++)
            {
                WriteItem(writer, list[i]);
            }

            writer.WriteEndObject();
        }
        else if (scope is IEnumerable<KeyValuePair<string, object?>> items)
        {
            writer.WriteStartObject();
            writer.WriteString("Message", scope.ToString());
            foreach (var item in items)
            {
                WriteItem(writer, item);
            }

            writer.WriteEndObject();
        }
        else
        {
            writer.WriteStringValue(Convert.ToString(scope, CultureInfo.InvariantCulture));
        }
    }

    private static void WriteItem(Utf8JsonWriter writer, KeyValuePair<string, object?> item)
    {
        var key = item.Key;
        switch (item.Value)
        {
            case bool value:
                writer.WriteBoolean(key, value);
                break;
            case byte value:
                writer.WriteNumber(key, value);
                break;
            case sbyte value:
                writer.WriteNumber(key, value);
                break;
            case char value:
                writer.WriteString(key, new ReadOnlySpan<char>(in value));
                break;
            case decimal value:
                writer.WriteNumber(key, value);
                break;
            case double value:
                writer.WriteNumber(key, value);
                break;
            case float value:
                writer.WriteNumber(key, value);
                break;
            case int value:
                writer.WriteNumber(key, value);
                break;
            case uint value:
                writer.WriteNumber(key, value);
                break;
            case long value:
                writer.WriteNumber(key, value);
                break;
            case ulong value:
                writer.WriteNumber(key, value);
                break;
            case short value:
                writer.WriteNumber(key, value);
                break;
            case ushort value:
                writer.WriteNumber(key, value);
                break;
            case null:
                writer.WriteNull(key);
                break;
            default:
                writer.WriteString(key, Convert.ToString(item.Value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "Trace",
        LogLevel.Debug => "Debug",
        LogLevel.Information => "Information",
        LogLevel.Warning => "Warning",
        LogLevel.Error => "Error",
        LogLevel.Critical => "Critical",
        _ => throw new ArgumentOutOfRangeException(nameof(level)),
    };
}

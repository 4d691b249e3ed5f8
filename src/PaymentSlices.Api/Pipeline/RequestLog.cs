using System.Collections;
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;

namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// One line per request, once its response is written: method, route template, status and elapsed time. The route is
/// the template (<c>/v1/orders/{orderId}/pay</c>), never the query string, a header or the body, so no key, card or
/// secret can reach it. The request's log scope (with <c>TraceId</c>) is around it, as around every line of the request.
/// </summary>
/// <remarks>
/// ASP.NET Core's own request scope would add the raw path (<c>RequestPath</c>) to every line, and a path can hold what
/// a client should not have put there (a card number typed into a URL, the 3-D Secure page's payment id), so the
/// <c>Microsoft.AspNetCore.Hosting.Diagnostics</c> category is off (appsettings.json). Without it the framework would
/// no longer start a request activity, so a listener asks for one: its trace id is the lines' <c>TraceId</c> scope and
/// the problems' <c>trace_id</c>. On standard output the line is written by <see cref="RequestLineConsole"/>.
/// </remarks>
public static class RequestLog
{
    public const string Category = "PaymentSlices.Requests";

    /// <summary>
    /// The event id the line has always had: the one the logging source generator derived from the name of the
    /// method that wrote it (<c>Completed</c>), kept so that log queries on it still match.
    /// </summary>
    public static readonly EventId CompletedEvent = new(326587726, "Completed");

    private static readonly Lazy<ActivityListener> RequestActivities = new(() =>
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    });

    public static IApplicationBuilder UseRequestLog(this IApplicationBuilder app)
    {
        _ = RequestActivities.Value;
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(Category);
        return app.Use(async (context, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                logger.Log(LogLevel.Information, CompletedEvent, new RequestLine(context.Request.Method, RouteOf(context), context.Response.StatusCode, elapsedMs),
                    null, RequestLine.Format);
            }
        });
    }

    // After an exception the error handler clears the endpoint; the one that threw is on its feature.
    internal static string RouteOf(HttpContext context) =>
        (context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint) is RouteEndpoint endpoint
            ? Rooted(endpoint.RoutePattern.RawText ?? "")
            : "(no route)";

    // The template with one leading '/': as it is when it has one already (a route of the /v1 group), so no new string a request.
    private static string Rooted(string template) =>
        template.StartsWith('/') && !template.StartsWith("//", StringComparison.Ordinal) ? template : "/" + template.TrimStart('/');
}

/// <summary>
/// The request line's state: <c>{Method} {Route} answered {StatusCode} in {ElapsedMs:0.0} ms</c>, with the same
/// properties, in the same order, as the source-generated logging method it replaces, so that every logger sees what it
/// saw before. A struct of its own so that <see cref="RequestLineConsole"/> reads the fields without boxing them.
/// </summary>
public readonly struct RequestLine(string method, string route, int statusCode, double elapsedMs) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string OriginalFormat = "{Method} {Route} answered {StatusCode} in {ElapsedMs:0.0} ms";

    public static readonly Func<RequestLine, Exception?, string> Format = (line, _) => line.ToString();

    public string Method { get; } = method;

    public string Route { get; } = route;

    public int StatusCode { get; } = statusCode;

    public double ElapsedMs { get; } = elapsedMs;

    public int Count => 5;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("Method", Method),
        1 => new("Route", Route),
        2 => new("StatusCode", StatusCode),
        3 => new("ElapsedMs", ElapsedMs),
        4 => new("{OriginalFormat}", OriginalFormat),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    /// <summary>The message, written into <paramref name="destination"/>; false if it does not fit.</summary>
    public bool TryFormat(Span<char> destination, out int written) =>
        destination.TryWrite(CultureInfo.InvariantCulture, $"{Method} {Route} answered {StatusCode} in {ElapsedMs:0.0} ms", out written);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Method} {Route} answered {StatusCode} in {ElapsedMs:0.0} ms");

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

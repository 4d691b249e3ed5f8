using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Routing.Patterns;

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
/// the problems' <c>trace_id</c>.
/// </remarks>
public static partial class RequestLog
{
    public const string Category = "PaymentSlices.Requests";

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
            string? route = null;
            context.Response.OnStarting(() =>
            {
                route ??= RouteOf(context);
                return Task.CompletedTask;
            });
            try
            {
                await next(context);
            }
            finally
            {
                var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                route ??= RouteOf(context);
                Completed(logger, context.Request.Method, route, context.Response.StatusCode, elapsedMs);
            }
        });
    }

    // After an exception the error handler clears the endpoint; the one that threw is on its feature.
    internal static string RouteOf(HttpContext context) =>
        (context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint) is RouteEndpoint { RoutePattern: RoutePattern pattern }
            ? "/" + pattern.RawText?.TrimStart('/')
            : "(no route)";

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Route} answered {StatusCode} in {ElapsedMs:0.0} ms")]
    private static partial void Completed(ILogger logger, string method, string route, int statusCode, double elapsedMs);
}

using System.Text.RegularExpressions;
using System.Diagnostics;
using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// Every error the service answers, from a slice or from the framework itself, is RFC 9457
/// problem+json with <c>type, title, status, detail, instance, code, trace_id</c> (and <c>errors</c> for fields).
/// </summary>
public static partial class ErrorEnvelope
{
    public const string CodeKey = "code";
    public const string ErrorsKey = "errors";
    public const string TraceIdKey = "trace_id";

    public static IServiceCollection AddErrorEnvelope(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context => Complete(context.ProblemDetails, context.HttpContext));
        services.AddExceptionHandler<ExceptionToProblem>();
        // Make body-binding failures (malformed JSON, wrong types) exceptions in every environment, so that
        // ExceptionToProblem answers them with field errors instead of an empty 400.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        return services;
    }

    public static IApplicationBuilder UseErrorEnvelope(this IApplicationBuilder app) =>
        app.UseExceptionHandler().UseStatusCodePages();

    /// <summary>The trace id of the current request, as the logs show it.</summary>
    public static string TraceId(HttpContext context) =>
        Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;

    /// <summary>Fills what every problem carries; a problem written by the framework gets a code from its status.</summary>
    private static void Complete(ProblemDetails problem, HttpContext context)
    {
        var status = problem.Status ?? context.Response.StatusCode;
        if (!problem.Extensions.TryGetValue(CodeKey, out var value) || value is not string code)
        {
            code = CodeForStatus(status);
            problem.Extensions[CodeKey] = code;
            problem.Detail ??= DetailForStatus(status, context.Request);
        }

        problem.Type = $"urn:paymentslices:problem:{code}";
        problem.Instance ??= context.Request.Path;

        // The same members in the same order on every problem: code, trace_id, then any others, errors last.
        problem.Extensions.Remove("traceId");
        problem.Extensions.Remove(CodeKey);
        problem.Extensions.Remove(ErrorsKey, out var errors);
        var others = problem.Extensions.ToList();
        problem.Extensions.Clear();
        problem.Extensions[CodeKey] = code;
        problem.Extensions[TraceIdKey] = TraceId(context);
        foreach (var (key, member) in others.Where(pair => pair.Key != TraceIdKey))
        {
            problem.Extensions[key] = member;
        }

        if (errors is not null)
        {
            problem.Extensions[ErrorsKey] = errors;
        }
    }

    private static string CodeForStatus(int status) => status switch
    {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "route_not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        503 => "service_unavailable",
        >= 500 => "internal_error",
        _ => "http_" + status,
    };

    private static string? DetailForStatus(int status, HttpRequest request) => status switch
    {
        404 => $"No route matches {request.Method} {request.Path}.",
        405 => $"{request.Path} does not accept {request.Method}.",
        413 => "The request body is too large.",
        415 => "Send the body as application/json.",
        >= 500 => "An unexpected error occurred. It was logged with this trace_id.",
        _ => null,
    };

    /// <summary>Turns the exceptions that reach the top into problems; a 500 never carries the exception's text.</summary>
    private sealed partial class ExceptionToProblem(IProblemDetailsService problems, ILogger<ExceptionToProblem> logger) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
            {
                return true; // The client went away; there is nobody to answer.
            }

            var problem = exception switch
            {
                ValidationException validation => FieldProblem(
                    "validation_failed", "The request is invalid.",
                    validation.Errors.GroupBy(e => e.PropertyName, e => e.ErrorMessage)),
                BadHttpRequestException { InnerException: JsonException json } => FromJsonException(json),
                BadHttpRequestException bad when BindingFailure().Match(bad.Message) is { Success: true } binding => FieldProblem(
                    "validation_failed", "The request is invalid.",
                    [Group(JsonNamingPolicy.SnakeCaseLower.ConvertName(binding.Groups["name"].Value),
                        binding.Groups["type"].Value.Contains("int", StringComparison.OrdinalIgnoreCase) ? "Expected a whole number." : "The value has the wrong type.")]),
                // No body, or a JSON null, where the route needs an object.
                BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } => FieldProblem(
                    "invalid_json", "The request body is not valid JSON.", [Group("$", "Send a JSON object as the request body.")]),
                BadHttpRequestException bad => new ProblemDetails { Status = bad.StatusCode },
                ProcessorUnavailableException unavailable => Unavailable(httpContext, unavailable),
                ServiceStoppingException => Stopping(httpContext),
                _ => null,
            };

            if (problem is null)
            {
                LogUnhandled(logger, exception, httpContext.Request.Method, RequestLog.RouteOf(httpContext));
                problem = new ProblemDetails { Status = StatusCodes.Status500InternalServerError, Title = "Internal server error" };
                problem.Extensions[CodeKey] = "internal_error";
                problem.Detail = "An unexpected error occurred. It was logged with this trace_id.";
            }

            httpContext.Response.StatusCode = problem.Status!.Value;
            return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem });
        }

        // Minimal APIs' message for a route or query value that does not parse, e.g. Failed to bind parameter "int? limit" from "ten".
        [GeneratedRegex("^Failed to bind parameter \"(?<type>[^\"]+) (?<name>[A-Za-z0-9_]+)\" from ", RegexOptions.CultureInvariant)]
        private static partial Regex BindingFailure();

        [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception on {Method} {Route}")]
        private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string route);

        /// <summary>
        /// The processor is down or its breaker is open. A charge or refund it may have received stays <c>processing</c> (see
        /// <c>Payments/Charges.cs</c>); one it cannot have received (the breaker refused its first attempt) was removed again.
        /// </summary>
        private static ProblemDetails Unavailable(HttpContext httpContext, ProcessorUnavailableException unavailable)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(unavailable.RetryAfter.TotalSeconds));
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var problem = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Payment processor unavailable",
                Detail = $"The payment processor is not answering. Retry in {seconds} s with the same Idempotency-Key: a charge or refund " +
                         "the processor may already have made is then reused, never repeated. Until then, one it may have received stays " +
                         "processing (its order pending), and the service settles it with the processor by itself.",
            };
            problem.Extensions[CodeKey] = "processor_unavailable";
            return problem;
        }

        /// <summary>Refused while the service drains on shutdown: it was still queued, so nothing was written.</summary>
        private static ProblemDetails Stopping(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = "5";
            httpContext.Response.Headers.Connection = "close";
            var problem = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Service stopping",
                Detail = "The service is restarting and did not process this request; nothing was recorded. Retry in a few seconds " +
                         "with the same Idempotency-Key.",
            };
            problem.Extensions[CodeKey] = "service_unavailable";
            return problem;
        }

        // System.Text.Json's messages name .NET types; we say what the client got wrong, in its terms.
        private static ProblemDetails FromJsonException(JsonException json)
        {
            var field = json.Path is null or "$" ? "$" : json.Path.StartsWith("$.", StringComparison.Ordinal) ? json.Path[2..] : json.Path.TrimStart('$');
            var message = json.Message;
            if (message.Contains("could not be mapped", StringComparison.Ordinal))
            {
                return FieldProblem("validation_failed", "The request is invalid.", [Group(field, "Unknown field.")]);
            }

            if (message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal) ||
                message.StartsWith("A payment source is", StringComparison.Ordinal))
            {
                var expected = message.StartsWith("A payment source is", StringComparison.Ordinal)
                    ? "Expected a token string or a card object."
                    : "The value has the wrong type for this field.";
                return FieldProblem("validation_failed", "The request is invalid.", [Group(field, expected)]);
            }

            return FieldProblem("invalid_json", "The request body is not valid JSON.", [Group(field, "Malformed JSON.")]);
        }

        private static IGrouping<string, string> Group(string key, string message) =>
            new[] { message }.GroupBy(_ => key).Single();

        private static ProblemDetails FieldProblem(string code, string title, IEnumerable<IGrouping<string, string>> errors)
        {
            var byField = errors.ToDictionary(group => group.Key, group => group.Distinct().ToArray());
            var problem = new ProblemDetails
            {
                Status = StatusCodes.Status400BadRequest,
                Title = title,
                Detail = string.Join(" ", byField.Select(pair => $"{pair.Key}: {string.Join(" ", pair.Value)}")),
            };
            problem.Extensions[CodeKey] = code;
            problem.Extensions[ErrorsKey] = byField;
            return problem;
        }
    }
}

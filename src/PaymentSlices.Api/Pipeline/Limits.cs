using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace PaymentSlices.Api.Pipeline;

/// <summary>Per-API-key rate limits and the request body size limit (<c>Limits</c>).</summary>
public sealed class LimitOptions
{
    public const string Section = "Limits";

    /// <summary>Requests each API key may make per second, on average.</summary>
    public int RequestsPerSecond { get; set; } = 100;

    /// <summary>Requests an API key may make at once above the average.</summary>
    public int Burst { get; set; } = 200;

    /// <summary>The largest request body accepted; larger is 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1_048_576;
}

public static class Limits
{
    public static IServiceCollection AddLimits(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<LimitOptions>()
            .Bind(configuration.GetSection(LimitOptions.Section))
            .Validate(o => o.RequestsPerSecond > 0 && o.Burst > 0, "Limits:RequestsPerSecond and Limits:Burst must be positive.")
            .Validate(o => o.MaxRequestBodyBytes >= 1024, "Limits:MaxRequestBodyBytes must be at least 1024.")
            .ValidateOnStart();

        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<LimitOptions>>((options, limits) =>
        {
            var settings = limits.Value;
            // One token bucket per API key (by its id, never the key); requests without a key share one per address.
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                RateLimitPartition.GetTokenBucketLimiter(
                    context.User.FindFirstValue(ApiKeyHandler.KeyIdClaim) ?? "address:" + context.Connection.RemoteIpAddress,
                    _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = settings.Burst,
                        TokensPerPeriod = settings.RequestsPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    }));
            // The framework answers 503 by default; a client over its limit gets 429 problem+json with Retry-After.
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                var problem = new ProblemDetails
                {
                    Status = StatusCodes.Status429TooManyRequests,
                    Title = "Too many requests",
                    Detail = $"This API key is over its limit of {settings.RequestsPerSecond} requests per second; retry after {retryAfter} s.",
                };
                problem.Extensions[ErrorEnvelope.CodeKey] = "rate_limited";
                await context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>()
                    .WriteAsync(new ProblemDetailsContext { HttpContext = context.HttpContext, ProblemDetails = problem });
            };
        });
        return services;
    }

    /// <summary>
    /// Rejects a declared body over the limit with 413 before reading it, and caps a streamed one (which the
    /// framework answers with the same 413 problem). "Content Too Large" is RFC 9110's name for 413.
    /// </summary>
    public static IApplicationBuilder UseBodySizeLimit(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var limit = context.RequestServices.GetRequiredService<IOptions<LimitOptions>>().Value.MaxRequestBodyBytes;
            if (context.Request.ContentLength > limit)
            {
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                var problem = new ProblemDetails { Status = StatusCodes.Status413PayloadTooLarge, Title = "Content Too Large", Detail = $"The request body is larger than {limit} bytes." };
                problem.Extensions[ErrorEnvelope.CodeKey] = "payload_too_large";
                await context.RequestServices.GetRequiredService<IProblemDetailsService>()
                    .WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
                return;
            }

            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
            {
                feature.MaxRequestBodySize = limit; // a chunked body over the limit fails with 413 as it is read
            }

            await next(context);
        });
}

using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Pipeline;

/// <summary>Retention of idempotency keys (<c>Idempotency:Retention</c>, env <c>Idempotency__Retention</c>).</summary>
public sealed class IdempotencyOptions
{
    public const string Section = "Idempotency";

    /// <summary>How long a key replays its first response; after that it runs as new. 24 hours by default.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often expired keys are deleted.</summary>
    public TimeSpan PurgeInterval { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// <c>Idempotency-Key</c> on every POST (contract "Idempotency"; IETF draft-ietf-httpapi-idempotency-key-header).
/// The first request with a key runs; its status, body, <c>Content-Type</c> and <c>Location</c> are stored in the
/// same transaction as the slice's writes, so no crash can leave a charge without its key or a key without its
/// charge. A repeat gets those bytes back with <c>Idempotent-Replayed: true</c>, and nothing runs again.
/// </summary>
/// <remarks>
/// This is an endpoint filter rather than a MediatR behaviour because what it stores is the HTTP response,
/// which exists only once the endpoint has mapped the handler's outcome. It opens the write transaction
/// itself; the pipeline's <see cref="TransactionBehaviour{TRequest,TResponse}"/> joins it.
/// </remarks>
public sealed partial class IdempotencyFilter(
    Db db, IdempotencyInFlight inFlight, RequestIdempotency current, IOptions<IdempotencyOptions> options, TimeProvider clock,
    IProblemDetailsService problems)
    : IEndpointFilter
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    // Claims the key in one statement: a new key, or one whose retention has run out, becomes this
    // request's; a live one is left alone (0 rows). No read-then-insert window, on SQLite or PostgreSQL.
    private const string Claim = """
        INSERT INTO idempotency_keys (api_key_id, idempotency_key, fingerprint, method, path, created_at, expires_at)
        VALUES (@ApiKeyId, @Key, @Fingerprint, @Method, @Path, @Now, @ExpiresAt)
        ON CONFLICT (api_key_id, idempotency_key) DO UPDATE SET
            fingerprint = excluded.fingerprint, method = excluded.method, path = excluded.path,
            status_code = NULL, content_type = NULL, location = NULL, response_body = NULL,
            created_at = excluded.created_at, expires_at = excluded.expires_at
        WHERE idempotency_keys.expires_at <= @Now
        """;

    private const string SelectStored = """
        SELECT fingerprint, status_code, content_type, location, response_body
        FROM idempotency_keys WHERE api_key_id = @ApiKeyId AND idempotency_key = @Key
        """;

    private const string Store = """
        UPDATE idempotency_keys SET status_code = @StatusCode, content_type = @ContentType, location = @Location, response_body = @ResponseBody
        WHERE api_key_id = @ApiKeyId AND idempotency_key = @Key
        """;

    private static readonly JsonSerializerOptions FingerprintJson = CreateFingerprintJson();

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!HttpMethods.IsPost(http.Request.Method) || !http.Request.Headers.TryGetValue(Header, out var values))
        {
            return await next(context);
        }

        var key = values.ToString();
        if (!IsValidKey(key))
        {
            return Problem(StatusCodes.Status400BadRequest, "invalid_idempotency_key", "Invalid Idempotency-Key",
                "The Idempotency-Key header must be 1 to 255 printable ASCII characters.",
                new Dictionary<string, string[]> { [Header] = ["Must be 1 to 255 printable ASCII characters."] });
        }

        var claim = new KeyClaim(
            http.User.FindFirstValue(ApiKeyHandler.KeyIdClaim) ?? "anonymous", key, Fingerprint(context), http.Request.Method,
            http.Request.Path.Value ?? "/");
        if (!inFlight.TryEnter(claim.ApiKeyId, key))
        {
            http.Response.Headers.RetryAfter = "1";
            return Problem(StatusCodes.Status409Conflict, "idempotency_request_in_progress", "Request in progress",
                "A request with this Idempotency-Key is still being processed; retry after it completes.");
        }

        try
        {
            return await RunOnceAsync(context, next, claim);
        }
        finally
        {
            await db.EndAsync();
            inFlight.Exit(claim.ApiKeyId, key);
        }
    }

    private async Task<object?> RunOnceAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, KeyClaim claim)
    {
        var http = context.HttpContext;
        await db.BeginRequestAsync(CancellationToken.None);
        var connection = await db.OpenAsync(CancellationToken.None);
        var now = clock.Now();
        var claimed = await connection.ExecuteAsync(db.Command(Claim, new
        {
            claim.ApiKeyId, claim.Key, claim.Fingerprint, claim.Method, claim.Path, Now = now, ExpiresAt = now + options.Value.Retention,
        }, CancellationToken.None));

        if (claimed == 0)
        {
            var stored = await connection.QuerySingleAsync<StoredResponse>(db.Command(SelectStored, claim, CancellationToken.None));
            return stored.Fingerprint != claim.Fingerprint
                ? Problem(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused", "Idempotency-Key reused",
                    "This Idempotency-Key was already used with a different request (method, path or body). Use a new key for a new request.")
                : new Replay(stored);
        }

        // Exceptions (validation failures, bugs) leave through the finally above: rolled back, nothing stored.
        current.Set(claim.ApiKeyId, claim.Key, claim.Fingerprint);
        var result = await next(context);
        if (result is not IResult httpResult)
        {
            throw new InvalidOperationException($"An idempotent endpoint returned {result?.GetType().Name ?? "null"}, not an IResult.");
        }

        var response = await RenderAsync(http, httpResult);

        // Invalid input (400) and server errors are not kept: the transaction rolls back, the key stays free
        // for a corrected retry. Everything else (201, 402 decline, 404, 409, ...) is kept and replayed.
        if (response.StatusCode is not (StatusCodes.Status400BadRequest or >= 500))
        {
            await connection.ExecuteAsync(db.Command(Store, new
            {
                claim.ApiKeyId, claim.Key, response.StatusCode, response.ContentType, response.Location, ResponseBody = response.Body,
            }, CancellationToken.None));
            await db.CommitAsync(CancellationToken.None);
        }

        return new Replay(response, replayed: false);
    }

    /// <summary>Runs the result against a buffer, so that the exact bytes can be stored before they are sent.</summary>
    private static async Task<StoredResponse> RenderAsync(HttpContext http, IResult result)
    {
        var original = http.Response.Body;
        await using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            await result.ExecuteAsync(http);
        }
        finally
        {
            http.Response.Body = original;
        }

        return new StoredResponse
        {
            StatusCode = http.Response.StatusCode,
            ContentType = http.Response.ContentType,
            Location = http.Response.Headers.Location.ToString() is { Length: > 0 } location ? location : null,
            ResponseBody = buffer.ToArray(),
        };
    }

    /// <summary>SHA-256 of method, path and the bound request, with card numbers masked and CVCs left out (never hashed).</summary>
    private static string Fingerprint(EndpointFilterInvocationContext context)
    {
        var bound = context.Arguments.Where(argument => argument is not (null or IMediator or CancellationToken or HttpContext));
        var canonical = $"{context.HttpContext.Request.Method}\n{context.HttpContext.Request.Path}\n{JsonSerializer.Serialize(bound, FingerprintJson)}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    private static bool IsValidKey(string key) => key.Length is >= 1 and <= 255 && key.All(c => c is >= ' ' and <= '~');

    private ProblemResult Problem(int status, string code, string title, string detail, IReadOnlyDictionary<string, string[]>? errors = null) =>
        new(problems, new ApiError(status, code, title, detail) { Errors = errors });

    private static JsonSerializerOptions CreateFingerprintJson()
    {
        var json = new JsonSerializerOptions();
        Json.Configure(json);
        json.Converters.Add(new MaskedSourceConverter());
        return json;
    }

    private sealed record KeyClaim(string ApiKeyId, string Key, string Fingerprint, string Method, string Path);

    private sealed class StoredResponse
    {
        public string Fingerprint { get; init; } = "";
        public int StatusCode { get; init; }
        public string? ContentType { get; init; }
        public string? Location { get; init; }
        public byte[] ResponseBody { get; init; } = [];

        public byte[] Body => ResponseBody;
    }

    /// <summary>Writes a stored response: the same status, headers and bytes, marked as a replay when it is one.</summary>
    private sealed class Replay(StoredResponse response, bool replayed = true) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = response.StatusCode;
            httpContext.Response.ContentType = response.ContentType;
            if (response.Location is not null)
            {
                httpContext.Response.Headers.Location = response.Location;
            }

            if (replayed)
            {
                httpContext.Response.Headers[ReplayedHeader] = "true";
            }

            await httpContext.Response.Body.WriteAsync(response.Body);
        }
    }

    private sealed class ProblemResult(IProblemDetailsService problems, ApiError error) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var problem = new ProblemDetails { Status = error.Status, Title = error.Title, Detail = error.Detail };
            problem.Extensions[ErrorEnvelope.CodeKey] = error.Code;
            if (error.Errors is not null)
            {
                problem.Extensions[ErrorEnvelope.ErrorsKey] = error.Errors;
            }

            httpContext.Response.StatusCode = error.Status;
            await problems.WriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem });
        }
    }

    /// <summary>Card numbers as their length and last four digits; the CVC not at all.</summary>
    private sealed class MaskedSourceConverter : JsonConverter<PaymentSource>
    {
        public override PaymentSource Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException();

        public override void Write(Utf8JsonWriter writer, PaymentSource value, JsonSerializerOptions options)
        {
            if (value.Token is not null)
            {
                writer.WriteStringValue(value.Token);
                return;
            }

            var card = value.Card!;
            JsonSerializer.Serialize(writer, new
            {
                card.Object,
                Number = card.Number is { Length: >= 4 } number ? $"{number.Length}:{number[^4..]}" : null,
                card.ExpMonth, card.ExpYear, card.Name, card.AddressLine1, card.AddressLine2, card.AddressCity,
                card.AddressCountry, card.AddressPostCode,
            }, options);
        }
    }
}

/// <summary>
/// The request's Idempotency-Key, as the processor should see it. A charge made for a request whose answer
/// was lost (a 503 after the processor acted) is found again when the client retries with the same key,
/// because the processor's idempotency key is derived from it instead of from a new payment id.
/// </summary>
public sealed class RequestIdempotency
{
    private string? scope;

    /// <summary>The processor idempotency key for this request's <paramref name="purpose"/>, or <paramref name="fallback"/> without a key.</summary>
    public string ProcessorKey(string purpose, string fallback) =>
        scope is null ? fallback : "idem_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{scope}\n{purpose}")))[..40];

    // The fingerprint is part of it: after a 400 (not stored), a corrected request with the same key is a new charge.
    internal void Set(string apiKeyId, string key, string fingerprint) => scope = $"{apiKeyId}\n{key}\n{fingerprint}";
}

/// <summary>The keys whose first request is running in this process: a second one answers 409 at once.</summary>
public sealed class IdempotencyInFlight
{
    private readonly ConcurrentDictionary<(string, string), byte> running = new();

    public bool TryEnter(string apiKeyId, string key) => running.TryAdd((apiKeyId, key), 0);

    public void Exit(string apiKeyId, string key) => running.TryRemove((apiKeyId, key), out _);
}

/// <summary>Deletes keys whose retention has run out, every <see cref="IdempotencyOptions.PurgeInterval"/>.</summary>
public sealed class IdempotencyPurger(
    IServiceScopeFactory scopes, IOptions<IdempotencyOptions> options, TimeProvider clock, ILogger<IdempotencyPurger> logger)
    : PeriodicWriteJob(scopes, logger)
{
    private const string Purge = "DELETE FROM idempotency_keys WHERE expires_at <= @Now";

    protected override TimeSpan Interval => options.Value.PurgeInterval;

    public Task<int> PurgeAsync(CancellationToken cancellationToken) => RunOnceAsync(cancellationToken);

    protected override Task<int> RunAsync(IServiceProvider services, Db db, System.Data.Common.DbConnection connection, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(db.Command(Purge, new { Now = clock.Now() }, cancellationToken));
}

public static class IdempotencyRegistration
{
    public static IServiceCollection AddIdempotency(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IdempotencyOptions>()
            .Bind(configuration.GetSection(IdempotencyOptions.Section))
            .Validate(o => o.Retention > TimeSpan.Zero && o.Retention <= TimeSpan.FromDays(30),
                "Idempotency:Retention must be between 00:00:00 and 30.00:00:00, e.g. 1.00:00:00 for 24 hours (a bare number means days).")
            .Validate(o => o.PurgeInterval >= TimeSpan.FromMilliseconds(10) && o.PurgeInterval <= TimeSpan.FromDays(1),
                "Idempotency:PurgeInterval must be between 00:00:00.010 and 1.00:00:00, e.g. 00:15:00 (a bare number means days).")
            .ValidateOnStart();
        services.AddSingleton<IdempotencyInFlight>();
        services.AddScoped<IdempotencyFilter>();
        services.AddScoped<RequestIdempotency>();
        services.AddSingleton<IdempotencyPurger>();
        services.AddHostedService(provider => provider.GetRequiredService<IdempotencyPurger>());
        return services;
    }

    /// <summary>Every POST of the group honours <c>Idempotency-Key</c>.</summary>
    public static RouteGroupBuilder WithIdempotencyKeys(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(async (context, next) =>
            await context.HttpContext.RequestServices.GetRequiredService<IdempotencyFilter>().InvokeAsync(context, next));
        return group;
    }
}

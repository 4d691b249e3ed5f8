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

    /// <summary>
    /// How long a key whose request is running stays leased to its instance when that instance dies: a repeat is 409
    /// until then, and continues the request after. Longer than a request can run (the processor's attempts and
    /// retries: 4 x 10 s by default). A request that ends releases its lease at once.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often expired keys are deleted.</summary>
    public TimeSpan PurgeInterval { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// <c>Idempotency-Key</c> on every POST (contract "Idempotency"; IETF draft-ietf-httpapi-idempotency-key-header).
/// The first request with a key runs. The key is claimed in the request's first write turn, with its first writes
/// (for a charge: with the processing payment, before the processor is called), and its status, body,
/// <c>Content-Type</c> and <c>Location</c> are stored in its last turn, with its last writes. A repeat gets those bytes
/// back with <c>Idempotent-Replayed: true</c>, and nothing runs again.
/// </summary>
/// <remarks>
/// This is an endpoint filter rather than a MediatR behaviour because what it stores is the HTTP response,
/// which exists only once the endpoint has mapped the handler's outcome: the handler's last turn is left open
/// (see <see cref="TransactionBehaviour{TRequest,TResponse}"/>) and committed here once the response is in it.
/// A key claimed by a request that ended without a stored response (the processor did not answer, the service
/// stopped between the phases of a charge) is continued by a retry with the same body: the charging slices find
/// their payment by its processor key, which the same key and body give again.
/// </remarks>
public sealed partial class IdempotencyFilter(
    Db db, IdempotencyInFlight inFlight, RequestIdempotency current, IOptions<IdempotencyOptions> options, TimeProvider clock,
    IProblemDetailsService problems, ILogger<IdempotencyFilter> logger)
    : IEndpointFilter
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    // Claims the key in one statement: a new key, or one whose retention has run out, becomes this
    // request's; a live one is left alone (0 rows). No read-then-insert window, on SQLite or PostgreSQL.
    // The claim leases the key to this instance (see IdempotencyOptions.Lease).
    private const string Claim = """
        INSERT INTO idempotency_keys (api_key_id, idempotency_key, fingerprint, method, path, created_at, expires_at, locked_by, locked_until)
        VALUES (@ApiKeyId, @Key, @Fingerprint, @Method, @Path, @Now, @ExpiresAt, @Instance, @LockedUntil)
        ON CONFLICT (api_key_id, idempotency_key) DO UPDATE SET
            fingerprint = excluded.fingerprint, method = excluded.method, path = excluded.path,
            status_code = NULL, content_type = NULL, location = NULL, response_body = NULL,
            created_at = excluded.created_at, expires_at = excluded.expires_at,
            locked_by = excluded.locked_by, locked_until = excluded.locked_until
        WHERE idempotency_keys.expires_at <= @Now
        """;

    // A key claimed by a request that ended without an answer to keep: leased to this request, unless another holds it.
    private const string TakeOver = """
        UPDATE idempotency_keys SET locked_by = @Instance, locked_until = @LockedUntil
        WHERE api_key_id = @ApiKeyId AND idempotency_key = @Key AND status_code IS NULL AND fingerprint = @Fingerprint
          AND (locked_until IS NULL OR locked_until <= @Now)
        """;

    // A request that ends without an answer to keep (an exception after its first turn committed) frees its key at once.
    private const string Unlock = """
        UPDATE idempotency_keys SET locked_by = NULL, locked_until = NULL
        WHERE api_key_id = @ApiKeyId AND idempotency_key = @Key AND status_code IS NULL AND locked_by = @Instance
        """;

    private const string SelectStored = """
        SELECT fingerprint, status_code, content_type, location, response_body, expires_at, locked_until
        FROM idempotency_keys WHERE api_key_id = @ApiKeyId AND idempotency_key = @Key
        """;

    private const string Store = """
        UPDATE idempotency_keys SET status_code = @StatusCode, content_type = @ContentType, location = @Location, response_body = @ResponseBody,
            locked_by = NULL, locked_until = NULL
        WHERE api_key_id = @ApiKeyId AND idempotency_key = @Key
        """;

    // A response that is not kept (400, 5xx) leaves the key free for a corrected retry.
    private const string Release = """
        DELETE FROM idempotency_keys WHERE api_key_id = @ApiKeyId AND idempotency_key = @Key AND status_code IS NULL
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
            return InProgress(http);
        }

        var lease = new Lease(claim, db.Instance);
        try
        {
            return await RunOnceAsync(context, next, claim, lease);
        }
        catch (IdempotencyClaimLostException)
        {
            return InProgress(http);
        }
        finally
        {
            await db.EndAsync();
            if (lease.Held)
            {
                await UnlockAsync(lease);
            }

            inFlight.Exit(claim.ApiKeyId, key);
        }
    }

    /// <summary>Frees the key of a request that ended with its lease committed and no answer stored, for a retry to continue.</summary>
    private async Task UnlockAsync(Lease lease)
    {
        try
        {
            await db.BeginAsync(CancellationToken.None);
            await (await db.OpenAsync(CancellationToken.None)).ExecuteAsync(db.Command(Unlock, lease, CancellationToken.None));
            await db.CommitAsync(CancellationToken.None);
        }
        catch (Exception error) when (error is System.Data.Common.DbException or DbWriteFailedException)
        {
            await db.EndAsync();
            LogUnlockFailed(logger, error); // the lease runs out by itself
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "An Idempotency-Key's lease could not be released; it runs out by itself")]
    private static partial void LogUnlockFailed(ILogger logger, Exception exception);

    private async Task<object?> RunOnceAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next, KeyClaim claim, Lease lease)
    {
        var http = context.HttpContext;
        var now = clock.Now();
        var continues = false; // a claim left without an answer, taken over: the slices look for what it charged
        lease.Now = now;
        lease.LockedUntil = now + options.Value.Lease;
        var connection = await db.OpenAsync(CancellationToken.None);
        var stored = await connection.QuerySingleOrDefaultAsync<StoredResponse>(db.Command(SelectStored, claim, CancellationToken.None));
        if (stored is not null && stored.ExpiresAt > now)
        {
            if (stored.Fingerprint != claim.Fingerprint)
            {
                return Problem(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused", "Idempotency-Key reused",
                    "This Idempotency-Key was already used with a different request (method, path or body). Use a new key for a new request.");
            }

            if (stored.StatusCode is not null)
            {
                return new Replay(stored);
            }

            // Claimed by a request that ended without an answer to keep: this one continues it, under the same claim, once
            // it holds the key's lease (committed before anything else happens, so that no other instance continues it too).
            if (stored.LockedUntil > now)
            {
                return InProgress(http);
            }

            await db.BeginRequestAsync(CancellationToken.None);
            if (await (await db.OpenAsync(CancellationToken.None)).ExecuteAsync(db.Command(TakeOver, lease, CancellationToken.None)) == 0)
            {
                return InProgress(http); // another request took it, or answered it, since our read
            }

            db.OnCommitted(() => lease.Held = true);
            await db.CommitAsync(CancellationToken.None);
            continues = true;
        }
        else
        {
            var parameters = new
            {
                claim.ApiKeyId, claim.Key, claim.Fingerprint, claim.Method, claim.Path, Now = now, ExpiresAt = now + options.Value.Retention,
                lease.Instance, lease.LockedUntil,
            };
            db.BeforeFirstWrite(async (session, writer) =>
            {
                if (await writer.ExecuteAsync(session.Command(Claim, parameters, CancellationToken.None)) == 0)
                {
                    throw new IdempotencyClaimLostException(); // another instance claimed it since our read
                }

                session.OnCommitted(() => lease.Held = true);
            });
        }

        // Exceptions (validation failures, bugs, a processor that does not answer) leave through the finally above:
        // the open turn rolls back; what earlier turns committed stays, for a retry with this key to continue.
        current.Set(claim.ApiKeyId, claim.Key, claim.Fingerprint, continues);
        var result = await next(context);
        if (result is not IResult httpResult)
        {
            throw new InvalidOperationException($"An idempotent endpoint returned {result?.GetType().Name ?? "null"}, not an IResult.");
        }

        var response = await RenderAsync(http, httpResult);
        if (!db.InTurn)
        {
            await db.BeginRequestAsync(CancellationToken.None); // an outcome with no write of its own (404): the claim and the answer
        }

        var writer = await db.OpenAsync(CancellationToken.None);

        // Invalid input (400), auth failures (a payment intent's wrong client_secret: 403) and server errors are not
        // kept: the key is released (a claim made in this very turn rolls back with it), free for a corrected retry.
        // Everything else (201, 402 decline, 404, 409, ...) is kept.
        if (response.StatusCode is StatusCodes.Status400BadRequest or StatusCodes.Status403Forbidden or >= 500)
        {
            await writer.ExecuteAsync(db.Command(Release, claim, CancellationToken.None));
        }
        else
        {
            await writer.ExecuteAsync(db.Command(Store, new
            {
                claim.ApiKeyId, claim.Key, response.StatusCode, response.ContentType, response.Location, ResponseBody = response.Body,
            }, CancellationToken.None));
        }

        await db.CommitAsync(CancellationToken.None);
        lease.Held = false; // stored or released with the answer
        return new Replay(response, replayed: false);
    }

    private ProblemResult InProgress(HttpContext http)
    {
        http.Response.Headers.RetryAfter = "1";
        return Problem(StatusCodes.Status409Conflict, "idempotency_request_in_progress", "Request in progress",
            "A request with this Idempotency-Key is still being processed; retry after it completes.");
    }

    /// <summary>
    /// Runs the result against a buffer, so that the exact bytes can be stored before they are sent. The client may have
    /// gone away while the request ran (a slow processor, its own timeout): the answer is rendered whole all the same,
    /// for its retry with the key is what gets it. ASP.NET Core's JSON and problem writers stop at
    /// <see cref="HttpContext.RequestAborted"/> without an error, leaving the buffer empty, so it is detached meanwhile.
    /// </summary>
    private static async Task<StoredResponse> RenderAsync(HttpContext http, IResult result)
    {
        var original = http.Response.Body;
        var aborted = http.RequestAborted;
        await using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        http.RequestAborted = CancellationToken.None;
        try
        {
            await result.ExecuteAsync(http);
        }
        finally
        {
            http.Response.Body = original;
            http.RequestAborted = aborted;
        }

        var response = new StoredResponse
        {
            StatusCode = http.Response.StatusCode,
            ContentType = http.Response.ContentType,
            Location = http.Response.Headers.Location.ToString() is { Length: > 0 } location ? location : null,
            ResponseBody = buffer.ToArray(),
        };

        // Every answer of these routes has a body: an empty one would be replayed for the key's whole retention. Failing
        // here rolls the request's open turn back (a charge stays processing), and its retry with the key continues it.
        if (response.ResponseBody.Length == 0 && response.StatusCode is not (StatusCodes.Status204NoContent or >= 300 and < 400))
        {
            throw new InvalidOperationException($"The answer ({response.StatusCode}) rendered no body; it is not stored.");
        }

        return response;
    }

    /// <summary>SHA-256 of method, path and the bound request, with card numbers masked and CVCs left out (never hashed).</summary>
    private static string Fingerprint(EndpointFilterInvocationContext context)
    {
        var bound = context.Arguments.Where(argument => argument is not (null or IMediator or CancellationToken or HttpContext));
        // The bytes hashed are "method\npath\njson" in UTF-8, as stored fingerprints were computed: the JSON is hashed as
        // serialised, without a string in between.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{context.HttpContext.Request.Method}\n{context.HttpContext.Request.Path}\n"));
        hash.AppendData(JsonSerializer.SerializeToUtf8Bytes(bound, FingerprintJson));
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        hash.GetHashAndReset(digest);
        return Convert.ToHexStringLower(digest);
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

    /// <summary>This request's lease on its key; <see cref="Held"/> once a turn that took it has committed.</summary>
    private sealed class Lease(KeyClaim claim, string instance)
    {
        public string ApiKeyId => claim.ApiKeyId;

        public string Key => claim.Key;

        public string Fingerprint => claim.Fingerprint;

        public string Instance => instance;

        public DateTimeOffset Now { get; set; }

        public DateTimeOffset LockedUntil { get; set; }

        public bool Held { get; set; }
    }

    private sealed class StoredResponse
    {
        public string Fingerprint { get; init; } = "";
        public int? StatusCode { get; init; }
        public string? ContentType { get; init; }
        public string? Location { get; init; }
        public byte[] ResponseBody { get; init; } = [];
        public DateTimeOffset ExpiresAt { get; init; }

        public DateTimeOffset? LockedUntil { get; init; }

        public byte[] Body => ResponseBody;
    }

    /// <summary>Writes a stored response: the same status, headers and bytes, marked as a replay when it is one.</summary>
    private sealed class Replay(StoredResponse response, bool replayed = true) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = response.StatusCode!.Value;
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
/// <remarks>
/// Only a request that continues a claim left without an answer (<see cref="Continues"/>) looks its charge up before
/// phase one. One that claimed its key itself does not, as a rule: the key may have been claimed before all the same, by
/// a request whose claim has run out since (a processor down past the retention) and that charged under the same
/// processor key. So such a request looks after all (<see cref="TryContinue"/>) when the slice would refuse it (that
/// charge may be what keeps its order pending or paid, or what leaves too little to refund), and when its phase one finds
/// the processor key taken (the unique index on it), rolled back: then it continues that charge, or answers with it.
/// </remarks>
public sealed class RequestIdempotency
{
    private string? scope;

    /// <summary>True when the request carries an Idempotency-Key: its last write turn is committed by the filter.</summary>
    public bool IsActive => scope is not null;

    /// <summary>
    /// True when an earlier request with the same key and body may have charged (or refunded) under this request's processor
    /// keys: it took over a claim left without an answer, or its phase one found its processor key taken.
    /// </summary>
    public bool Continues { get; private set; }

    /// <summary>
    /// True, and from here on <see cref="Continues"/>, when the request carries a key and did not look for an earlier
    /// request's charge under it: the slice runs again as a continuation, which looks. False when there is nothing to look
    /// for (no key) or it looked already.
    /// </summary>
    public bool TryContinue()
    {
        if (!IsActive || Continues)
        {
            return false;
        }

        Continues = true;
        return true;
    }

    /// <summary>
    /// From here on <see cref="Continues"/>, after the request's phase one found its processor key taken: the slice runs
    /// again as a continuation. Throws when it had looked already: a key taken although the look-up found nothing is a
    /// bug, not a reason to loop.
    /// </summary>
    public void ContinueAfterTakenKey()
    {
        if (!TryContinue())
        {
            throw new InvalidOperationException("The processor key was taken although the request had looked for an earlier charge under it.");
        }
    }

    /// <summary>The processor idempotency key for this request's <paramref name="purpose"/>, or <paramref name="fallback"/> without a key.</summary>
    public string ProcessorKey(string purpose, string fallback) =>
        scope is null ? fallback : "idem_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{scope}\n{purpose}")))[..40];

    // The fingerprint is part of it: after a 400 (not stored), a corrected request with the same key is a new charge.
    internal void Set(string apiKeyId, string key, string fingerprint, bool continues)
    {
        scope = $"{apiKeyId}\n{key}\n{fingerprint}";
        Continues = continues;
    }
}

/// <summary>The key was claimed by another instance between this request's read of it and its claim: 409, retry.</summary>
public sealed class IdempotencyClaimLostException() : Exception("The Idempotency-Key was claimed by another request.");

/// <summary>
/// The keys whose first request is running in this process: a second one answers 409 at once, without asking the
/// database. Across instances, the key's lease in the database does the same (<see cref="IdempotencyOptions.Lease"/>).
/// </summary>
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
            .Validate(o => o.Lease >= TimeSpan.FromSeconds(1) && o.Lease <= TimeSpan.FromHours(1),
                "Idempotency:Lease must be between 00:00:01 and 01:00:00, e.g. 00:01:00 (a bare number means days).")
            .Validate(o => o.PurgeInterval >= TimeSpan.FromMilliseconds(10) && o.PurgeInterval <= TimeSpan.FromDays(1),
                "Idempotency:PurgeInterval must be between 00:00:00.010 and 1.00:00:00, e.g. 00:15:00 (a bare number means days).")
            .ValidateOnStart();
        services.AddSingleton<IdempotencyInFlight>();
        services.AddLeftoverLeases("UPDATE idempotency_keys SET locked_by = NULL, locked_until = NULL WHERE locked_until IS NOT NULL");
        services.AddScoped<IdempotencyFilter>();
        services.AddScoped<RequestIdempotency>();
        services.AddSingleton<IdempotencyPurger>();
        services.AddHostedService(provider => provider.GetRequiredService<IdempotencyPurger>());
        return services;
    }

    /// <summary>
    /// Every POST of the group honours <c>Idempotency-Key</c>. A route that cannot be a POST (a GET) gets no filter at all:
    /// with none, the framework calls its handler directly, without a filter pipeline (an invocation context and boxed
    /// arguments) or a filter resolved from the request's services, per request. The filter still checks the method, for a
    /// route that takes several.
    /// </summary>
    public static RouteGroupBuilder WithIdempotencyKeys(this RouteGroupBuilder group)
    {
        ((IEndpointConventionBuilder)group).Add(route =>
        {
            if (MayBePost(route.Metadata))
            {
                route.FilterFactories.Add((_, next) => async context =>
                    await context.HttpContext.RequestServices.GetRequiredService<IdempotencyFilter>().InvokeAsync(context, next));
            }
        });
        return group;
    }

    // No method metadata: the route takes any method, POST too.
    internal static bool MayBePost(IEnumerable<object> metadata) =>
        metadata.OfType<IHttpMethodMetadata>().LastOrDefault() is not { HttpMethods.Count: > 0 } route || route.HttpMethods.Any(HttpMethods.IsPost);
}

using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace PaymentSlices.Api.Pipeline;

/// <summary>API keys by role, from configuration (<c>ApiKeys:Storefront:0</c>, env <c>ApiKeys__Storefront__0</c>).</summary>
public sealed class ApiKeyOptions
{
    public const string Section = "ApiKeys";

    /// <summary>The shortest key accepted at start-up: guessing one must be hopeless.</summary>
    public const int MinimumKeyLength = 16;

    public string[] Storefront { get; set; } = [];

    public string[] PaymentSystem { get; set; } = [];
}

/// <summary>The two roles of the contract, and the authorization policies named after them.</summary>
public static class ApiRoles
{
    /// <summary>The storefront: everything except mark-paid.</summary>
    public const string Storefront = "storefront";

    /// <summary>The payment system: mark-paid, and reads.</summary>
    public const string PaymentSystem = "payment_system";

    /// <summary>Policy for reads: either role.</summary>
    public const string AnyRole = "any_role";

    public const string Scheme = "ApiKey";

    public static IServiceCollection AddApiKeys(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ApiKeyOptions>()
            .Bind(configuration.GetSection(ApiKeyOptions.Section))
            .Validate(options => options.Storefront.Length > 0 && options.PaymentSystem.Length > 0,
                "API keys are not configured: set ApiKeys:Storefront and ApiKeys:PaymentSystem " +
                "(environment ApiKeys__Storefront__0 and ApiKeys__PaymentSystem__0). Only Development has default keys.")
            .Validate(options => options.Storefront.Concat(options.PaymentSystem).All(key => !string.IsNullOrWhiteSpace(key)),
                "ApiKeys: a configured API key is empty.")
            // A key read from a file often ends with a newline: it would start, and then no request could ever match it.
            .Validate(options => options.Storefront.Concat(options.PaymentSystem).All(key => string.IsNullOrWhiteSpace(key) || key == key.Trim()),
                "ApiKeys: a configured API key starts or ends with white space (a newline from a file?); remove it.")
            .Validate(options => options.Storefront.Concat(options.PaymentSystem).All(key => string.IsNullOrWhiteSpace(key) || key.Trim().Length >= ApiKeyOptions.MinimumKeyLength),
                $"ApiKeys: a configured API key is shorter than {ApiKeyOptions.MinimumKeyLength} characters; use a long random key.")
            .Validate(options => !options.Storefront.Intersect(options.PaymentSystem, StringComparer.Ordinal).Any(),
                "ApiKeys: the same key is configured for both roles; give each role its own keys.")
            .ValidateOnStart();

        services.AddSingleton<ApiKeyStore>();
        services.AddAuthentication(Scheme).AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(Scheme, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Storefront, policy => policy.RequireRole(Storefront))
            .AddPolicy(PaymentSystem, policy => policy.RequireRole(PaymentSystem))
            .AddPolicy(AnyRole, policy => policy.RequireRole(Storefront, PaymentSystem));
        return services;
    }
}

/// <summary>Looks keys up by their SHA-256 digest, comparing every configured key in constant time.</summary>
public sealed class ApiKeyStore(IOptions<ApiKeyOptions> options)
{
    private readonly ApiKey[] keys =
        options.Value.Storefront.Select(key => new ApiKey(Digest(key), ApiRoles.Storefront))
            .Concat(options.Value.PaymentSystem.Select(key => new ApiKey(Digest(key), ApiRoles.PaymentSystem)))
            .ToArray();

    /// <summary>
    /// The configured key a presented one is, or null: one SHA-256 of the presented key, compared with every configured
    /// key's digest in constant time (no early exit), so the time taken tells nothing about which keys exist.
    /// </summary>
    public ApiKey? Find(string presented)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        Digest(presented, digest);
        ApiKey? found = null;
        foreach (var candidate in keys)
        {
            if (CryptographicOperations.FixedTimeEquals(candidate.Digest, digest))
            {
                found = candidate;
            }
        }

        return found;
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static void Digest(string key, Span<byte> digest)
    {
        // Headers are bounded by Kestrel (32 KB), but a long key is rented rather than put on the stack.
        var length = Encoding.UTF8.GetMaxByteCount(key.Length);
        var rented = length > 512 ? System.Buffers.ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> bytes = rented is null ? stackalloc byte[512] : rented;
        try
        {
            var written = Encoding.UTF8.GetBytes(key, bytes);
            SHA256.HashData(bytes[..written], digest);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// A configured key: its digest, role and id, and the authentication result every request with it gets. Keys are a
    /// static set from configuration, so the principal (role and key id claims) is built once per key, not per request;
    /// nothing in the service changes a principal after authentication.
    /// </summary>
    public sealed class ApiKey
    {
        internal ApiKey(byte[] digest, string role)
        {
            Digest = digest;
            Role = role;
            Id = Convert.ToHexStringLower(digest.AsSpan(0, 8));
            var identity = new ClaimsIdentity(
                [new Claim(ClaimTypes.Role, role), new Claim(ApiKeyHandler.KeyIdClaim, Id)], ApiRoles.Scheme);
            Authenticated = Task.FromResult(
                AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiRoles.Scheme)));
        }

        internal byte[] Digest { get; }

        public string Role { get; }

        /// <summary>A short, stable, non-reversible id of the key: what logs and per-key scopes use instead of the key.</summary>
        public string Id { get; }

        internal Task<AuthenticateResult> Authenticated { get; }
    }
}

/// <summary>Reads <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-API-Key: &lt;key&gt;</c>; answers 401/403 as problem+json.</summary>
public sealed class ApiKeyHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore store,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string KeyIdClaim = "api_key_id";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = PresentedKey();
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        return store.Find(presented)?.Authenticated ?? Task.FromResult(AuthenticateResult.Fail("Unknown API key."));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return PresentedKey() is null
            ? Write(StatusCodes.Status401Unauthorized, "api_key_missing", "Unauthorized",
                "Send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.")
            : Write(StatusCodes.Status401Unauthorized, "api_key_invalid", "Unauthorized", "The API key is not valid.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Write(StatusCodes.Status403Forbidden, "forbidden", "Forbidden",
            $"This route is not open to the {Context.User.FindFirstValue(ClaimTypes.Role)} role.");

    private string? PresentedKey()
    {
        if (Request.Headers.XApiKey() is { Length: > 0 } headerKey)
        {
            return headerKey;
        }

        var authorization = Request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization.Length > 7
            ? authorization[7..].Trim()
            : null;
    }

    private async Task Write(int status, string code, string title, string detail)
    {
        Response.StatusCode = status;
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        problem.Extensions[ErrorEnvelope.CodeKey] = code;
        await problems.WriteAsync(new ProblemDetailsContext { HttpContext = Context, ProblemDetails = problem });
    }
}

internal static class ApiKeyHeaders
{
    public static string? XApiKey(this IHeaderDictionary headers) =>
        headers.TryGetValue("X-API-Key", out var value) ? value.ToString().Trim() : null;
}

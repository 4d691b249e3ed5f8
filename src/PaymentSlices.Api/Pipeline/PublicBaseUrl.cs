using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// <c>PublicBaseUrl</c>: the address storefronts and cardholders reach the service at (behind a proxy or load balancer),
/// e.g. <c>https://payments.example.com</c>. Set, links to the service (the 3-D Secure <c>redirect_url</c>) are absolute;
/// unset, they are relative to the service.
/// </summary>
public sealed class PublicUrlOptions
{
    public const string Setting = "PublicBaseUrl";

    public string? PublicBaseUrl { get; set; }

    /// <summary>A path on this service (<c>/v1/...</c>) as clients are given it.</summary>
    public string Link(string path) => string.IsNullOrEmpty(PublicBaseUrl) ? path : PublicBaseUrl.TrimEnd('/') + path;

    public static bool IsValid(string? value) =>
        string.IsNullOrEmpty(value) ||
        (value == value.Trim() && !value.Contains('?', StringComparison.Ordinal) && !value.Contains('#', StringComparison.Ordinal) &&
         Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) &&
         uri.UserInfo.Length == 0 && !string.IsNullOrEmpty(uri.Host));
}

/// <summary>
/// Marks a resource property that holds a path on this service (<c>/v1/sandbox/3ds/pay_...</c>). Resources are built from
/// rows in many places (slices, the webhook outbox) and know nothing of the host; the host's JSON options write such a
/// path as <see cref="PublicUrlOptions.Link"/> makes it, in every response and every webhook payload alike.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ServiceLinkAttribute : Attribute;

public static class PublicBaseUrlRegistration
{
    public static IServiceCollection AddPublicBaseUrl(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PublicUrlOptions>()
            .Configure(options => options.PublicBaseUrl = configuration[PublicUrlOptions.Setting])
            .Validate(options => PublicUrlOptions.IsValid(options.PublicBaseUrl),
                $"{PublicUrlOptions.Setting} (environment {PublicUrlOptions.Setting}) must be an absolute http or https URL with no query, fragment, " +
                "user info or surrounding white space, e.g. https://payments.example.com; leave it unset for relative links.")
            .ValidateOnStart();

        // Per host (each of the tests' factories has its own), not a static set once per process.
        services.AddOptions<JsonOptions>().Configure<IOptions<PublicUrlOptions>>((json, urls) =>
        {
            var options = urls.Value;
            if (string.IsNullOrEmpty(options.PublicBaseUrl))
            {
                return;
            }

            json.SerializerOptions.TypeInfoResolver = (json.SerializerOptions.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver())
                .WithAddedModifier(info => AbsoluteLinks(info, options));
        });
        return services;
    }

    private static void AbsoluteLinks(JsonTypeInfo info, PublicUrlOptions options)
    {
        foreach (var property in info.Properties)
        {
            if (property.PropertyType == typeof(string) && property.Get is { } get &&
                property.AttributeProvider?.IsDefined(typeof(ServiceLinkAttribute), inherit: false) == true)
            {
                property.Get = resource => get(resource) is string path ? options.Link(path) : null;
            }
        }
    }
}

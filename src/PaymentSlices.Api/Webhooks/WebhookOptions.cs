using Microsoft.Extensions.Options;

namespace PaymentSlices.Api.Webhooks;

/// <summary>
/// The <c>Webhooks</c> section: where events go and how hard the dispatcher tries. Every value can come from an
/// environment variable (<c>Webhooks__Endpoints__0__Url</c>, <c>Webhooks__Endpoints__0__Secret</c>, ...).
/// </summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    public WebhookEndpoint[] Endpoints { get; set; } = [];

    /// <summary>How long one HTTP attempt may take before it counts as failed.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Quick retries (Polly, exponential backoff with jitter) of a failed attempt before the next scheduled one.</summary>
    public int ImmediateRetries { get; set; } = 2;

    /// <summary>The first quick retry's delay; each next one doubles, with jitter.</summary>
    public TimeSpan ImmediateRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The first scheduled retry's delay, stored in the database so a restart keeps the schedule; it doubles each time, with jitter.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The longest wait between two scheduled retries.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long an event is retried before its delivery is marked failed (Stripe's is three days).</summary>
    public TimeSpan RetryFor { get; set; } = TimeSpan.FromDays(3);

    /// <summary>How often the dispatcher looks for due deliveries when nothing woke it earlier.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A due-deliveries query for an endpoint slower than this that finds nothing is not repeated before the next poll,
    /// unless events for it are written or one of its deliveries finishes. Not a setting: tests lower it.
    /// </summary>
    internal TimeSpan QuietAfterQuery { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Deliveries in flight at once, shared by the endpoints: each always gets its share (at least one) whatever the
    /// others hold, and idle shares are lent; so while a slow endpoint holds lent slots, up to twice this may be in flight.
    /// </summary>
    public int MaxConcurrentDeliveries { get; set; } = 8;

    /// <summary>The endpoints that receive an event of this type.</summary>
    public IEnumerable<WebhookEndpoint> For(string type) => Endpoints.Where(endpoint => endpoint.Receives(type));

    public WebhookEndpoint? Find(string url) => Endpoints.FirstOrDefault(endpoint => endpoint.Url == url);
}

/// <summary>One receiver: its URL, the secret its signatures are made with, and optionally the event types it wants.</summary>
public sealed class WebhookEndpoint
{
    public string Url { get; set; } = "";

    public string Secret { get; set; } = "";

    /// <summary>The event types it receives; empty means all.</summary>
    public string[] Events { get; set; } = [];

    public bool Receives(string type) => Events.Length == 0 || Events.Contains(type, StringComparer.Ordinal);

    /// <summary>The URL as it may be shown or logged: no user info, query or fragment, which could carry credentials.</summary>
    public static string Display(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Authority}{uri.AbsolutePath}" : "(invalid url)";

    // The secret is in neither the options' nor the endpoint's string form, so no log line can print it by accident.
    public override string ToString() => Display(Url);
}

/// <summary>Fails start-up with a message naming the setting, instead of failing deliveries later.</summary>
public sealed class WebhookOptionsValidator : IValidateOptions<WebhookOptions>
{
    public const int MinimumSecretLength = 16;

    public ValidateOptionsResult Validate(string? name, WebhookOptions options)
    {
        var failures = new List<string>();
        for (var i = 0; i < options.Endpoints.Length; i++)
        {
            var endpoint = options.Endpoints[i];
            var setting = $"Webhooks:Endpoints:{i}";
            if (!Uri.TryCreate(endpoint.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                failures.Add($"{setting}:Url must be an absolute http or https URL.");
            }

            if (string.IsNullOrWhiteSpace(endpoint.Secret) || endpoint.Secret.Length < MinimumSecretLength)
            {
                failures.Add($"{setting}:Secret must be at least {MinimumSecretLength} characters: receivers verify signatures with it.");
            }

            if (endpoint.Events.FirstOrDefault(type => !EventTypes.All.Contains(type)) is { } unknown)
            {
                failures.Add($"{setting}:Events has an unknown event type '{unknown}'; known: {string.Join(", ", EventTypes.All)}.");
            }

            if (options.Endpoints.Take(i).Any(other => other.Url == endpoint.Url))
            {
                failures.Add($"{setting}:Url is configured twice; each endpoint URL appears once.");
            }
        }

        Check(failures, options.AttemptTimeout >= TimeSpan.FromMilliseconds(10) && options.AttemptTimeout <= TimeSpan.FromMinutes(5),
            "Webhooks:AttemptTimeout must be between 00:00:00.010 and 00:05:00.");
        Check(failures, options.ImmediateRetries is >= 0 and <= 10, "Webhooks:ImmediateRetries must be between 0 and 10.");
        Check(failures, options.ImmediateRetryDelay >= TimeSpan.FromMilliseconds(1) && options.ImmediateRetryDelay <= TimeSpan.FromMinutes(1),
            "Webhooks:ImmediateRetryDelay must be between 00:00:00.001 and 00:01:00.");
        Check(failures, options.RetryDelay > TimeSpan.Zero && options.RetryDelay <= options.MaxRetryDelay,
            "Webhooks:RetryDelay must be positive and at most Webhooks:MaxRetryDelay.");
        Check(failures, options.MaxRetryDelay <= TimeSpan.FromDays(1), "Webhooks:MaxRetryDelay must be at most 1.00:00:00.");
        Check(failures, options.RetryFor > TimeSpan.Zero && options.RetryFor <= TimeSpan.FromDays(30),
            "Webhooks:RetryFor must be a positive time span of at most 30 days, e.g. 3.00:00:00 for three days (a bare number means days).");
        Check(failures, options.PollInterval >= TimeSpan.FromMilliseconds(10) && options.PollInterval <= TimeSpan.FromMinutes(1),
            "Webhooks:PollInterval must be between 00:00:00.010 and 00:01:00.");
        Check(failures, options.MaxConcurrentDeliveries is >= 1 and <= 256, "Webhooks:MaxConcurrentDeliveries must be between 1 and 256.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, bool valid, string message)
    {
        if (!valid)
        {
            failures.Add(message);
        }
    }
}

using PaymentSlices.Api.Database;
using Microsoft.Extensions.Options;

namespace PaymentSlices.Api.Webhooks;

public static class WebhookRegistration
{
    /// <summary>The outbox the slices write to, and the dispatcher that delivers from it.</summary>
    public static IServiceCollection AddWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WebhookOptions>().Bind(configuration.GetSection(WebhookOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WebhookOptions>, WebhookOptionsValidator>();
        services.AddSingleton<WebhookSignal>();
        services.AddScoped<Outbox>();
        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(provider => provider.GetRequiredService<WebhookDispatcher>());
        services.AddLeftoverLeases(WebhookDispatcher.ReleaseLeftoverLeases);
        return services;
    }
}

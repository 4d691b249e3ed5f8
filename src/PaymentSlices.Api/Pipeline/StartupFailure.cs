using Microsoft.Extensions.Options;

namespace PaymentSlices.Api.Pipeline;

/// <summary>A setting the service cannot start with; the message names the setting and its environment variable.</summary>
public sealed class InvalidConfigurationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Turns the ways bad configuration stops start-up into one plain line for the operator: options validation, a value
/// the configuration binder cannot convert (it names the setting, e.g. <c>'Idempotency:Retention'</c>), and our own
/// checks. Anything else is a bug, not configuration, and keeps its stack trace.
/// </summary>
public static class StartupFailure
{
    public const int ExitCode = 2;

    /// <summary>True when this assembly started the process (dotnet PaymentSlices.Api.dll), not a test host.</summary>
    public static bool IsProcessEntryPoint => System.Reflection.Assembly.GetEntryAssembly() == typeof(StartupFailure).Assembly;

    public static string? Describe(Exception error) => error switch
    {
        InvalidConfigurationException configuration => configuration.Message,
        OptionsValidationException validation => string.Join(" ", validation.Failures),
        // The binder's own message names the setting, the type and the value (only numbers, durations and flags are
        // converted, never a key or a secret); its inner exceptions only repeat it.
        InvalidOperationException conversion when conversion.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) =>
            conversion.Message + " Durations are written d.hh:mm:ss (00:00:30), numbers without units.",
        AggregateException aggregate when aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(inner => Describe(inner) is not null) =>
            string.Join(" ", aggregate.InnerExceptions.Select(inner => Describe(inner))),
        _ => null,
    };
}

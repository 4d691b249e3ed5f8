using FluentValidation;

namespace PaymentSlices.Api.Kernel;

/// <summary>Stripe's limits on <c>metadata</c> (string to string): 50 keys, keys up to 40 characters, values up to 500.</summary>
public static class MetadataRules
{
    public static IRuleBuilderOptions<T, IReadOnlyDictionary<string, string>?> ValidMetadata<T>(
        this IRuleBuilder<T, IReadOnlyDictionary<string, string>?> rule) =>
        rule.Must(metadata => metadata is null ||
                              (metadata.Count <= 50 &&
                               metadata.All(pair => pair.Key.Length is > 0 and <= 40 && pair.Value is { Length: <= 500 })))
            .WithMessage("'metadata' has at most 50 keys of 1 to 40 characters, each with a string value of at most 500 characters.");
}

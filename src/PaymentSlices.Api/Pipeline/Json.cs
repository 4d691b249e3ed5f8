using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;

namespace PaymentSlices.Api.Pipeline;

/// <summary>The wire format: snake_case, unknown fields rejected, numbers as numbers, UTC timestamps.</summary>
public static class Json
{
    public static IServiceCollection AddJsonConventions(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(options => Configure(options.SerializerOptions));

        // Validation messages and `errors` keys name fields as the client wrote them: `source.exp_month`.
        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) => member is null ? null : SnakeCase(member.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) => member is null ? null : SnakeCase(member.Name);
        return services;
    }

    public static void Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        // A misspelt field ("ammount") is an error the client hears about, not a value silently ignored.
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        // Amounts are JSON numbers, as in the seeds: "49.99" as a string is a type error, not a guess.
        options.NumberHandling = JsonNumberHandling.Strict;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.Converters.Add(new UtcTimestampConverter());
    }

    public static string SnakeCase(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);

    /// <summary>ISO 8601 in UTC with milliseconds, e.g. <c>2026-11-22T10:15:30.250Z</c>.</summary>
    public sealed class UtcTimestampConverter : JsonConverter<DateTimeOffset>
    {
        public const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture));
    }
}

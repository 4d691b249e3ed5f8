using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;

namespace PaymentSlices.Api.Pipeline;

/// <summary>The wire format: snake_case, unknown fields rejected, numbers as numbers, UTC timestamps.</summary>
public static class Json
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> SnakeCaseNames = new(StringComparer.Ordinal);

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
        options.Converters.Add(new ExactDecimalConverter());
    }

    /// <summary>
    /// A member name in snake_case. FluentValidation asks for every rule on every validation, not once per rule, so the
    /// names (a fixed set: the request types' properties) are converted once and kept.
    /// </summary>
    public static string SnakeCase(string name) => SnakeCaseNames.GetOrAdd(name, static name => JsonNamingPolicy.SnakeCaseLower.ConvertName(name));

    /// <summary>ISO 8601 in UTC with milliseconds, e.g. <c>2026-11-22T10:15:30.250Z</c>.</summary>
    public sealed class UtcTimestampConverter : JsonConverter<DateTimeOffset>
    {
        public const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

        // The same characters as value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture), without parsing Format
        // again or making a string for each timestamp of each response.
        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
        {
            Span<char> text = stackalloc char[IsoTimestamp.Length];
            writer.WriteStringValue(IsoTimestamp.Format(value.UtcDateTime, text));
        }
    }

    /// <summary>
    /// Reads a JSON number into a decimal only when the decimal equals it exactly. The default reader rounds a
    /// literal with more significant digits than a decimal holds (10.0000000000000000000000000001 becomes
    /// 10.00), and the contract says amounts are never rounded.
    /// </summary>
    public sealed class ExactDecimalConverter : JsonConverter<decimal>
    {
        public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDecimal(out var value))
            {
                throw new JsonException(); // without a message, the serializer says "could not be converted" with the path
            }

            var literal = Encoding.ASCII.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);
            return Normalize(literal) is { } sent && sent == Normalize(value.ToString(CultureInfo.InvariantCulture))
                ? value
                : throw new JsonException();
        }

        public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) =>
            writer.WriteNumberValue(value);

        /// <summary>A number as sign, significant digits and power of ten (49.990 and 4999e-2 are both "4999", -2); null if out of range.</summary>
        private static (bool Negative, string Digits, long Exponent)? Normalize(string number)
        {
            var e = number.AsSpan().IndexOfAny('e', 'E');
            long exponent = 0;
            if (e >= 0 && !long.TryParse(number.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent))
            {
                return null;
            }

            var mantissa = (e >= 0 ? number[..e] : number).TrimStart('+');
            var negative = mantissa.StartsWith('-');
            mantissa = mantissa.TrimStart('-');
            var dot = mantissa.IndexOf('.', StringComparison.Ordinal);
            if (dot >= 0)
            {
                exponent -= mantissa.Length - dot - 1;
                mantissa = mantissa.Remove(dot, 1);
            }

            var digits = mantissa.TrimStart('0');
            var significant = digits.TrimEnd('0');
            exponent += digits.Length - significant.Length;
            return significant.Length == 0 ? (false, "0", 0) : (negative, significant, exponent);
        }
    }
}

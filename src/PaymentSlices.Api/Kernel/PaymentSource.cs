using System.Text.Json;
using System.Text.Json.Serialization;

namespace PaymentSlices.Api.Kernel;

/// <summary>
/// The <c>source</c> of a payment: a processor token (<c>"tok_visa"</c>, seed 003) or a card object
/// (seed 000). It lives only in memory on the way to the processor.
/// </summary>
[JsonConverter(typeof(PaymentSourceJsonConverter))]
public sealed class PaymentSource
{
    public string? Token { get; init; }

    public CardDetails? Card { get; init; }

    /// <summary>Set when the client sent a test PaymentMethod as <c>payment_method</c>: charged as a token, shown as the payment's <c>payment_method</c>.</summary>
    public string? PaymentMethod { get; init; }

    /// <summary>A test PaymentMethod (<c>pm_card_visa</c>), charged as the sandbox token of the same name.</summary>
    public static PaymentSource TestPaymentMethod(string id) => new() { Token = id, PaymentMethod = id };

    public override string ToString() => Token ?? Card?.ToString() ?? "(empty source)";
}

/// <summary>
/// Stripe's test PaymentMethods, taken as <c>payment_method</c> wherever a saved card is (a storefront's Stripe test code
/// sends them): the processor charges each as the test card it stands for (README's test values). Saved cards stay <c>card_...</c>.
/// </summary>
public static class TestPaymentMethods
{
    public static readonly IReadOnlyList<string> Ids =
    [
        "pm_card_visa", "pm_card_mastercard", "pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds", "pm_card_threeDSecure2Required",
    ];

    public static bool IsTest(string? id) => id is not null && Ids.Contains(id, StringComparer.Ordinal);
}

/// <summary>A card object as a storefront sends it. Its number and CVC are write-only: never stored, logged or returned.</summary>
public sealed class CardDetails
{
    public string? Object { get; init; }

    public string? Number { get; init; }

    public string? Cvc { get; init; }

    public int? ExpMonth { get; init; }

    public int? ExpYear { get; init; }

    public string? Name { get; init; }

    public string? AddressLine1 { get; init; }

    public string? AddressLine2 { get; init; }

    public string? AddressCity { get; init; }

    public string? AddressCountry { get; init; }

    public string? AddressPostCode { get; init; }

    /// <summary>Never the number: this is what any log line or debugger shows of a card.</summary>
    public override string ToString() =>
        Number is { Length: >= 4 } number ? $"card {CardRules.Masked(CardRules.Last4(number))}" : "card";
}

/// <summary>Reads <c>source</c> as either a JSON string (a token) or a JSON object (a card).</summary>
public sealed class PaymentSourceJsonConverter : JsonConverter<PaymentSource>
{
    public override PaymentSource? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.String => new PaymentSource { Token = reader.GetString() },
            JsonTokenType.StartObject => new PaymentSource { Card = ReadCard(ref reader, options) },
            _ => throw new JsonException("A payment source is a token string or a card object."),
        };

    /// <summary>A nested read starts its JSON path afresh: put the card's fields back under <c>source</c>.</summary>
    private static CardDetails? ReadCard(ref Utf8JsonReader reader, JsonSerializerOptions options)
    {
        try
        {
            return JsonSerializer.Deserialize<CardDetails>(ref reader, options);
        }
        catch (JsonException inner)
        {
            throw new JsonException(inner.Message, "$.source" + (inner.Path ?? "$")[1..], inner.LineNumber, inner.BytePositionInLine, inner);
        }
    }

    public override void Write(Utf8JsonWriter writer, PaymentSource value, JsonSerializerOptions options) =>
        throw new NotSupportedException("A payment source is write-only: it is never serialized.");
}

using System.Security.Cryptography;
using System.Text;

namespace PaymentSlices.Api.Webhooks;

/// <summary>
/// <c>PaymentSlices-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256(secret, "&lt;t&gt;.&lt;raw body&gt;")&gt;</c>, as
/// Stripe signs: the timestamp is inside the MAC, so a receiver can refuse an old delivery replayed at it.
/// </summary>
public static class WebhookSignature
{
    public const string Header = "PaymentSlices-Signature";
    public const string EventIdHeader = "PaymentSlices-Event-Id";
    public const string EventTypeHeader = "PaymentSlices-Event-Type";

    public static string Create(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return $"t={timestamp},v1={Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message))}";
    }
}

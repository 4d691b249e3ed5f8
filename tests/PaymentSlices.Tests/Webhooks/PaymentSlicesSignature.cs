// The README's receiver code, verbatim between the markers: ReadmeTests checks the README still shows exactly this,
// and the webhook tests verify every delivery with it, so the code a storefront copies is the code that is tested.
// readme:begin
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Storefront.Webhooks;

public static class PaymentSlicesSignature
{
    /// <summary>
    /// True when the PaymentSlices-Signature header was made with your endpoint's secret over this exact raw body,
    /// less than <paramref name="tolerance"/> ago (5 minutes is usual; it bounds replays of an old delivery).
    /// </summary>
    public static bool IsValid(string? header, string rawBody, string secret, TimeSpan tolerance, DateTimeOffset now)
    {
        long? timestamp = null;
        var signatures = new List<string>();
        foreach (var part in (header ?? "").Split(','))
        {
            var pair = part.Trim().Split('=', 2);
            if (pair is ["t", var t] && long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            {
                timestamp = seconds;
            }
            else if (pair is ["v1", var signature])
            {
                signatures.Add(signature);
            }
        }

        if (timestamp is null || Math.Abs(now.ToUnixTimeSeconds() - timestamp.Value) > tolerance.TotalSeconds)
        {
            return false;
        }

        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{rawBody}"));
        var expected = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(mac));
        return signatures.Any(signature => CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(signature)));
    }
}
// readme:end

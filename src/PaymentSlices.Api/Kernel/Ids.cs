using System.Security.Cryptography;

namespace PaymentSlices.Api.Kernel;

/// <summary>Prefixed random ids (<c>order_…</c>, <c>pay_…</c>): unguessable, so knowing one id tells nothing of another.</summary>
public static class Ids
{
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

    public static string New(string prefix, int length = 24) =>
        prefix + "_" + RandomNumberGenerator.GetString(Alphabet, length);

    /// <summary>A receipt number in Stripe's style, e.g. <c>1834-2291-0047</c>.</summary>
    public static string NewReceiptNumber() =>
        string.Join('-', Enumerable.Range(0, 3).Select(_ => RandomNumberGenerator.GetString("0123456789", 4)));
}

using System.Security.Cryptography;

namespace PaymentSlices.Api.Kernel;

/// <summary>
/// Prefixed ids (<c>order_…</c>, <c>pay_…</c>): unguessable, so knowing one id tells nothing of another, and in creation
/// order, so that the indexes they are stored under take new ids at their end.
/// </summary>
public static class Ids
{
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

    // Milliseconds since 1970 in base 36: 9 characters last until the year 5138.
    private const int TimeLength = 9;

    private const int RandomLength = 20; // 103 bits

    /// <summary>
    /// A record's id: the prefix, 9 characters of the time it was made (milliseconds since 1970, base 36), then 20 random
    /// ones. A random id lands on a random page of every index it is stored under, so a write dirtied (and the
    /// write-ahead log and its checkpoint wrote) a page of its own per index per row; ids in time order share the last
    /// pages. The time a record was made is no secret (it is its <c>created_at</c>); the 103 random bits are what make
    /// an id unguessable.
    /// </summary>
    public static string New(string prefix) => New(prefix, DateTimeOffset.UtcNow);

    internal static string New(string prefix, DateTimeOffset now) =>
        string.Create(prefix.Length + 1 + TimeLength + RandomLength, (prefix, now.ToUnixTimeMilliseconds()), static (id, state) =>
        {
            state.prefix.CopyTo(id);
            id[state.prefix.Length] = '_';
            WriteBase36(id.Slice(state.prefix.Length + 1, TimeLength), (ulong)state.Item2);
            RandomNumberGenerator.GetItems(Alphabet, id[^RandomLength..]);
        });

    /// <summary><paramref name="value"/> in base 36 (<c>0-9a-z</c>), right-aligned in <paramref name="digits"/>, zeros before.</summary>
    internal static void WriteBase36(Span<char> digits, UInt128 value)
    {
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            digits[i] = Alphabet[(int)(value % (uint)Alphabet.Length)];
            value /= (uint)Alphabet.Length;
        }
    }

    /// <summary>The number <see cref="WriteBase36"/> wrote; a character outside <c>0-9a-z</c> reads as 0.</summary>
    internal static UInt128 ReadBase36(ReadOnlySpan<char> digits)
    {
        UInt128 value = 0;
        foreach (var digit in digits)
        {
            value = unchecked((value * (uint)Alphabet.Length) + (uint)Math.Max(0, Alphabet.IndexOf(digit, StringComparison.Ordinal)));
        }

        return value;
    }

    /// <summary>A secret or a reference with nothing but random characters: <paramref name="length"/> of them after the prefix.</summary>
    public static string Random(string prefix, int length = 24) =>
        prefix + "_" + RandomNumberGenerator.GetString(Alphabet, length);

    /// <summary>A receipt number in Stripe's style, e.g. <c>1834-2291-0047</c>.</summary>
    public static string NewReceiptNumber() =>
        string.Join('-', Enumerable.Range(0, 3).Select(_ => RandomNumberGenerator.GetString("0123456789", 4)));
}

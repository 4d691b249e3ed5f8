namespace PaymentSlices.Api.Kernel;

/// <summary>
/// Conversions between the wire (major units, a JSON number such as 49.99) and storage (integer minor
/// units, 4999). Nothing here rounds: an amount with more decimals than its currency has is rejected.
/// </summary>
public static class Money
{
    /// <summary>The largest amount we accept, in minor units (the contract's limit).</summary>
    public const long MaxMinorUnits = 99_999_999;

    private static readonly decimal[] PowersOfTen = [1m, 10m, 100m, 1000m, 10000m];

    /// <summary>
    /// The exact number of minor units of <paramref name="major"/>, or null when it has more decimals
    /// than the currency's exponent allows (10.001 USD, 100.5 JPY) or is far out of range.
    /// Trailing zeros are fine: 49.990 USD is 4999.
    /// </summary>
    public static long? ToMinorUnits(decimal major, Currency currency)
    {
        if (decimal.Abs(major) > 1_000_000_000_000m)
        {
            return null;
        }

        var scaled = major * PowersOfTen[currency.Exponent];
        return scaled == decimal.Truncate(scaled) ? (long)scaled : null;
    }

    /// <summary>Minor units as a major-unit number carrying exactly the currency's decimals (4999 USD is 49.99, 5000 USD is 50.00).</summary>
    public static decimal ToMajorUnits(long minor, Currency currency)
    {
        var magnitude = (ulong)Math.Abs(minor);
        return new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, minor < 0, (byte)currency.Exponent);
    }

    /// <summary>Whether an amount has a valid number of decimals for its currency and lies in (0, <see cref="MaxMinorUnits"/>].</summary>
    public static bool IsValidCharge(decimal major, Currency currency) =>
        ToMinorUnits(major, currency) is > 0 and <= MaxMinorUnits;

    /// <summary>The message a validation error gives for an amount that does not fit its currency.</summary>
    public static string DescribeLimits(Currency currency) =>
        $"must be greater than 0, at most {ToMajorUnits(MaxMinorUnits, currency)} and have at most {currency.Exponent} decimal places for {currency.Code}";
}

using System.Collections.Frozen;

namespace PaymentSlices.Api.Kernel;

/// <summary>An ISO 4217 currency and its exponent (the number of minor-unit digits).</summary>
public sealed record Currency(string Code, int Exponent)
{
    // Active ISO 4217 codes (list 1, 2025 amendments: XCG replaced ANG, BGN left for EUR).
    // Fund and metal codes without minor units (XAU, XDR, ...) are deliberately absent.
    private const string ZeroDecimal = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
    private const string ThreeDecimal = "BHD IQD JOD KWD LYD OMR TND";
    private const string FourDecimal = "CLF UYW";
    private const string TwoDecimal =
        "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF " +
        "CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD " +
        "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL " +
        "MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR " +
        "PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP " +
        "TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG";

    private static readonly FrozenDictionary<string, Currency> All = new[]
        {
            (ZeroDecimal, 0), (TwoDecimal, 2), (ThreeDecimal, 3), (FourDecimal, 4),
        }
        .SelectMany(group => group.Item1.Split(' ').Select(code => new Currency(code, group.Item2)))
        .ToFrozenDictionary(currency => currency.Code, StringComparer.OrdinalIgnoreCase);

    /// <summary>Finds a currency by code, case-insensitively; null when the code is not ISO 4217.</summary>
    public static Currency? Find(string? code) =>
        code is not null && All.TryGetValue(code, out var currency) ? currency : null;

    /// <summary>The currency of a code read back from storage, where it was validated on the way in.</summary>
    public static Currency Of(string code) =>
        Find(code) ?? throw new InvalidOperationException($"Stored currency '{code}' is not ISO 4217.");

    public override string ToString() => Code;
}

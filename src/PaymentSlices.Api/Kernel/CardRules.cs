using System.Globalization;

namespace PaymentSlices.Api.Kernel;

/// <summary>Rules on card numbers, CVCs and expiry dates. Nothing here keeps or prints a number.</summary>
public static class CardRules
{
    public static bool IsDigits(string value) => value.Length > 0 && value.All(char.IsAsciiDigit);

    /// <summary>ISO/IEC 7812 check digit (Luhn).</summary>
    public static bool IsLuhnValid(string number)
    {
        if (number.Length is < 12 or > 19 || !IsDigits(number))
        {
            return false;
        }

        var sum = 0;
        for (var i = 0; i < number.Length; i++)
        {
            var digit = number[number.Length - 1 - i] - '0';
            if (i % 2 == 1)
            {
                digit *= 2;
                if (digit > 9)
                {
                    digit -= 9;
                }
            }

            sum += digit;
        }

        return sum % 10 == 0;
    }

    /// <summary>The card brand from its IIN prefix, as Stripe names them.</summary>
    public static string Brand(string number)
    {
        int Prefix(int digits) =>
            number.Length >= digits && int.TryParse(number.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) ? prefix : -1;

        return number switch
        {
            _ when number.StartsWith('4') => "visa",
            _ when Prefix(2) is >= 51 and <= 55 || Prefix(4) is >= 2221 and <= 2720 => "mastercard",
            _ when Prefix(2) is 34 or 37 => "amex",
            _ when Prefix(4) == 6011 || Prefix(2) == 65 || Prefix(3) is >= 644 and <= 649 => "discover",
            _ when Prefix(4) is >= 3528 and <= 3589 => "jcb",
            _ when Prefix(2) is 36 or 38 || Prefix(3) is >= 300 and <= 305 => "diners",
            _ when Prefix(2) == 62 => "unionpay",
            _ => "unknown",
        };
    }

    /// <summary>American Express prints a four-digit CVC on the front; the others three on the back.</summary>
    public static bool IsValidCvc(string cvc, string number) =>
        IsDigits(cvc) && cvc.Length == (Brand(number) == "amex" ? 4 : 3);

    /// <summary>Two-digit years (<c>35</c>) are read as 20xx, as card faces print them.</summary>
    public static int FullYear(int year) => year is >= 0 and < 100 ? 2000 + year : year;

    /// <summary>A card is valid through the last day of its expiry month.</summary>
    public static bool IsExpired(int month, int year, DateTimeOffset now)
    {
        var fullYear = FullYear(year);
        return fullYear < now.Year || (fullYear == now.Year && month < now.Month);
    }

    public static string Last4(string number) => number[^4..];

    public static string Masked(string last4) => "************" + last4;
}

using System.Globalization;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests.Kernel;

public sealed class MoneyTests
{
    private static readonly Currency Usd = Currency.Of("USD");

    [Theory]
    [InlineData("49.99", "USD", 4999L)]
    [InlineData("49.990", "USD", 4999L)]
    [InlineData("100", "USD", 10000L)]
    [InlineData("100.00", "USD", 10000L)]
    [InlineData("0.01", "USD", 1L)]
    [InlineData("999999.99", "USD", 99_999_999L)]
    [InlineData("0", "USD", 0L)]
    [InlineData("-5.00", "USD", -500L)]
    [InlineData("1000", "JPY", 1000L)]
    [InlineData("1000.0", "JPY", 1000L)]
    [InlineData("1.234", "KWD", 1234L)]
    [InlineData("1.2", "KWD", 1200L)]
    public void AmountWithinTheCurrencysDecimals_ConvertsExactly(string major, string currency, long minor) =>
        Money.ToMinorUnits(Parse(major), Currency.Of(currency)).Should().Be(minor);

    [Theory]
    [InlineData("10.001", "USD")]
    [InlineData("49.995", "USD")]
    [InlineData("100.5", "JPY")]
    [InlineData("0.1", "KRW")]
    [InlineData("1.2345", "KWD")]
    [InlineData("0.0000000000000000000000000001", "USD")]
    [InlineData("10000000000000", "USD")]
    public void AmountWithMoreDecimalsThanTheCurrencyOrFarOutOfRange_IsNullNeverRounded(string major, string currency) =>
        Money.ToMinorUnits(Parse(major), Currency.Of(currency)).Should().BeNull();

    [Theory]
    [InlineData(5000L, "USD", "50.00")]
    [InlineData(4999L, "USD", "49.99")]
    [InlineData(1L, "EUR", "0.01")]
    [InlineData(0L, "USD", "0.00")]
    [InlineData(-150L, "USD", "-1.50")]
    [InlineData(1000L, "JPY", "1000")]
    [InlineData(1234L, "KWD", "1.234")]
    [InlineData(1200L, "KWD", "1.200")]
    [InlineData(99_999_999L, "USD", "999999.99")]
    public void MinorUnits_AreMajorUnitsWithExactlyTheCurrencysDecimals(long minor, string currency, string expected)
    {
        var major = Money.ToMajorUnits(minor, Currency.Of(currency));

        major.ToString(CultureInfo.InvariantCulture).Should().Be(expected);
        major.Scale.Should().Be((byte)Currency.Of(currency).Exponent);
    }

    [Theory]
    [InlineData("0.01", true)]
    [InlineData("999999.99", true)]
    [InlineData("0", false)]
    [InlineData("-0.01", false)]
    [InlineData("1000000.00", false)]
    [InlineData("10.001", false)]
    public void IsValidCharge_AcceptsOnlyPositiveExactAmountsUpToTheLimit(string major, bool valid) =>
        Money.IsValidCharge(Parse(major), Usd).Should().Be(valid);

    private static decimal Parse(string value) => decimal.Parse(value, NumberStyles.Number, CultureInfo.InvariantCulture);
}

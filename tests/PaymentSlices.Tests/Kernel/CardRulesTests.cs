using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests.Kernel;

public sealed class CardRulesTests
{
    [Theory]
    [InlineData("4242424242424242")]
    [InlineData("5555555555554444")]
    [InlineData("378282246310005")]
    [InlineData("6011111111111117")]
    [InlineData("36227206271667")]
    [InlineData("4000000000000002")]
    [InlineData("6200000000000005")]
    public void LuhnValidNumber_IsValid(string number) =>
        CardRules.IsLuhnValid(number).Should().BeTrue();

    [Theory]
    [InlineData("4242424242424241")]
    [InlineData("4242424242424243")]
    [InlineData("378282246310006")]
    [InlineData("4242 4242 4242 4242")]
    [InlineData("4242-4242-4242-4242")]
    [InlineData("")]
    [InlineData("18")]
    [InlineData("42424242424")]
    [InlineData("42424242424242424242")]
    public void NumberFailingTheCheckDigitOrNotDigitsOrWrongLength_IsInvalid(string number) =>
        CardRules.IsLuhnValid(number).Should().BeFalse();

    [Theory]
    [InlineData("4242424242424242", "visa")]
    [InlineData("5555555555554444", "mastercard")]
    [InlineData("2223003122003222", "mastercard")]
    [InlineData("378282246310005", "amex")]
    [InlineData("371449635398431", "amex")]
    [InlineData("6011111111111117", "discover")]
    [InlineData("6500000000000002", "discover")]
    [InlineData("3566002020360505", "jcb")]
    [InlineData("36227206271667", "diners")]
    [InlineData("3056930009020004", "diners")]
    [InlineData("6200000000000005", "unionpay")]
    [InlineData("9999999999999995", "unknown")]
    public void Number_HasTheBrandStripeGivesIt(string number, string brand) =>
        CardRules.Brand(number).Should().Be(brand);

    [Theory]
    [InlineData("123", "4242424242424242", true)]
    [InlineData("000", "5555555555554444", true)]
    [InlineData("1234", "378282246310005", true)]
    [InlineData("1234", "4242424242424242", false)]
    [InlineData("12", "4242424242424242", false)]
    [InlineData("123", "378282246310005", false)]
    [InlineData("12a", "4242424242424242", false)]
    [InlineData("", "4242424242424242", false)]
    public void Cvc_IsThreeDigitsOrFourForAmex(string cvc, string number, bool valid) =>
        CardRules.IsValidCvc(cvc, number).Should().Be(valid);

    [Theory]
    [InlineData(3, 2026, false)]
    [InlineData(3, 26, false)]
    [InlineData(4, 2026, false)]
    [InlineData(1, 2027, false)]
    [InlineData(1, 27, false)]
    [InlineData(2, 2026, true)]
    [InlineData(2, 26, true)]
    [InlineData(12, 2025, true)]
    [InlineData(12, 25, true)]
    public void OnTheLastMomentOfMarch2026_CardsExpireAfterTheirExpiryMonth(int month, int year, bool expired) =>
        CardRules.IsExpired(month, year, new DateTimeOffset(2026, 3, 31, 23, 59, 59, TimeSpan.Zero)).Should().Be(expired);

    [Theory]
    [InlineData(3, 2026, true)]
    [InlineData(3, 26, true)]
    [InlineData(4, 2026, false)]
    [InlineData(4, 26, false)]
    public void OnTheFirstOfApril2026_AMarchCardHasExpired(int month, int year, bool expired) =>
        CardRules.IsExpired(month, year, new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero)).Should().Be(expired);

    [Theory]
    [InlineData(0, 2000)]
    [InlineData(30, 2030)]
    [InlineData(99, 2099)]
    [InlineData(2030, 2030)]
    public void TwoDigitYear_IsReadAsTwentyHundreds(int year, int fullYear) =>
        CardRules.FullYear(year).Should().Be(fullYear);

    [Fact]
    public void Masked_ShowsOnlyTheLastFour() =>
        CardRules.Masked(CardRules.Last4("4242424242424242")).Should().Be("************4242");
}

using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests.Kernel;

public sealed class CurrencyTests
{
    [Theory]
    [InlineData("USD", "USD", 2)]
    [InlineData("usd", "USD", 2)]
    [InlineData("gBp", "GBP", 2)]
    [InlineData("EUR", "EUR", 2)]
    [InlineData("jpy", "JPY", 0)]
    [InlineData("KRW", "KRW", 0)]
    [InlineData("kwd", "KWD", 3)]
    [InlineData("BHD", "BHD", 3)]
    public void KnownCode_IsFoundCaseInsensitivelyWithItsUpperCaseCodeAndExponent(string code, string expectedCode, int exponent)
    {
        var currency = Currency.Find(code);

        currency.Should().NotBeNull();
        currency!.Code.Should().Be(expectedCode);
        currency.Exponent.Should().Be(exponent);
        currency.ToString().Should().Be(expectedCode);
    }

    [Theory]
    [InlineData("XYZ")]
    [InlineData("US")]
    [InlineData("USDD")]
    [InlineData(" USD")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("XAU")]
    public void UnknownCode_IsNotFound(string? code) =>
        Currency.Find(code).Should().BeNull();

    [Fact]
    public void Of_UnknownStoredCode_Throws()
    {
        var act = () => Currency.Of("XYZ");

        act.Should().Throw<InvalidOperationException>().WithMessage("*XYZ*");
    }
}

using Microsoft.Extensions.Options;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests.Kernel;

public sealed class SandboxPaymentProcessorTests
{
    private readonly SandboxPaymentProcessor sandbox = new(TimeProvider.System, Options.Create(new SandboxOptions()));

    [Fact]
    public async Task SavingWithTheSameKeyTwice_ReturnsTheFirstVaultCard()
    {
        var card = new PaymentSource { Token = "tok_visa" };

        var first = await sandbox.SaveCardAsync("key-1", card, CancellationToken.None);
        var repeat = await sandbox.SaveCardAsync("key-1", card, CancellationToken.None);
        var other = await sandbox.SaveCardAsync("key-2", card, CancellationToken.None);

        repeat.Should().Be(first);
        ((SaveCardResult.Saved)other).VaultToken.Should().NotBe(((SaveCardResult.Saved)first).VaultToken);
    }

    [Fact]
    public async Task ChargingWithTheSameKeyTwice_ChargesOnce()
    {
        var request = new ChargeRequest("pay_1", 1000, Currency.Of("USD"), new PaymentSource { Token = "tok_visa" });

        var first = await sandbox.ChargeAsync(request, CancellationToken.None);
        var repeat = await sandbox.ChargeAsync(request, CancellationToken.None);

        repeat.Should().Be(first);
        sandbox.SucceededCharges.Should().Be(1);
    }

    [Fact]
    public async Task UnknownToken_IsNotRemembered_SoTheSameKeyCanChargeACorrectedSource()
    {
        var unknown = await sandbox.ChargeAsync(new ChargeRequest("pay_2", 1000, Currency.Of("USD"), new PaymentSource { Token = "tok_nope" }), CancellationToken.None);
        var corrected = await sandbox.ChargeAsync(new ChargeRequest("pay_2", 1000, Currency.Of("USD"), new PaymentSource { Token = "tok_visa" }), CancellationToken.None);

        unknown.Should().BeOfType<ChargeResult.InvalidSource>();
        corrected.Should().BeOfType<ChargeResult.Succeeded>();
    }
}

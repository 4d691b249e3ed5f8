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

    [Fact]
    public async Task SandboxesSharingAJournal_AnswerEachKeyOnce_AsOneProcessor()
    {
        // Two instances of the service sharing one outside processor: the same keys charged and refunded from both at once.
        var folder = Directory.CreateTempSubdirectory("paymentslices-journal-");
        try
        {
            var options = Options.Create(new SandboxOptions { JournalPath = Path.Combine(folder.FullName, "processor.journal") });
            var sandboxes = new[] { new SandboxPaymentProcessor(TimeProvider.System, options), new SandboxPaymentProcessor(TimeProvider.System, options) };
            var calls = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
            {
                var sandbox = sandboxes[i % 2];
                var key = $"idem_{i % 50}";
                var charge = await sandbox.ChargeAsync(new ChargeRequest(key, 1000, Currency.Of("USD"), new PaymentSource { Token = "tok_visa" }), CancellationToken.None);
                var refund = await sandbox.RefundAsync(new ProcessorRefund("re_" + key, "ch", 100, Currency.Of("USD")), CancellationToken.None);
                return (Key: key, Charge: charge, Refund: refund);
            })).ToList();
            var results = await Task.WhenAll(calls);

            foreach (var sameKey in results.GroupBy(result => result.Key))
            {
                sameKey.Select(result => result.Charge).Distinct().Should().ContainSingle("a key has one answer, whichever instance asks");
                sameKey.Select(result => result.Refund).Distinct().Should().ContainSingle();
            }

            File.ReadAllLines(options.Value.JournalPath!).Should().HaveCount(100, "one charge and one refund per key");

            // A key recorded as not made by one is never charged by the other; and a sandbox started later knows it all.
            (await sandboxes[0].ResolveChargeAsync("idem_late", CancellationToken.None)).Should().BeOfType<ChargeResult.NotMade>();
            (await sandboxes[1].ChargeAsync(new ChargeRequest("idem_late", 1000, Currency.Of("USD"), new PaymentSource { Token = "tok_visa" }), CancellationToken.None))
                .Should().BeOfType<ChargeResult.NotMade>();
            new SandboxPaymentProcessor(TimeProvider.System, options).SucceededCharges.Should().Be(50);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}

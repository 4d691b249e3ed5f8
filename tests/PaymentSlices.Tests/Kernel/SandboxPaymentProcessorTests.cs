using Microsoft.Extensions.Options;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Tests.Pipeline;

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

    [Fact]
    public async Task AKeysAnswers_AreKeptForTheRetention_ThenForgotten_AsAtARealProcessor()
    {
        var clock = new ManualClock();
        var sandbox = new SandboxPaymentProcessor(clock, Options.Create(new SandboxOptions { KeyRetention = TimeSpan.FromDays(1) }));
        var request = new ChargeRequest("idem_kept", 1000, Currency.Of("USD"), new PaymentSource { Token = "tok_visa" });
        var refund = new ProcessorRefund("idem_refund", "ch", 100, Currency.Of("USD"));

        var first = (ChargeResult.Succeeded)await sandbox.ChargeAsync(request, CancellationToken.None);
        var firstRefund = await sandbox.RefundAsync(refund, CancellationToken.None);
        clock.Advance(TimeSpan.FromHours(23));
        var withinRetention = await sandbox.ChargeAsync(request, CancellationToken.None);

        first.Reference.Should().MatchRegex("^ch_[0-9a-z]{25}$");
        firstRefund.Should().MatchRegex("^re_[0-9a-z]{25}$");
        withinRetention.Should().Be(first, "the same key within the retention gets the first answer back");
        (await sandbox.RefundAsync(refund, CancellationToken.None)).Should().Be(firstRefund);

        clock.Advance(TimeSpan.FromHours(2));
        var afterRetention = (ChargeResult.Succeeded)await sandbox.ChargeAsync(request, CancellationToken.None);

        afterRetention.Reference.Should().NotBe(first.Reference, "a forgotten key is a new charge, with a reference of its own");
        (await sandbox.RefundAsync(refund, CancellationToken.None)).Should().NotBe(firstRefund);
        (await sandbox.ResolveChargeAsync("idem_kept", CancellationToken.None)).Should().Be(afterRetention, "the new charge is the key's answer now");
        sandbox.SucceededCharges.Should().Be(1);
    }

    [Fact]
    public async Task ForgottenKeys_AreSweptOut_SoTheSandboxsMemoryStaysBounded()
    {
        var clock = new ManualClock();
        var sandbox = new SandboxPaymentProcessor(clock, Options.Create(new SandboxOptions { KeyRetention = TimeSpan.FromHours(1) }));
        for (var i = 0; i < 100; i++)
        {
            await sandbox.ChargeAsync(new ChargeRequest($"idem_{i}", 1000, Currency.Of("USD"), new PaymentSource { Token = "tok_visa" }), CancellationToken.None);
            await sandbox.RefundAsync(new ProcessorRefund($"idem_refund_{i}", "ch", 100, Currency.Of("USD")), CancellationToken.None);
        }

        sandbox.HeldKeys.Should().Be(200);

        clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
        await sandbox.ChargeAsync(new ChargeRequest("idem_new", 1000, Currency.Of("USD"), new PaymentSource { Token = "tok_visa" }), CancellationToken.None);

        sandbox.HeldKeys.Should().Be(1, "the keys past their retention were swept out by the next answer");
    }

    [Fact]
    public async Task EachKeysCharge_HasAReferenceOfItsOwn()
    {
        var references = new HashSet<string>();
        for (var i = 0; i < 1000; i++)
        {
            var charge = (ChargeResult.Succeeded)await sandbox.ChargeAsync(
                new ChargeRequest($"idem_{i}", 1000, Currency.Of("USD"), new PaymentSource { Token = "tok_visa" }), CancellationToken.None);
            references.Add(charge.Reference);
        }

        references.Should().HaveCount(1000);
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace PaymentSlices.Api.Kernel;

/// <summary>
/// Faults the sandbox adds, so that the resilience pipeline can be exercised for real (<c>Processor:Sandbox</c>).
/// Tests change them while the service runs.
/// </summary>
public sealed class SandboxOptions
{
    public const string Section = "Processor:Sandbox";

    /// <summary>Added to every call.</summary>
    public TimeSpan Latency { get; set; } = TimeSpan.Zero;

    /// <summary>The share of calls (0 to 1) that fail transiently: half before the charge is made, half after (the answer is lost).</summary>
    public double FailureRate { get; set; }

    /// <summary>Every call fails, as a processor that is down.</summary>
    public bool Down { get; set; }
}

/// <summary>
/// An in-process processor with Stripe's test values, so that everything works offline. It remembers each
/// charge by idempotency key, as a real processor does, and can say how many charges it made.
/// </summary>
public sealed class SandboxPaymentProcessor(TimeProvider clock, IOptions<SandboxOptions> faults) : IPaymentProcessor
{
    private const string ThreeDSecureCard = "4000002500003155";
    private const string RequiresAction = "requires_action";

    private static readonly Dictionary<string, string> DeclineCards = new()
    {
        ["4000000000000002"] = "generic_decline",
        ["4000000000009995"] = "insufficient_funds",
    };

    private static readonly Dictionary<string, (string Number, string? DeclineCode)> Tokens = new()
    {
        ["tok_visa"] = ("4242424242424242", null),
        ["tok_mastercard"] = ("5555555555554444", null),
        ["tok_chargeDeclined"] = ("4000000000000002", "generic_decline"),
        ["tok_chargeDeclinedInsufficientFunds"] = ("4000000000009995", "insufficient_funds"),
        // Stripe's test PaymentMethods (TestPaymentMethods), as payment_method or source; 3-D Secure is the sandbox's one 3DS card.
        ["pm_card_visa"] = ("4242424242424242", null),
        ["pm_card_mastercard"] = ("5555555555554444", null),
        ["pm_card_chargeDeclined"] = ("4000000000000002", "generic_decline"),
        ["pm_card_chargeDeclinedInsufficientFunds"] = ("4000000000009995", "insufficient_funds"),
        ["pm_card_threeDSecure2Required"] = (ThreeDSecureCard, RequiresAction),
    };

    private static readonly Dictionary<string, string> DeclineMessages = new()
    {
        ["generic_decline"] = "Your card was declined.",
        ["insufficient_funds"] = "Your card has insufficient funds.",
    };

    private readonly ConcurrentDictionary<string, ChargeResult> charges = new();
    private readonly ConcurrentDictionary<string, string> refunds = new();
    private readonly ConcurrentDictionary<string, SaveCardResult> savedCards = new();

    /// <summary>Charges that succeeded, one per idempotency key however often it was sent.</summary>
    public int SucceededCharges => charges.Values.Count(result => result is ChargeResult.Succeeded);

    /// <summary>Calls that failed with a fault the sandbox injected.</summary>
    public int InjectedFailures => injectedFailures;

    private int injectedFailures;

    public Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken cancellationToken) =>
        WithFaults(() => Charge(request), cancellationToken);

    private ChargeResult Charge(ChargeRequest request)
    {
        if (charges.TryGetValue(request.IdempotencyKey, out var first))
        {
            return first;
        }

        var result = Decide(request.Source, request.SavedCard);
        // A token it did not know was no charge: nothing to remember under the key.
        return result is ChargeResult.InvalidSource ? result : charges.GetOrAdd(request.IdempotencyKey, result);
    }

    public Task<string> RefundAsync(ProcessorRefund request, CancellationToken cancellationToken) =>
        WithFaults(() => refunds.GetOrAdd(request.IdempotencyKey, _ => Ids.New("re")), cancellationToken);

    /// <summary>
    /// The sandbox's vault token carries the test card's behaviour (<c>vault_ok_…</c>, <c>vault_insufficient_funds_…</c>),
    /// so that a saved card behaves as its number did, across restarts, without the sandbox keeping the number.
    /// </summary>
    public Task<SaveCardResult> SaveCardAsync(string idempotencyKey, PaymentSource source, CancellationToken cancellationToken) =>
        WithFaults(() => savedCards.TryGetValue(idempotencyKey, out var first) ? first : Save(idempotencyKey, source), cancellationToken);

    private SaveCardResult Save(string idempotencyKey, PaymentSource source)
    {
        SaveCardResult result = Decide(source, null) switch
        {
            ChargeResult.Succeeded ok => new SaveCardResult.Saved($"{VaultPrefix}ok_{Ids.New("v")[2..]}", ok.Card),
            ChargeResult.Declined no => new SaveCardResult.Saved($"{VaultPrefix}{no.DeclineCode}_{Ids.New("v")[2..]}", no.Card),
            ChargeResult.RequiresAction action => new SaveCardResult.Saved($"{VaultPrefix}{RequiresAction}_{Ids.New("v")[2..]}", action.Card),
            _ => new SaveCardResult.InvalidSource(),
        };
        return result is SaveCardResult.InvalidSource ? result : savedCards.GetOrAdd(idempotencyKey, result);
    }

    /// <summary>Latency, then maybe a transient failure before the work, or after it (the work done, the answer lost).</summary>
    private async Task<T> WithFaults<T>(Func<T> work, CancellationToken cancellationToken)
    {
        var settings = faults.Value;
        if (settings.Latency > TimeSpan.Zero)
        {
            await Task.Delay(settings.Latency, clock, cancellationToken);
        }

        var roll = Random.Shared.NextDouble();
        if (settings.Down || roll < settings.FailureRate / 2)
        {
            Interlocked.Increment(ref injectedFailures);
            throw new ProcessorTransientException("Sandbox: the processor did not answer (injected fault).");
        }

        var result = work();
        if (roll < settings.FailureRate)
        {
            Interlocked.Increment(ref injectedFailures);
            throw new ProcessorTransientException("Sandbox: the answer was lost after the processor acted (injected fault).");
        }

        return result;
    }

    private const string VaultPrefix = "vault_";

    private ChargeResult Decide(PaymentSource source, CardDisplay? savedCard)
    {
        if (source.Token is { } vaulted && vaulted.StartsWith(VaultPrefix, StringComparison.Ordinal) && savedCard is not null)
        {
            var behaviour = vaulted[VaultPrefix.Length..vaulted.LastIndexOf('_')];
            return Outcome(behaviour == "ok" ? null : behaviour, savedCard);
        }

        if (source.Token is { } token)
        {
            if (!Tokens.TryGetValue(token, out var test))
            {
                return new ChargeResult.InvalidSource();
            }

            var year = clock.GetUtcNow().Year + 3;
            var card = new CardDisplay(CardRules.Brand(test.Number), CardRules.Last4(test.Number), 12, year, null, null, null);
            return Outcome(test.DeclineCode, card);
        }

        var details = source.Card!;
        var number = details.Number!;
        var display = new CardDisplay(
            CardRules.Brand(number), CardRules.Last4(number), details.ExpMonth!.Value, CardRules.FullYear(details.ExpYear!.Value),
            details.Name, details.AddressCountry?.ToUpperInvariant(), details.AddressPostCode);

        var declineCode = number == ThreeDSecureCard ? RequiresAction : DeclineCards.GetValueOrDefault(number);
        return Outcome(declineCode, display);
    }

    private static ChargeResult Outcome(string? declineCode, CardDisplay card) => declineCode switch
    {
        null => new ChargeResult.Succeeded(Ids.New("ch"), card),
        RequiresAction => new ChargeResult.RequiresAction(Ids.New("ch"), card),
        _ => new ChargeResult.Declined(declineCode, DeclineMessages[declineCode], card),
    };
}

namespace PaymentSlices.Api.Kernel;

/// <summary>
/// The port every slice that moves money calls. The built-in <see cref="SandboxPaymentProcessor"/> is
/// the default; a real processor is another implementation of this interface.
/// </summary>
public interface IPaymentProcessor
{
    /// <summary>
    /// Charges a source. <see cref="ChargeRequest.IdempotencyKey"/> makes a repeated call return the first
    /// call's result instead of charging again.
    /// </summary>
    Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken cancellationToken);

    /// <summary>Refunds part or all of a charge; the processor's reference, or null when the key was closed as not made.</summary>
    Task<string?> RefundAsync(ProcessorRefund request, CancellationToken cancellationToken);

    /// <summary>
    /// What became of the charge sent with <paramref name="idempotencyKey"/>, for a payment whose answer was lost (a
    /// crash, a processor that did not answer). When the processor never received it, it records the key as
    /// <see cref="ChargeResult.NotMade"/>, so that a late copy of the request can no longer charge: the answer is final.
    /// </summary>
    Task<ChargeResult> ResolveChargeAsync(string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>The same for a refund: its processor reference, or null when it was not made (and now cannot be).</summary>
    Task<string?> ResolveRefundAsync(string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>
    /// Keeps a card in the processor's vault; we keep only the token it returns and the display fields. A repeat
    /// with the same <paramref name="idempotencyKey"/> returns the first vault card instead of saving another.
    /// </summary>
    Task<SaveCardResult> SaveCardAsync(string idempotencyKey, PaymentSource source, CancellationToken cancellationToken);
}

/// <summary>
/// A charge. <c>IdempotencyKey</c> is the payment id: the processor answers a repeat with the first result.
/// <c>SavedCard</c> carries the display fields of a saved card charged by its vault token.
/// </summary>
public sealed record ChargeRequest(string IdempotencyKey, long Amount, Currency Currency, PaymentSource Source, CardDisplay? SavedCard = null);

public sealed record ProcessorRefund(string IdempotencyKey, string ChargeReference, long Amount, Currency Currency);

/// <summary>What may be shown of a card: never its number or CVC.</summary>
public sealed record CardDisplay(
    string Brand, string Last4, int ExpMonth, int ExpYear, string? Name, string? AddressCountry, string? AddressPostCode);

public abstract record ChargeResult
{
    private ChargeResult()
    {
    }

    public sealed record Succeeded(string Reference, CardDisplay Card) : ChargeResult;

    public sealed record Declined(string DeclineCode, string Message, CardDisplay Card) : ChargeResult;

    /// <summary>The card needs 3-D Secure: the cardholder must complete the check before the charge succeeds.</summary>
    public sealed record RequiresAction(string Reference, CardDisplay Card) : ChargeResult;

    /// <summary>The processor does not know the token: the request was wrong, nothing was attempted.</summary>
    public sealed record InvalidSource : ChargeResult;

    /// <summary>The processor has no charge under the key, and now never will: no money moved.</summary>
    public sealed record NotMade : ChargeResult;
}

public abstract record SaveCardResult
{
    private SaveCardResult()
    {
    }

    public sealed record Saved(string VaultToken, CardDisplay Card) : SaveCardResult;

    public sealed record InvalidSource : SaveCardResult;
}

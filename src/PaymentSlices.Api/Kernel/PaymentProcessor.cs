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

    Task<string> RefundAsync(ProcessorRefund request, CancellationToken cancellationToken);
}

public sealed record ChargeRequest(string IdempotencyKey, long Amount, Currency Currency, PaymentSource Source);

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

    /// <summary>The processor does not know the token: the request was wrong, nothing was attempted.</summary>
    public sealed record InvalidSource : ChargeResult;
}

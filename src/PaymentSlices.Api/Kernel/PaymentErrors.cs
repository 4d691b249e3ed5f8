using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Kernel;

/// <summary>The errors of every slice that charges, worded once.</summary>
public static class PaymentErrors
{
    /// <summary>402 <c>card_declined</c>: the failed payment was stored, and its id is in the problem.</summary>
    public static ApiError CardDeclined(PaymentRow payment, string? paymentIntentId = null)
    {
        var extensions = new Dictionary<string, object?> { ["decline_code"] = payment.DeclineCode, ["payment_id"] = payment.Id };
        if (paymentIntentId is not null)
        {
            extensions["payment_intent_id"] = paymentIntentId;
        }

        return new ApiError(StatusCodes.Status402PaymentRequired, "card_declined", "Card declined", payment.FailureMessage ?? "Your card was declined.")
        {
            Extensions = extensions,
        };
    }

    /// <summary>
    /// The 402 of a failed payment: <c>card_declined</c> for a decline, <c>processing_error</c> for a charge the
    /// processor never made (its answer was lost, and the reconciler found no charge).
    /// </summary>
    public static ApiError Failed(PaymentRow payment, string? paymentIntentId = null) =>
        payment.FailureCode == PaymentRow.NotMadeCode
            ? CardDeclined(payment, paymentIntentId) with { Code = PaymentRow.NotMadeCode, Title = "Payment failed" }
            : CardDeclined(payment, paymentIntentId);

    /// <summary>Seed 003's "Invalid payment source": a token the processor does not know.</summary>
    public static ApiError InvalidSource() =>
        ApiError.InvalidField("invalid_payment_source", "Invalid payment source", "source", "Invalid payment source");

    /// <summary>The <c>payment_method</c> or <c>customer</c> of a request names no saved card (seed 001's "customer was not found").</summary>
    public static ApiError SavedSourceNotFound(IPaysWithSource request) => request.PaymentMethod is { } id
        ? ApiError.InvalidField("payment_method_not_found", "Payment method not found", "payment_method", $"No saved card '{id}' exists.")
        : ApiError.InvalidField("customer_not_found", "Customer not found", "customer", $"No customer '{request.Customer}' exists.");

    public static ApiError AmountMismatch(string what, decimal expected) =>
        ApiError.InvalidField("amount_mismatch", "Amount mismatch", "amount", $"'amount' must equal the {what}'s amount, {expected}.");

    public static ApiError CurrencyMismatch(string what, string expected) =>
        ApiError.InvalidField("currency_mismatch", "Currency mismatch", "currency", $"'currency' must equal the {what}'s currency, {expected}.");

    public static ApiError OrderAlreadyPaid() =>
        ApiError.Conflict("order_already_paid", "The order was already paid.");

    /// <summary>The order's payment is under way (a confirmed intent awaiting mark-paid): paying again could charge twice.</summary>
    public static ApiError OrderPaymentPending() =>
        ApiError.Conflict("order_payment_pending", "A payment of this order is already under way; it cannot be paid again.");
}

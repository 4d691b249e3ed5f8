namespace PaymentSlices.Api.Webhooks;

/// <summary>The contract's event types.</summary>
public static class EventTypes
{
    public const string PaymentSucceeded = "payment.succeeded";
    public const string PaymentFailed = "payment.failed";
    public const string PaymentRequiresAction = "payment.requires_action";
    public const string OrderPaid = "order.paid";
    public const string RefundSucceeded = "refund.succeeded";

    public static readonly IReadOnlyList<string> All = [PaymentSucceeded, PaymentFailed, PaymentRequiresAction, OrderPaid, RefundSucceeded];

    /// <summary>What a payment's status tells its endpoints, if anything.</summary>
    public static string? ForPayment(string status) => status switch
    {
        "succeeded" => PaymentSucceeded,
        "failed" => PaymentFailed,
        "requires_action" => PaymentRequiresAction,
        _ => null,
    };
}

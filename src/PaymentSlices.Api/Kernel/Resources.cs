using System.Text.Json;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Kernel;

// The contract's objects, defined once so that a payment reads the same from every route. Slices
// read the rows with their own SQL and turn them into these; nothing here touches the database.

/// <summary>A card as it may be shown: <c>number</c> is masked, the CVC has no field at all.</summary>
public sealed record CardView(
    string Object, string Brand, string Last4, int ExpMonth, int ExpYear, string? Name, string Number,
    string? AddressCountry, string? AddressPostCode);

public sealed record PaymentResource(
    string Id,
    string Object,
    string? OrderId,
    string? PaymentIntentId,
    decimal Amount,
    string Currency,
    string Status,
    CardView? Source,
    string? PaymentMethod,
    string? Customer,
    decimal AmountRefunded,
    bool Refunded,
    string? Description,
    IReadOnlyDictionary<string, string> Metadata,
    string? FailureCode,
    string? FailureMessage,
    string? DeclineCode,
    [property: ServiceLink] string? RedirectUrl,
    string? ReceiptNumber,
    DateTimeOffset CreatedAt,
    DateTimeOffset? PaidAt);

public sealed record RefundResource(
    string Id, string Object, string PaymentId, string? OrderId, decimal Amount, string Currency, string Status,
    string? Reason, IReadOnlyDictionary<string, string> Metadata, DateTimeOffset CreatedAt);

/// <summary>A payments table row, column for column.</summary>
public sealed class PaymentRow
{
    public string Id { get; init; } = "";
    public string? OrderId { get; init; }
    public string? PaymentIntentId { get; init; }
    public long Amount { get; init; }
    public string Currency { get; init; } = "";
    public string Status { get; init; } = "";
    public string? SourceToken { get; init; }
    public string? PaymentMethod { get; init; }
    public string? Customer { get; init; }
    public string? CardBrand { get; init; }
    public string? CardLast4 { get; init; }
    public int? CardExpMonth { get; init; }
    public int? CardExpYear { get; init; }
    public string? CardName { get; init; }
    public string? CardAddressCountry { get; init; }
    public string? CardAddressPostCode { get; init; }
    public long AmountRefunded { get; init; }
    public string? Description { get; init; }
    public string? Metadata { get; init; }
    public string? FailureCode { get; init; }
    public string? FailureMessage { get; init; }
    public string? DeclineCode { get; init; }
    public string? ReceiptNumber { get; init; }
    public string? ProcessorReference { get; init; }
    public string? ProcessorKey { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? PaidAt { get; init; }

    /// <summary>Failure code of a charge the processor never made (its answer was lost and it has no record of it).</summary>
    public const string NotMadeCode = "processing_error";

    public bool IsProcessing => Status == "processing";

    /// <summary>
    /// The row a charge leaves before the processor is called (phase one of a charge): <c>processing</c>, with the key
    /// the processor will be sent. The card's display fields come with the processor's answer.
    /// </summary>
    public static PaymentRow Processing(
        string id, string processorKey, long amount, Currency currency, PaymentSource? source, string? description,
        IReadOnlyDictionary<string, string>? metadata, DateTimeOffset now, string? orderId = null, string? paymentIntentId = null,
        SavedCardRow? savedCard = null) => new()
    {
        Id = id,
        OrderId = orderId,
        PaymentIntentId = paymentIntentId,
        Amount = amount,
        Currency = currency.Code,
        Status = "processing",
        SourceToken = savedCard is null && source?.PaymentMethod is null ? source?.Token : null,
        PaymentMethod = savedCard?.Id ?? source?.PaymentMethod,
        Customer = savedCard?.CustomerId,
        Description = description,
        Metadata = MetadataJson.Write(metadata),
        ProcessorKey = processorKey,
        CreatedAt = now,
    };

    /// <summary>The row once the processor has answered: succeeded with a receipt, failed with the decline, or awaiting 3-D Secure.</summary>
    public PaymentRow Settled(ChargeResult result, DateTimeOffset now)
    {
        var (card, succeeded, declined, reference) = result switch
        {
            ChargeResult.Succeeded s => (s.Card, s, (ChargeResult.Declined?)null, s.Reference),
            ChargeResult.Declined d => (d.Card, null, d, null),
            ChargeResult.RequiresAction a => (a.Card, null, null, a.Reference),
            ChargeResult.NotMade => ((CardDisplay?)null, null, null, null),
            _ => throw new ArgumentException("Only a charge that was attempted leaves a payment.", nameof(result)),
        };

        return new PaymentRow
        {
            Id = Id,
            OrderId = OrderId,
            PaymentIntentId = PaymentIntentId,
            Amount = Amount,
            Currency = Currency,
            Status = result switch { ChargeResult.Succeeded => "succeeded", ChargeResult.RequiresAction => "requires_action", _ => "failed" },
            SourceToken = SourceToken,
            PaymentMethod = PaymentMethod,
            Customer = Customer,
            CardBrand = card?.Brand ?? CardBrand,
            CardLast4 = card?.Last4 ?? CardLast4,
            CardExpMonth = card?.ExpMonth ?? CardExpMonth,
            CardExpYear = card?.ExpYear ?? CardExpYear,
            CardName = card?.Name ?? CardName,
            CardAddressCountry = card?.AddressCountry ?? CardAddressCountry,
            CardAddressPostCode = card?.AddressPostCode ?? CardAddressPostCode,
            AmountRefunded = AmountRefunded,
            Description = Description,
            Metadata = Metadata,
            FailureCode = declined is not null ? "card_declined" : result is ChargeResult.NotMade ? NotMadeCode : null,
            FailureMessage = declined?.Message ?? (result is ChargeResult.NotMade
                ? "The processor's answer was lost and it has no record of the charge: nothing was charged." : null),
            DeclineCode = declined?.DeclineCode,
            ReceiptNumber = succeeded is not null ? Ids.NewReceiptNumber() : null,
            ProcessorReference = reference,
            ProcessorKey = ProcessorKey,
            CreatedAt = CreatedAt,
            PaidAt = succeeded is not null ? now : null,
        };
    }

    public PaymentResource ToResource()
    {
        var currency = Kernel.Currency.Of(Currency);
        var source = CardLast4 is null
            ? null
            : new CardView("card", CardBrand!, CardLast4, CardExpMonth!.Value, CardExpYear!.Value, CardName,
                CardRules.Masked(CardLast4), CardAddressCountry, CardAddressPostCode);
        return new PaymentResource(
            Id, "payment", OrderId, PaymentIntentId, Money.ToMajorUnits(Amount, currency), currency.Code, Status, source,
            PaymentMethod, Customer, Money.ToMajorUnits(AmountRefunded, currency), AmountRefunded > 0 && AmountRefunded == Amount,
            Description, MetadataJson.Read(Metadata), FailureCode, FailureMessage, DeclineCode, ThreeDSecure.RedirectUrl(Id, Status),
            ReceiptNumber, CreatedAt, PaidAt);
    }
}

/// <summary>
/// Where the cardholder completes 3-D Secure, while a payment requires it: a path on the service, written with
/// <c>PublicBaseUrl</c> in front when it is set (<see cref="ServiceLinkAttribute"/>).
/// </summary>
public static class ThreeDSecure
{
    /// <summary>A payment that requires action fails with <c>authentication_expired</c> this long after it was created (seed 001).</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);

    public static string PagePath(string paymentId) => $"/v1/sandbox/3ds/{paymentId}";

    public static string? RedirectUrl(string paymentId, string status) =>
        status == "requires_action" ? PagePath(paymentId) : null;
}

/// <summary>A refunds table row, column for column.</summary>
public sealed class RefundRow
{
    public string Id { get; init; } = "";
    public string PaymentId { get; init; } = "";
    public string? OrderId { get; init; }
    public long Amount { get; init; }
    public string Currency { get; init; } = "";
    public string Status { get; init; } = "";
    public string? Reason { get; init; }
    public string? Metadata { get; init; }
    public string? ProcessorReference { get; init; }
    public string? ProcessorKey { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The refund as <c>Refunds</c>' settle leaves it: succeeded with the processor's reference, or failed without one.</summary>
    public RefundRow Settled(string? reference) => new()
    {
        Id = Id, PaymentId = PaymentId, OrderId = OrderId, Amount = Amount, Currency = Currency, Status = reference is null ? "failed" : "succeeded",
        Reason = Reason, Metadata = Metadata, ProcessorReference = reference ?? ProcessorReference, ProcessorKey = ProcessorKey, CreatedAt = CreatedAt,
    };

    public RefundResource ToResource() =>
        new(Id, "refund", PaymentId, OrderId, Money.ToMajorUnits(Amount, Kernel.Currency.Of(Currency)), Currency, Status, Reason,
            MetadataJson.Read(Metadata), CreatedAt);
}

/// <summary>Metadata (string to string) as stored: a JSON object in a text column.</summary>
public static class MetadataJson
{
    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();

    public static string? Write(IReadOnlyDictionary<string, string>? metadata) =>
        metadata is null or { Count: 0 } ? null : JsonSerializer.Serialize(metadata);

    public static IReadOnlyDictionary<string, string> Read(string? json) =>
        json is null ? Empty : JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? Empty;
}

public sealed record OrderItemResource(string Name, string? Description, decimal Amount, int Quantity);

/// <summary>The receipt of a paid order (seed 000: "retrieve the receipt from the order details").</summary>
public sealed record ReceiptResource(
    string ReceiptNumber, string PaymentId, decimal Amount, string Currency, CardView? Card, DateTimeOffset PaidAt);

public sealed record OrderResource(
    string Id,
    string Object,
    string Status,
    decimal Amount,
    decimal AmountRefunded,
    string Currency,
    IReadOnlyList<OrderItemResource> Items,
    string? Customer,
    string? Email,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<PaymentResource> Payments,
    IReadOnlyList<RefundResource> Refunds,
    ReceiptResource? Receipt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? PaidAt);

/// <summary>An orders table row, column for column.</summary>
public sealed class OrderRow
{
    public string Id { get; init; } = "";
    public string Status { get; init; } = "";
    public string Currency { get; init; } = "";
    public long Amount { get; init; }
    public long AmountRefunded { get; init; }
    public string? Customer { get; init; }
    public string? Email { get; init; }
    public string? Metadata { get; init; }
    public string? PaymentId { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? PaidAt { get; init; }

    /// <summary>Statuses in which the order's money has been taken.</summary>
    public bool IsPaid => Status is "paid" or "partially_refunded" or "refunded";

    /// <summary>The order as <c>Charges</c>' MarkPaid leaves it once the payment has paid it.</summary>
    public OrderRow PaidBy(string paymentId, DateTimeOffset now) => new()
    {
        Id = Id, Status = "paid", Currency = Currency, Amount = Amount, AmountRefunded = AmountRefunded, Customer = Customer, Email = Email,
        Metadata = Metadata, PaymentId = paymentId, CreatedAt = CreatedAt, UpdatedAt = now, PaidAt = now,
    };

    public OrderResource ToResource(IEnumerable<OrderItemRow> items, IEnumerable<PaymentRow> payments, IEnumerable<RefundRow> refunds)
    {
        var currency = Kernel.Currency.Of(Currency);
        var paymentResources = payments.Select(payment => payment.ToResource()).ToList();
        var receipt = paymentResources.FirstOrDefault(payment => payment.Id == PaymentId) is { ReceiptNumber: { } number, PaidAt: { } paidAt } paid
            ? new ReceiptResource(number, paid.Id, paid.Amount, paid.Currency, paid.Source, paidAt)
            : null;
        return new OrderResource(
            Id, "order", Status, Money.ToMajorUnits(Amount, currency), Money.ToMajorUnits(AmountRefunded, currency), currency.Code,
            items.Select(item => new OrderItemResource(item.Name, item.Description, Money.ToMajorUnits(item.Amount, currency), item.Quantity)).ToList(),
            Customer, Email, MetadataJson.Read(Metadata), paymentResources, refunds.Select(refund => refund.ToResource()).ToList(),
            receipt, CreatedAt, UpdatedAt, PaidAt);
    }
}

/// <summary>An order_items table row.</summary>
public sealed class OrderItemRow
{
    public string OrderId { get; init; } = "";
    public int Position { get; init; }
    public string Name { get; init; } = "";
    public string? Description { get; init; }
    public long Amount { get; init; }
    public int Quantity { get; init; }
}

public sealed record LineItemResource(string Name, decimal Amount, string Currency, int Quantity, string Description);

/// <summary>Seed 002's payment intent: <c>client_secret</c> lets the storefront's page confirm it; it is never logged.</summary>
public sealed record PaymentIntentResource(
    string Id,
    string Object,
    string OrderId,
    string ClientSecret,
    decimal Amount,
    string Currency,
    string Status,
    IReadOnlyList<LineItemResource> LineItems,
    string? PaymentId,
    [property: ServiceLink] string? RedirectUrl,
    DateTimeOffset CreatedAt);

/// <summary>A payment_intents table row, column for column.</summary>
public sealed class PaymentIntentRow
{
    public string Id { get; init; } = "";
    public string OrderId { get; init; } = "";
    public string ClientSecret { get; init; } = "";
    public long Amount { get; init; }
    public string Currency { get; init; } = "";
    public string Status { get; init; } = "";
    public string? PaymentId { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Never the client secret: this is what a log line or debugger shows of an intent.</summary>
    public override string ToString() => $"{Id} ({Status})";

    public PaymentIntentResource ToResource(IEnumerable<OrderItemRow> items, string? status = null, string? paymentId = null)
    {
        var currency = Kernel.Currency.Of(Currency);
        status ??= Status;
        paymentId ??= PaymentId;
        return new PaymentIntentResource(
            Id, "payment_intent", OrderId, ClientSecret, Money.ToMajorUnits(Amount, currency), currency.Code, status,
            items.Select(item => new LineItemResource(item.Name, Money.ToMajorUnits(item.Amount, currency), currency.Code, item.Quantity, item.Description ?? "")).ToList(),
            paymentId, paymentId is null ? null : ThreeDSecure.RedirectUrl(paymentId, status), CreatedAt);
    }
}

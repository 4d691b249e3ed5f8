namespace PaymentSlices.Api.Kernel;

public sealed record PaymentMethodResource(string Id, string Object, string Brand, string Last4, int ExpMonth, int ExpYear, string? Name);

public sealed record CustomerResource(
    string Id, string Object, string? Name, string? Email, string? DefaultPaymentMethod,
    IReadOnlyList<PaymentMethodResource> PaymentMethods, DateTimeOffset CreatedAt);

/// <summary>A customers table row.</summary>
public sealed class CustomerRow
{
    public string Id { get; init; } = "";
    public string? Name { get; init; }
    public string? Email { get; init; }
    public string? DefaultPaymentMethod { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    public CustomerResource ToResource(IEnumerable<SavedCardRow> cards) =>
        new(Id, "customer", Name, Email, DefaultPaymentMethod, cards.Select(card => card.ToResource()).ToList(), CreatedAt);
}

/// <summary>A payment_methods table row: a saved card, as its vault token and display fields.</summary>
public sealed class SavedCardRow
{
    public string Id { get; init; } = "";
    public string CustomerId { get; init; } = "";
    public string VaultToken { get; init; } = "";
    public string Brand { get; init; } = "";
    public string Last4 { get; init; } = "";
    public int ExpMonth { get; init; }
    public int ExpYear { get; init; }
    public string? Name { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    public CardDisplay Display => new(Brand, Last4, ExpMonth, ExpYear, Name, null, null);

    /// <summary>What the processor is asked to charge: the vault token, never a number.</summary>
    public PaymentSource ChargeSource => new() { Token = VaultToken };

    /// <summary>Never the vault token.</summary>
    public override string ToString() => $"{Id} ({Brand} {Last4})";

    public PaymentMethodResource ToResource() => new(Id, "payment_method", Brand, Last4, ExpMonth, ExpYear, Name);
}

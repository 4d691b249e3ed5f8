using FluentValidation;

namespace PaymentSlices.Api.Kernel;

/// <summary>A request that pays with exactly one of a source, a saved card or a customer (seeds 000, 001, 003).</summary>
public interface IPaysWithSource
{
    PaymentSource? Source { get; }

    string? PaymentMethod { get; }

    string? Customer { get; }
}

public static class PaysWithSource
{
    /// <summary>
    /// What to charge without looking up a saved card: the source, or a test PaymentMethod as the token it stands for.
    /// Null when the request pays with a saved card (<c>card_...</c>) or a customer's default card.
    /// </summary>
    public static PaymentSource? DirectSource(this IPaysWithSource request) =>
        request.Source ?? (TestPaymentMethods.IsTest(request.PaymentMethod) ? PaymentSource.TestPaymentMethod(request.PaymentMethod!) : null);
}

/// <summary>The input rules for how a payment is paid, shared by every slice that charges.</summary>
public sealed class PaymentSourceRules : AbstractValidator<IPaysWithSource>
{
    public PaymentSourceRules(TimeProvider clock)
    {
        RuleFor(x => x)
            .Must(x => new object?[] { x.Source, x.PaymentMethod, x.Customer }.Count(v => v is not null) == 1)
            .OverridePropertyName("source")
            .WithMessage("Give exactly one of 'source', 'payment_method' or 'customer'.");

        RuleFor(x => x.Source!.Token)
            .Must(token => token!.Length is > 0 and <= 255)
            .When(x => x.Source?.Token is not null)
            .OverridePropertyName("source")
            .WithMessage("Invalid payment source");

        RuleFor(x => x.Source!.Card!)
            .SetValidator(new CardRulesValidator(clock))
            .When(x => x.Source?.Card is not null)
            .OverridePropertyName("source");

        RuleFor(x => x.PaymentMethod)
            .Must(id => (id!.StartsWith("card_", StringComparison.Ordinal) && id.Length <= 64) || TestPaymentMethods.IsTest(id))
            .When(x => x.PaymentMethod is not null)
            .WithMessage($"'payment_method' is a saved card id starting with 'card_', or a test PaymentMethod: {string.Join(", ", TestPaymentMethods.Ids)}.");

        RuleFor(x => x.Customer)
            .Must(id => id!.StartsWith("cus_", StringComparison.Ordinal) && id.Length <= 64)
            .When(x => x.Customer is not null)
            .WithMessage("'customer' is a customer id starting with 'cus_'.");
    }

    // Messages never repeat the number or CVC: a 400 body and its logs must not carry card data.
    private sealed class CardRulesValidator : AbstractValidator<CardDetails>
    {
        public CardRulesValidator(TimeProvider clock)
        {
            RuleFor(x => x.Object).Equal("card").WithMessage("'object' must be \"card\".");

            RuleFor(x => x.Number).Cascade(CascadeMode.Stop)
                .NotEmpty().WithMessage("'number' is required.")
                .Must(number => CardRules.IsDigits(number!)).WithMessage("'number' must contain digits only.")
                .Must(number => CardRules.IsLuhnValid(number!)).WithMessage("'number' is not a valid card number.");

            RuleFor(x => x.Cvc).Cascade(CascadeMode.Stop)
                .NotEmpty().WithMessage("'cvc' is required.")
                .Must((card, cvc) => CardRules.IsValidCvc(cvc!, card.Number ?? string.Empty))
                .WithMessage("'cvc' must be 3 digits (4 for American Express).");

            RuleFor(x => x.ExpMonth).Cascade(CascadeMode.Stop)
                .NotNull().WithMessage("'exp_month' is required.")
                .InclusiveBetween(1, 12).WithMessage("'exp_month' must be between 1 and 12.");

            RuleFor(x => x.ExpYear).Cascade(CascadeMode.Stop)
                .NotNull().WithMessage("'exp_year' is required.")
                .Must(year => year is >= 0 and < 100 or >= 2000 and <= 2099)
                .WithMessage("'exp_year' must be a year such as 2030 (or 30).")
                .Must((card, year) => card.ExpMonth is not (>= 1 and <= 12) ||
                                       !CardRules.IsExpired(card.ExpMonth.Value, year!.Value, clock.GetUtcNow()))
                .WithMessage("The card has expired.");

            RuleFor(x => x.Name).MaximumLength(200);
            RuleFor(x => x.AddressLine1).MaximumLength(200);
            RuleFor(x => x.AddressLine2).MaximumLength(200);
            RuleFor(x => x.AddressCity).MaximumLength(100);
            RuleFor(x => x.AddressCountry).Length(2).WithMessage("'address_country' is an ISO 3166 two-letter code.");
            RuleFor(x => x.AddressPostCode).MaximumLength(20);
        }
    }
}

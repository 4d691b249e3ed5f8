using FluentValidation;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Features.CreateOrder;

public sealed class CreateOrderValidator : AbstractValidator<CreateOrder.Command>
{
    public CreateOrderValidator()
    {
        RuleFor(x => x.Currency).Cascade(CascadeMode.Stop)
            .NotEmpty()
            .Must(code => Currency.Find(code) is not null).WithMessage("'currency' is not an ISO 4217 currency code.");

        RuleFor(x => x.Items).Cascade(CascadeMode.Stop)
            .NotEmpty().WithMessage("'items' must list at least one item.")
            .Must(items => items!.Count <= 100).WithMessage("'items' has at most 100 items.");

        // A child validator skips null elements, so `"items": [null]` would reach the handler (a 500) without this.
        RuleForEach(x => x.Items).NotNull().WithMessage("Each item is an object with 'name', 'amount' and 'quantity'.");
        RuleForEach(x => x.Items).SetValidator(command => new ItemRules(Currency.Find(command.Currency)));

        When(x => Total(x) is not null, () =>
        {
            RuleFor(x => x)
                .Must(command => Total(command) is > 0 and <= Money.MaxMinorUnits)
                .OverridePropertyName("amount")
                .WithMessage(command => $"The order total {Money.DescribeLimits(Currency.Of(command.Currency!))}.");

            RuleFor(x => x.Amount)
                .Must((command, amount) => Money.ToMinorUnits(amount!.Value, Currency.Of(command.Currency!)) == Total(command))
                .When(x => x.Amount is not null)
                .WithMessage(command =>
                    $"'amount' must equal the sum of the items' amount * quantity ({Money.ToMajorUnits(Total(command)!.Value, Currency.Of(command.Currency!))}).");
        });

        RuleFor(x => x.Customer)
            .Must(id => id!.StartsWith("cus_", StringComparison.Ordinal) && id.Length <= 64)
            .When(x => x.Customer is not null)
            .WithMessage("'customer' is a customer id starting with 'cus_'.");
        RuleFor(x => x.Email).EmailAddress().MaximumLength(254);
        RuleFor(x => x.Metadata).ValidMetadata();
    }

    /// <summary>The order total in minor units; null while the currency or an item is invalid.</summary>
    private static long? Total(CreateOrder.Command command)
    {
        if (Currency.Find(command.Currency) is not { } currency || command.Items is not { Count: > 0 } items)
        {
            return null;
        }

        long total = 0;
        foreach (var item in items)
        {
            if (item is not { Amount: { } amount, Quantity: { } quantity and >= 1 and <= 10_000 })
            {
                return null;
            }

            var minor = Money.ToMinorUnits(amount, currency);
            if (minor is not (>= 0 and <= Money.MaxMinorUnits))
            {
                return null;
            }

            total += minor.Value * quantity;
        }

        return total;
    }

    private sealed class ItemRules : AbstractValidator<CreateOrder.Item>
    {
        public ItemRules(Currency? currency)
        {
            RuleFor(i => i.Name).NotEmpty().MaximumLength(250);
            RuleFor(i => i.Description).MaximumLength(1000);
            RuleFor(i => i.Quantity).NotNull().InclusiveBetween(1, 10_000);
            RuleFor(i => i.Amount).Cascade(CascadeMode.Stop)
                .NotNull()
                .Must(amount => Money.ToMinorUnits(amount!.Value, currency!) is >= 0 and <= Money.MaxMinorUnits)
                .When(_ => currency is not null, ApplyConditionTo.CurrentValidator)
                .WithMessage($"'amount' must be 0 or more, at most {(currency is null ? 0 : Money.ToMajorUnits(Money.MaxMinorUnits, currency))} " +
                             $"and have at most {currency?.Exponent} decimal places for {currency?.Code}.");
        }
    }
}

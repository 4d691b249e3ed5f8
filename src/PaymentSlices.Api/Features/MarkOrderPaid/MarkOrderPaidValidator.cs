using FluentValidation;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Features.MarkOrderPaid;

public sealed class MarkOrderPaidValidator : AbstractValidator<MarkOrderPaid.Command>
{
    public MarkOrderPaidValidator()
    {
        RuleFor(x => x.OrderId).NotEmpty().MaximumLength(64);
        RuleFor(x => x.Body.PaymentIntentId).Cascade(CascadeMode.Stop)
            .NotEmpty()
            .Must(id => id!.StartsWith("pi_", StringComparison.Ordinal) && id.Length <= 64)
            .WithMessage("'payment_intent_id' is a payment intent id starting with 'pi_'.")
            .OverridePropertyName("payment_intent_id");
        RuleFor(x => x.Body.Currency)
            .Must(code => Currency.Find(code) is not null)
            .When(x => x.Body.Currency is not null)
            .WithMessage("'currency' is not an ISO 4217 currency code.")
            .OverridePropertyName("currency");
        RuleFor(x => x.Body.Amount).GreaterThan(0).OverridePropertyName("amount");
    }
}

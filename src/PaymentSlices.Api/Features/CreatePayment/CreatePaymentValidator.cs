using FluentValidation;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Features.CreatePayment;

public sealed class CreatePaymentValidator : AbstractValidator<CreatePayment.Command>
{
    public CreatePaymentValidator(TimeProvider clock)
    {
        RuleFor(x => x.Currency).Cascade(CascadeMode.Stop)
            .NotEmpty()
            .Must(code => Currency.Find(code) is not null).WithMessage("'currency' is not an ISO 4217 currency code.");
        RuleFor(x => x.Amount).Cascade(CascadeMode.Stop)
            .NotNull()
            .Must((command, amount) => Money.IsValidCharge(amount!.Value, Currency.Of(command.Currency!)))
            .When(x => Currency.Find(x.Currency) is not null, ApplyConditionTo.CurrentValidator)
            .WithMessage(command => $"'amount' {Money.DescribeLimits(Currency.Of(command.Currency!))}.");
        Include(new PaymentSourceRules(clock));
        RuleFor(x => x.Description).MaximumLength(1000);
        RuleFor(x => x.Metadata).ValidMetadata();
    }
}

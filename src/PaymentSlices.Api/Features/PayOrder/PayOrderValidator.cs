using FluentValidation;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Features.PayOrder;

public sealed class PayOrderValidator : AbstractValidator<PayOrder.Command>
{
    public PayOrderValidator(TimeProvider clock)
    {
        RuleFor(x => x.OrderId).NotEmpty().MaximumLength(64);
        Include(new PaymentSourceRules(clock));

        // Amount and currency are optional; when given, the handler checks them against the order.
        RuleFor(x => x.Body.Currency)
            .Must(code => Currency.Find(code) is not null)
            .When(x => x.Body.Currency is not null)
            .OverridePropertyName("currency")
            .WithMessage("'currency' is not an ISO 4217 currency code.");
        RuleFor(x => x.Body.Amount)
            .GreaterThan(0)
            .OverridePropertyName("amount");
        RuleFor(x => x.Body.Description).MaximumLength(1000).OverridePropertyName("description");
        RuleFor(x => x.Body.Metadata).ValidMetadata().OverridePropertyName("metadata");
    }
}

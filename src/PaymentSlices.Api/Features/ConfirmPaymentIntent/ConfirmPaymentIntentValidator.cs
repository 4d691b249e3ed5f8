using FluentValidation;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Features.ConfirmPaymentIntent;

public sealed class ConfirmPaymentIntentValidator : AbstractValidator<ConfirmPaymentIntent.Command>
{
    public ConfirmPaymentIntentValidator(TimeProvider clock)
    {
        RuleFor(x => x.IntentId).NotEmpty().MaximumLength(64);
        RuleFor(x => x.Body.ClientSecret).NotEmpty().MaximumLength(200).OverridePropertyName("client_secret");
        Include(new PaymentSourceRules(clock));
    }
}

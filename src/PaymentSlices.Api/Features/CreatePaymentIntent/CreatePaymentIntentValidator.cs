using FluentValidation;

namespace PaymentSlices.Api.Features.CreatePaymentIntent;

public sealed class CreatePaymentIntentValidator : AbstractValidator<CreatePaymentIntent.Command>
{
    public CreatePaymentIntentValidator() => RuleFor(x => x.OrderId).NotEmpty().MaximumLength(64);
}

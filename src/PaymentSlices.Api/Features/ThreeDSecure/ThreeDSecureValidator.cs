using FluentValidation;

namespace PaymentSlices.Api.Features.ThreeDSecure;

public sealed class ThreeDSecureValidator : AbstractValidator<ThreeDSecure.Command>
{
    public ThreeDSecureValidator() => RuleFor(x => x.PaymentId).NotEmpty().MaximumLength(64);
}

public sealed class ThreeDSecureQueryValidator : AbstractValidator<ThreeDSecure.Query>
{
    public ThreeDSecureQueryValidator() => RuleFor(x => x.PaymentId).NotEmpty().MaximumLength(64);
}

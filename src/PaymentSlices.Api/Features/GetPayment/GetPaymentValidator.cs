using FluentValidation;

namespace PaymentSlices.Api.Features.GetPayment;

public sealed class GetPaymentValidator : AbstractValidator<GetPayment.Query>
{
    public GetPaymentValidator() => RuleFor(x => x.PaymentId).NotEmpty().MaximumLength(64);
}

using FluentValidation;

namespace PaymentSlices.Api.Features.GetRefund;

public sealed class GetRefundValidator : AbstractValidator<GetRefund.Query>
{
    public GetRefundValidator() => RuleFor(x => x.RefundId).NotEmpty().MaximumLength(64);
}

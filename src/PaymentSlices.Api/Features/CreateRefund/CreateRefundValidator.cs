using FluentValidation;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Features.CreateRefund;

/// <summary>
/// The amount is checked by the handler, against the payment's currency and refundable amount, so that
/// zero, negative or too much all answer <c>invalid_refund_amount</c> with <c>refundable_amount</c>.
/// </summary>
public sealed class CreateRefundValidator : AbstractValidator<CreateRefund.Command>
{
    public CreateRefundValidator()
    {
        RuleFor(x => x.PaymentId).NotEmpty().MaximumLength(64);
        RuleFor(x => x.Reason)
            .Must(reason => CreateRefund.Reasons.Contains(reason))
            .When(x => x.Reason is not null)
            .WithMessage($"'reason' is one of {string.Join(", ", CreateRefund.Reasons)}.");
        RuleFor(x => x.Metadata).ValidMetadata();
    }
}

using FluentValidation;

namespace PaymentSlices.Api.Features.GetOrder;

public sealed class GetOrderValidator : AbstractValidator<GetOrder.Query>
{
    public GetOrderValidator() => RuleFor(x => x.OrderId).NotEmpty().MaximumLength(64);
}

using FluentValidation;

namespace PaymentSlices.Api.Features.GetCustomer;

public sealed class GetCustomerValidator : AbstractValidator<GetCustomer.Query>
{
    public GetCustomerValidator() => RuleFor(x => x.CustomerId).NotEmpty().MaximumLength(64);
}

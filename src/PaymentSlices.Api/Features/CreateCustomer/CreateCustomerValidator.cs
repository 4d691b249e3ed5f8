using FluentValidation;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Features.CreateCustomer;

public sealed class CreateCustomerValidator : AbstractValidator<CreateCustomer.Command>
{
    public CreateCustomerValidator(TimeProvider clock)
    {
        RuleFor(x => x.Name).MaximumLength(200);
        RuleFor(x => x.Email).EmailAddress().MaximumLength(254);
        Include(new PaymentSourceRules(clock)); // exactly one source: the card to save
    }
}

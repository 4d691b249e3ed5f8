using FluentValidation;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.ListEvents;

public sealed class ListEventsValidator : AbstractValidator<ListEvents.Query>
{
    public ListEventsValidator()
    {
        RuleFor(query => query.Status).Must(status => ListEvents.Statuses.Contains(status))
            .When(query => query.Status is not null)
            .WithMessage($"'status' must be one of: {string.Join(", ", ListEvents.Statuses)}.");
        RuleFor(query => query.Type).Must(type => EventTypes.All.Contains(type))
            .When(query => query.Type is not null)
            .WithMessage($"'type' must be one of: {string.Join(", ", EventTypes.All)}.");
        RuleFor(query => query.Limit).InclusiveBetween(1, ListEvents.MaxLimit);
    }
}

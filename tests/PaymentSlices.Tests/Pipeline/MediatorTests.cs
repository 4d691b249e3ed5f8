using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace PaymentSlices.Tests.Pipeline;

public sealed class MediatorTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    /// <summary>MediatR 5 finds a missing handler only when a request is sent: find it here instead.</summary>
    [Fact]
    public async Task EveryRequest_HasAHandlerThatResolves()
    {
        var requests = typeof(Program).Assembly.GetTypes()
            .Select(type => (Type: type, Response: type.GetInterfaces()
                .SingleOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IRequest<>))?.GenericTypeArguments[0]))
            .Where(request => request.Response is not null && !request.Type.IsAbstract && !request.Type.IsInterface)
            .ToList();
        await using var scope = factory.Services.CreateAsyncScope();

        requests.Should().HaveCountGreaterThanOrEqualTo(10);
        foreach (var (type, response) in requests)
        {
            var handler = scope.ServiceProvider.GetService(typeof(IRequestHandler<,>).MakeGenericType(type, response!));
            handler.Should().NotBeNull($"{type.FullName} needs a handler");
        }
    }

    [Fact]
    public async Task ACommand_IsValidatedThenRunInATransaction_AQueryIsOnlyValidated()
    {
        await using var scope = factory.Services.CreateAsyncScope();

        Behaviours<PaymentSlices.Api.Features.CreatePayment.CreatePayment.Command>(scope.ServiceProvider)
            .Should().Equal("ValidationBehaviour`2", "TransactionBehaviour`2");
        Behaviours<PaymentSlices.Api.Features.GetPayment.GetPayment.Query>(scope.ServiceProvider).Should().Equal("ValidationBehaviour`2");
    }

    private static List<string> Behaviours<TRequest>(IServiceProvider services)
    {
        var response = typeof(TRequest).GetInterfaces().Single(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IRequest<>)).GenericTypeArguments[0];
        var behaviours = (IEnumerable<object>)services.GetRequiredService(
            typeof(IEnumerable<>).MakeGenericType(typeof(IPipelineBehavior<,>).MakeGenericType(typeof(TRequest), response)));
        return behaviours.Select(behaviour => behaviour.GetType().Name).ToList();
    }
}

using System.Reflection;
using FluentValidation;
using MediatR;

namespace PaymentSlices.Api.Pipeline;

/// <summary>A request that writes: the pipeline runs it inside one database transaction.</summary>
public interface ICommand<TResponse> : IRequest<TResponse>, ICommand;

/// <summary>The non-generic marker the pipeline checks.</summary>
public interface ICommand;

/// <summary>
/// A command whose handler takes its own write turns: a charge takes one before the processor is called and one after,
/// and holds none while it waits. The pipeline opens no turn around it; it commits the turn the handler leaves open.
/// </summary>
public interface ITakesTurns;

public static class MediatorRegistration
{
    /// <summary>
    /// MediatR 5 has no DI package: register the mediator, the behaviours (first registered runs
    /// outermost), and every handler and validator of this assembly by hand.
    /// </summary>
    public static IServiceCollection AddMediatorPipeline(this IServiceCollection services)
    {
        services.AddScoped<ServiceFactory>(provider => provider.GetService!);
        services.AddScoped<IMediator, Mediator>();

        // Order matters: validate before anything is opened, then one transaction around the handler (a command's: the
        // container leaves TransactionBehaviour out of a query's pipeline, which does not meet its constraint).
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(ValidationBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(TransactionBehaviour<,>));

        foreach (var type in Assembly.GetExecutingAssembly().GetTypes().Where(t => t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false }))
        {
            foreach (var contract in type.GetInterfaces().Where(i => i.IsGenericType))
            {
                var definition = contract.GetGenericTypeDefinition();
                if (definition == typeof(IRequestHandler<,>))
                {
                    services.AddScoped(contract, type);
                }
                else if (definition == typeof(IValidator<>) && typeof(IBaseRequest).IsAssignableFrom(contract.GenericTypeArguments[0]))
                {
                    services.AddSingleton(contract, type); // validators are stateless; building their rules once is enough
                }
            }
        }

        return services;
    }
}

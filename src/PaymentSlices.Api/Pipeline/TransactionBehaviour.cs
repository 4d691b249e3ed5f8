using MediatR;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// Gives a command's handler a write turn (see <see cref="Db"/>) and commits it when the handler returns, business
/// failures included (a declined payment is stored); an exception rolls the turn back. A handler that takes its own
/// turns (<see cref="ITakesTurns"/>) gets none, and the turn it leaves open is committed here. With an
/// Idempotency-Key, the last turn is left to <see cref="IdempotencyFilter"/>, which stores the response in it.
/// </summary>
/// <remarks>
/// Write endpoints send their commands without the request's abort token: a client that hangs up
/// mid-charge must not roll back a charge the processor already made. Only commands have this behaviour: for a query
/// (a GET) the container leaves it out of the pipeline (its constraint), so a read pays for no layer that does nothing.
/// </remarks>
public sealed class TransactionBehaviour<TRequest, TResponse>(Db db, RequestIdempotency idempotency) : IPipelineBehavior<TRequest, TResponse>
    where TRequest : ICommand
{
    public async Task<TResponse> Handle(TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        if (request is not ITakesTurns)
        {
            await db.BeginRequestAsync(cancellationToken);
        }

        try
        {
            var response = await next();
            if (db.InTurn && !idempotency.IsActive)
            {
                await db.CommitAsync(cancellationToken);
            }

            return response;
        }
        finally
        {
            if (!idempotency.IsActive)
            {
                await db.EndAsync(); // rolls back if the commit was not reached
            }
        }
    }
}

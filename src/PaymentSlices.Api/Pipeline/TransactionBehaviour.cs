using MediatR;
using PaymentSlices.Api.Database;

namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// Opens the write transaction around a command's handler and commits it when the handler returns,
/// business failures included (a declined payment is stored); an exception rolls everything back.
/// A behaviour registered inside this one writes into the same transaction through <see cref="Db"/>.
/// </summary>
/// <remarks>
/// Write endpoints send their commands without the request's abort token: a client that hangs up
/// mid-charge must not roll back a charge the processor already made.
/// </remarks>
public sealed class TransactionBehaviour<TRequest, TResponse>(Db db) : IPipelineBehavior<TRequest, TResponse>
{
    public async Task<TResponse> Handle(TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        // A request with an Idempotency-Key arrives inside the transaction IdempotencyFilter opened: join it.
        if (request is not ICommand || db.Transaction is not null)
        {
            return await next();
        }

        await db.BeginRequestAsync(cancellationToken);
        try
        {
            var response = await next();
            await db.CommitAsync(cancellationToken);
            return response;
        }
        finally
        {
            await db.EndAsync(); // rolls back if the commit was not reached
        }
    }
}

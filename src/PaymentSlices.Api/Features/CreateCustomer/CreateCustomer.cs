using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.CreateCustomer;

/// <summary>
/// A customer with a saved card (seed 001 pays by customer or saved card). The processor keeps the card;
/// we keep its vault token and display fields, and make it the customer's default.
/// </summary>
public static class CreateCustomer
{
    public sealed record Command(string? Name, string? Email, PaymentSource? Source) : ICommand<ApiResult<CustomerResource>>, IPaysWithSource, ITakesTurns
    {
        string? IPaysWithSource.PaymentMethod => null;

        string? IPaysWithSource.Customer => null;
    }

    public sealed class Handler(Db db, IPaymentProcessor processor, RequestIdempotency idempotency, TimeProvider clock) : IRequestHandler<Command, ApiResult<CustomerResource>>
    {
        private const string InsertCustomer = """
            INSERT INTO customers (id, name, email, default_payment_method, created_at)
            VALUES (@Id, @Name, @Email, @DefaultPaymentMethod, @CreatedAt)
            """;

        private const string InsertCard = """
            INSERT INTO payment_methods (id, customer_id, vault_token, brand, last4, exp_month, exp_year, name, created_at)
            VALUES (@Id, @CustomerId, @VaultToken, @Brand, @Last4, @ExpMonth, @ExpYear, @Name, @CreatedAt)
            """;

        public async Task<ApiResult<CustomerResource>> Handle(Command command, CancellationToken cancellationToken)
        {
            var cardId = Ids.New("card");
            await db.ReleaseReadAsync(); // the Idempotency-Key's read: no connection is held while the processor works
            if (await processor.SaveCardAsync(idempotency.ProcessorKey("save_card", cardId), command.Source!, cancellationToken) is not SaveCardResult.Saved saved)
            {
                return PaymentErrors.InvalidSource();
            }

            var now = clock.Now();
            var customer = new CustomerRow { Id = Ids.New("cus"), Name = command.Name, Email = command.Email, DefaultPaymentMethod = cardId, CreatedAt = now };
            var card = new SavedCardRow
            {
                Id = customer.DefaultPaymentMethod,
                CustomerId = customer.Id,
                VaultToken = saved.VaultToken,
                Brand = saved.Card.Brand,
                Last4 = saved.Card.Last4,
                ExpMonth = saved.Card.ExpMonth,
                ExpYear = saved.Card.ExpYear,
                Name = saved.Card.Name,
                CreatedAt = now,
            };

            // The processor was called with no turn held; the pipeline commits this one.
            await db.BeginRequestAsync(cancellationToken);
            var connection = await db.OpenAsync(cancellationToken);
            await connection.ExecuteAsync(db.Command(InsertCustomer, customer, cancellationToken));
            await connection.ExecuteAsync(db.Command(InsertCard, card, cancellationToken));
            return customer.ToResource([card]);
        }
    }
}

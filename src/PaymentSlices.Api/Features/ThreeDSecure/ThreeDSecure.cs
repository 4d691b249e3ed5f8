using System.Data.Common;
using Dapper;
using MediatR;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Webhooks;

namespace PaymentSlices.Api.Features.ThreeDSecure;

/// <summary>
/// The sandbox's 3-D Secure check (seed 001: "use the URL from the redirect_url field"; authenticate within
/// 15 minutes). The cardholder completes or fails it; completion makes the payment succeed and the order
/// paid (or the intent succeed); failure, or no answer within 15 minutes, fails the payment and makes
/// the order payable again.
/// </summary>
public static class ThreeDSecure
{
    /// <summary>The cardholder's answer on the 3-D Secure page.</summary>
    public sealed record Command(string PaymentId, bool Authenticated) : ICommand<ApiResult<PaymentRow>>;

    /// <summary>The payment the page is about.</summary>
    public sealed record Query(string PaymentId) : IRequest<ApiResult<PaymentRow>>;

    private const string SelectPayment = "SELECT * FROM payments WHERE id = @PaymentId";

    public sealed class QueryHandler(Db db) : IRequestHandler<Query, ApiResult<PaymentRow>>
    {
        public async Task<ApiResult<PaymentRow>> Handle(Query query, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            var payment = await connection.QuerySingleOrDefaultAsync<PaymentRow>(db.Command(SelectPayment, query, cancellationToken));
            return payment is null ? ApiError.NotFound("payment_not_found", "Payment not found") : payment;
        }
    }

    public sealed class Handler(Db db, Outbox outbox, TimeProvider clock) : IRequestHandler<Command, ApiResult<PaymentRow>>
    {
        public async Task<ApiResult<PaymentRow>> Handle(Command command, CancellationToken cancellationToken)
        {
            var connection = await db.OpenAsync(cancellationToken);
            var payment = await connection.QuerySingleOrDefaultAsync<PaymentRow>(db.Command(SelectPayment, command, cancellationToken));
            if (payment is null)
            {
                return ApiError.NotFound("payment_not_found", "Payment not found");
            }

            if (payment.Status != "requires_action")
            {
                return ApiError.Conflict("payment_not_awaiting_authentication", $"The payment is {payment.Status}; there is nothing to authenticate.");
            }

            var now = clock.Now();
            var outcome = now - payment.CreatedAt >= Kernel.ThreeDSecure.Window ? Outcome.Expired
                : command.Authenticated ? Outcome.Authenticated
                : Outcome.Failed;
            await Resolve(db, connection, outbox, payment, outcome, now, cancellationToken);
            return await connection.QuerySingleAsync<PaymentRow>(db.Command(SelectPayment, command, cancellationToken));
        }
    }

    internal enum Outcome
    {
        Authenticated,
        Failed,
        Expired,
    }

    // Each UPDATE is guarded by the state it leaves, so a payment is resolved once, whoever gets there first.
    private const string Succeed = """
        UPDATE payments SET status = 'succeeded', paid_at = @Now, receipt_number = @ReceiptNumber
        WHERE id = @PaymentId AND status = 'requires_action'
        """;

    private const string Fail = """
        UPDATE payments SET status = 'failed', failure_code = @FailureCode, failure_message = @FailureMessage
        WHERE id = @PaymentId AND status = 'requires_action'
        """;

    private const string OrderPaid = """
        UPDATE orders SET status = 'paid', payment_id = @PaymentId, paid_at = @Now, updated_at = @Now
        WHERE id = @OrderId AND status = 'pending'
        """;

    private const string CancelOpenIntents = """
        UPDATE payment_intents SET status = 'canceled', updated_at = @Now
        WHERE order_id = @OrderId AND status = 'requires_payment_method'
        """;

    private const string IntentSucceeded = """
        UPDATE payment_intents SET status = 'succeeded', updated_at = @Now WHERE id = @IntentId AND status = 'requires_action'
        """;

    private const string OrderPayable = """
        UPDATE orders SET status = 'created', updated_at = @Now WHERE id = @OrderId AND status = 'pending'
        """;

    private const string IntentPayable = """
        UPDATE payment_intents SET status = 'requires_payment_method', payment_id = NULL, updated_at = @Now
        WHERE id = @IntentId AND status = 'requires_action'
        """;

    /// <summary>Applies the cardholder's answer, or the expiry, to the payment, its order and its intent.</summary>
    internal static async Task Resolve(
        Db db, DbConnection connection, Outbox outbox, PaymentRow payment, Outcome outcome, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var keys = new { PaymentId = payment.Id, payment.OrderId, IntentId = payment.PaymentIntentId, Now = now };
        if (outcome == Outcome.Authenticated)
        {
            // Only the request that moved the payment out of requires_action goes on to the order and intent.
            if (await connection.ExecuteAsync(db.Command(Succeed, new { PaymentId = payment.Id, Now = now, ReceiptNumber = Ids.NewReceiptNumber() }, cancellationToken)) != 1)
            {
                return;
            }

            await outbox.PaymentAsync(await Reload(db, connection, payment, cancellationToken), cancellationToken);
            if (payment.PaymentIntentId is not null)
            {
                await connection.ExecuteAsync(db.Command(IntentSucceeded, keys, cancellationToken)); // the order waits for mark-paid
            }
            else if (payment.OrderId is not null && await connection.ExecuteAsync(db.Command(OrderPaid, keys, cancellationToken)) == 1)
            {
                // order.paid only from the payment that paid the order (see Charges.SettleAsync).
                await connection.ExecuteAsync(db.Command(CancelOpenIntents, keys, cancellationToken));
                await outbox.OrderPaidAsync(payment.OrderId, cancellationToken);
            }

            return;
        }

        var (code, message) = outcome == Outcome.Expired
            ? ("authentication_expired", "3-D Secure was not completed within 15 minutes.")
            : ("authentication_failed", "The cardholder did not complete 3-D Secure.");
        if (await connection.ExecuteAsync(db.Command(Fail, new { PaymentId = payment.Id, FailureCode = code, FailureMessage = message }, cancellationToken)) != 1)
        {
            return;
        }

        await outbox.PaymentAsync(await Reload(db, connection, payment, cancellationToken), cancellationToken);
        if (payment.OrderId is not null)
        {
            await connection.ExecuteAsync(db.Command(OrderPayable, keys, cancellationToken));
        }

        if (payment.PaymentIntentId is not null)
        {
            await connection.ExecuteAsync(db.Command(IntentPayable, keys, cancellationToken));
        }
    }

    private static Task<PaymentRow> Reload(Db db, DbConnection connection, PaymentRow payment, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync<PaymentRow>(db.Command(SelectPayment, new { PaymentId = payment.Id }, cancellationToken));
}

using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Api.Webhooks;

/// <summary>
/// The transactional outbox the slices write their events into: inside the transaction of the change itself,
/// so a change that rolls back leaves no event, and a committed change always has its event. Each event gets
/// one pending delivery per endpoint that receives its type; the <see cref="WebhookDispatcher"/> sends them.
/// </summary>
public sealed class Outbox(Db db, IOptions<WebhookOptions> options, IOptions<JsonOptions> json, TimeProvider clock, WebhookSignal signal)
{
    private const string InsertEvent = """
        INSERT INTO events (id, type, subject, payload, status, created_at)
        VALUES (@Id, @Type, @Subject, @Payload, @Status, @CreatedAt)
        """;

    private const string InsertDelivery = """
        INSERT INTO event_deliveries (event_id, endpoint, status, next_attempt_at, retry_until, seq, subject)
        SELECT @EventId, @Endpoint, 'pending', @Now, @RetryUntil, seq, subject FROM events WHERE id = @EventId
        """;

    // An order's items and payments, in the order its resource lists them.
    private const string SelectItemsAndPayments = """
        SELECT * FROM order_items WHERE order_id = @OrderId ORDER BY position;
        SELECT * FROM payments WHERE order_id = @OrderId ORDER BY created_at, id;
        """;

    private const string SelectOrder = "SELECT * FROM orders WHERE id = @OrderId;\n" + SelectItemsAndPayments
        + "\nSELECT * FROM refunds WHERE order_id = @OrderId ORDER BY created_at, id;";

    /// <summary>The payment's event for its current status (succeeded, failed, requires_action).</summary>
    public Task PaymentAsync(PaymentRow payment, CancellationToken cancellationToken) =>
        EventTypes.ForPayment(payment.Status) is { } type
            ? EmitAsync(type, payment.OrderId ?? payment.Id, payment.ToResource(), cancellationToken)
            : Task.CompletedTask;

    public Task RefundSucceededAsync(RefundRow refund, CancellationToken cancellationToken) =>
        EmitAsync(EventTypes.RefundSucceeded, refund.OrderId ?? refund.PaymentId, refund.ToResource(), cancellationToken);

    /// <summary><c>order.paid</c> with the order as a storefront would read it now: items, payments, refunds, receipt.</summary>
    public async Task OrderPaidAsync(string orderId, CancellationToken cancellationToken)
    {
        var order = await ReadOrderAsync(orderId, cancellationToken);
        await EmitAsync(EventTypes.OrderPaid, orderId, order.Order.ToResource(order.Items, order.Payments, order.Refunds), cancellationToken);
    }

    /// <summary>
    /// <c>order.paid</c> for an order that <paramref name="payment"/> has just paid, from the order as it was read before
    /// the turn (<see cref="ReadOrderToPayAsync"/>, with the payment still processing) instead of reading it again inside it.
    /// Exact while the payment held the order's claim from before that read: no other payment of the order could start
    /// or settle, its items never change, and an order with no succeeded payment has no refund.
    /// </summary>
    public Task OrderPaidAsync(OrderSnapshot before, PaymentRow payment, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var payments = before.Payments.Select(row => row.Id == payment.Id ? payment : row);
        var resource = before.Order.PaidBy(payment.Id, now).ToResource(before.Items, payments, before.Refunds);
        return EmitAsync(EventTypes.OrderPaid, before.Order.Id, resource, cancellationToken);
    }

    /// <summary>
    /// The snapshot of an order that a charge holding its claim is about to pay, for <see cref="OrderPaidAsync(OrderSnapshot,
    /// PaymentRow, DateTimeOffset, CancellationToken)"/>: <paramref name="order"/> as the slice read it before it claimed
    /// the order, with its items and payments read now. The row is exact for that event: until an order is paid, only its
    /// payments change it (status, <c>payment_id</c>, <c>paid_at</c>, <c>updated_at</c>, which <c>PaidBy</c> sets), and
    /// an order never paid has no refunds. Its payments are read after the claim, which a failed payment may have
    /// preceded. Two statements instead of four.
    /// </summary>
    public async Task<OrderSnapshot> ReadOrderToPayAsync(OrderRow order, CancellationToken cancellationToken)
    {
        var connection = await db.OpenAsync(cancellationToken);
        await using var results = await connection.QueryMultipleAsync(db.Command(SelectItemsAndPayments, new { OrderId = order.Id }, cancellationToken));
        return new OrderSnapshot(order, (await results.ReadAsync<OrderItemRow>()).AsList(), (await results.ReadAsync<PaymentRow>()).AsList(), []);
    }

    /// <summary>The order with everything its resource shows, read on the request's connection (in its turn, if one is held).</summary>
    public async Task<OrderSnapshot> ReadOrderAsync(string orderId, CancellationToken cancellationToken)
    {
        var connection = await db.OpenAsync(cancellationToken);
        await using var results = await connection.QueryMultipleAsync(db.Command(SelectOrder, new { OrderId = orderId }, cancellationToken));
        var order = await results.ReadSingleAsync<OrderRow>();
        return new OrderSnapshot(
            order, (await results.ReadAsync<OrderItemRow>()).AsList(), (await results.ReadAsync<PaymentRow>()).AsList(), (await results.ReadAsync<RefundRow>()).AsList());
    }

    private async Task EmitAsync(string type, string subject, object data, CancellationToken cancellationToken)
    {
        if (db.Transaction is null)
        {
            throw new InvalidOperationException("An event is written in the transaction of the change that causes it.");
        }

        var connection = await db.OpenAsync(cancellationToken);
        var now = clock.Now();
        var id = Ids.New("evt");
        var payload = JsonSerializer.Serialize(new Envelope(id, "event", type, now, new EnvelopeData(data)), json.Value.SerializerOptions);
        var settings = options.Value;
        var endpoints = settings.For(type).ToList();

        // With no endpoint to send to, nothing is left to deliver: the event is recorded as delivered.
        var status = endpoints.Count == 0 ? "delivered" : "pending";
        await connection.ExecuteAsync(db.Command(InsertEvent, new { Id = id, Type = type, Subject = subject, Payload = payload, Status = status, CreatedAt = now }, cancellationToken));
        foreach (var endpoint in endpoints)
        {
            await connection.ExecuteAsync(db.Command(InsertDelivery, new { EventId = id, Endpoint = endpoint.Url, Now = now, RetryUntil = now + settings.RetryFor }, cancellationToken));
        }

        if (endpoints.Count > 0)
        {
            db.OnCommitted(() => signal.EventsWritten(endpoints));
        }
    }

    /// <summary>An order and its items, payments and refunds, as read at one moment.</summary>
    public sealed record OrderSnapshot(OrderRow Order, IReadOnlyList<OrderItemRow> Items, IReadOnlyList<PaymentRow> Payments, IReadOnlyList<RefundRow> Refunds);

    /// <summary>The body every endpoint receives: <c>{id, object, type, created_at, data: {object}}</c>.</summary>
    private sealed record Envelope(string Id, string Object, string Type, DateTimeOffset CreatedAt, EnvelopeData Data);

    private sealed record EnvelopeData(object Object);
}

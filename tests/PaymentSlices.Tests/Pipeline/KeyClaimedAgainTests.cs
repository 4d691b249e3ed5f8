using System.Net;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Tests.Kernel;

namespace PaymentSlices.Tests.Pipeline;

/// <summary>
/// A request that claims its Idempotency-Key itself does not look for an earlier charge under its processor key before
/// phase one. The key can have been claimed before all the same, by a request whose claim ran out since (here: its
/// retention, while the charge waited for a processor that was down), and that charged under the same processor key. Phase
/// one then finds the key taken, rolls back what it claimed, and continues that charge; and where that charge is what
/// would refuse the request (an order pending or paid, an intent confirmed, nothing left to refund), the request looks for
/// it before refusing. Either way the processor is asked once more under the same key, never charged twice, and the
/// answer is that charge's, stored under the key again.
/// </summary>
public sealed class KeyClaimedAgainTests(BreakerHeldClosedFactory factory) : IClassFixture<BreakerHeldClosedFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task ChargeWhoseClaimRanOut_WhileItWasProcessing_IsContinuedByTheKeyClaimedAgain_ChargedOnce()
    {
        var key = $"again-{Guid.NewGuid()}";
        var body = new { amount = 12.34m, currency = "USD", source = "tok_visa" };
        var processing = await LeaveProcessingAsync("/v1/payments", body, key, "SELECT id, processor_key FROM payments WHERE amount = 1234 AND status = 'processing'");

        // The processor made the charge; its answer never came back. Then the key's retention ran out.
        (await factory.Processor.ChargeAsync(
            new ChargeRequest(processing.ProcessorKey, 1234, Currency.Of("USD"), new PaymentSource { Token = "tok_visa" }), CancellationToken.None))
            .Should().BeOfType<ChargeResult.Succeeded>();
        var charges = factory.Processor.SucceededCharges;
        await ExpireAsync(key);

        var payment = await (await client.PostJsonAsync("/v1/payments", body, key)).ShouldBe(HttpStatusCode.Created);

        payment.Id().Should().Be(processing.Id, "the charge under the same processor key is continued, not made again");
        payment.Str("status").Should().Be("succeeded");
        factory.Processor.SucceededCharges.Should().Be(charges, "the processor answered the charge it had made");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE processor_key = @key", new { key = processing.ProcessorKey })).Should().Be(1);
        await ShouldReplayAsync("/v1/payments", body, key, payment.ToJsonString());
    }

    [Fact]
    public async Task RefundWhoseClaimRanOut_WhileItWasProcessing_IsContinuedByTheKeyClaimedAgain_RefundedOnce()
    {
        var paid = await client.CreatePaidOrderAsync("USD", 50.00m);
        var key = $"again-{Guid.NewGuid()}";
        var body = new { payment_id = paid.Id(), amount = 20.00m };
        var processing = await LeaveProcessingAsync("/v1/refunds", body, key, $"SELECT id, processor_key FROM refunds WHERE payment_id = '{paid.Id()}'");

        var reference = await factory.ScalarAsync<string>("SELECT processor_reference FROM payments WHERE id = @id", new { id = paid.Id() });
        (await factory.Processor.RefundAsync(new ProcessorRefund(processing.ProcessorKey, reference, 2000, Currency.Of("USD")), CancellationToken.None))
            .Should().NotBeNull();
        var refunds = factory.Processor.SucceededRefunds;
        await ExpireAsync(key);

        var refund = await (await client.PostJsonAsync("/v1/refunds", body, key)).ShouldBe(HttpStatusCode.Created);

        refund.Id().Should().Be(processing.Id);
        refund.Str("status").Should().Be("succeeded");
        factory.Processor.SucceededRefunds.Should().Be(refunds);
        (await factory.ScalarAsync<long>("SELECT amount_refunded FROM payments WHERE id = @id", new { id = paid.Id() }))
            .Should().Be(2000, "the amount the retry reserved went back with its rolled-back turn");
        await ShouldReplayAsync("/v1/refunds", body, key, refund.ToJsonString());
    }

    [Fact]
    public async Task DeclinedPayOrderWhoseClaimRanOut_SameKeyAndBody_GetsThatDecline_AndTheOrderStaysPayable()
    {
        var order = await client.CreateOrderAsync();
        var key = $"again-{Guid.NewGuid()}";
        var body = new { source = "tok_chargeDeclined" };
        var declined = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", body, key)).ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");
        await ExpireAsync(key);

        var again = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", body, key)).ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");

        again.Str("payment_id").Should().Be(declined.Str("payment_id"), "the charge under the same processor key is the answer");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE order_id = @id", new { id = order.Id() })).Should().Be(1);
        (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() }))
            .Should().Be("created", "the order's claim went back with the rolled-back turn");
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" })).ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task PayOrderWhoseClaimRanOut_WhileItWasProcessing_IsContinued_NotRefusedAsPending()
    {
        var order = await client.CreateOrderAsync("USD", 31.00m);
        var key = $"again-{Guid.NewGuid()}";
        var body = new { source = "tok_visa" };
        var processing = await LeaveProcessingAsync($"/v1/orders/{order.Id()}/pay", body, key, $"SELECT id, processor_key FROM payments WHERE order_id = '{order.Id()}'");
        var charges = factory.Processor.SucceededCharges;
        await ExpireAsync(key);

        var payment = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", body, key)).ShouldBe(HttpStatusCode.Created);

        payment.Id().Should().Be(processing.Id, "the pending order's charge is this key's, and it is continued");
        payment.Str("status").Should().Be("succeeded");
        factory.Processor.SucceededCharges.Should().Be(charges + 1, "the processor never got the first call; the continuation makes the charge, once");
        (await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK)).Str("status").Should().Be("paid");
        await ShouldReplayAsync($"/v1/orders/{order.Id()}/pay", body, key, payment.ToJsonString());
    }

    [Fact]
    public async Task PaidOrderWhoseClaimRanOut_SameKeyAndBody_GetsItsPayment_NotOrderAlreadyPaid()
    {
        var order = await client.CreateOrderAsync();
        var key = $"again-{Guid.NewGuid()}";
        var body = new { source = "tok_visa" };
        var paid = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", body, key)).ShouldBe(HttpStatusCode.Created);
        var charges = factory.Processor.SucceededCharges;
        await ExpireAsync(key);

        var again = await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", body, key)).ShouldBe(HttpStatusCode.Created);

        again.Id().Should().Be(paid.Id());
        factory.Processor.SucceededCharges.Should().Be(charges);
    }

    [Fact]
    public async Task ConfirmedIntentWhoseClaimRanOut_SameKeyAndBody_GetsTheIntent_NotItsStateRefused()
    {
        var order = await client.CreateOrderAsync();
        var intent = await (await client.PostAsync($"/v1/orders/{order.Id()}/payment-intent", null)).ShouldBe(HttpStatusCode.Created);
        var key = $"again-{Guid.NewGuid()}";
        var body = new { client_secret = intent.Str("client_secret"), source = "tok_visa" };
        var confirmed = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", body, key)).ShouldBe(HttpStatusCode.OK);
        var charges = factory.Processor.SucceededCharges;
        await ExpireAsync(key);

        var again = await (await client.PostJsonAsync($"/v1/payment-intents/{intent.Id()}/confirm", body, key)).ShouldBe(HttpStatusCode.OK);

        again.Str("status").Should().Be("succeeded");
        again.Str("payment_id").Should().Be(confirmed.Str("payment_id"));
        factory.Processor.SucceededCharges.Should().Be(charges);
    }

    [Fact]
    public async Task FullRefundWhoseClaimRanOut_WhileItWasProcessing_IsContinued_NotRefusedAsNothingLeft()
    {
        var paid = await client.CreatePaidOrderAsync("USD", 50.00m);
        var key = $"again-{Guid.NewGuid()}";
        var body = new { payment_id = paid.Id() };
        var processing = await LeaveProcessingAsync("/v1/refunds", body, key, $"SELECT id, processor_key FROM refunds WHERE payment_id = '{paid.Id()}'");
        var refunds = factory.Processor.SucceededRefunds;
        await ExpireAsync(key);

        var refund = await (await client.PostJsonAsync("/v1/refunds", body, key)).ShouldBe(HttpStatusCode.Created);

        refund.Id().Should().Be(processing.Id);
        refund.Str("status").Should().Be("succeeded");
        factory.Processor.SucceededRefunds.Should().Be(refunds + 1);
        (await factory.ScalarAsync<long>("SELECT amount_refunded FROM payments WHERE id = @id", new { id = paid.Id() })).Should().Be(5000);
        await ShouldReplayAsync("/v1/refunds", body, key, refund.ToJsonString());
    }

    /// <summary>Sends the request while the processor is down: 503, and what it left processing.</summary>
    private async Task<(string Id, string ProcessorKey)> LeaveProcessingAsync(string url, object body, string key, string select)
    {
        factory.Faults.Down = true;
        try
        {
            await (await client.PostJsonAsync(url, body, key)).ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "processor_unavailable");
        }
        finally
        {
            factory.Faults.Down = false;
        }

        return (await factory.QueryAsync<(string Id, string ProcessorKey)>(select)).Should().ContainSingle().Subject;
    }

    private Task<int> ExpireAsync(string key) =>
        factory.ExecuteAsync("UPDATE idempotency_keys SET expires_at = created_at WHERE idempotency_key = @key", new { key });

    private async Task ShouldReplayAsync(string url, object body, string key, string answer)
    {
        var replay = await client.PostJsonAsync(url, body, key);
        replay.Headers.GetValues(IdempotencyFilter.ReplayedHeader).Should().Equal("true");
        (await replay.Content.ReadAsStringAsync()).Should().Be(answer);
    }
}

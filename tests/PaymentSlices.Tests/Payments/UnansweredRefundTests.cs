using System.Net;
using System.Text.Json.Nodes;
using PaymentSlices.Tests.Kernel;

namespace PaymentSlices.Tests.Payments;

/// <summary>
/// A refund whose processor call gets no answer: its amount stays reserved while it is <c>processing</c>, then a retry with
/// its key finishes it (refunded once), or the reconciler finds the processor never got it (failed, the amount given back).
/// </summary>
public sealed class UnansweredRefundTests(BreakerHeldClosedFactory factory) : IClassFixture<BreakerHeldClosedFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task UnansweredRefund_HoldsItsAmountWhileProcessing_ThenARetryWithItsKeyRefundsOnce_OrTheReconcilerFailsItAndGivesItBack()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 50.00m);
        var orderId = payment.Str("order_id");

        // No answer: the refund stays processing with its 20.00 reserved, so only 30.00 is left to refund meanwhile.
        var unanswered = await RefundWhileDownAsync(payment.Id(), 20.00m, "refund-down-1");
        unanswered.Str("status").Should().Be("processing");
        await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 40.00m }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_refund_amount")
            .ContinueWith(problem => problem.Result["refundable_amount"]!.GetValue<decimal>().Should().Be(30.00m));

        // The processor is back: the retry with the key makes the refund, once, and its answer is the refund as stored.
        var refunds = factory.Processor.SucceededRefunds;
        var finished = await (await RefundAsync(payment.Id(), 20.00m, "refund-down-1")).ShouldBe(HttpStatusCode.Created);
        finished.Id().Should().Be(unanswered.Id());
        finished.Str("status").Should().Be("succeeded");
        finished.ToJsonString().Should().Be((await ReadRefundAsync(unanswered.Id())).ToJsonString());
        factory.Processor.SucceededRefunds.Should().Be(refunds + 1);
        var order = await (await client.GetAsync($"/v1/orders/{orderId}")).ShouldBe(HttpStatusCode.OK);
        order.Str("status").Should().Be("partially_refunded");
        order["amount_refunded"]!.GetValue<decimal>().Should().Be(20.00m);

        // Another without an answer, whose storefront never retries: the reconciler asks the processor, which never got it.
        var abandoned = await RefundWhileDownAsync(payment.Id(), 10.00m, "refund-down-2");
        (await factory.ScalarAsync<long>("SELECT amount_refunded FROM payments WHERE id = @id", new { id = payment.Id() })).Should().Be(3000);
        await ReconcileOnceTheBreakerLetsItAsync();

        (await ReadRefundAsync(abandoned.Id())).Str("status").Should().Be("failed");
        (await factory.ScalarAsync<long>("SELECT amount_refunded FROM payments WHERE id = @id", new { id = payment.Id() }))
            .Should().Be(2000, "a refund never made gives its amount back");
        order = await (await client.GetAsync($"/v1/orders/{orderId}")).ShouldBe(HttpStatusCode.OK);
        order["amount_refunded"]!.GetValue<decimal>().Should().Be(20.00m);
        factory.Processor.SucceededRefunds.Should().Be(refunds + 1, "the processor never made it, and now never will");

        // Its storefront retries with its key after all: not a 201 of a failed refund, but 402 refund_failed naming it,
        // kept for the key; nothing is refunded or given back twice.
        var failed = await (await RefundAsync(payment.Id(), 10.00m, "refund-down-2")).ShouldBeProblem(HttpStatusCode.PaymentRequired, "refund_failed");
        failed.Str("refund_id").Should().Be(abandoned.Id());
        var replay = await RefundAsync(payment.Id(), 10.00m, "refund-down-2");
        replay.Headers.GetValues("Idempotent-Replayed").Should().Equal("true");
        (await replay.ShouldBeProblem(HttpStatusCode.PaymentRequired, "refund_failed")).Str("refund_id").Should().Be(abandoned.Id());
        (await factory.ScalarAsync<long>("SELECT amount_refunded FROM payments WHERE id = @id", new { id = payment.Id() })).Should().Be(2000);
        factory.Processor.SucceededRefunds.Should().Be(refunds + 1);

        // What is left can be refunded again.
        var rest = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id() })).ShouldBe(HttpStatusCode.Created);
        rest["amount"]!.GetValue<decimal>().Should().Be(30.00m);
    }

    /// <summary>A refund sent while the processor is down: 503 saying to retry with the key; the refund as it is stored meanwhile.</summary>
    private async Task<JsonNode> RefundWhileDownAsync(string paymentId, decimal amount, string key)
    {
        factory.Faults.Down = true;
        try
        {
            var problem = await (await RefundAsync(paymentId, amount, key)).ShouldBeProblem(HttpStatusCode.ServiceUnavailable, "processor_unavailable");
            problem.Str("detail").Should().Contain("same Idempotency-Key").And.Contain("processing");
        }
        finally
        {
            factory.Faults.Down = false;
        }

        var id = await factory.ScalarAsync<string>(
            "SELECT id FROM refunds WHERE payment_id = @paymentId AND status = 'processing'", new { paymentId });
        return await ReadRefundAsync(id);
    }

    /// <summary>Should the failures just above have opened the breaker, the reconciler fails, and looks again at its next interval.</summary>
    private async Task ReconcileOnceTheBreakerLetsItAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await factory.ReconcileAsync();
                return;
            }
            catch (PaymentSlices.Api.Kernel.ProcessorUnavailableException) when (attempt < 40)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250));
            }
        }
    }

    private Task<HttpResponseMessage> RefundAsync(string paymentId, decimal amount, string key) =>
        client.PostJsonAsync("/v1/refunds", new { payment_id = paymentId, amount }, key);

    private async Task<JsonNode> ReadRefundAsync(string id) =>
        await (await client.GetAsync($"/v1/refunds/{id}")).ShouldBe(HttpStatusCode.OK);
}

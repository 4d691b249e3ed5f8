using System.Net;
using System.Text.Json.Nodes;

namespace PaymentSlices.Tests.Features.CreateRefund;

public sealed class CreateRefundTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task NoAmount_RefundsTheWholeRemainingAmount()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100.00m);

        var response = await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id() });

        var refund = await response.ShouldBe(HttpStatusCode.Created);
        response.Headers.Location!.ToString().Should().Be($"/v1/refunds/{refund.Id()}");
        refund.Id().Should().StartWith("refund_");
        refund.Str("payment_id").Should().Be(payment.Id());
        refund["amount"]!.ToJsonString().Should().Be("100.00");
        refund.Str("currency").Should().Be("USD");
        refund.Str("status").Should().Be("succeeded");
        refund["reason"].Should().BeNull();
        refund["created_at"].Should().NotBeNull();

        var refunded = await GetPaymentAsync(payment.Id());
        refunded.Dec("amount_refunded").Should().Be(100.00m);
        refunded["refunded"]!.GetValue<bool>().Should().BeTrue();
        var order = await GetOrderAsync(payment.Str("order_id"));
        order.Str("status").Should().Be("refunded");
        order.Dec("amount_refunded").Should().Be(100.00m);
        (await factory.ScalarAsync<long>("SELECT amount FROM refunds WHERE id = @id", new { id = refund.Id() })).Should().Be(10000);
    }

    [Fact]
    public async Task TwoPartialRefunds_PartiallyRefundThenRefundTheOrder()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100.00m);

        var first = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 30.00m }))
            .ShouldBe(HttpStatusCode.Created);

        first.Dec("amount").Should().Be(30.00m);
        var afterFirst = await GetPaymentAsync(payment.Id());
        afterFirst.Dec("amount_refunded").Should().Be(30.00m);
        afterFirst["refunded"]!.GetValue<bool>().Should().BeFalse();
        (await GetOrderAsync(payment.Str("order_id"))).Str("status").Should().Be("partially_refunded");

        var second = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 70.00m }))
            .ShouldBe(HttpStatusCode.Created);

        second.Dec("amount").Should().Be(70.00m);
        var afterSecond = await GetPaymentAsync(payment.Id());
        afterSecond.Dec("amount_refunded").Should().Be(100.00m);
        afterSecond["refunded"]!.GetValue<bool>().Should().BeTrue();
        var order = await GetOrderAsync(payment.Str("order_id"));
        order.Str("status").Should().Be("refunded");
        order["refunds"]!.AsArray().Select(r => r!.Id()).Should().BeEquivalentTo(first.Id(), second.Id());
    }

    [Theory]
    [InlineData("100.01")]
    [InlineData("0")]
    [InlineData("0.00")]
    [InlineData("-10.00")]
    [InlineData("10.001")]
    public async Task AmountOutsideWhatIsRefundable_Is400InvalidRefundAmountAndWritesNothing(string amount)
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100.00m);
        var refundsBefore = await CountRefundsAsync();

        var problem = await (await client.PostRawAsync("/v1/refunds", $$"""{"payment_id":"{{payment.Id()}}","amount":{{amount}}}"""))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_refund_amount");

        problem.Str("detail").Should().Be("Invalid refund amount");
        problem.Dec("refundable_amount").Should().Be(100.00m);
        problem.FieldErrors("amount").Should().NotBeEmpty();
        (await CountRefundsAsync()).Should().Be(refundsBefore);
        (await GetPaymentAsync(payment.Id())).Dec("amount_refunded").Should().Be(0m);
        (await GetOrderAsync(payment.Str("order_id"))).Str("status").Should().Be("paid");
    }

    [Fact]
    public async Task AmountWithMoreDigitsThanADecimalHolds_Is400NamingTheAmountNotRoundedAndRefunded()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100.00m);
        var refundsBefore = await CountRefundsAsync();

        var problem = await (await client.PostRawAsync("/v1/refunds", $$"""{"payment_id":"{{payment.Id()}}","amount":10.0000000000000000000000000001}"""))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("amount").Should().NotBeEmpty();
        (await CountRefundsAsync()).Should().Be(refundsBefore);
        (await GetPaymentAsync(payment.Id())).Dec("amount_refunded").Should().Be(0m);
    }

    [Fact]
    public async Task MoreThanWhatIsLeft_Is400WithTheRemainingRefundableAmount()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100.00m);
        await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 60.00m })).ShouldBe(HttpStatusCode.Created);

        var problem = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 40.01m }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_refund_amount");

        problem.Dec("refundable_amount").Should().Be(40.00m);
        (await GetPaymentAsync(payment.Id())).Dec("amount_refunded").Should().Be(60.00m);
    }

    [Fact]
    public async Task FullyRefundedPayment_Is400InvalidRefundAmountWithNothingRefundable()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100.00m);
        await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id() })).ShouldBe(HttpStatusCode.Created);
        var refundsBefore = await CountRefundsAsync();

        var problem = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id() }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_refund_amount");

        problem.Str("detail").Should().Be("Invalid refund amount");
        problem.Dec("refundable_amount").Should().Be(0m);
        problem.FieldErrors("amount").Should().NotBeEmpty();
        (await CountRefundsAsync()).Should().Be(refundsBefore);
    }

    [Fact]
    public async Task UnknownPayment_Is404PaymentNotFound()
    {
        var refundsBefore = await CountRefundsAsync();

        var problem = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = "pay_missing", amount = 10.00m }))
            .ShouldBeProblem(HttpStatusCode.NotFound, "payment_not_found");

        problem.Str("detail").Should().Be("Payment not found");
        (await CountRefundsAsync()).Should().Be(refundsBefore);
    }

    [Fact]
    public async Task DeclinedPayment_Is409PaymentNotRefundable()
    {
        var declined = await (await client.PostJsonAsync("/v1/payments", new { amount = 100.00m, currency = "USD", source = "tok_chargeDeclined" }))
            .ShouldBeProblem(HttpStatusCode.PaymentRequired, "card_declined");
        var refundsBefore = await CountRefundsAsync();

        await (await client.PostJsonAsync("/v1/refunds", new { payment_id = declined.Str("payment_id") }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "payment_not_refundable");

        (await CountRefundsAsync()).Should().Be(refundsBefore);
        (await GetPaymentAsync(declined.Str("payment_id"))).Dec("amount_refunded").Should().Be(0m);
    }

    [Fact]
    public async Task UnknownReason_Is400ValidationFailedAndWritesNothing()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100.00m);
        var refundsBefore = await CountRefundsAsync();

        var problem = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), reason = "changed_my_mind" }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("reason").Should().NotBeEmpty();
        (await CountRefundsAsync()).Should().Be(refundsBefore);
        (await GetPaymentAsync(payment.Id())).Dec("amount_refunded").Should().Be(0m);
    }

    [Fact]
    public async Task MissingPaymentId_Is400ValidationFailed()
    {
        var problem = await (await client.PostJsonAsync("/v1/refunds", new { amount = 10.00m }))
            .ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");

        problem.FieldErrors("payment_id").Should().NotBeEmpty();
    }

    [Fact]
    public async Task ValidReasonAndMetadata_AreStoredAndReturned()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100.00m);

        var refund = await (await client.PostJsonAsync("/v1/refunds", new
        {
            payment_id = payment.Id(),
            amount = 5.00m,
            reason = "requested_by_customer",
            metadata = new { ticket = "T-1" },
        })).ShouldBe(HttpStatusCode.Created);

        refund.Str("reason").Should().Be("requested_by_customer");
        refund["metadata"]!.Str("ticket").Should().Be("T-1");
        (await factory.ScalarAsync<string>("SELECT reason FROM refunds WHERE id = @id", new { id = refund.Id() })).Should().Be("requested_by_customer");
        var read = await (await client.GetAsync($"/v1/refunds/{refund.Id()}")).ShouldBe(HttpStatusCode.OK);
        read.Str("reason").Should().Be("requested_by_customer");
        refund.ToJsonString().Should().Be(read.ToJsonString(), "the answer is the refund as stored");
    }

    [Fact]
    public async Task PaymentWithoutOrder_IsRefunded()
    {
        var payment = await (await client.PostJsonAsync("/v1/payments", new { amount = 1.234m, currency = "KWD", source = "tok_visa" }))
            .ShouldBe(HttpStatusCode.Created);

        var refund = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 1.2m }))
            .ShouldBe(HttpStatusCode.Created);

        refund.Dec("amount").Should().Be(1.200m);
        refund.Str("currency").Should().Be("KWD");
        refund["order_id"].Should().BeNull();
        (await factory.ScalarAsync<long>("SELECT amount FROM refunds WHERE id = @id", new { id = refund.Id() })).Should().Be(1200);
        var refunded = await GetPaymentAsync(payment.Id());
        refunded["amount_refunded"]!.ToJsonString().Should().Be("1.200");
        refunded["refunded"]!.GetValue<bool>().Should().BeFalse();

        var rest = await (await client.PostJsonAsync("/v1/refunds", new { payment_id = payment.Id() })).ShouldBe(HttpStatusCode.Created);

        rest["amount"]!.ToJsonString().Should().Be("0.034");
        (await GetPaymentAsync(payment.Id()))["refunded"]!.GetValue<bool>().Should().BeTrue();
    }

    [Fact]
    public async Task ThirtyConcurrentRefunds_NeverRefundMoreThanWasCaptured()
    {
        var payment = await client.CreatePaidOrderAsync("USD", 100.00m);

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ =>
            factory.Storefront().PostJsonAsync("/v1/refunds", new { payment_id = payment.Id(), amount = 10.00m })));

        responses.Count(r => r.StatusCode == HttpStatusCode.Created).Should().Be(10);
        foreach (var rejected in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            var problem = await rejected.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_refund_amount");
            problem.Dec("refundable_amount").Should().Be(0m);
        }

        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM refunds WHERE payment_id = @id", new { id = payment.Id() })).Should().Be(10);
        (await factory.ScalarAsync<long>("SELECT SUM(amount) FROM refunds WHERE payment_id = @id", new { id = payment.Id() })).Should().Be(10000);
        (await factory.ScalarAsync<long>("SELECT amount_refunded FROM payments WHERE id = @id", new { id = payment.Id() })).Should().Be(10000);
        var order = await GetOrderAsync(payment.Str("order_id"));
        order.Str("status").Should().Be("refunded");
        order.Dec("amount_refunded").Should().Be(100.00m);
    }

    private Task<long> CountRefundsAsync() => factory.ScalarAsync<long>("SELECT COUNT(*) FROM refunds");

    private async Task<JsonNode> GetPaymentAsync(string paymentId) =>
        await (await client.GetAsync($"/v1/payments/{paymentId}")).ShouldBe(HttpStatusCode.OK);

    private async Task<JsonNode> GetOrderAsync(string orderId) =>
        await (await client.GetAsync($"/v1/orders/{orderId}")).ShouldBe(HttpStatusCode.OK);
}

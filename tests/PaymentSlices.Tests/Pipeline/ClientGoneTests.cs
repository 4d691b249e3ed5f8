using System.Net;
using System.Text.Json.Nodes;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Tests.Payments;

namespace PaymentSlices.Tests.Pipeline;

/// <summary>
/// A storefront that gives up on a slow charge or refund (its own timeout) and retries with its Idempotency-Key gets the
/// whole answer: the one the service stored for the key, not an empty body.
/// </summary>
public sealed class ClientGoneTests(HeldProcessorFactory factory) : IClassFixture<HeldProcessorFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Theory]
    [InlineData("pay", HttpStatusCode.Created)]
    [InlineData("decline", HttpStatusCode.PaymentRequired)]
    [InlineData("refund", HttpStatusCode.Created)]
    public async Task AClientThatHangsUpWhileTheProcessorWorks_GetsTheWholeAnswerWhenItRetriesWithItsKey(string kind, HttpStatusCode expected)
    {
        var paid = kind == "refund" ? await client.CreatePaidOrderAsync("USD", 50.00m) : null;
        var order = await client.CreateOrderAsync();
        var (url, body) = kind switch
        {
            "refund" => ("/v1/refunds", (object)new { payment_id = paid!.Id(), amount = 10.00m }),
            "decline" => ($"/v1/orders/{order.Id()}/pay", new { source = "tok_chargeDeclined" }),
            _ => ($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }),
        };
        var key = $"gone-{kind}-{Guid.NewGuid():N}";

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        factory.Controls.Reset();
        if (kind == "refund")
        {
            factory.Controls.HoldRefunds = release;
        }
        else
        {
            factory.Controls.Hold = release;
        }

        HttpResponseMessage replay;
        Task<HttpResponseMessage> first;
        try
        {
            using var hangUp = new CancellationTokenSource();
            first = factory.Storefront().PostJsonAsync(url, body, key, hangUp.Token);
            await factory.Controls.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await hangUp.CancelAsync(); // the storefront gives up while the processor works
        }
        finally
        {
            release.TrySetResult(); // the processor answers after it left
            factory.Controls.Reset();
        }

        (await Record.ExceptionAsync(() => first.WaitAsync(TimeSpan.FromSeconds(30)))).Should().BeAssignableTo<OperationCanceledException>();

        // The retry: 409 while the first request still finishes, then the stored answer.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            replay = await client.PostJsonAsync(url, body, key);
            if (replay.StatusCode != HttpStatusCode.Conflict)
            {
                break;
            }

            DateTime.UtcNow.Should().BeBefore(deadline, "the first request ends, and its answer is stored");
            await Task.Delay(50);
        }

        replay.StatusCode.Should().Be(expected);
        replay.Headers.GetValues(IdempotencyFilter.ReplayedHeader).Should().Equal("true");
        var answer = JsonNode.Parse(await replay.Content.ReadAsStringAsync())!;
        if (kind == "decline")
        {
            answer.Str("code").Should().Be("card_declined");
            answer.Str("payment_id").Should().StartWith("pay_");
            return;
        }

        var resource = kind == "refund" ? "refunds" : "payments";
        answer.Str("status").Should().Be("succeeded");
        var read = await (await client.GetAsync($"/v1/{resource}/{answer.Id()}")).ShouldBe(HttpStatusCode.OK);
        answer.ToJsonString().Should().Be(read.ToJsonString());
    }
}

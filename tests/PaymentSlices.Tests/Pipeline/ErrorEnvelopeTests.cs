using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests.Pipeline;

public sealed class ErrorEnvelopeTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task UnknownRoute_Is404ProblemJson()
    {
        var problem = await (await client.GetAsync("/v1/nothing-here")).ShouldBeProblem(HttpStatusCode.NotFound, "route_not_found");

        problem.Str("instance").Should().Be("/v1/nothing-here");
        problem.Str("type").Should().Be("urn:paymentslices:problem:route_not_found");
    }

    [Fact]
    public async Task WrongMethod_Is405ProblemJson()
    {
        var response = await client.DeleteAsync("/v1/orders/order_123");

        await response.ShouldBeProblem(HttpStatusCode.MethodNotAllowed, "method_not_allowed");
    }

    [Fact]
    public async Task MalformedJson_Is400InvalidJson()
    {
        var response = await client.PostRawAsync("/v1/orders", "{\"currency\": \"USD\", ");

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_json");
        problem["errors"].Should().NotBeNull();
    }

    [Fact]
    public async Task WrongContentType_Is415ProblemJson()
    {
        var response = await client.PostRawAsync("/v1/orders", "currency=USD", "application/x-www-form-urlencoded");

        await response.ShouldBeProblem(HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Fact]
    public async Task WrongJsonType_Is400NamingTheField()
    {
        var response = await client.PostRawAsync("/v1/orders", """{"currency":"USD","items":[{"name":"A","amount":"49.99","quantity":1}]}""");

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors("items[0].amount").Should().NotBeEmpty();
        problem.ToJsonString().Should().NotContain("System.");
    }

    [Fact]
    public async Task UnknownField_Is400NamingIt()
    {
        var response = await client.PostRawAsync("/v1/orders", """{"currency":"USD","ammount":5,"items":[{"name":"A","amount":5,"quantity":1}]}""");

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors("ammount").Should().Equal("Unknown field.");
    }

    [Fact]
    public async Task SourceOfTheWrongShape_Is400NamingIt()
    {
        var order = await client.CreateOrderAsync();

        var response = await client.PostRawAsync($"/v1/orders/{order.Id()}/pay", """{"source": 42}""");

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors("source").Should().NotBeEmpty();
    }

    [Fact]
    public async Task ValidationProblem_ListsEveryInvalidField()
    {
        var response = await client.PostJsonAsync("/v1/payments", new { currency = "XYZ", source = "tok_visa" });

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors("currency").Should().NotBeEmpty();
        problem.FieldErrors("amount").Should().NotBeEmpty();
        problem.Str("detail").Should().Contain("currency");
    }
}

/// <summary>A processor that fails the way a bug or an outage does: with an exception.</summary>
public sealed class ThrowingProcessor : IPaymentProcessor
{
    public Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("secret internal detail: connection string Password=hunter2");

    public Task<string?> RefundAsync(ProcessorRefund request, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("secret internal detail");

    public Task<ChargeResult> ResolveChargeAsync(string idempotencyKey, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("secret internal detail");

    public Task<string?> ResolveRefundAsync(string idempotencyKey, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("secret internal detail");

    public Task<SaveCardResult> SaveCardAsync(string idempotencyKey, PaymentSource source, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("secret internal detail");
}

public sealed class ThrowingProcessorFactory : ApiFactory
{
    public ThrowingProcessorFactory() =>
        ConfigureTestServices = services => services.AddSingleton<IPaymentProcessor, ThrowingProcessor>();
}

public sealed class UnhandledExceptionTests(ThrowingProcessorFactory factory) : IClassFixture<ThrowingProcessorFactory>
{
    [Fact]
    public async Task UnhandledException_Is500WithoutInternals_AndTheChargeStaysProcessingUntilSettled()
    {
        var client = factory.Storefront();
        var order = await client.CreateOrderAsync();

        var response = await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" });

        var problem = await response.ShouldBeProblem(HttpStatusCode.InternalServerError, "internal_error");
        var text = problem.ToJsonString();
        text.Should().NotContain("hunter2").And.NotContain("secret internal detail").And.NotContain("InvalidOperationException").And.NotContain(" at ");

        // Whether the processor charged before it threw is unknown: the payment stays processing, the order pending, so
        // that no second charge can start, until the reconciler learns from the processor what happened.
        var pending = await (await client.GetAsync($"/v1/orders/{order.Id()}")).ShouldBe(HttpStatusCode.OK);
        pending.Str("status").Should().Be("pending");
        pending["payments"]!.AsArray().Select(payment => payment!.Str("status")).Should().Equal("processing");
        await (await client.PostJsonAsync($"/v1/orders/{order.Id()}/pay", new { source = "tok_visa" }))
            .ShouldBeProblem(HttpStatusCode.Conflict, "order_payment_pending");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM payments WHERE status <> 'processing'")).Should().Be(0);
    }
}

using PaymentSlices.Api.Database;
using PaymentSlices.Api.Features.ConfirmPaymentIntent;
using PaymentSlices.Api.Features.CreateCustomer;
using PaymentSlices.Api.Features.CreateOrder;
using PaymentSlices.Api.Features.CreatePayment;
using PaymentSlices.Api.Features.CreatePaymentIntent;
using PaymentSlices.Api.Features.CreateRefund;
using PaymentSlices.Api.Features.GetCustomer;
using PaymentSlices.Api.Features.GetEvent;
using PaymentSlices.Api.Features.GetOrder;
using PaymentSlices.Api.Features.GetPayment;
using PaymentSlices.Api.Features.GetRefund;
using PaymentSlices.Api.Features.ListEvents;
using PaymentSlices.Api.Features.MarkOrderPaid;
using PaymentSlices.Api.Features.PayOrder;
using PaymentSlices.Api.Features.RedeliverEvent;
using PaymentSlices.Api.Features.ThreeDSecure;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Reference;
using PaymentSlices.Api.Webhooks;

var builder = WebApplication.CreateBuilder(args);

builder.Services
    .AddSingleton(TimeProvider.System)
    .AddJsonConventions()
    .AddErrorEnvelope()
    .AddApiKeys(builder.Configuration)
    .AddDatabase(builder.Configuration)
    .AddMediatorPipeline()
    .AddIdempotency(builder.Configuration)
    .AddPaymentProcessor(builder.Configuration)
    .AddThreeDSecure(builder.Configuration)
    .AddLimits(builder.Configuration)
    .AddWebhooks(builder.Configuration)
    .AddApiReference();

builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);

var app = builder.Build();

// Built now, not on the first payment: a processor setting Polly rejects stops start-up with its message.
app.Services.GetRequiredService<Polly.ResiliencePipeline>();

app.UseErrorEnvelope();
app.UseBodySizeLimit();
app.UseAuthentication();
app.UseRateLimiter();
app.UseAuthorization();

// Liveness answers while the process runs; readiness also asks the database. Neither needs a key.
app.MapHealthChecks("/health/live", new() { Predicate = _ => false, ResponseWriter = Health.WriteAsync }).AllowAnonymous().DisableRateLimiting();
app.MapHealthChecks("/health/ready", new() { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = Health.WriteAsync })
    .AllowAnonymous().DisableRateLimiting();

var v1 = app.MapGroup("/v1").WithIdempotencyKeys();
v1.MapCreateOrder();
v1.MapGetOrder();
v1.MapPayOrder();
v1.MapCreatePaymentIntent();
v1.MapConfirmPaymentIntent();
v1.MapMarkOrderPaid();
v1.MapCreatePayment();
v1.MapGetPayment();
v1.MapCreateRefund();
v1.MapGetRefund();
v1.MapCreateCustomer();
v1.MapGetCustomer();
v1.MapThreeDSecure();
v1.MapGetEvent();
v1.MapListEvents();
v1.MapRedeliverEvent();

app.MapApiReference();

await app.RunAsync();

/// <summary>The entry point, visible to the tests' WebApplicationFactory.</summary>
public partial class Program;

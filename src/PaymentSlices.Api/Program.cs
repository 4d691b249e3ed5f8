using Microsoft.Extensions.Options;
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
using PaymentSlices.Api.Payments;
using PaymentSlices.Api.Pipeline;
using PaymentSlices.Api.Reference;
using PaymentSlices.Api.Webhooks;

// A setting the service cannot run with stops start-up with one line naming it, and a non-zero exit code.
try
{
    if (StartupFailure.IsProcessEntryPoint)
    {
        BufferedConsole.Install(); // before the loggers are built: they keep the writer they find
    }

    var builder = WebApplication.CreateBuilder(args);
    // The request lines straight into the buffered standard output, not through the console logger's queue.
    RequestLineConsole.AddRequestLineConsole(builder.Logging, builder.Configuration, BufferedConsole.Output);

    builder.Services
        .AddSingleton(TimeProvider.System)
        .AddJsonConventions()
        .AddPublicBaseUrl(builder.Configuration)
        .AddErrorEnvelope()
        .AddApiKeys(builder.Configuration)
        .AddShutdown(builder.Configuration)
        .AddDatabase(builder.Configuration)
        .AddMediatorPipeline()
        .AddIdempotency(builder.Configuration)
        .AddPaymentProcessor(builder.Configuration)
        .AddPayments(builder.Configuration)
        .AddThreeDSecure(builder.Configuration)
        .AddLimits(builder.Configuration)
        .AddWebhooks(builder.Configuration)
        .AddApiReference();

    var app = builder.Build();

    // Checked before the host starts, so that a bad setting is the one line below, not the host's error log with a stack
    // trace: options validation, the processor pipeline (built now, not on the first payment, so that a setting Polly
    // rejects stops start-up) and the database file.
    app.Services.GetRequiredService<IStartupValidator>().Validate();
    app.Services.GetRequiredService<Polly.ResiliencePipeline>();
    await app.Services.MigrateDatabaseAsync();
    await app.Services.ReleaseLeftoverLeasesAsync();
    // Created now, so that its deadline counts from the stop signal even if no request ever wrote.
    app.Services.GetRequiredService<ShutdownDrain>();

    // Outermost, so the line it writes has the status the client got, after the error envelope.
    app.UseRequestLog();
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
    await app.DisposeAsync(); // the loggers write out their queued lines...
    BufferedConsole.Stop(); // ...and the buffer goes to standard output
    return 0;
}
// Only as the process's own entry point: hosted by the tests' WebApplicationFactory, the exception goes to the factory.
catch (Exception error) when (StartupFailure.IsProcessEntryPoint && StartupFailure.Describe(error) is { } message)
{
    await Console.Error.WriteLineAsync($"PaymentSlices did not start: {message}");
    return StartupFailure.ExitCode;
}
// Anything else (the port is taken, a bug): the exception for the operator, and exit code 1 instead of an abort.
catch (Exception error) when (StartupFailure.IsProcessEntryPoint)
{
    await Console.Error.WriteLineAsync($"PaymentSlices stopped: {error}");
    return 1;
}

/// <summary>The entry point, visible to the tests' WebApplicationFactory.</summary>
public partial class Program;

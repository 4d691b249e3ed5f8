using System.Globalization;
using System.Text.Encodings.Web;
using MediatR;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Features.ThreeDSecure;

/// <summary>
/// The cardholder's side of 3-D Secure, opened from a payment's <c>redirect_url</c> in a browser: no API key
/// (the bank's page does not have the merchant's key); the unguessable payment id is the capability.
/// </summary>
public static class ThreeDSecureEndpoint
{
    public static IServiceCollection AddThreeDSecure(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ThreeDSecureOptions>()
            .Bind(configuration.GetSection(ThreeDSecureOptions.Section))
            .Validate(o => o.SweepInterval >= TimeSpan.FromMilliseconds(10) && o.SweepInterval <= TimeSpan.FromDays(1),
                "ThreeDSecure:SweepInterval must be between 00:00:00.010 and 1.00:00:00, e.g. 00:00:05 (a bare number means days).")
            .ValidateOnStart();
        services.AddSingleton<ThreeDSecureExpiry>();
        services.AddHostedService(provider => provider.GetRequiredService<ThreeDSecureExpiry>());
        return services;
    }

    public static IEndpointRouteBuilder MapThreeDSecure(this IEndpointRouteBuilder app)
    {
        var page = app.MapGroup("/sandbox/3ds/{paymentId}").WithTags("Sandbox 3-D Secure").AllowAnonymous();
        page.MapGet("", Show)
            .WithName("ThreeDSecurePage")
            .WithSummary("The sandbox's 3-D Secure page")
            .WithDescription("Where a payment's redirect_url points: the cardholder completes or fails the check. Seed 001 \"Simulating 3DS Authentication\".")
            .Produces<string>(StatusCodes.Status200OK, "text/html")
            .ProducesProblem(StatusCodes.Status404NotFound);
        page.MapPost("/complete", (string paymentId, IMediator mediator) => Answer(paymentId, true, mediator))
            .WithName("CompleteThreeDSecure")
            .WithSummary("Complete 3-D Secure")
            .WithDescription("The cardholder passes the check: the payment succeeds and its order is paid (or its intent succeeds).")
            .Produces<string>(StatusCodes.Status200OK, "text/html")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        page.MapPost("/fail", (string paymentId, IMediator mediator) => Answer(paymentId, false, mediator))
            .WithName("FailThreeDSecure")
            .WithSummary("Fail 3-D Secure")
            .WithDescription("The cardholder fails the check: the payment fails (authentication_failed) and its order can be paid again.")
            .Produces<string>(StatusCodes.Status200OK, "text/html")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<Results<ContentHttpResult, ProblemHttpResult>> Show(
        string paymentId, IMediator mediator, IOptions<PublicUrlOptions> urls, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ThreeDSecure.Query(paymentId), cancellationToken);
        if (result.Error is { } error)
        {
            return error.ToProblem();
        }

        var payment = result.Value!;
        // The answers go where the page itself was reached: under PublicBaseUrl (a proxy may add a path prefix), else this host.
        var page = urls.Value.Link(Kernel.ThreeDSecure.PagePath(payment.Id));
        var body = payment.Status == "requires_action"
            ? $"""
               <p>Confirm the payment of <strong>{Amount(payment)}</strong> with card ending <strong>{Encode(payment.CardLast4)}</strong>.</p>
               <form method="post" action="{Encode(page)}/complete"><button id="complete" type="submit">Complete authentication</button></form>
               <form method="post" action="{Encode(page)}/fail"><button id="fail" type="submit">Fail authentication</button></form>
               """
            : $"<p>This payment is <strong id=\"status\">{Encode(payment.Status)}</strong>; there is nothing to authenticate.</p>";
        return Page(body);
    }

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> Answer(string paymentId, bool authenticated, IMediator mediator)
    {
        var result = await mediator.Send(new ThreeDSecure.Command(paymentId, authenticated));
        if (result.Error is { } error)
        {
            return error.ToProblem();
        }

        var payment = result.Value!;
        var outcome = payment.Status == "succeeded"
            ? "Authentication complete: the payment <strong id=\"status\">succeeded</strong>."
            : $"Authentication did not succeed (<span id=\"failure\">{Encode(payment.FailureCode)}</span>): the payment <strong id=\"status\">{Encode(payment.Status)}</strong>.";
        return Page($"<p>{outcome}</p><p>You can close this page and return to the shop.</p>");
    }

    private static ContentHttpResult Page(string body) =>
        TypedResults.Content(
            $"""
             <!doctype html>
             <html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>3-D Secure (sandbox)</title>
             <style>body{"{"}font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem{"}"}button{"{"}font-size:1rem;margin:.5rem 0;padding:.5rem 1rem{"}"}</style>
             </head><body><h1>3-D Secure</h1><p><em>PaymentSlices sandbox: no bank is involved.</em></p>{body}</body></html>
             """,
            "text/html; charset=utf-8");

    private static string Amount(PaymentRow payment) =>
        $"{Money.ToMajorUnits(payment.Amount, Currency.Of(payment.Currency)).ToString(CultureInfo.InvariantCulture)} {payment.Currency}";

    private static string Encode(string? value) => HtmlEncoder.Default.Encode(value ?? "");
}

using System.Text.Encodings.Web;
using Microsoft.Extensions.Options;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Reference;

/// <summary>
/// The Scalar API reference at <c>/scalar/v1</c> (and <c>/</c>), rendered by the pinned
/// <c>@scalar/api-reference</c> browser bundle that the build fetched; it makes no outside request.
/// </summary>
public static class ScalarReference
{
    public const string Version = "1.72.1";
    private const string BundlePath = "/scalar/standalone.js";

    public static IEndpointRouteBuilder MapApiReference(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi().AllowAnonymous();
        app.MapGet("/", () => TypedResults.Redirect("/scalar/v1")).ExcludeFromDescription();
        app.MapGet("/scalar/v1", Page).ExcludeFromDescription();
        app.MapGet(BundlePath, Bundle).ExcludeFromDescription();
        return app;
    }

    /// <summary>Next to a published app; for a build (dotnet run, dotnet test), where the build fetched it (artifacts/).</summary>
    private static string BundleFile =>
        new[]
        {
            Path.Combine(AppContext.BaseDirectory, "scalar", "standalone.js"),
            typeof(ScalarReference).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
                .Cast<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(attribute => attribute.Key == "ScalarBundle")?.Value,
        }.FirstOrDefault(File.Exists) ?? Path.Combine(AppContext.BaseDirectory, "scalar", "standalone.js");

    private static IResult Bundle() =>
        File.Exists(BundleFile)
            ? TypedResults.PhysicalFile(BundleFile, "text/javascript; charset=utf-8")
            : TypedResults.NotFound();

    private static ContentHttpResultWithHeaders Page(IWebHostEnvironment environment, IOptions<ApiKeyOptions> keys)
    {
        if (!File.Exists(BundleFile))
        {
            return new(
                $"""
                 <!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>PaymentSlices API reference</title></head>
                 <body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto">
                 <h1>PaymentSlices API reference</h1>
                 <p id="missing">The Scalar bundle (<code>@scalar/api-reference@{Version}</code>) was not found next to the service.</p>
                 <p>The build fetches it with npm: install Node.js and npm, then rebuild
                 (<code>dotnet build</code> runs <code>build/fetch-scalar.sh</code>, which checks the package's integrity).</p>
                 <p>Meanwhile the OpenAPI document is at <a href="/openapi/v1.json">/openapi/v1.json</a>.</p>
                 </body></html>
                 """);
        }

        // "Try it" is pre-filled with the Development storefront key, in Development only.
        var authentication = environment.IsDevelopment() && keys.Value.Storefront.FirstOrDefault() is { } key
            ? $$"""
                authentication: {
                  preferredSecurityScheme: '{{OpenApi.BearerScheme}}',
                  securitySchemes: { '{{OpenApi.BearerScheme}}': { token: '{{JavaScriptEncoder.Default.Encode(key)}}' } },
                },
                """
            : "";
        return new(
            $$"""
              <!doctype html>
              <html lang="en">
              <head><meta charset="utf-8"><link rel="icon" href="data:,"><meta name="viewport" content="width=device-width, initial-scale=1"><title>PaymentSlices API reference</title></head>
              <body>
              <div id="app"></div>
              <script src="{{BundlePath}}"></script>
              <script>
                Scalar.createApiReference('#app', {
                  url: '/openapi/v1.json',
                  withDefaultFonts: false,
                  hideClientButton: true,
                  defaultOpenAllTags: true,
                  // Nothing that calls home or needs the internet: no telemetry, no AI agent, no MCP, no toolbar.
                  telemetry: false,
                  showDeveloperTools: 'never',
                  agent: { disabled: true },
                  mcp: { disabled: true },
                  {{authentication}}
                });
              </script>
              </body>
              </html>
              """);
    }

    /// <summary>An HTML page that no cache keeps (it may carry the Development key).</summary>
    private sealed class ContentHttpResultWithHeaders(string html) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.CacheControl = "no-store";
            return TypedResults.Content(html, "text/html; charset=utf-8").ExecuteAsync(httpContext);
        }
    }
}

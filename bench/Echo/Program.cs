using System.Text.Json.Serialization;

// The reference for bench/run.sh: Kestrel, routing and System.Text.Json (source-generated), nothing else.
// No logging of requests, no authentication, no database: the most a minimal API answers on this machine.
// POST /echo/durable adds the least a durable write costs (DurableEcho): the floor under a write row. POST
// /echo/two-phase adds the least a charge costs in the service's design (TwoPhaseEcho): its SQL in two group-committed turns.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.TypeInfoResolverChain.Insert(0, EchoJson.Default));

var app = builder.Build();

var pong = new EchoMessage(10.00m, "USD", "tok_visa");
app.MapGet("/echo", () => TypedResults.Ok(pong));
app.MapPost("/echo", (EchoMessage message) => TypedResults.Ok(message));
var durable = new DurableEcho(app.Configuration["Echo:Database"] ?? "echo-durable.db");
app.Lifetime.ApplicationStopped.Register(durable.Dispose);
app.MapPost("/echo/durable", async (EchoMessage message, HttpRequest request) =>
{
    await durable.AppendAsync(request.Headers["Idempotency-Key"].ToString(), message);
    return TypedResults.Ok(message);
});
var twoPhase = new TwoPhaseEcho(app.Configuration["Echo:TwoPhaseDatabase"] ?? "echo-two-phase.db");
app.Lifetime.ApplicationStopped.Register(twoPhase.Dispose);
app.MapPost("/echo/two-phase", async (EchoMessage message, HttpRequest request) =>
{
    await twoPhase.ChargeAsync(request.Headers["Idempotency-Key"].ToString(), message);
    return TypedResults.Ok(message);
});
app.MapGet("/health/ready", () => TypedResults.Ok(new Health("Healthy")));

await app.RunAsync();

/// <summary>A body shaped like the benchmark's payment request.</summary>
internal sealed record EchoMessage(decimal Amount, string Currency, string Source);

/// <summary>What the readiness probe answers.</summary>
internal sealed record Health(string Status);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(EchoMessage))]
[JsonSerializable(typeof(Health))]
internal sealed partial class EchoJson : JsonSerializerContext;

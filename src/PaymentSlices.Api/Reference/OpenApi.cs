using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Reference;

/// <summary>
/// <c>GET /openapi/v1.json</c>: the endpoints' own metadata, completed with what a storefront developer needs
/// and the framework cannot see: the problem+json schema of every error, API-key security, the
/// <c>Idempotency-Key</c> header, status enums, exact number types, unique schema names and seed examples.
/// </summary>
public static class OpenApi
{
    public const string ProblemSchema = "Problem";
    public const string BearerScheme = "BearerApiKey";
    public const string HeaderScheme = "XApiKey";

    private static readonly Dictionary<Type, string[]> Statuses = new()
    {
        [typeof(OrderResource)] = ["created", "pending", "paid", "partially_refunded", "refunded"],
        [typeof(PaymentResource)] = ["processing", "succeeded", "failed", "requires_action", "canceled"],
        [typeof(PaymentIntentResource)] = ["requires_payment_method", "requires_action", "succeeded", "canceled"],
        [typeof(RefundResource)] = ["processing", "succeeded", "failed"],
        [typeof(Webhooks.EventResource)] = ["pending", "delivered", "failed"],
        [typeof(Webhooks.EventDeliveryResource)] = ["pending", "delivered", "failed"],
    };

    /// <summary>
    /// What input really requires (the validators' NotNull/NotEmpty rules): records' positional parameters would
    /// otherwise all be documented as required, though a missing optional field is simply null.
    /// </summary>
    private static readonly Dictionary<Type, string[]> RequiredInput = new()
    {
        [typeof(Features.CreateOrder.CreateOrder.Command)] = ["currency", "items"],
        [typeof(Features.CreateOrder.CreateOrder.Item)] = ["name", "amount", "quantity"],
        [typeof(Features.PayOrder.PayOrder.Body)] = [],
        [typeof(Features.CreatePayment.CreatePayment.Command)] = ["amount", "currency"],
        [typeof(Features.CreateRefund.CreateRefund.Command)] = ["payment_id"],
        [typeof(Features.MarkOrderPaid.MarkOrderPaid.Body)] = ["payment_intent_id"],
        [typeof(Features.ConfirmPaymentIntent.ConfirmPaymentIntent.Body)] = ["client_secret"],
        [typeof(Features.CreateCustomer.CreateCustomer.Command)] = ["source"],
        [typeof(CardDetails)] = ["object", "number", "cvc", "exp_month", "exp_year"],
    };

    private static readonly string PaymentMethodTaken =
        $"A saved card (card_...), or one of Stripe's test PaymentMethods: {string.Join(", ", TestPaymentMethods.Ids)} (charged as the sandbox's matching test card).";

    private const string PaymentMethodShown = "The saved card (card_...) or test PaymentMethod (pm_card_...) the payment was made with, as sent.";

    private const string RedirectUrl =
        "While the payment requires 3-D Secure: the page where the cardholder completes it, {PublicBaseUrl}/v1/sandbox/3ds/{payment_id} " +
        "when the service's PublicBaseUrl is set, otherwise /v1/sandbox/3ds/{payment_id}, relative to the service.";

    /// <summary>The operations that call the processor, and so can answer 503 while it is down.</summary>
    private static readonly HashSet<string> Charging = ["PayOrder", "CreatePayment", "ConfirmPaymentIntent", "CreateRefund", "CreateCustomer"];

    public static IServiceCollection AddApiReference(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.CreateSchemaReferenceId = SchemaName;
            options.AddSchemaTransformer(CompleteSchema);
            options.AddDocumentTransformer((document, _, _) => CompleteDocument(document));
            options.AddOperationTransformer((operation, context, _) => CompleteOperation(operation, context));
        });

    /// <summary>Unique, readable names: <c>PayOrderBody</c>, <c>CreateOrderCommand</c>; resources drop their suffix (<c>Payment</c>).</summary>
    private static string? SchemaName(System.Text.Json.Serialization.Metadata.JsonTypeInfo info)
    {
        var name = OpenApiOptions.CreateDefaultSchemaReferenceId(info);
        if (name is null)
        {
            return null;
        }

        var type = info.Type;
        if (type.IsNested && type.DeclaringType is { } declaring)
        {
            return declaring.Name + type.Name;
        }

        return name.EndsWith("Resource", StringComparison.Ordinal) ? name[..^"Resource".Length] : name;
    }

    private static async Task CompleteSchema(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var type = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
        if (context.JsonPropertyInfo is null && RequiredInput.TryGetValue(type, out var required))
        {
            // Required input is never null either: the validators reject a null as they reject a missing field.
            schema.Required = new HashSet<string>(required);
            foreach (var name in required)
            {
                if (schema.Properties?.TryGetValue(name, out var property) == true && property is OpenApiSchema field)
                {
                    if (field.Type is { } fieldType)
                    {
                        field.Type = fieldType & ~JsonSchemaType.Null;
                    }

                    field.OneOf?.Where(option => option is OpenApiSchema { Type: JsonSchemaType.Null }).ToList().ForEach(option => field.OneOf.Remove(option));
                }
            }
        }

        if (context.JsonPropertyInfo is null && schema.Properties?.TryGetValue("payment_method", out var paymentMethod) == true && paymentMethod is OpenApiSchema paymentMethodSchema)
        {
            paymentMethodSchema.Description = type == typeof(PaymentResource) ? PaymentMethodShown : PaymentMethodTaken;
        }

        if (context.JsonPropertyInfo is null && schema.Properties?.TryGetValue("redirect_url", out var redirect) == true && redirect is OpenApiSchema redirectSchema)
        {
            redirectSchema.Description = RedirectUrl;
        }

        var nullable = context.JsonTypeInfo.Type != type || (schema.Type is { } t && t.HasFlag(JsonSchemaType.Null));
        if (type == typeof(decimal))
        {
            // Our converter reads and writes exact JSON numbers: major units, the currency's decimals.
            schema.Type = nullable ? JsonSchemaType.Number | JsonSchemaType.Null : JsonSchemaType.Number;
            schema.Format = null;
        }
        else if (type == typeof(DateTimeOffset))
        {
            schema.Type = nullable ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String;
            schema.Format = "date-time";
        }
        else if (type == typeof(PaymentSource))
        {
            schema.Description = "A token string (tok_visa) or a card object; the number and CVC are write-only.";
            schema.OneOf =
            [
                new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = 255, Description = "A processor token, e.g. tok_visa." },
                await context.GetOrCreateSchemaAsync(typeof(CardDetails), null, cancellationToken),
            ];
        }
        else if (Statuses.TryGetValue(type, out var statuses) && schema.Properties?.TryGetValue("status", out var status) == true && status is OpenApiSchema statusSchema)
        {
            statusSchema.Enum = statuses.Select(value => (JsonNode)JsonValue.Create(value)!).ToList();
        }
    }

    private static Task CompleteDocument(OpenApiDocument document)
    {
        document.Info = new OpenApiInfo
        {
            Title = "PaymentSlices API",
            Version = "v1",
            Contact = new OpenApiContact { Name = "PaymentSlices team" },
            Description =
                "Take payment for storefront orders: register an order, pay it by card, token, saved card or customer, " +
                "or through a payment intent that the payment system marks paid; read payments; refund them, fully or in parts.\n\n" +
                "Amounts are JSON numbers in major units with exactly the currency's decimals (49.99 USD, 1200 JPY). " +
                "Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`. Every POST accepts `Idempotency-Key`. " +
                "Every error is `application/problem+json` with a stable `code`.",
        };
        foreach (var server in document.Servers ?? [])
        {
            server.Url = server.Url?.TrimEnd('/');
        }

        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas[ProblemSchema] = Problem();
        document.Components.Schemas.Remove("ProblemDetails");
        document.Components.Schemas.Remove("HttpValidationProblemDetails");
        document.Tags ??= new HashSet<OpenApiTag>();
        document.Tags.Add(new OpenApiTag { Name = "Health", Description = "Liveness and readiness, for orchestrators." });
        AddHealth(document, "/health/live", "Liveness", "The process answers.");
        AddHealth(document, "/health/ready", "Readiness", "The database can be written and has the schema this build migrated it to; 503 when not.");
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
        {
            [BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http, Scheme = "bearer", Description = "`Authorization: Bearer <key>` (Development: sk_test_storefront).",
            },
            [HeaderScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "X-API-Key",
                Description = "`X-API-Key: <key>` (Development: sk_test_payment_system for mark-paid).",
            },
        };
        return Task.CompletedTask;
    }

    private static Task CompleteOperation(OpenApiOperation operation, OpenApiOperationTransformerContext context)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var document = context.Document;
        var isPost = string.Equals(context.Description.HttpMethod, "POST", StringComparison.OrdinalIgnoreCase);
        operation.Responses ??= new OpenApiResponses();

        // Every problem response carries our problem schema, whatever the endpoint declared.
        foreach (var response in operation.Responses.Values.OfType<OpenApiResponse>())
        {
            if (response.Content?.TryGetValue("application/problem+json", out var media) == true)
            {
                media.Schema = new OpenApiSchemaReference(ProblemSchema, document);
            }
        }

        var policy = metadata.OfType<IAuthorizeData>().Select(data => data.Policy).FirstOrDefault(name => name is not null);
        if (policy is not null && !metadata.OfType<IAllowAnonymous>().Any())
        {
            operation.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] },
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(HeaderScheme, document)] = [] },
            ];
            var role = policy == ApiRoles.AnyRole ? "storefront or payment_system" : policy;
            operation.Description = $"{operation.Description}\n\nRole: `{role}`.".Trim();
            AddProblem(operation, document, 401, "No API key, or an unknown one (api_key_missing, api_key_invalid).");
            AddProblem(operation, document, 403, "The API key's role may not call this route (forbidden).");
        }

        AddProblem(operation, document, 429, "Over the rate limit (rate_limited): per API key, or per address without one.", retryAfter: true);

        if (isPost)
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = IdempotencyFilter.Header,
                In = ParameterLocation.Header,
                Required = false,
                Description = "Makes a retry safe: the first response is stored and replayed for 24 hours (Idempotent-Replayed: true).",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = 255 },
            });
            AddProblem(operation, document, 400, "Invalid input (validation_failed, invalid_json, invalid_idempotency_key).");
            AddProblem(operation, document, 409, "A conflict, or the same Idempotency-Key still running (idempotency_request_in_progress, with Retry-After).", retryAfter: true);
            AddProblem(operation, document, 422, "The Idempotency-Key was used with another request (idempotency_key_reused).");
            AddProblem(operation, document, 413, "The request body is over the size limit (payload_too_large).");
            if (operation.RequestBody is not null)
            {
                AddProblem(operation, document, 415, "The body is not application/json (unsupported_media_type).");
            }

            foreach (var (status, response) in operation.Responses.Where(pair => pair.Key.StartsWith('2')).Select(pair => (pair.Key, pair.Value)).ToList())
            {
                if (response is not OpenApiResponse success)
                {
                    continue;
                }

                success.Headers ??= new Dictionary<string, IOpenApiHeader>();
                success.Headers[IdempotencyFilter.ReplayedHeader] = new OpenApiHeader
                {
                    Description = "\"true\" when this is the stored response of an earlier request with the same Idempotency-Key.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("true")!] },
                };
                if (status == "201")
                {
                    success.Headers["Location"] = new OpenApiHeader { Description = "The created resource.", Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
                }
            }
        }

        if (operation.OperationId is { } id && Charging.Contains(id))
        {
            AddProblem(operation, document, 503, "The payment processor is unavailable (processor_unavailable); see Retry-After.", retryAfter: true);
        }

        AddProblem(operation, document, 500, "An unexpected error (internal_error), logged with the trace_id.");
        Examples.Apply(operation);
        return Task.CompletedTask;
    }

    /// <summary>Health endpoints come from MapHealthChecks, which the document does not see on its own.</summary>
    private static void AddHealth(OpenApiDocument document, string path, string name, string description)
    {
        var health = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Required = new HashSet<string> { "status", "checks" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("Healthy")!, JsonValue.Create("Degraded")!, JsonValue.Create("Unhealthy")!] },
                ["checks"] = new OpenApiSchema { Type = JsonSchemaType.Object, AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.String } },
            },
        };
        OpenApiResponse Answer(string text) => new()
        {
            Description = text,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = health } },
        };
        document.Paths ??= [];
        document.Paths[path] = new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = new()
                {
                    OperationId = name,
                    Summary = name,
                    Description = description + " No API key, not rate limited.",
                    Tags = new HashSet<OpenApiTagReference> { new("Health", document) },
                    Responses = new OpenApiResponses { ["200"] = Answer("Healthy."), ["503"] = Answer("Unhealthy.") },
                },
            },
        };
    }

    private static void AddProblem(OpenApiOperation operation, OpenApiDocument? document, int status, string description, bool retryAfter = false)
    {
        var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!operation.Responses!.TryGetValue(key, out var existing) || existing is not OpenApiResponse response)
        {
            response = new OpenApiResponse
            {
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
                },
            };
            operation.Responses[key] = response;
        }

        response.Description = description;
        if (retryAfter)
        {
            response.Headers ??= new Dictionary<string, IOpenApiHeader>();
            response.Headers["Retry-After"] = new OpenApiHeader
            {
                Description = "Seconds to wait before retrying.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
            };
        }
    }

    /// <summary>RFC 9457 with the contract's members; a problem may carry more (decline_code, payment_id, refundable_amount).</summary>
    private static OpenApiSchema Problem() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "RFC 9457 problem details with a stable code.",
        Required = new HashSet<string> { "type", "title", "status", "code", "trace_id" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "urn:paymentslices:problem:<code>" },
            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String | JsonSchemaType.Null },
            ["instance"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Stable snake_case error code, e.g. card_declined." },
            ["trace_id"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["errors"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "Each invalid field (snake_case path) and its messages.",
                AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
            },
            ["decline_code"] = new OpenApiSchema { Type = JsonSchemaType.String | JsonSchemaType.Null },
            ["payment_id"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["payment_intent_id"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["refundable_amount"] = new OpenApiSchema { Type = JsonSchemaType.Number },
        },
    };
}

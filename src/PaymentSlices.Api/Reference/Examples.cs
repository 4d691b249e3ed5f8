using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace PaymentSlices.Api.Reference;

/// <summary>One request example per operation, taken from the seeds where they have one (in the contract's snake_case).</summary>
public static class Examples
{
    public static readonly IReadOnlyDictionary<string, string> Requests = new Dictionary<string, string>
    {
        // Seed 001's order items.
        ["CreateOrder"] = """{"currency":"USD","items":[{"name":"Deluxe Gamer's Chair","amount":200,"quantity":2},{"name":"Shipping","amount":10,"quantity":1}],"email":"johndoe@rapyd.net"}""",
        // Seed 000 "Pay Order".
        ["PayOrder"] = """{"amount":410,"currency":"USD","source":{"object":"card","name":"J. Doe","number":"4242424242424242","cvc":"123","exp_month":12,"exp_year":2030,"address_line1":"123 Fake Street","address_line2":"4th Floor","address_city":"London","address_country":"GB","address_post_code":"N12 9XX"}}""",
        // Seed 003 "POST /payments".
        ["CreatePayment"] = """{"amount":100.00,"currency":"USD","source":"tok_visa","description":"Payment for order #12345"}""",
        // Seed 003 "POST /refunds".
        ["CreateRefund"] = """{"payment_id":"pay_12345","amount":50.00}""",
        // Seed 002 step 3.
        ["MarkOrderPaid"] = """{"payment_intent_id":"pi_3R8f5yQ9LjHruSyq1ofjdVY5"}""",
        // Seed 002 step 2, with Stripe's test PaymentMethod, as a storefront's Stripe code confirms.
        ["ConfirmPaymentIntent"] = """{"client_secret":"pi_3R8f5yQ9LjHruSyq1ofjdVY5_secret_wWSgKgsyjo6WRpCf1aXJN3zRw","payment_method":"pm_card_visa"}""",
        // Seed 001's customer.
        ["CreateCustomer"] = """{"name":"John Doe","email":"johndoe@rapyd.net","source":"tok_visa"}""",
    };

    // Seed 003's payment and refund, seed 000's card payment, seed 002's intent, seed 001's order and customer.
    private const string Payment = """{"id":"pay_12345","object":"payment","order_id":null,"payment_intent_id":null,"amount":100.00,"currency":"USD","status":"succeeded","source":{"object":"card","brand":"visa","last4":"4242","exp_month":12,"exp_year":2029,"name":null,"number":"************4242","address_country":null,"address_post_code":null},"payment_method":null,"customer":null,"amount_refunded":0.00,"refunded":false,"description":"Payment for order #12345","metadata":{},"failure_code":null,"failure_message":null,"decline_code":null,"redirect_url":null,"receipt_number":"1834-2291-0047","created_at":"2024-06-10T12:00:00.000Z","paid_at":"2024-06-10T12:00:00.000Z"}""";
    private const string CardPayment = """{"id":"pay_2e3b4f5a6b7c8d9e0f1a2b3c","object":"payment","order_id":"order_07f883eacb9bc126a60d7e147a58e057","payment_intent_id":null,"amount":410.00,"currency":"USD","status":"succeeded","source":{"object":"card","brand":"visa","last4":"4242","exp_month":12,"exp_year":2030,"name":"J. Doe","number":"************4242","address_country":"GB","address_post_code":"N12 9XX"},"payment_method":null,"customer":null,"amount_refunded":0.00,"refunded":false,"description":null,"metadata":{},"failure_code":null,"failure_message":null,"decline_code":null,"redirect_url":null,"receipt_number":"5243-3776-1858","created_at":"2025-11-18T15:03:26.000Z","paid_at":"2025-11-18T15:03:26.000Z"}""";
    private const string Refund = """{"id":"refund_67890","object":"refund","payment_id":"pay_12345","order_id":null,"amount":50.00,"currency":"USD","status":"succeeded","reason":null,"metadata":{},"created_at":"2024-06-10T13:00:00.000Z"}""";
    private const string Intent = """{"id":"pi_3R8f5yQ9LjHruSyq1ofjdVY5","object":"payment_intent","order_id":"order_9","client_secret":"pi_3R8f5yQ9LjHruSyq1ofjdVY5_secret_wWSgKgsyjo6WRpCf1aXJN3zRw","amount":112.00,"currency":"USD","status":"requires_payment_method","line_items":[{"name":"Main product 2","amount":56.00,"currency":"USD","quantity":2,"description":""}],"payment_id":null,"redirect_url":null,"created_at":"2025-03-31T10:37:30.000Z"}""";
    private const string Order = """{"id":"order_07f883eacb9bc126a60d7e147a58e057","object":"order","status":"created","amount":410.00,"amount_refunded":0.00,"currency":"USD","items":[{"name":"Deluxe Gamer's Chair","description":null,"amount":200.00,"quantity":2},{"name":"Shipping","description":null,"amount":10.00,"quantity":1}],"customer":null,"email":"johndoe@rapyd.net","metadata":{},"payments":[],"refunds":[],"receipt":null,"created_at":"2025-11-18T15:02:57.000Z","updated_at":"2025-11-18T15:02:57.000Z","paid_at":null}""";
    private const string Customer = """{"id":"cus_4e25112ac20e144ad073a614dc46934b","object":"customer","name":"John Doe","email":"johndoe@rapyd.net","default_payment_method":"card_b9548d9b53a565b2315fecdc6c87f158","payment_methods":[{"id":"card_b9548d9b53a565b2315fecdc6c87f158","object":"payment_method","brand":"visa","last4":"1111","exp_month":12,"exp_year":2035,"name":"John Doe"}],"created_at":"2025-11-18T15:02:57.000Z"}""";

    // A payment.succeeded event for seed 003's payment, delivered at the second attempt.
    private const string Event = """{"id":"evt_5f0c8a1e2b3d4c5e6f708192a3b4c5d6","object":"event","type":"payment.succeeded","status":"delivered","created_at":"2024-06-10T12:00:00.000Z","data":{"object":""" + Payment + """},"deliveries":[{"endpoint":"https://shop.example.com/webhooks/paymentslices","status":"delivered","attempt_count":2,"next_attempt_at":null,"delivered_at":"2024-06-10T12:01:02.000Z","attempts":[{"attempted_at":"2024-06-10T12:00:00.100Z","status_code":503,"error":"The endpoint answered 503.","duration_ms":84},{"attempted_at":"2024-06-10T12:01:02.000Z","status_code":200,"error":null,"duration_ms":41}]}]}""";

    /// <summary>Response examples: (operation, status) to body.</summary>
    public static readonly IReadOnlyDictionary<(string Operation, string Status), string> Responses = new Dictionary<(string, string), string>
    {
        [("CreateOrder", "201")] = Order,
        [("GetOrder", "200")] = Order,
        [("PayOrder", "201")] = CardPayment,
        [("CreatePayment", "201")] = Payment,
        [("CreatePayment", "400")] = Problem(400, "invalid_payment_source", "Invalid payment source", "Invalid payment source", "/v1/payments"),
        [("GetPayment", "200")] = Payment,
        [("GetPayment", "404")] = Problem(404, "payment_not_found", "Not found", "Payment not found", "/v1/payments/pay_12345"),
        [("CreateRefund", "201")] = Refund,
        [("CreateRefund", "400")] = Problem(400, "invalid_refund_amount", "Invalid refund amount", "Invalid refund amount", "/v1/refunds"),
        [("GetRefund", "200")] = Refund,
        [("CreatePaymentIntent", "201")] = Intent,
        [("ConfirmPaymentIntent", "200")] = Intent.Replace("\"requires_payment_method\"", "\"succeeded\"", StringComparison.Ordinal)
            .Replace("\"payment_id\":null", "\"payment_id\":\"pay_12345\"", StringComparison.Ordinal),
        [("MarkOrderPaid", "200")] = Order.Replace("\"status\":\"created\"", "\"status\":\"paid\"", StringComparison.Ordinal),
        [("CreateCustomer", "201")] = Customer,
        [("GetCustomer", "200")] = Customer,
        [("GetEvent", "200")] = Event,
        [("GetEvent", "404")] = Problem(404, "event_not_found", "Not found", "Event not found", "/v1/events/evt_5f0c8a1e2b3d4c5e6f708192a3b4c5d6"),
        [("ListEvents", "200")] = """{"object":"list","data":[""" + Event + """],"has_more":false}""",
        [("RedeliverEvent", "202")] = Event,
    };

    /// <summary>Path parameters with the seeds' ids, so that every operation, GETs included, has an example request.</summary>
    private static readonly Dictionary<string, string> PathIds = new()
    {
        ["orderId"] = "order_07f883eacb9bc126a60d7e147a58e057",
        ["paymentId"] = "pay_12345",
        ["refundId"] = "refund_67890",
        ["customerId"] = "cus_4e25112ac20e144ad073a614dc46934b",
        ["intentId"] = "pi_3R8f5yQ9LjHruSyq1ofjdVY5",
        ["eventId"] = "evt_5f0c8a1e2b3d4c5e6f708192a3b4c5d6",
    };

    /// <summary>Query parameters' examples, for the operations whose request is only a query.</summary>
    private static readonly Dictionary<string, string> QueryValues = new()
    {
        ["status"] = "failed",
    };

    public static void Apply(OpenApiOperation operation)
    {
        if (operation.OperationId is not { } id)
        {
            return;
        }

        if (Requests.TryGetValue(id, out var json) && operation.RequestBody?.Content?.TryGetValue("application/json", out var media) == true)
        {
            media.Example = JsonNode.Parse(json);
        }

        foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
        {
            if (parameter.In == ParameterLocation.Path && PathIds.TryGetValue(parameter.Name!, out var example))
            {
                parameter.Example = JsonValue.Create(example);
            }
            else if (parameter.In == ParameterLocation.Query && QueryValues.TryGetValue(parameter.Name!, out var value))
            {
                parameter.Example = JsonValue.Create(value);
            }
        }

        foreach (var ((operationId, status), body) in Responses)
        {
            if (operationId == id && operation.Responses?.TryGetValue(status, out var response) == true && response.Content is { } content)
            {
                foreach (var type in content.Values)
                {
                    type.Example = JsonNode.Parse(body);
                }
            }
        }
    }

    private static string Problem(int status, string code, string title, string detail, string instance) =>
        $$"""{"type":"urn:paymentslices:problem:{{code}}","title":"{{title}}","status":{{status}},"detail":"{{detail}}","instance":"{{instance}}","code":"{{code}}","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}""";
}

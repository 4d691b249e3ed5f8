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
        // Seed 002 step 2, with the sandbox's test token.
        ["ConfirmPaymentIntent"] = """{"client_secret":"pi_3R8f5yQ9LjHruSyq1ofjdVY5_secret_wWSgKgsyjo6WRpCf1aXJN3zRw","source":"tok_visa"}""",
        // Seed 001's customer.
        ["CreateCustomer"] = """{"name":"John Doe","email":"johndoe@rapyd.net","source":"tok_visa"}""",
    };

    public static void Apply(OpenApiOperation operation)
    {
        if (operation.OperationId is { } id && Requests.TryGetValue(id, out var json) &&
            operation.RequestBody?.Content?.TryGetValue("application/json", out var media) == true)
        {
            media.Example = JsonNode.Parse(json);
        }
    }
}

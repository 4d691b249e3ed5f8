using System.Net;

namespace PaymentSlices.Tests.Features.CreateOrder;

public sealed class CreateOrderTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string Timestamp = @"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$";

    private readonly HttpClient client = factory.Storefront();

    [Fact]
    public async Task ValidOrder_Is201WithTheSumOfItsItemsStoredInMinorUnits()
    {
        var response = await client.PostJsonAsync("/v1/orders", new
        {
            currency = "USD",
            items = new object[]
            {
                new { name = "Deluxe Gamer's Chair", amount = 49.99m, quantity = 2, description = "Black" },
                new { name = "Cushion", amount = 10m, quantity = 1 },
            },
            email = "jdoe@example.com",
        });

        var order = await response.ShouldBe(HttpStatusCode.Created);
        order.Id().Should().StartWith("order_");
        response.Headers.Location!.ToString().Should().Be($"/v1/orders/{order.Id()}");
        order.Str("status").Should().Be("created");
        order.Dec("amount").Should().Be(109.98m);
        order.Dec("amount_refunded").Should().Be(0m);
        order.Str("currency").Should().Be("USD");
        order.Str("email").Should().Be("jdoe@example.com");
        order["payments"]!.AsArray().Should().BeEmpty();
        order.Str("created_at").Should().MatchRegex(Timestamp);
        order.Str("updated_at").Should().MatchRegex(Timestamp);

        var items = order["items"]!.AsArray();
        items.Should().HaveCount(2);
        items[0]!.Str("name").Should().Be("Deluxe Gamer's Chair");
        items[0]!.Dec("amount").Should().Be(49.99m);
        items[0]!["quantity"]!.GetValue<int>().Should().Be(2);
        items[0]!.Str("description").Should().Be("Black");
        items[1]!.Str("name").Should().Be("Cushion");
        items[1]!.Dec("amount").Should().Be(10m);
        items[1]!["quantity"]!.GetValue<int>().Should().Be(1);

        (await factory.ScalarAsync<long>("SELECT amount FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be(10998);
        (await factory.ScalarAsync<string>("SELECT status FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be("created");
        (await factory.ScalarAsync<long>("SELECT COUNT(*) FROM order_items WHERE order_id = @id", new { id = order.Id() })).Should().Be(2);
    }

    [Fact]
    public async Task LowerCaseCurrency_IsAnsweredAndStoredUpperCase()
    {
        var order = await client.CreateOrderAsync("eur", 12.50m);

        order.Str("currency").Should().Be("EUR");
        (await factory.ScalarAsync<string>("SELECT currency FROM orders WHERE id = @id", new { id = order.Id() })).Should().Be("EUR");
    }

    [Fact]
    public async Task AmountEqualToTheSumOfItems_IsAccepted()
    {
        var response = await client.PostJsonAsync("/v1/orders", new
        {
            currency = "USD",
            amount = 109.98m,
            items = new object[]
            {
                new { name = "Chair", amount = 49.99m, quantity = 2 },
                new { name = "Cushion", amount = 10m, quantity = 1 },
            },
        });

        var order = await response.ShouldBe(HttpStatusCode.Created);
        order.Dec("amount").Should().Be(109.98m);
    }

    [Fact]
    public async Task AmountOtherThanTheSumOfItems_Is400OnAmountAndWritesNothing()
    {
        var before = await CountOrdersAsync();

        var response = await client.PostJsonAsync("/v1/orders", new
        {
            currency = "USD",
            amount = 100m,
            items = new object[]
            {
                new { name = "Chair", amount = 49.99m, quantity = 2 },
                new { name = "Cushion", amount = 10m, quantity = 1 },
            },
        });

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors("amount").Should().ContainMatch("*109.98*");
        (await CountOrdersAsync()).Should().Be(before);
    }

    public static TheoryData<string, string> InvalidOrders => new()
    {
        { """{"currency":"XYZ","items":[{"name":"Chair","amount":49.99,"quantity":1}]}""", "currency" },
        { """{"items":[{"name":"Chair","amount":49.99,"quantity":1}]}""", "currency" },
        { """{"currency":"USD"}""", "items" },
        { """{"currency":"USD","items":[]}""", "items" },
        { """{"currency":"USD","items":[{"name":"Chair","amount":10.001,"quantity":1}]}""", "items[0].amount" },
        { """{"currency":"JPY","items":[{"name":"Chair","amount":100.5,"quantity":1}]}""", "items[0].amount" },
        { """{"currency":"USD","items":[{"name":"Chair","amount":-1,"quantity":1}]}""", "items[0].amount" },
        { """{"currency":"USD","items":[{"name":"Chair","amount":49.99,"quantity":0}]}""", "items[0].quantity" },
        { """{"currency":"USD","items":[{"name":"Chair","amount":49.99}]}""", "items[0].quantity" },
        { """{"currency":"USD","items":[{"name":"Chair","amount":999999.99,"quantity":2}]}""", "amount" },
        { """{"currency":"USD","items":[{"name":"Chair","amount":0,"quantity":1}]}""", "amount" },
        { """{"currency":"USD","items":[null]}""", "items[0]" },
        { """{"currency":"USD","items":[{"amount":49.99,"quantity":1}]}""", "items[0].name" },
        { """{"currency":"USD","items":[{"name":"","amount":49.99,"quantity":1}]}""", "items[0].name" },
        { """{"currency":"USD","email":"not-an-email","items":[{"name":"Chair","amount":49.99,"quantity":1}]}""", "email" },
        { """{"currency":"USD","ammount":49.99,"items":[{"name":"Chair","amount":49.99,"quantity":1}]}""", "ammount" },
        { """{"currency":"USD","items":[{"name":"Chair","amount":"49.99","quantity":1}]}""", "items[0].amount" },
    };

    [Theory]
    [MemberData(nameof(InvalidOrders))]
    public async Task InvalidOrder_Is400NamingTheFieldAndWritesNothing(string json, string field)
    {
        var before = await CountOrdersAsync();

        var response = await client.PostRawAsync("/v1/orders", json);

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors(field).Should().NotBeEmpty(problem.ToJsonString());
        (await CountOrdersAsync()).Should().Be(before);
    }

    [Fact]
    public async Task MalformedJson_Is400InvalidJsonAndWritesNothing()
    {
        var before = await CountOrdersAsync();

        var response = await client.PostRawAsync("/v1/orders", """{"currency":"USD","items":[{"name":"Chair","amount":49.99,""");

        await response.ShouldBeProblem(HttpStatusCode.BadRequest, "invalid_json");
        (await CountOrdersAsync()).Should().Be(before);
    }

    [Fact]
    public async Task Metadata_IsReturnedAndReadBack()
    {
        var created = await (await client.PostJsonAsync("/v1/orders", new
        {
            currency = "USD",
            items = new[] { new { name = "Chair", amount = 49.99m, quantity = 1 } },
            metadata = new Dictionary<string, string> { ["cart_id"] = "cart_42", ["channel"] = "web" },
        })).ShouldBe(HttpStatusCode.Created);

        created["metadata"]!.Str("cart_id").Should().Be("cart_42");
        var read = await (await client.GetAsync($"/v1/orders/{created.Id()}")).ShouldBe(HttpStatusCode.OK);
        read["metadata"]!.Str("cart_id").Should().Be("cart_42");
        read["metadata"]!.Str("channel").Should().Be("web");
        read["metadata"]!.AsObject().Should().HaveCount(2);
    }

    [Fact]
    public async Task MoreThanFiftyMetadataKeys_Is400AndWritesNothing()
    {
        var before = await CountOrdersAsync();
        var metadata = Enumerable.Range(0, 51).ToDictionary(i => $"key_{i}", i => "value");

        var response = await client.PostJsonAsync("/v1/orders", new
        {
            currency = "USD",
            items = new[] { new { name = "Chair", amount = 49.99m, quantity = 1 } },
            metadata,
        });

        var problem = await response.ShouldBeProblem(HttpStatusCode.BadRequest, "validation_failed");
        problem.FieldErrors("metadata").Should().NotBeEmpty();
        (await CountOrdersAsync()).Should().Be(before);
    }

    [Fact]
    public async Task FiftyMetadataKeys_AreAccepted()
    {
        var metadata = Enumerable.Range(0, 50).ToDictionary(i => $"key_{i}", i => "value");

        var order = await (await client.PostJsonAsync("/v1/orders", new
        {
            currency = "USD",
            items = new[] { new { name = "Chair", amount = 49.99m, quantity = 1 } },
            metadata,
        })).ShouldBe(HttpStatusCode.Created);

        order["metadata"]!.AsObject().Should().HaveCount(50);
    }

    private Task<long> CountOrdersAsync() => factory.ScalarAsync<long>("SELECT COUNT(*) FROM orders");
}

using PaymentSlices.Api.Kernel;

namespace PaymentSlices.Tests.Kernel;

/// <summary>Ids are unguessable and in creation order (issue 15: new rows go to the end of their indexes).</summary>
public sealed class IdsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static readonly DateTimeOffset Noon = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AnId_IsItsPrefix_NineCharactersOfItsTime_AndTwentyRandomOnes()
    {
        var id = Ids.New("pay", Noon);

        id.Should().MatchRegex("^pay_[0-9a-z]{29}$");
        FromBase36(id.Substring(4, 9)).Should().Be(Noon.ToUnixTimeMilliseconds());
    }

    [Fact]
    public void IdsMadeLater_SortAfterEarlierOnes()
    {
        var ids = new[] { Noon, Noon.AddMilliseconds(1), Noon.AddSeconds(1), Noon.AddDays(1), Noon.AddYears(30) }
            .Select(time => Ids.New("evt", time))
            .ToList();

        ids.Should().BeInAscendingOrder(StringComparer.Ordinal);
    }

    [Fact]
    public void IdsMadeInTheSameMillisecond_DifferInTheirRandomPart()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => Ids.New("order", Noon)).ToList();

        ids.Should().OnlyHaveUniqueItems();
        ids.Select(id => id[^20..]).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task OrdersAndPaymentsCreatedOneAfterAnother_HaveIdsInThatOrder()
    {
        var client = factory.Storefront();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await client.CreateOrderAsync()).Id());
            await Task.Delay(2);
            ids.Add((await client.CreatePaidOrderAsync()).Id());
            await Task.Delay(2);
        }

        ids.Select(id => id[(id.IndexOf('_') + 1)..]).Should().BeInAscendingOrder(StringComparer.Ordinal);
    }

    private static long FromBase36(string digits) =>
        digits.Aggregate(0L, (value, digit) => (value * 36) + "0123456789abcdefghijklmnopqrstuvwxyz".IndexOf(digit, StringComparison.Ordinal));
}

using PaymentSlices.Api.Database;
using PaymentSlices.Api.Kernel;
using PaymentSlices.Api.Payments;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Tests.Payments;

/// <summary>
/// How old a processing row must be before the reconciler settles it: on PostgreSQL, older than any processor call of
/// another instance can still run, so that a slow charge is never settled as not made while its request goes on.
/// </summary>
public sealed class ReconcilerMinAgeTests
{
    [Fact]
    public void Unset_IsTenSecondsOnSqlite_AndLongerThanTheLongestProcessorCallOnPostgreSql_ASettingWins()
    {
        var defaults = new ProcessorResilienceOptions();
        ReconcilerOptions.Effective(null, DatabaseProvider.Sqlite, defaults).Should().Be(TimeSpan.FromSeconds(10));

        var longest = ShutdownDrain.LongestWrite(defaults);
        longest.Should().BeGreaterThan(TimeSpan.FromSeconds(40), "four attempts of 10 s and the backoff between them");
        ReconcilerOptions.Effective(null, DatabaseProvider.PostgreSql, defaults).Should().Be(longest + TimeSpan.FromSeconds(5));

        var slower = new ProcessorResilienceOptions { AttemptTimeout = TimeSpan.FromSeconds(30) };
        ReconcilerOptions.Effective(null, DatabaseProvider.PostgreSql, slower).Should().BeGreaterThan(TimeSpan.FromMinutes(2));

        ReconcilerOptions.Effective(TimeSpan.FromSeconds(2), DatabaseProvider.PostgreSql, defaults).Should().Be(TimeSpan.FromSeconds(2));
    }
}

using System.Data;
using System.Globalization;
using Dapper;
using PaymentSlices.Api.Pipeline;

namespace PaymentSlices.Api.Database;

/// <summary>
/// Timestamps are stored as ISO 8601 UTC text with milliseconds (<c>2026-11-22T10:15:30.250Z</c>): it
/// sorts as text and PostgreSQL reads the same literal into timestamptz.
/// </summary>
public sealed class TimestampHandler : SqlMapper.TypeHandler<DateTimeOffset>
{
    public static void Register()
    {
        // Dapper maps DateTimeOffset itself unless the built-in mapping is removed first.
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset));
        SqlMapper.RemoveTypeMap(typeof(DateTimeOffset?));
        SqlMapper.AddTypeHandler(new TimestampHandler());
        DefaultTypeMap.MatchNamesWithUnderscores = true; // column card_last4 fills property CardLast4
    }

    public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
    {
        parameter.DbType = DbType.String;
        Span<char> text = stackalloc char[IsoTimestamp.Length];
        parameter.Value = new string(IsoTimestamp.Format(value.UtcDateTime, text));
    }

    public override DateTimeOffset Parse(object value) =>
        DateTimeOffset.Parse((string)value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}

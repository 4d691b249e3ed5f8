namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, the layout of the API's timestamps (<see cref="Json.UtcTimestampConverter"/>), of the
/// stored ones (<see cref="Database.TimestampHandler"/>) and of the log lines' (<c>Logging:Console:FormatterOptions:TimestampFormat</c>), written digit by digit: formatting with the
/// custom format string parses that string again on every call.
/// </summary>
public static class IsoTimestamp
{
    public const int Length = 24;

    /// <summary>
    /// <paramref name="time"/> as the format string gives it with a Gregorian calendar and ':' between hours, minutes and
    /// seconds ('T' and 'Z' are literals: the time is written as it is, converted by nobody), in the first
    /// <see cref="Length"/> characters of <paramref name="destination"/>.
    /// </summary>
    public static ReadOnlySpan<char> Format(DateTime time, Span<char> destination)
    {
        var text = destination[..Length];
        Digits(text[..4], time.Year);
        text[4] = '-';
        Digits(text.Slice(5, 2), time.Month);
        text[7] = '-';
        Digits(text.Slice(8, 2), time.Day);
        text[10] = 'T';
        Digits(text.Slice(11, 2), time.Hour);
        text[13] = ':';
        Digits(text.Slice(14, 2), time.Minute);
        text[16] = ':';
        Digits(text.Slice(17, 2), time.Second);
        text[19] = '.';
        Digits(text.Slice(20, 3), time.Millisecond);
        text[23] = 'Z';
        return text;

        static void Digits(Span<char> into, int value)
        {
            for (var i = into.Length - 1; i >= 0; i--)
            {
                into[i] = (char)('0' + (value % 10));
                value /= 10;
            }
        }
    }
}

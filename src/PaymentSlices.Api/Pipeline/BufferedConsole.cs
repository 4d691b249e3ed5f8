using System.Text;

namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// Standard output in blocks: log lines (one JSON line per request, and the rest) are written to a 64 KiB buffer
/// that is flushed every <see cref="FlushInterval"/>, when it fills, and when the process ends, instead of one write
/// system call per line (the largest cost of a fast request in a profile). A line reaches the log at most that
/// late; a process killed outright (SIGKILL) loses at most that much of its last output. Only when the service
/// is the process (not under the tests' in-process host).
/// </summary>
public static class BufferedConsole
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);

    private static Timer? flushing;

    public static void Install()
    {
        Console.SetOut(new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false });
        flushing = new Timer(_ => Flush(), null, FlushInterval, FlushInterval);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Flush();
    }

    /// <summary>Writes out what is buffered; once more at the end, after the loggers have written their last lines.</summary>
    public static void Flush()
    {
        try
        {
            Console.Out.Flush();
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException)
        {
            // Standard output is gone (a closed pipe): there is nobody to write to.
        }
    }

    public static void Stop()
    {
        flushing?.Dispose();
        Flush();
    }
}

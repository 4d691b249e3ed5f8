using System.Buffers;
using System.Text;

namespace PaymentSlices.Api.Pipeline;

/// <summary>
/// Standard output in blocks: log lines (one JSON line per request, and the rest) are written to a 64 KiB buffer
/// that is flushed every <see cref="FlushInterval"/>, when it fills, and when the process ends, instead of one write
/// system call per line (the largest cost of a fast request in a profile). A line reaches the log at most that
/// late; a process killed outright (SIGKILL) loses at most that much of its last output. Only when the service
/// is the process (not under the tests' in-process host).
/// </summary>
/// <remarks>
/// <see cref="Console.Out"/> (the console logger, anything else that writes text) and <see cref="Output"/> (lines
/// already in UTF-8, the request log's) share the one buffer, so a line is never cut by another.
/// </remarks>
public static class BufferedConsole
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);

    private static Timer? flushing;

    /// <summary>The buffer behind standard output once <see cref="Install"/> ran; null before.</summary>
    public static StdoutBuffer? Output { get; private set; }

    public static void Install()
    {
        var output = new StdoutBuffer(Console.OpenStandardOutput());
        Output = output;
        Console.SetOut(new StdoutBufferWriter(output));
        flushing = new Timer(_ => Flush(), null, FlushInterval, FlushInterval);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Flush();
    }

    /// <summary>Writes out what is buffered; once more at the end, after the loggers have written their last lines.</summary>
    public static void Flush()
    {
        if (Output is { } output)
        {
            output.Flush();
        }
        else
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
    }

    public static void Stop()
    {
        flushing?.Dispose();
        Flush();
    }
}

/// <summary>
/// Bytes for a stream, kept until <see cref="Flush"/> or until the buffer is full. Each <see cref="Write"/> is kept
/// whole and in one piece in the output. Two buffers: while one is written to the stream, writers fill the other, so a
/// writer waits for the stream only when both are full.
/// </summary>
public sealed class StdoutBuffer(Stream output, int capacity = 64 * 1024)
{
    private readonly Lock filling = new();   // current, used
    private readonly Lock writing = new();   // the stream and spare: one write at a time, in the order the buffers were filled
    private byte[] current = new byte[capacity];
    private byte[] spare = new byte[capacity];
    private int used;

    /// <summary>Appends <paramref name="bytes"/>, whole: no other write lands inside them.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        lock (filling)
        {
            if (bytes.Length <= current.Length - used)
            {
                bytes.CopyTo(current.AsSpan(used));
                used += bytes.Length;
                return;
            }
        }

        lock (writing)
        {
            lock (filling)
            {
                // Someone may have written the full buffer out while this one waited.
                if (bytes.Length <= current.Length - used)
                {
                    bytes.CopyTo(current.AsSpan(used));
                    used += bytes.Length;
                    return;
                }
            }

            WriteOutLocked();
            lock (filling)
            {
                if (bytes.Length <= current.Length - used)
                {
                    bytes.CopyTo(current.AsSpan(used));
                    used += bytes.Length;
                    return;
                }
            }

            // Larger than a buffer: straight to the stream, after what was buffered before it.
            WriteToStream(bytes);
        }
    }

    /// <summary>Writes what is buffered to the stream.</summary>
    public void Flush()
    {
        lock (writing)
        {
            WriteOutLocked();
        }
    }

    // Holding `writing`: swaps the buffers, then writes the full one while writers fill the other.
    private void WriteOutLocked()
    {
        byte[] full;
        int length;
        lock (filling)
        {
            if (used == 0)
            {
                return;
            }

            full = current;
            length = used;
            current = spare;
            used = 0;
        }

        WriteToStream(full.AsSpan(0, length));
        spare = full;
    }

    private void WriteToStream(ReadOnlySpan<byte> bytes)
    {
        try
        {
            output.Write(bytes);
            output.Flush();
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException)
        {
            // Standard output is gone (a closed pipe): there is nobody to write to.
        }
    }
}

/// <summary>
/// Text for a <see cref="StdoutBuffer"/>, in UTF-8 without a byte order mark: what <see cref="Console.Out"/> writes to.
/// Each call is one <see cref="StdoutBuffer.Write"/>, so a line written in one call (the console logger's are) is whole.
/// </summary>
internal sealed class StdoutBufferWriter(StdoutBuffer output) : TextWriter
{
    private const int StackLimit = 512;
    private readonly Encoder encoder = new UTF8Encoding(false).GetEncoder(); // keeps half a surrogate pair between calls
    private readonly Lock encoding = new();

    public override Encoding Encoding { get; } = new UTF8Encoding(false);

    public override void Write(char value) => Write(new ReadOnlySpan<char>(in value));

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(string? value) => Write(value.AsSpan());

    public override void WriteLine(string? value) => WriteLine(value.AsSpan());

    public override void WriteLine(ReadOnlySpan<char> buffer)
    {
        var newLine = CoreNewLine;
        var length = buffer.Length + newLine.Length;
        char[]? rented = null;
        var line = length <= StackLimit ? stackalloc char[StackLimit] : (rented = ArrayPool<char>.Shared.Rent(length));
        buffer.CopyTo(line);
        newLine.CopyTo(line[buffer.Length..]);
        Write(line[..length]);
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    public override void Write(ReadOnlySpan<char> buffer)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        lock (encoding)
        {
            var most = encoder.GetByteCount(buffer, flush: false);
            byte[]? rented = null;
            var bytes = most <= StackLimit * 3 ? stackalloc byte[StackLimit * 3] : (rented = ArrayPool<byte>.Shared.Rent(most));
            var written = encoder.GetBytes(buffer, bytes, flush: false);
            output.Write(bytes[..written]);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public override void Flush() => output.Flush();
}

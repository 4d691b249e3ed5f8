using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Diagnostics.Tracing.Etlx;

// Usage: TraceTop <trace.nettrace> [pid] [top N] [callers-of regex, or ""] [only-samples-matching regex]
// With a regex, it also prints who calls the matching frames: for each sample with a matching frame, the nearest
// managed frame above it, and the nearest PaymentSlices frame above it, and the areas of those samples alone.
// Every stack sample of the process counts once: exclusive is its leaf frame, inclusive every distinct frame on it.
// Areas are matched against the whole stack, first match wins, from the leaf up (see Areas below).
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: TraceTop <trace.nettrace> [pid] [top N]");
    return 2;
}

var path = args[0];
int? pid = args.Length > 1 && int.Parse(args[1], CultureInfo.InvariantCulture) is var p and > 0 ? p : null;
var top = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 40;
var callersOf = args.Length > 3 && args[3].Length > 0 ? new Regex(args[3], RegexOptions.CultureInvariant) : null;
// A fifth argument keeps only the samples with a frame matching it (one thread's work: "GroupCommit::Run$").
var only = args.Length > 4 ? new Regex(args[4], RegexOptions.CultureInvariant) : null;
var managedCallers = new Dictionary<string, long>();
var appCallers = new Dictionary<string, long>();
var areasWithin = new Dictionary<string, long>();
long matching = 0;

var etlx = TraceLog.CreateFromEventPipeDataFile(path, Path.ChangeExtension(path, ".etlx"));
using var log = new TraceLog(etlx);

var inclusive = new Dictionary<string, long>();
var exclusive = new Dictionary<string, long>();
var areas = new Dictionary<string, long>();
long samples = 0;
var frames = new List<string>();

foreach (var data in log.Events)
{
    if (pid is { } wanted && data.ProcessID != wanted)
    {
        continue;
    }

    var stack = data.CallStack();
    if (stack is null)
    {
        continue;
    }

    frames.Clear();
    for (var frame = stack; frame is not null; frame = frame.Caller)
    {
        frames.Add(Name(frame.CodeAddress));
    }

    if (only is not null && !frames.Exists(only.IsMatch))
    {
        continue;
    }

    samples++;
    Add(exclusive, frames[0]);
    foreach (var name in frames.Distinct())
    {
        Add(inclusive, name);
    }

    Add(areas, Areas.Of(frames));

    if (callersOf is not null && frames.FindIndex(callersOf.IsMatch) is var hit and >= 0)
    {
        matching++;
        Add(areasWithin, Areas.Of(frames));
        var above = frames.Skip(hit + 1).ToList();
        Add(managedCallers, above.Find(frame => frame.Contains("::", StringComparison.Ordinal) && !callersOf.IsMatch(frame)) ?? "(none)");
        Add(appCallers, above.Find(frame => frame.StartsWith("PaymentSlices", StringComparison.Ordinal)) ?? "(none)");
    }
}

if (samples == 0)
{
    Console.Error.WriteLine($"no stack samples{(pid is null ? "" : $" for pid {pid}")} in {path}");
    return 1;
}

Console.WriteLine($"{samples} stack samples{(pid is null ? "" : $" of pid {pid}")} in {Path.GetFileName(path)}");
Print("CPU by area", areas, areas.Count);
Print($"Top {top} exclusive (leaf) frames", exclusive, top);
Print($"Top {top} inclusive frames", inclusive, top);
if (callersOf is not null)
{
    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{matching} samples ({100.0 * matching / samples:0.0}%) have a frame matching {callersOf}"));
    Print($"CPU by area, only the samples with a frame matching {callersOf} (% of all samples)", areasWithin, areasWithin.Count);
    Print($"Nearest managed caller of {callersOf}", managedCallers, top);
    Print($"Nearest PaymentSlices caller of {callersOf}", appCallers, top);
}

return 0;

void Print(string title, Dictionary<string, long> counts, int n)
{
    Console.WriteLine();
    Console.WriteLine($"## {title}");
    Console.WriteLine();
    Console.WriteLine("| % | samples | frame |");
    Console.WriteLine("|---:|---:|---|");
    foreach (var (name, count) in counts.OrderByDescending(pair => pair.Value).ThenBy(pair => pair.Key, StringComparer.Ordinal).Take(n))
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {100.0 * count / samples:0.0} | {count} | {name.Replace("|", "\\|", StringComparison.Ordinal)} |"));
    }
}

static void Add(Dictionary<string, long> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;

static string Name(TraceCodeAddress address)
{
    var method = address.FullMethodName;
    var module = address.ModuleName;
    if (string.IsNullOrEmpty(method))
    {
        return string.IsNullOrEmpty(module) ? $"0x{address.Address:x}" : $"{module}!?";
    }

    // Parameters make names long and rarely tell two hot frames apart.
    var paren = method.IndexOf('(', StringComparison.Ordinal);
    return paren > 0 ? method[..paren] : method;
}

/// <summary>Where a sample's CPU goes, by the frames on its stack.</summary>
/// <remarks>
/// Two passes. The "anywhere" areas win when any frame of the stack is theirs: what they call (JSON inside the console
/// logger, SQLite inside an open) is their cost. Then the other areas, from the leaf up, the nearest frame deciding:
/// middleware frames (authentication, rate limiting, the request log) sit under everything that runs after them.
/// </remarks>
internal static class Areas
{
    public static readonly (string Name, bool Anywhere, Regex Pattern)[] All =
    [
        ("SHA-256 (idempotency fingerprint, API key digest)", true, Make(@"SHA256|HashProvider|EVP_Digest|sha256_block|SHA256_|libcrypto")),
        ("SQLite: open connection + PRAGMAs", true, Make(@"DbConnectionFactory.*OpenAsync|SqliteConnection::Open|SqliteConnection\.Open|SqliteConnectionInternal|SqliteConnectionPool|sqlite3_open|sqlite3_close|openDatabase")),
        ("SQLite: commit, WAL write, fsync", true, Make(@"sqlite3PagerCommit|pagerWalFrames|sqlite3WalFrames|walWrite|fsync|fdatasync|ext4_sync|jbd2")),
        ("Logging (Microsoft.Extensions.Logging, console JSON)", true, Make(@"Extensions\.Logging|Logging\.Console|ConsoleLogger|JsonConsoleFormatter|extensions\.logging|LoggerMessage|RequestLog.*Completed")),
        ("GC", true, Make(@"WKS::|SVR::|gc_heap|GCHeap|GarbageCollect|gc\.cpp")),
        ("JIT / tiering", true, Make(@"libclrjit|TieredCompilation|CallCounting|jitNativeCode|ThePreStub|MethodDesc::DoPrestub")),
        ("SQLite: statements (prepare, bind, step, read)", false, Make(@"libe_sqlite3|SQLitePCL|Data\.Sqlite|Sqlite\.|e_sqlite3")),
        ("Dapper (mapping, command setup)", false, Make(@"Dapper")),
        ("JSON (System.Text.Json)", false, Make(@"Text\.Json|Utf8JsonWriter|Utf8JsonReader|JsonSerializer|system\.text\.json")),
        ("Problem details", false, Make(@"ProblemDetails")),
        ("Rate limiter", false, Make(@"RateLimit")),
        ("Authentication / authorization", false, Make(@"Authentication|Authorization|ApiKeyHandler|ApiKeyStore|ClaimsPrincipal|ClaimsIdentity")),
        ("DI (scopes, resolution)", false, Make(@"ServiceProvider|ServiceLookup|DependencyInjection|ServiceScope|ActivatorUtilities")),
        ("MediatR / FluentValidation / Polly", false, Make(@"MediatR|FluentValidation|Polly")),
        ("PaymentSlices code", false, Make(@"PaymentSlices")),
        ("Kestrel / HTTP / routing", false, Make(@"Kestrel|AspNetCore|System\.IO\.Pipelines|IO\.Pipelines|microsoft\.aspnetcore|Http\.")),
        ("Sockets / epoll", false, Make(@"Net\.Sockets|SocketAsyncEngine|epoll|tcp_|inet_|sock_|system\.net\.sockets|SystemNative_Send|SystemNative_Recv")),
        ("Thread pool / scheduling / waits", false, Make(@"ThreadPool|LowLevelLifoSemaphore|LowLevelMonitor|WaitHandle|futex|sched_yield|schedule|Monitor::|SpinWait|Threading\.")),
        ("Async machinery / tasks", false, Make(@"CompilerServices|Tasks\.|ExecutionContext")),
    ];

    public static string Of(List<string> frames)
    {
        foreach (var (name, anywhere, pattern) in All)
        {
            if (anywhere && frames.Exists(pattern.IsMatch))
            {
                return name;
            }
        }

        foreach (var frame in frames)
        {
            foreach (var (name, anywhere, pattern) in All)
            {
                if (!anywhere && pattern.IsMatch(frame))
                {
                    return name;
                }
            }
        }

        return frames.Exists(frame => frame.StartsWith("vmlinux", StringComparison.Ordinal)) ? "kernel (other)" : "other";
    }

    private static Regex Make(string pattern) => new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
}

using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace PaymentSlices.Api.Kernel;

/// <summary>
/// Faults the sandbox adds, so that the resilience pipeline can be exercised for real (<c>Processor:Sandbox</c>).
/// Tests change them while the service runs.
/// </summary>
public sealed class SandboxOptions
{
    public const string Section = "Processor:Sandbox";

    /// <summary>Added to every call.</summary>
    public TimeSpan Latency { get; set; } = TimeSpan.Zero;

    /// <summary>The share of calls (0 to 1) that fail transiently: half before the charge is made, half after (the answer is lost).</summary>
    public double FailureRate { get; set; }

    /// <summary>Every call fails, as a processor that is down.</summary>
    public bool Down { get; set; }

    /// <summary>
    /// A file where the sandbox keeps what it charged, refunded and saved, so that it remembers across restarts of the
    /// service as an outside processor would (the crash tests use it). Unset: in memory only.
    /// </summary>
    public string? JournalPath { get; set; }

    /// <summary>
    /// How long the sandbox remembers an idempotency key's answer, as a real processor does (Stripe: 24 hours). After
    /// it, the key is forgotten: a call with it is a new one. Bounds the sandbox's memory in a service that runs for days.
    /// </summary>
    public TimeSpan KeyRetention { get; set; } = TimeSpan.FromDays(1);
}

/// <summary>
/// An in-process processor with Stripe's test values, so that everything works offline. It remembers each
/// charge by idempotency key, as a real processor does, and can say how many charges it made.
/// </summary>
public sealed class SandboxPaymentProcessor : IPaymentProcessor
{
    private readonly TimeProvider clock;
    private readonly IOptions<SandboxOptions> faults;
    private readonly SandboxJournal? journal;
    private readonly SandboxMemory memory;

    public SandboxPaymentProcessor(TimeProvider clock, IOptions<SandboxOptions> faults)
    {
        this.clock = clock;
        this.faults = faults;
        memory = new SandboxMemory(clock, faults.Value.KeyRetention);
        if (faults.Value.JournalPath is { Length: > 0 } path)
        {
            journal = new SandboxJournal(path, memory);
            journal.CatchUp();
        }
    }

    private const string ThreeDSecureCard = "4000002500003155";
    private const string RequiresAction = "requires_action";

    private static readonly Dictionary<string, string> DeclineCards = new()
    {
        ["4000000000000002"] = "generic_decline",
        ["4000000000009995"] = "insufficient_funds",
    };

    private static readonly Dictionary<string, (string Number, string? DeclineCode)> Tokens = new()
    {
        ["tok_visa"] = ("4242424242424242", null),
        ["tok_mastercard"] = ("5555555555554444", null),
        ["tok_chargeDeclined"] = ("4000000000000002", "generic_decline"),
        ["tok_chargeDeclinedInsufficientFunds"] = ("4000000000009995", "insufficient_funds"),
        // Stripe's test PaymentMethods (TestPaymentMethods), as payment_method or source; 3-D Secure is the sandbox's one 3DS card.
        ["pm_card_visa"] = ("4242424242424242", null),
        ["pm_card_mastercard"] = ("5555555555554444", null),
        ["pm_card_chargeDeclined"] = ("4000000000000002", "generic_decline"),
        ["pm_card_chargeDeclinedInsufficientFunds"] = ("4000000000009995", "insufficient_funds"),
        ["pm_card_threeDSecure2Required"] = (ThreeDSecureCard, RequiresAction),
    };

    private static readonly Dictionary<string, string> DeclineMessages = new()
    {
        ["generic_decline"] = "Your card was declined.",
        ["insufficient_funds"] = "Your card has insufficient funds.",
    };

    private readonly ConcurrentDictionary<string, SaveCardResult> savedCards = new();

    // A test token's card, made once per token and expiry year instead of once per charge: the memory keeps it per key.
    private readonly ConcurrentDictionary<(string Token, int Year), CardDisplay> tokenCards = new();

    /// <summary>Charges that succeeded, one per idempotency key however often it was sent.</summary>
    public int SucceededCharges => memory.SucceededCharges;

    /// <summary>Refunds made, one per idempotency key however often it was sent.</summary>
    public int SucceededRefunds => memory.SucceededRefunds;

    /// <summary>Charge and refund keys the sandbox holds (tests: forgotten ones are swept out).</summary>
    internal int HeldKeys => memory.Held;

    /// <summary>Calls that failed with a fault the sandbox injected.</summary>
    public int InjectedFailures => injectedFailures;

    private int injectedFailures;

    public Task<ChargeResult> ChargeAsync(ChargeRequest request, CancellationToken cancellationToken) =>
        WithFaults(() => Charge(request), cancellationToken);

    private ChargeResult Charge(ChargeRequest request)
    {
        var id = SandboxMemory.Id(request.IdempotencyKey);
        if (memory.Charge(id) is { } first)
        {
            return first;
        }

        var result = Decide(request.Source, request.SavedCard);
        // A token it did not know was no charge: nothing to remember under the key.
        return result is ChargeResult.InvalidSource ? result : Remember(request.IdempotencyKey, id, result);
    }

    public Task<string?> RefundAsync(ProcessorRefund request, CancellationToken cancellationToken) =>
        WithFaults(() => RememberRefund(request.IdempotencyKey, made: true), cancellationToken);

    public Task<ChargeResult> ResolveChargeAsync(string idempotencyKey, CancellationToken cancellationToken) =>
        WithFaults(() => Remember(idempotencyKey, SandboxMemory.Id(idempotencyKey), new ChargeResult.NotMade()), cancellationToken);

    public Task<string?> ResolveRefundAsync(string idempotencyKey, CancellationToken cancellationToken) =>
        WithFaults(() => RememberRefund(idempotencyKey, made: false), cancellationToken);

    /// <summary>The first result under the key wins, as at a real processor; the journal keeps it (for every process sharing it).</summary>
    private ChargeResult Remember(string key, UInt128 id, ChargeResult result) =>
        journal is null ? memory.KeepCharge(id, result) : journal.Charge(key, id, result);

    private string? RememberRefund(string key, bool made) =>
        journal is null ? memory.KeepRefund(SandboxMemory.Id(key), made) : journal.Refund(key, SandboxMemory.Id(key), made);

    /// <summary>
    /// The sandbox's vault token carries the test card's behaviour (<c>vault_ok_…</c>, <c>vault_insufficient_funds_…</c>),
    /// so that a saved card behaves as its number did, across restarts, without the sandbox keeping the number.
    /// </summary>
    public Task<SaveCardResult> SaveCardAsync(string idempotencyKey, PaymentSource source, CancellationToken cancellationToken) =>
        WithFaults(() => savedCards.TryGetValue(idempotencyKey, out var first) ? first : Save(idempotencyKey, source), cancellationToken);

    private SaveCardResult Save(string idempotencyKey, PaymentSource source)
    {
        SaveCardResult result = Decide(source, null) switch
        {
            ChargeResult.Succeeded ok => new SaveCardResult.Saved($"{VaultPrefix}ok_{Ids.Random("v")[2..]}", ok.Card),
            ChargeResult.Declined no => new SaveCardResult.Saved($"{VaultPrefix}{no.DeclineCode}_{Ids.Random("v")[2..]}", no.Card),
            ChargeResult.RequiresAction action => new SaveCardResult.Saved($"{VaultPrefix}{RequiresAction}_{Ids.Random("v")[2..]}", action.Card),
            _ => new SaveCardResult.InvalidSource(),
        };
        return result is SaveCardResult.InvalidSource ? result : savedCards.GetOrAdd(idempotencyKey, result);
    }

    /// <summary>
    /// Maybe a transient failure before the work; the work; then the latency (the answer on its way back, so that a
    /// service stopped meanwhile leaves a charge made and its answer lost); then maybe a failure after it.
    /// </summary>
    private async Task<T> WithFaults<T>(Func<T> work, CancellationToken cancellationToken)
    {
        if (journal is not null)
        {
            // The journal's file lock can be held by another process for a while: not on the caller's thread, which may be
            // answering a whole batch of group-commit writers (a charge calls the processor right after its first commit).
            await Task.Yield();
        }

        var settings = faults.Value;
        var roll = Random.Shared.NextDouble();
        if (settings.Down || roll < settings.FailureRate / 2)
        {
            Interlocked.Increment(ref injectedFailures);
            throw new ProcessorTransientException("Sandbox: the processor did not answer (injected fault).");
        }

        var result = work();
        if (settings.Latency > TimeSpan.Zero)
        {
            await Task.Delay(settings.Latency, clock, cancellationToken);
        }

        if (roll < settings.FailureRate)
        {
            Interlocked.Increment(ref injectedFailures);
            throw new ProcessorTransientException("Sandbox: the answer was lost after the processor acted (injected fault).");
        }

        return result;
    }

    private const string VaultPrefix = "vault_";

    private ChargeResult Decide(PaymentSource source, CardDisplay? savedCard)
    {
        if (source.Token is { } vaulted && vaulted.StartsWith(VaultPrefix, StringComparison.Ordinal) && savedCard is not null)
        {
            var behaviour = vaulted[VaultPrefix.Length..vaulted.LastIndexOf('_')];
            return Outcome(behaviour == "ok" ? null : behaviour, savedCard);
        }

        if (source.Token is { } token)
        {
            if (!Tokens.TryGetValue(token, out var test))
            {
                return new ChargeResult.InvalidSource();
            }

            var card = tokenCards.GetOrAdd((token, clock.GetUtcNow().Year + 3), static (key, number) =>
                new CardDisplay(CardRules.Brand(number), CardRules.Last4(number), 12, key.Year, null, null, null), test.Number);
            return Outcome(test.DeclineCode, card);
        }

        var details = source.Card!;
        var number = details.Number!;
        var display = new CardDisplay(
            CardRules.Brand(number), CardRules.Last4(number), details.ExpMonth!.Value, CardRules.FullYear(details.ExpYear!.Value),
            details.Name, details.AddressCountry?.ToUpperInvariant(), details.AddressPostCode);

        var declineCode = number == ThreeDSecureCard ? RequiresAction : DeclineCards.GetValueOrDefault(number);
        return Outcome(declineCode, display);
    }

    // The charge's reference is given when it is kept (SandboxMemory).
    private static ChargeResult Outcome(string? declineCode, CardDisplay card) => declineCode switch
    {
        null => new ChargeResult.Succeeded("", card),
        RequiresAction => new ChargeResult.RequiresAction("", card),
        _ => new ChargeResult.Declined(declineCode, DeclineMessages[declineCode], card),
    };
}

/// <summary>
/// The sandbox's memory on disk: one JSON line per first answer under a key, written before the answer is given, read
/// back at start. It stands for the outside processor's own records; it never holds a card number. Several processes
/// may share one file (instances of the service on one database share one outside processor): a first answer is
/// decided under an exclusive lock of the file, after reading what the others appended since, so that a key has one
/// answer for all of them, as at a real processor.
/// </summary>
internal sealed class SandboxJournal(string path, SandboxMemory memory)
{
    // How long a process waits for another one's lock of the file (each holds it for one read and one append).
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    private readonly Lock gate = new();

    // How far into the file this process has read; the lines past it were appended by other processes.
    private long readUpTo;

    /// <summary>Reads what was appended since the last read (at start: everything), by this process's earlier runs or by others.</summary>
    public void CatchUp()
    {
        if (File.Exists(path))
        {
            Locked(_ => 0);
        }
    }

    /// <summary>The first result under the key, in whichever process it was given; <paramref name="result"/> when it is the first.</summary>
    public ChargeResult Charge(string key, UInt128 id, ChargeResult result) => Locked(file =>
    {
        if (memory.Charge(id) is { } first)
        {
            return first;
        }

        var reference = SandboxMemory.NewReference();
        Append(file, ChargeEntry(key, SandboxMemory.Render(result, reference)));
        return memory.KeepCharge(id, result, reference);
    });

    /// <summary>The first refund's reference under the key (null: recorded as not made); this one's when it is the first.</summary>
    public string? Refund(string key, UInt128 id, bool made) => Locked(file =>
    {
        if (memory.Refund(id, out var first))
        {
            return first;
        }

        var reference = SandboxMemory.NewReference();
        Append(file, new Entry("refund", key) { Reference = made ? SandboxMemory.RefundReference(reference) : null });
        return memory.KeepRefund(id, made, reference);
    });

    /// <summary>Under the file's lock, after reading what others appended: the answer already given under a key, or this one, appended first.</summary>
    private T Locked<T>(Func<FileStream, T> answer)
    {
        lock (gate)
        {
            using var file = OpenLocked();
            Read(file);
            return answer(file);
        }
    }

    private void Append(FileStream file, Entry entry)
    {
        file.Seek(0, SeekOrigin.End);
        file.Write(System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(entry) + "\n"));
        file.Flush();
        readUpTo = file.Position;
    }

    private static Entry ChargeEntry(string key, ChargeResult result) => result switch
    {
        ChargeResult.Succeeded ok => WithCard(new Entry("succeeded", key) { Reference = ok.Reference }, ok.Card),
        ChargeResult.RequiresAction action => WithCard(new Entry("requires_action", key) { Reference = action.Reference }, action.Card),
        ChargeResult.Declined no => WithCard(new Entry("declined", key) { DeclineCode = no.DeclineCode, Message = no.Message }, no.Card),
        _ => new Entry("not_made", key),
    };

    /// <summary>The file, locked against every other process using it (FileShare.None is an exclusive flock on Unix).</summary>
    private FileStream OpenLocked()
    {
        var deadline = DateTime.UtcNow + LockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(TimeSpan.FromMilliseconds(2)); // another process holds it for a moment
            }
        }
    }

    /// <summary>The complete lines past <see cref="readUpTo"/>, into the dictionaries; the first answer under a key stays.</summary>
    private void Read(FileStream file)
    {
        if (file.Length <= readUpTo)
        {
            return;
        }

        file.Seek(readUpTo, SeekOrigin.Begin);
        var bytes = new byte[file.Length - readUpTo];
        file.ReadExactly(bytes);
        var complete = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        foreach (var line in System.Text.Encoding.UTF8.GetString(bytes, 0, complete).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Apply(System.Text.Json.JsonSerializer.Deserialize<Entry>(line)!);
        }

        readUpTo += complete;
    }

    private void Apply(Entry entry)
    {
        // The first answer under a key stays, with the reference its line gives.
        if (entry.Kind == "refund")
        {
            memory.KeepRefund(SandboxMemory.Id(entry.Key), entry.Reference is not null, SandboxMemory.Parse(entry.Reference));
            return;
        }

        var card = entry.Brand is null ? null : new CardDisplay(entry.Brand, entry.Last4!, entry.ExpMonth, entry.ExpYear, entry.Name, entry.Country, entry.PostCode);
        memory.KeepCharge(SandboxMemory.Id(entry.Key), entry.Kind switch
        {
            "succeeded" => new ChargeResult.Succeeded("", card!),
            "requires_action" => new ChargeResult.RequiresAction("", card!),
            "declined" => new ChargeResult.Declined(entry.DeclineCode!, entry.Message!, card!),
            _ => new ChargeResult.NotMade(),
        }, SandboxMemory.Parse(entry.Reference));
    }

    private static Entry WithCard(Entry entry, CardDisplay card) => entry with
    {
        Brand = card.Brand, Last4 = card.Last4, ExpMonth = card.ExpMonth, ExpYear = card.ExpYear, Name = card.Name,
        Country = card.AddressCountry, PostCode = card.AddressPostCode,
    };

    private sealed record Entry(string Kind, string Key)
    {
        public string? Reference { get; init; }
        public string? DeclineCode { get; init; }
        public string? Message { get; init; }
        public string? Brand { get; init; }
        public string? Last4 { get; init; }
        public int ExpMonth { get; init; }
        public int ExpYear { get; init; }
        public string? Name { get; init; }
        public string? Country { get; init; }
        public string? PostCode { get; init; }
    }
}

/// <summary>
/// The sandbox's answers by idempotency key, each for <see cref="SandboxOptions.KeyRetention"/>, kept small, for it
/// holds one per charge and refund: a key is held as 128 bits of its SHA-256, a reference (<c>ch_…</c>, <c>re_…</c>)
/// as its 128 random bits, and a test token's charges share one card. About 100 bytes a key where the strings and
/// records took about 300.
/// </summary>
internal sealed class SandboxMemory(TimeProvider clock, TimeSpan retention)
{
    // A reference's 128 bits in base 36.
    private const int ReferenceLength = 25;

    // How often forgotten keys are swept out (on a write, by the writer that finds it due).
    private static readonly long SweepEvery = TimeSpan.FromMinutes(1).Ticks;

    private readonly ConcurrentDictionary<UInt128, Kept<ChargeResult>> charges = new();
    private readonly ConcurrentDictionary<UInt128, Kept<bool>> refunds = new();
    private long nextSweep;

    private long Now => clock.GetUtcNow().UtcTicks;

    /// <summary>Keys held, forgotten ones not yet swept out included (tests).</summary>
    internal int Held => charges.Count + refunds.Count;

    public int SucceededCharges => CountHeld(charges, static answer => answer is ChargeResult.Succeeded);

    public int SucceededRefunds => CountHeld(refunds, static made => made);

    /// <summary>The key as it is held: 128 bits of its SHA-256.</summary>
    public static UInt128 Id(string key)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    /// <summary>The answer kept under the key, or null.</summary>
    public ChargeResult? Charge(UInt128 id) =>
        charges.TryGetValue(id, out var kept) && kept.Until > Now ? Render(kept.Answer, kept.Reference) : null;

    /// <summary>
    /// The first answer under the key (this one when there is none), with its reference: <paramref name="reference"/>
    /// when given (a journal's line), a new random one otherwise.
    /// </summary>
    public ChargeResult KeepCharge(UInt128 id, ChargeResult result, UInt128? reference = null)
    {
        var kept = Keep(charges, id, result, reference ?? NewReference());
        return Render(kept.Answer, kept.Reference);
    }

    /// <summary>Whether a refund was answered under the key, and its reference (null: recorded as not made).</summary>
    public bool Refund(UInt128 id, out string? reference)
    {
        var found = refunds.TryGetValue(id, out var kept) && kept.Until > Now;
        reference = found && kept.Answer ? RefundReference(kept.Reference) : null;
        return found;
    }

    /// <summary>The first refund answer under the key (made or not; this one when there is none): its reference, or null.</summary>
    public string? KeepRefund(UInt128 id, bool made, UInt128? reference = null)
    {
        var kept = Keep(refunds, id, made, reference ?? NewReference());
        return kept.Answer ? RefundReference(kept.Reference) : null;
    }

    /// <summary>A new reference's 128 random bits.</summary>
    public static UInt128 NewReference()
    {
        Span<byte> bits = stackalloc byte[16];
        RandomNumberGenerator.Fill(bits);
        return BinaryPrimitives.ReadUInt128LittleEndian(bits);
    }

    /// <summary><paramref name="result"/> with <paramref name="reference"/> as its charge's (<c>ch_…</c>).</summary>
    public static ChargeResult Render(ChargeResult result, UInt128 reference) => result switch
    {
        ChargeResult.Succeeded succeeded => succeeded with { Reference = Format("ch", reference) },
        ChargeResult.RequiresAction action => action with { Reference = Format("ch", reference) },
        _ => result,
    };

    public static string RefundReference(UInt128 reference) => Format("re", reference);

    /// <summary>The bits of a reference this sandbox formatted (a journal's line); null for none.</summary>
    public static UInt128? Parse(string? reference) =>
        reference is null ? null : Ids.ReadBase36(reference.AsSpan(reference.IndexOf('_') + 1));

    private Kept<T> Keep<T>(ConcurrentDictionary<UInt128, Kept<T>> answers, UInt128 id, T answer, UInt128 reference)
    {
        var now = Now;
        Sweep(now);
        return answers.AddOrUpdate(
            id,
            static (_, arg) => arg.Kept,
            static (_, old, arg) => old.Until > arg.Now ? old : arg.Kept, // forgotten: this is the first answer again
            (Kept: new Kept<T>(answer, reference, now + retention.Ticks), Now: now));
    }

    // The answers still held (not forgotten) that count.
    private int CountHeld<T>(ConcurrentDictionary<UInt128, Kept<T>> answers, Func<T, bool> counts)
    {
        var now = Now;
        return answers.Values.Count(kept => kept.Until > now && counts(kept.Answer));
    }

    private void Sweep(long now)
    {
        var due = Interlocked.Read(ref nextSweep);
        if (now < due || Interlocked.CompareExchange(ref nextSweep, now + SweepEvery, due) != due)
        {
            return;
        }

        Forget(charges, now);
        Forget(refunds, now);
    }

    private static void Forget<T>(ConcurrentDictionary<UInt128, Kept<T>> answers, long now)
    {
        foreach (var pair in answers)
        {
            if (pair.Value.Until <= now)
            {
                answers.TryRemove(pair); // only if it was not answered anew meanwhile
            }
        }
    }

    private static string Format(string prefix, UInt128 reference) =>
        string.Create(prefix.Length + 1 + ReferenceLength, (prefix, reference), static (text, state) =>
        {
            state.prefix.CopyTo(text);
            text[state.prefix.Length] = '_';
            Ids.WriteBase36(text[(state.prefix.Length + 1)..], state.reference);
        });

    private readonly record struct Kept<T>(T Answer, UInt128 Reference, long Until);
}

using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Data.Sqlite;

namespace PaymentSlices.Api.Database;

/// <summary>
/// Group commit. SQLite has one writer at a time and one fsync per commit (<c>synchronous=FULL</c>), so every write
/// of the service goes through this queue: one writer thread takes what is queued (up to <see cref="MaxBatch"/>),
/// gives each waiting writer its turn inside one shared transaction, each turn under a savepoint of its own (a turn
/// that fails rolls back alone), commits once, and only then tells each writer that its writes are durable.
/// </summary>
/// <remarks>
/// A turn is handed over by completing the writer's task on the writer thread: its code (its SQL, which
/// Microsoft.Data.Sqlite runs synchronously) runs right there, with no thread hop and no wait on the thread pool,
/// until it signals the end of its turn. A turn must therefore do database work only: no processor call, no other
/// I/O. Should a turn go asynchronous anyway, the writer waits for it to end. Nothing ever waits on SQLite's
/// busy-sleep: there is one writing connection. WAL checkpoints (copying the log into the database file, with its
/// own fsync) run on a thread of their own, so that a batch's commit never carries one. But the log only goes back to
/// its beginning when a write begins while all of it is already in the database file, which a writer that never
/// pauses never sees: so once the log holds <see cref="RestartLogAfterPages"/>, the writer itself, between two batches
/// and after answering the first, copies what is left and waits for the readers still on the log (a RESTART
/// checkpoint), so that its next batch writes the log from its start again. Without it the log grows for as long as
/// the load lasts (hundreds of MB a minute), and every commit writes to new blocks of the file, which costs the file
/// system more than an overwrite.
/// </remarks>
public sealed partial class GroupCommit : IWriteTurns, IDisposable
{
    public const int MaxBatch = 256;

    // Run as the connection's kept statements (SqliteTransaction.Save and Release prepare their text on every call).
    private const string SaveTurn = "SAVEPOINT turn", ReleaseTurn = "RELEASE turn", RollbackTurn = "ROLLBACK TO turn";

    /// <summary>Commits between two checkpoints (SQLite's own default is one per 1,000 pages, inside a commit).</summary>
    private const int CheckpointEvery = 25;

    /// <summary>The log's length, in pages, past which the writer makes it start again from its beginning (SQLite's own autocheckpoint size).</summary>
    public const int RestartLogAfterPages = 1000;

    /// <summary>How long, in ms, the writer waits for the readers still on the log before it gives up a restart until the next try.</summary>
    private const int RestartWait = 50;

    private readonly ConcurrentQueue<SqliteWriteTurn> queue = new();
    private readonly SemaphoreSlim queued = new(0);
    private readonly SemaphoreSlim checkpointDue = new(0, 1);
    private readonly CancellationTokenSource stopping = new();
    private readonly DbConnectionFactory factory;
    private readonly ILogger<GroupCommit> logger;
    private readonly Lock startLock = new();
    private Thread? writer;
    private Thread? checkpointer;

    /// <summary>The meter of the writer's counters (<c>dotnet-counters monitor --counters PaymentSlices.GroupCommit</c>).</summary>
    public const string MeterName = "PaymentSlices.GroupCommit";

    public GroupCommit(DbConnectionFactory factory, ILogger<GroupCommit> logger, IMeterFactory meters)
    {
        this.factory = factory;
        this.logger = logger;

        // Read when a listener asks (dotnet-counters, an OpenTelemetry exporter): nothing is recorded per write. The rate
        // of busy_time is the writer's utilization: near 1, writes queue behind the one writer thread (queued says how
        // many); turns / commits is the batch size.
        var meter = meters.Create(MeterName);
        meter.CreateObservableCounter("paymentslices.group_commit.commits", () => Commits, "{commit}",
            "Batches committed, one fsync each.");
        meter.CreateObservableCounter("paymentslices.group_commit.turns", () => CommittedTurns, "{turn}",
            "Write turns (a request's or a background job's writes) in the committed batches.");
        meter.CreateObservableCounter("paymentslices.group_commit.busy_time", BusySeconds, "s",
            "Time the writer thread spent on batches (turns, commit and log restarts), the batch under way included; not waiting for writes.");
        meter.CreateObservableCounter("paymentslices.group_commit.commit_time", () => Seconds(ref commitTicks), "s",
            "Time the writer thread spent committing: writing the log and its fsync.");
        meter.CreateObservableGauge("paymentslices.group_commit.queued", () => queue.Count, "{turn}",
            "Write turns waiting for the writer thread.");
    }

    private static double Seconds(ref long ticks) => (double)Interlocked.Read(ref ticks) / Stopwatch.Frequency;

    // The busy time so far, with the batch under way: a writer stuck in a batch (an fsync that hangs) shows as busy.
    private double BusySeconds()
    {
        var started = Volatile.Read(ref batchStarted);
        var busy = Interlocked.Read(ref busyTicks);
        var ongoing = started == 0 ? 0 : Math.Max(0, Stopwatch.GetTimestamp() - started);
        return (double)(busy + ongoing) / Stopwatch.Frequency;
    }

    private void EndBusy(long began)
    {
        Interlocked.Add(ref busyTicks, Stopwatch.GetTimestamp() - began);
        Volatile.Write(ref batchStarted, 0);
    }

    /// <summary>Commits so far, and the turns they held: batch sizes for the benchmark and the tests.</summary>
    public long Commits => Interlocked.Read(ref commits);

    public long CommittedTurns => Interlocked.Read(ref committedTurns);

    private long commits;
    private long committedTurns;
    private long busyTicks;
    private long commitTicks;
    private long batchStarted; // the Stopwatch timestamp of the batch under way; 0 while the writer waits for work
    private int disposed;
    private int restartDue;

    /// <summary>
    /// Queues for a turn. The task completes, on the writer thread, when the turn begins; it fails with
    /// <see cref="OperationCanceledException"/> when <paramref name="refused"/> is cancelled while the turn still waits.
    /// </summary>
    public Task<WriteTurn> EnterAsync(CancellationToken refused)
    {
        EnsureStarted();
        var turn = new SqliteWriteTurn(refused);
        queue.Enqueue(turn);
        queued.Release();
        return turn.Started;
    }

    /// <summary>Has the writer restart the log after its next batch, as when the log passes <see cref="RestartLogAfterPages"/>: for the tests.</summary>
    internal void RequestLogRestart() => Volatile.Write(ref restartDue, 1);

    private void EnsureStarted()
    {
        if (writer is not null)
        {
            return;
        }

        lock (startLock)
        {
            if (writer is null)
            {
                // Not a pool thread: it blocks on SQLite's fsync, and must not wait behind request work for its turn.
                using (ExecutionContext.SuppressFlow())
                {
                    checkpointer = new Thread(Checkpoint) { IsBackground = true, Name = "PaymentSlices checkpointer" };
                    checkpointer.Start();
                    writer = new Thread(Run) { IsBackground = true, Name = "PaymentSlices writer" };
                    writer.Start();
                }
            }
        }
    }

    private void Run()
    {
        SqliteConnection? connection = null;
        var batch = new List<SqliteWriteTurn>(MaxBatch);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                queued.Wait(stopping.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            batch.Clear();
            var began = Stopwatch.GetTimestamp();
            Volatile.Write(ref batchStarted, began);
            try
            {
                connection ??= OpenWriter();
                RunBatch(connection, batch);
            }
            catch (Exception error)
            {
                // The commit (or the transaction itself) failed: none of the batch is durable. When it failed before it took
                // a turn (the connection could not be opened, BEGIN IMMEDIATE stayed busy), the turn whose signal woke it fails
                // with it: left queued, it would wait for a later turn's signal, and every turn after it one signal behind.
                if (batch.Count == 0 && queue.TryDequeue(out var first) && first.TryBegin())
                {
                    batch.Add(first);
                }

                LogBatchFailed(logger, batch.Count, error);
                Answer([.. batch], error);

                connection?.Dispose();
                connection = null;
                EndBusy(began);
                continue;
            }

            // Only here, with the batch's transaction ended (committed, or rolled back when every turn of it was): inside
            // it SQLite refuses a checkpoint as locked, and Microsoft.Data.Sqlite retries that for the command timeout.
            if (Interlocked.Exchange(ref restartDue, 0) == 1)
            {
                RestartLog(ref connection);
            }

            EndBusy(began);
        }

        connection?.Dispose();
    }

    /// <summary>One batch: the queued turns (up to <see cref="MaxBatch"/>) in one transaction, committed once, then answered.</summary>
    private void RunBatch(SqliteConnection connection, List<SqliteWriteTurn> batch)
    {
        using var transaction = connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE
        var first = true;
        while (batch.Count < MaxBatch && (first || queued.Wait(0)))
        {
            first = false;
            if (!queue.TryDequeue(out var turn))
            {
                break;
            }

            RunTurn(transaction, turn, batch);
        }

        if (batch.Count > 0)
        {
            var committing = Stopwatch.GetTimestamp();
            try
            {
                transaction.Commit(); // the one fsync of the batch
            }
            finally
            {
                Interlocked.Add(ref commitTicks, Stopwatch.GetTimestamp() - committing); // a failed or slow fsync counts too
            }

            Interlocked.Add(ref committedTurns, batch.Count); // before the commit count: a reader never sees a commit without its turns
            if (Interlocked.Increment(ref commits) % CheckpointEvery == 0 && checkpointDue.CurrentCount == 0)
            {
                checkpointDue.Release();
            }
        }

        Answer([.. batch], null);
    }

    /// <summary>
    /// Tells the writers of <paramref name="turns"/> that their writes are durable (or failed), on one pool thread for the
    /// whole batch rather than a pool item for each: each writer's code goes on there, in turn, up to its next wait (its
    /// answer sent, or its next turn queued). A work item each woke a pool thread each, and a woken thread spins before it
    /// sleeps again: on a small machine that cost more than the writers' own code after their commit (A/B on 2 cores:
    /// about 9% less CPU a charge or PayOrder). So no writer's code after a commit may block its thread: it would hold up
    /// the rest of its batch.
    /// </summary>
    /// <param name="turns">The writers to answer.</param>
    /// <param name="error">The batch's failure: each writer gets a <see cref="DbWriteFailedException"/> of its own around it.</param>
    private static void Answer(SqliteWriteTurn[] turns, Exception? error)
    {
        if (turns.Length == 0)
        {
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            foreach (var turn in state.turns)
            {
                if (state.error is null)
                {
                    turn.Durable.TrySetResult();
                    continue;
                }

                var failure = new DbWriteFailedException(state.error);
                if (!turn.FailStart(failure))
                {
                    turn.Durable.TrySetException(failure);
                }
            }
        }, (turns, error), preferLocal: false);
    }

    private SqliteConnection OpenWriter()
    {
        var connection = (SqliteConnection)factory.OpenAsync(CancellationToken.None).GetAwaiter().GetResult();
        using var command = connection.CreateCommand();
        // wal_autocheckpoint: the checkpointer thread does it. temp_store: the savepoint of each turn keeps the pages it
        // changes in a sub-journal, in memory rather than in a temporary file once it passes 64 KiB.
        command.CommandText = "PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY;";
        command.ExecuteNonQuery();
        return connection;
    }

    /// <summary>
    /// PASSIVE checkpoints on a connection of their own, every <see cref="CheckpointEvery"/> commits: they take no write
    /// lock, so the writer goes on committing meanwhile, and the log's pages reach the database file (fsynced here).
    /// </summary>
    private void Checkpoint()
    {
        SqliteConnection? connection = null;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                checkpointDue.Wait(stopping.Token);
                connection ??= (SqliteConnection)factory.OpenAsync(CancellationToken.None).GetAwaiter().GetResult();
                using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                using var result = command.ExecuteReader(); // busy, pages in the log, pages copied
                if (result.Read() && result.GetInt64(1) >= RestartLogAfterPages)
                {
                    Volatile.Write(ref restartDue, 1);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (SqliteException error)
            {
                LogCheckpointFailed(logger, error); // the next one copies what this one did not
                connection?.Dispose();
                connection = null;
            }
        }

        connection?.Dispose();
    }

    /// <summary>
    /// A RESTART checkpoint on the writer's connection, outside any batch: it copies the rest of the log, waits (SQLite's
    /// busy handler) until no reader still reads from the log, and so lets the next batch begin the log again from its
    /// start. The wait is bounded by <see cref="RestartWait"/>, not the connection's 5 s busy timeout: every write waits
    /// while the writer does, and a log that grows until the next try costs less. A failure only means the same.
    /// </summary>
    private void RestartLog(ref SqliteConnection? connection)
    {
        try
        {
            using var command = connection!.CreateCommand();
            command.CommandTimeout = 1; // Microsoft.Data.Sqlite's own retries of a busy statement, bounded too
            try
            {
                command.CommandText = $"PRAGMA busy_timeout = {RestartWait}; PRAGMA wal_checkpoint(RESTART);";
                command.ExecuteNonQuery(); // busy past the wait: a row saying so, not an error
            }
            finally
            {
                command.CommandText = SqliteConnectionFactory.BusyTimeoutPragma;
                command.ExecuteNonQuery();
            }
        }
        catch (SqliteException error)
        {
            // Nothing of the batches is at stake (they were answered); a writer connection left in doubt is opened again.
            LogCheckpointFailed(logger, error);
            connection?.Dispose();
            connection = null;
        }
    }

    /// <summary>One writer's turn under a savepoint; it stays in <paramref name="batch"/> when its writes are kept.</summary>
    private static void RunTurn(SqliteTransaction transaction, SqliteWriteTurn turn, List<SqliteWriteTurn> batch)
    {
        if (!turn.TryBegin())
        {
            return; // refused while it waited
        }

        batch.Add(turn); // from here on, a failure of the batch is this turn's failure too
        Execute(transaction, SaveTurn);
        turn.Give(transaction); // runs the writer's code here, until it ends its turn
        if (turn.WaitForEnd())
        {
            Execute(transaction, ReleaseTurn);
            return;
        }

        Execute(transaction, RollbackTurn);
        Execute(transaction, ReleaseTurn);
        batch.RemoveAt(batch.Count - 1);
        Answer([turn], null); // nothing of it to wait for
    }

    private static void Execute(SqliteTransaction transaction, string sql)
    {
        using var command = transaction.Connection!.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        // Registered both as itself and as IWriteTurns: the container disposes it once for each.
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        stopping.Cancel();
        writer?.Join(TimeSpan.FromSeconds(10));
        checkpointer?.Join(TimeSpan.FromSeconds(10));
        stopping.Dispose();
        queued.Dispose();
        checkpointDue.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A WAL checkpoint failed; the next one copies what it did not")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "A group commit of {Turns} writes failed; they were answered with an error")]
    private static partial void LogBatchFailed(ILogger logger, int turns, Exception exception);
}

/// <summary>One writer's place in a batch: begun by the writer thread, ended by the writer's code.</summary>
internal sealed class SqliteWriteTurn : WriteTurn
{
    private const int Waiting = 0, Begun = 1, Refused = 2;

    // Not RunContinuationsAsynchronously: the writer's code runs on the writer thread as soon as its turn begins.
    private readonly TaskCompletionSource<WriteTurn> started = new();
    private readonly TaskCompletionSource<bool> ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenRegistration refusal;
    private SqliteTransaction? transaction;
    private int state;

    internal SqliteWriteTurn(CancellationToken refused)
    {
        if (refused.CanBeCanceled)
        {
            refusal = refused.Register(() =>
            {
                if (Interlocked.CompareExchange(ref state, Refused, Waiting) == Waiting)
                {
                    started.TrySetCanceled(refused);
                }
            });
        }
    }

    internal Task<WriteTurn> Started => started.Task;

    /// <summary>Completed once the batch holding this turn's writes has committed (or the turn was rolled back).</summary>
    /// <remarks>Its writer's code goes on where it is completed: only ever on a pool thread (<see cref="GroupCommit"/>'s Answer), never the writer thread.</remarks>
    internal TaskCompletionSource Durable { get; } = new();

    /// <summary>The batch's transaction, while the turn lasts.</summary>
    public override DbTransaction Transaction => transaction!;

    internal bool TryBegin()
    {
        var begun = Interlocked.CompareExchange(ref state, Begun, Waiting) == Waiting;
        refusal.Dispose();
        return begun;
    }

    internal void Give(SqliteTransaction batchTransaction)
    {
        transaction = batchTransaction;
        started.SetResult(this);
    }

    /// <summary>
    /// Fails a turn whose batch failed before its writer's code began (its savepoint, or the batch's BEGIN): true. False
    /// when that code had begun; it then hears of the failure when its writes are answered (<see cref="Durable"/>).
    /// </summary>
    internal bool FailStart(Exception error) => started.TrySetException(error);

    internal bool WaitForEnd()
    {
        return ended.Task.GetAwaiter().GetResult(); // at once, unless the turn went asynchronous
    }

    /// <summary>Ends the turn: its writes stay in the batch (<paramref name="keep"/>) or are rolled back to its savepoint.</summary>
    public override Task EndAsync(bool keep)
    {
        transaction = null;
        ended.SetResult(keep);
        return Durable.Task;
    }
}

/// <summary>The batch these writes were in did not commit: nothing of them was written.</summary>
public sealed class DbWriteFailedException(Exception inner) : Exception("The database did not commit the write.", inner);

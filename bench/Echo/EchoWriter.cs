using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

/// <summary>
/// The group commit the echo app's durable routes use, run as the service's (<c>GroupCommit</c>) is: one writer thread,
/// woken by a semaphore, takes the queued turns (up to 256, and those that arrive while it runs them) into one
/// <c>BEGIN IMMEDIATE</c> transaction, commits them with one fsync (WAL, <c>synchronous=FULL</c>), and completes them
/// from one pool work item. No checkpoint runs inside a commit: a thread of its own runs PASSIVE checkpoints every 25
/// commits, and once the log holds 1,000 pages the writer restarts it between two batches. With <c>savepoints</c>,
/// each turn runs inside a savepoint of its own and a failing one rolls back alone; without, a failure fails the batch.
/// </summary>
internal sealed class EchoWriter : IDisposable
{
    private const int MaxBatch = 256;
    private const int CheckpointEvery = 25;
    private const int RestartLogAfterPages = 1000;

    private readonly ConcurrentQueue<Turn> queue = new();
    private readonly SemaphoreSlim queued = new(0);
    private readonly SemaphoreSlim checkpointDue = new(0, 1);
    private readonly CancellationTokenSource stopping = new();
    private readonly string connectionString;
    private readonly SqliteConnection connection;
    private readonly List<SqliteCommand> commands = [];
    private readonly SqliteCommand? savepoint;
    private readonly SqliteCommand? release;
    private readonly SqliteCommand? rollbackTo;
    private readonly Thread writer;
    private readonly Thread checkpointer;
    private long commits;
    private int restartDue;
    private bool started;

    public EchoWriter(string path, string schema, bool savepoints, string name)
    {
        connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        connection = new SqliteConnection(connectionString);
        connection.Open();
        using (var setup = connection.CreateCommand())
        {
            setup.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0; " +
                "PRAGMA temp_store = MEMORY; " + schema;
            setup.ExecuteNonQuery();
        }

        if (savepoints)
        {
            savepoint = Prepare("SAVEPOINT turn");
            release = Prepare("RELEASE turn");
            rollbackTo = Prepare("ROLLBACK TO turn");
        }

        writer = new Thread(Run) { IsBackground = true, Name = name };
        checkpointer = new Thread(Checkpoint) { IsBackground = true, Name = name + " checkpointer" };
    }

    /// <summary>A statement kept prepared on the writer's connection, before <see cref="Start"/>; only turns run it.</summary>
    public SqliteCommand Prepare(string sql, params string[] parameters)
    {
        if (started)
        {
            throw new InvalidOperationException("Statements are prepared before the writer starts.");
        }

        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = parameter });
        }

        command.Prepare();
        commands.Add(command);
        return command;
    }

    /// <summary>Starts the writer thread, once the statements are prepared.</summary>
    public void Start()
    {
        started = true;
        checkpointer.Start();
        writer.Start();
    }

    /// <summary>Completes once the turn is committed; fails with its own error, or its batch's.</summary>
    public Task RunAsync(Action turn)
    {
        if (stopping.IsCancellationRequested)
        {
            return Task.FromException(new ObjectDisposedException(nameof(EchoWriter)));
        }

        // Continuations run on the pool item that completes the batch, up to their next wait, as in the service.
        var pending = new Turn(turn, new TaskCompletionSource());
        queue.Enqueue(pending);
        queued.Release();
        return pending.Committed.Task;
    }

    /// <summary>Stops after the batch under way; what is still queued fails.</summary>
    public void Dispose()
    {
        stopping.Cancel();
        foreach (var thread in new[] { writer, checkpointer }.Where(thread => thread.IsAlive))
        {
            thread.Join(TimeSpan.FromSeconds(10));
        }

        Complete([.. queue], new ObjectDisposedException(nameof(EchoWriter)));
        commands.ForEach(command => command.Dispose());
        connection.Dispose();
    }

    private void Run()
    {
        var batch = new List<Turn>(MaxBatch);
        while (true)
        {
            try
            {
                queued.Wait(stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            batch.Clear();
            try
            {
                RunBatch(batch);
            }
            catch (Exception failed)
            {
                Complete([.. batch], failed);
                continue;
            }

            if (Interlocked.Exchange(ref restartDue, 0) == 1)
            {
                RestartLog();
            }
        }
    }

    private void RunBatch(List<Turn> batch)
    {
        using (var transaction = connection.BeginTransaction(deferred: false))
        {
            commands.ForEach(command => command.Transaction = transaction);
            var first = true;
            while (batch.Count < MaxBatch && (first || queued.Wait(0)) && queue.TryDequeue(out var turn))
            {
                first = false;
                batch.Add(turn);
                RunTurn(turn);
            }

            transaction.Commit();
        }

        if (++commits % CheckpointEvery == 0 && checkpointDue.CurrentCount == 0)
        {
            checkpointDue.Release();
        }

        Complete([.. batch], failure: null);
    }

    private void RunTurn(Turn turn)
    {
        if (savepoint is null)
        {
            turn.Work(); // a failure fails the batch
            return;
        }

        savepoint.ExecuteNonQuery();
        try
        {
            turn.Work();
        }
        catch (Exception failed)
        {
            rollbackTo!.ExecuteNonQuery();
            turn.Failure = failed;
        }

        release!.ExecuteNonQuery();
    }

    // PASSIVE checkpoints on a connection of their own: no write lock, so the writer goes on committing meanwhile.
    private void Checkpoint()
    {
        using var own = new SqliteConnection(connectionString);
        own.Open();
        using var command = own.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        while (true)
        {
            try
            {
                checkpointDue.Wait(stopping.Token);
                using var result = command.ExecuteReader(); // busy, pages in the log, pages copied
                if (result.Read() && result.GetInt64(1) >= RestartLogAfterPages)
                {
                    Volatile.Write(ref restartDue, 1);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SqliteException)
            {
                // the next one copies what this one did not
            }
        }
    }

    // Between two batches: copies the rest of the log and starts it again from its beginning, waiting 50 ms at most.
    private void RestartLog()
    {
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout = 50; PRAGMA wal_checkpoint(RESTART); PRAGMA busy_timeout = 5000;";
            command.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // tried again once the log has grown by as much
        }
    }

    private static void Complete(Turn[] batch, Exception? failure)
    {
        if (batch.Length == 0)
        {
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(
            turns =>
            {
                foreach (var turn in turns)
                {
                    if ((failure ?? turn.Failure) is { } failed)
                    {
                        turn.Committed.TrySetException(failed);
                    }
                    else
                    {
                        turn.Committed.TrySetResult();
                    }
                }
            },
            batch,
            preferLocal: false);
    }

    private sealed record Turn(Action Work, TaskCompletionSource Committed)
    {
        public Exception? Failure { get; set; }
    }
}

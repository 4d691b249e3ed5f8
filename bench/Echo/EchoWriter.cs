using System.Threading.Channels;
using Microsoft.Data.Sqlite;

/// <summary>
/// The group commit the echo app's durable routes share: one writer thread takes what is queued (up to 256 turns), runs
/// each turn, commits them in one transaction and one fsync (WAL, <c>synchronous=FULL</c>), and only then completes them,
/// all in one pool work item, as the service answers a batch. With <c>savepoints</c>, each turn runs inside a savepoint of
/// its own and a failing one rolls back alone, as the service's turns do; without, a failure fails the batch.
/// </summary>
internal sealed class EchoWriter : IDisposable
{
    private const int MaxBatch = 256;

    private readonly Channel<Turn> queue = Channel.CreateUnbounded<Turn>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqliteConnection connection;
    private readonly List<SqliteCommand> commands = [];
    private readonly SqliteCommand? savepoint;
    private readonly SqliteCommand? release;
    private readonly SqliteCommand? rollbackTo;
    private readonly Thread writer;

    public EchoWriter(string path, string schema, bool savepoints, string name)
    {
        connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using (var setup = connection.CreateCommand())
        {
            setup.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; " + schema;
            setup.ExecuteNonQuery();
        }

        if (savepoints)
        {
            savepoint = Prepare("SAVEPOINT turn");
            release = Prepare("RELEASE turn");
            rollbackTo = Prepare("ROLLBACK TO turn");
        }

        writer = new Thread(Run) { IsBackground = true, Name = name };
    }

    /// <summary>A statement kept prepared on the writer's connection; only turns (on the writer thread) run it.</summary>
    public SqliteCommand Prepare(string sql, params string[] parameters)
    {
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
    public void Start() => writer.Start();

    /// <summary>Completes once the turn is committed.</summary>
    public Task RunAsync(Action turn)
    {
        // Continuations run on the pool item that completes the batch, up to their next wait, as in the service.
        var pending = new Turn(turn, new TaskCompletionSource());
        queue.Writer.TryWrite(pending);
        return pending.Committed.Task;
    }

    /// <summary>Commits what is queued, then closes the database.</summary>
    public void Dispose()
    {
        queue.Writer.TryComplete();
        if (writer.IsAlive)
        {
            writer.Join();
        }

        commands.ForEach(command => command.Dispose());
        connection.Dispose();
    }

    private void Run()
    {
        var batch = new List<Turn>(MaxBatch);
        while (queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            try
            {
                using (var transaction = connection.BeginTransaction())
                {
                    commands.ForEach(command => command.Transaction = transaction);
                    foreach (var turn in batch)
                    {
                        RunTurn(turn);
                    }

                    transaction.Commit();
                }

                Complete([.. batch], failure: null);
            }
            catch (SqliteException failed)
            {
                Complete([.. batch], failed);
            }

            batch.Clear();
        }
    }

    private void RunTurn(Turn turn)
    {
        if (savepoint is null)
        {
            turn.Work();
            return;
        }

        savepoint.ExecuteNonQuery();
        try
        {
            turn.Work();
        }
        catch (SqliteException failed)
        {
            rollbackTo!.ExecuteNonQuery();
            turn.Failure = failed;
        }

        release!.ExecuteNonQuery();
    }

    private static void Complete(Turn[] batch, SqliteException? failure) => ThreadPool.UnsafeQueueUserWorkItem(
        turns =>
        {
            foreach (var turn in turns)
            {
                if ((failure ?? turn.Failure) is { } failed)
                {
                    turn.Committed.SetException(failed);
                }
                else
                {
                    turn.Committed.SetResult();
                }
            }
        },
        batch,
        preferLocal: false);

    private sealed record Turn(Action Work, TaskCompletionSource Committed)
    {
        public SqliteException? Failure { get; set; }
    }
}

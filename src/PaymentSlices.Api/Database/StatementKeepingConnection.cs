using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace PaymentSlices.Api.Database;

/// <summary>
/// A SQLite connection that keeps each statement it has prepared, for the life of the connection. Microsoft.Data.Sqlite
/// keeps a statement prepared only inside the <see cref="SqliteCommand"/> that prepared it, and Dapper makes a command
/// for every query, so every query was parsed and planned again (a fifth of the service's CPU under load). Here the
/// commands Dapper makes (<see cref="DbConnection.CreateCommand"/>) are stand-ins that run on one kept
/// <see cref="SqliteCommand"/> per SQL text: parsed once per connection, then only bound and stepped. Meant for the
/// service's long-lived connections: the group-commit writer, and the read connections the factory keeps.
/// </summary>
/// <remarks>
/// A connection is used by one caller at a time (a request's session, or the writer thread), as every ADO.NET
/// connection is. A text whose kept command is still running (a reader of it still open) runs on a command of its own.
/// </remarks>
public sealed class StatementKeepingConnection(string connectionString, StrongBox<long> prepared) : SqliteConnection(connectionString)
{
    /// <summary>Distinct texts kept per connection; a list parameter expanded by Dapper makes one text per length, so there is a bound.</summary>
    private const int MaxKept = 256;

    private readonly Dictionary<string, KeptStatement> kept = new(StringComparer.Ordinal);

    protected override DbCommand CreateDbCommand() => new KeptStatementCommand(this);

    /// <summary>The kept command for <paramref name="sql"/>, marked in use; null when it is in use already or none can be kept.</summary>
    internal KeptStatement? Take(string sql)
    {
        if (!kept.TryGetValue(sql, out var statement))
        {
            if (kept.Count >= MaxKept)
            {
                return null;
            }

            statement = new KeptStatement(new SqliteCommand(sql, this));
            kept.Add(sql, statement);
            Interlocked.Increment(ref prepared.Value); // counted for the factory (tests, bench)
        }

        if (statement.InUse)
        {
            return null;
        }

        statement.InUse = true;
        taken++;
        return statement;
    }

    /// <summary>Hands a kept command back (its stand-in was disposed).</summary>
    internal void Return(KeptStatement statement)
    {
        statement.InUse = false;
        taken--;
    }

    /// <summary>True when no command of it is taken, kept or fresh: the connection can go to another caller.</summary>
    internal bool Idle => taken == 0;

    private int taken;

    /// <summary>A command of its own, prepared for one run; taken until <see cref="Discard"/>.</summary>
    internal SqliteCommand Fresh(string sql)
    {
        Interlocked.Increment(ref prepared.Value);
        taken++;
        return new SqliteCommand(sql, this);
    }

    /// <summary>Disposes a command from <see cref="Fresh"/> (its stand-in was disposed).</summary>
    internal void Discard(SqliteCommand fresh)
    {
        fresh.Dispose();
        taken--;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var statement in kept.Values)
            {
                statement.Command.Dispose();
            }

            kept.Clear();
        }

        base.Dispose(disposing);
    }
}

/// <summary>A kept command, whether a caller is running it, and the columns of its results as they were learned.</summary>
internal sealed class KeptStatement(SqliteCommand command)
{
    private ResultColumns[] results = [];

    // Each parameter name as the statement spells it, by the name it is given under (Dapper gives "Id" for "@Id").
    private readonly Dictionary<string, string> parameterNames = new(StringComparer.Ordinal);

    public SqliteCommand Command { get; } = command;

    public bool InUse { get; set; }

    /// <summary>
    /// <paramref name="name"/> with the statement's "@" when it has none and the statement has "@name". Microsoft.Data.Sqlite
    /// finds an unprefixed name by looking up the name, then "@name", "$name" and ":name" (each a new string and a call into
    /// SQLite), on every run; a prefixed name is one lookup.
    /// </summary>
    public string ParameterName(string name)
    {
        if (name.Length == 0 || name[0] is '@' or '$' or ':')
        {
            return name;
        }

        if (!parameterNames.TryGetValue(name, out var spelled))
        {
            var prefixed = "@" + name;
            spelled = ContainsParameter(Command.CommandText, prefixed) ? prefixed : name;
            parameterNames.Add(name, spelled);
        }

        return spelled;
    }

    // "@Id" in the text as a whole name: not followed by a character that would make it another one ("@IdempotencyKey").
    private static bool ContainsParameter(string text, string parameter)
    {
        for (var at = text.IndexOf(parameter, StringComparison.Ordinal); at >= 0; at = text.IndexOf(parameter, at + 1, StringComparison.Ordinal))
        {
            var end = at + parameter.Length;
            if (end == text.Length || !(char.IsLetterOrDigit(text[end]) || text[end] == '_'))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The columns of the statement's result set number <paramref name="result"/> (0 for the first).</summary>
    public ResultColumns Columns(int result, SqliteDataReader reader)
    {
        if (result >= results.Length)
        {
            Array.Resize(ref results, result + 1);
        }

        return results[result] ??= new ResultColumns(reader.FieldCount);
    }
}

/// <summary>The names and .NET types of one result set's columns, filled as they are first asked.</summary>
internal sealed class ResultColumns(int count)
{
    public int Count { get; } = count;

    public string?[] Names { get; } = new string?[count];

    public Type?[] Types { get; } = new Type?[count];
}

/// <summary>
/// What Dapper sees as its command: it collects the text, the parameters and the transaction, and runs them on the
/// connection's kept command for that text (or on a fresh one when that is busy). Disposing it hands the kept command back.
/// </summary>
internal sealed class KeptStatementCommand(StatementKeepingConnection connection) : DbCommand
{
    // Only for its parameter collection (whose constructor is not public); it never runs.
    private readonly SqliteCommand parameters = new();
    private KeptStatement? running;
    private SqliteCommand? fresh;

    [AllowNull]
    public override string CommandText { get; set; } = "";

    public override int CommandTimeout { get; set; } = connection.DefaultTimeout;

    public override CommandType CommandType
    {
        get => CommandType.Text;
        set
        {
            if (value != CommandType.Text)
            {
                throw new ArgumentException("SQLite runs text commands only.", nameof(value));
            }
        }
    }

    public override bool DesignTimeVisible { get; set; }

    public override UpdateRowSource UpdatedRowSource { get; set; }

    protected override DbConnection? DbConnection
    {
        get => connection;
        set => throw new NotSupportedException("A kept statement stays on its connection.");
    }

    protected override DbParameterCollection DbParameterCollection => parameters.Parameters;

    protected override DbTransaction? DbTransaction { get; set; }

    public override void Cancel()
    {
    }

    public override void Prepare()
    {
    }

    protected override DbParameter CreateDbParameter() => new SqliteParameter();

    protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior)
    {
        var reader = Ready().ExecuteReader(behavior);
        return running is { } statement ? new KeptStatementReader(reader, statement) : reader;
    }

    public override int ExecuteNonQuery() => Ready().ExecuteNonQuery();

    public override object? ExecuteScalar() => Ready().ExecuteScalar();

    /// <summary>The command to run: the kept one for the text (taken until this is disposed), with this one's parameters and transaction.</summary>
    private SqliteCommand Ready()
    {
        var command = running?.Command;
        if (command is null || command.CommandText != CommandText)
        {
            Release();
            running = connection.Take(CommandText);
            command = running?.Command ?? (fresh = connection.Fresh(CommandText));
        }

        command.Transaction = (SqliteTransaction?)DbTransaction;
        command.CommandTimeout = CommandTimeout;
        command.Parameters.Clear();
        foreach (SqliteParameter parameter in parameters.Parameters)
        {
            if (running is { } statement)
            {
                parameter.ParameterName = statement.ParameterName(parameter.ParameterName);
            }

            command.Parameters.Add(parameter);
        }

        return command;
    }

    private void Release()
    {
        if (running is { } statement)
        {
            statement.Command.Parameters.Clear(); // the values are the caller's; do not keep them alive
            statement.Command.Transaction = null;
            connection.Return(statement);
            running = null;
        }

        if (fresh is not null)
        {
            connection.Discard(fresh);
            fresh = null;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Release();
            parameters.Dispose();
        }

        base.Dispose(disposing);
    }
}

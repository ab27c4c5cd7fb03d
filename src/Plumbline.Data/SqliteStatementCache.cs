using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Plumbline.Data;

/// <summary>
/// Prepared statements kept for the life of a long-lived SQLite connection (the queue's writer connection, opened by
/// <see cref="OpenLongLived"/>): EF creates a new command for every statement it sends, and Microsoft.Data.Sqlite
/// parses and prepares a command's SQL again for each new command object. Under 200 annotators that preparing was
/// a fifth of the server's CPU, inside the single-writer section (docs/benchmarks.md, "Work queue").
/// </summary>
/// <remarks>
/// The interceptor hands EF a thin command for connections opened here; the command picks, when EF sets its text, a
/// <see cref="SqliteCommand"/> kept per SQL text, whose prepared statements survive between uses (they are reset,
/// not finalized, when its reader closes). EF still builds, logs and intercepts every command as before, so a
/// command counter sees them all. Other connections are untouched.
/// </remarks>
public sealed class SqliteStatementCache : DbCommandInterceptor
{
    public static readonly SqliteStatementCache Instance = new();

    private static readonly ConditionalWeakTable<DbConnection, Statements> Cached = new();

    /// <summary>Opens a connection whose commands keep their prepared statements; the pragmas of every connection apply.</summary>
    public static SqliteConnection OpenLongLived(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        using (var pragmas = connection.CreateCommand())
        {
            pragmas.CommandText = SqlitePragmas.Statements;
            pragmas.ExecuteNonQuery();
        }
        SqlitePragmas.MarkConfigured(connection);
        Cached.Add(connection, new Statements(connection));
        return connection;
    }

    public override InterceptionResult<DbCommand> CommandCreating(CommandCorrelatedEventData eventData, InterceptionResult<DbCommand> result) =>
        Cached.TryGetValue(eventData.Connection, out var statements)
            ? InterceptionResult<DbCommand>.SuppressWithResult(new ReusedCommand(statements))
            : result;

    /// <summary>One idle command per SQL text; a text in use twice at once gets a fresh command for the second use.</summary>
    private sealed class Statements(SqliteConnection connection)
    {
        private readonly ConcurrentDictionary<string, SqliteCommand> idle = new(StringComparer.Ordinal);

        public SqliteConnection Connection => connection;

        public SqliteCommand Rent(string sql)
        {
            if (idle.TryRemove(sql, out var command))
            {
                command.Parameters.Clear();
                return command;
            }
            return new SqliteCommand(sql, connection);
        }

        public void Return(SqliteCommand command)
        {
            command.Parameters.Clear();
            command.Transaction = null;
            if (!idle.TryAdd(command.CommandText, command))
            {
                command.Dispose();
            }
        }
    }

    /// <summary>The command EF sees: each member goes to the kept command for its current text.</summary>
    private sealed class ReusedCommand(Statements statements) : DbCommand
    {
        private SqliteCommand? inner;
        private SqliteTransaction? transaction;
        private int? timeout;

        private SqliteCommand Inner => inner ?? throw new InvalidOperationException("set the command text first");

        [AllowNull]
        public override string CommandText
        {
            get => inner?.CommandText ?? "";
            set
            {
                if (inner is not null)
                {
                    if (inner.CommandText == value)
                    {
                        return;
                    }
                    statements.Return(inner);
                }
                inner = statements.Rent(value ?? "");
                inner.Transaction = transaction;
                if (timeout is { } seconds)
                {
                    inner.CommandTimeout = seconds;
                }
            }
        }

        public override int CommandTimeout
        {
            get => inner?.CommandTimeout ?? timeout ?? 30;
            set
            {
                timeout = value;
                inner?.CommandTimeout = value;
            }
        }

        public override CommandType CommandType
        {
            get => CommandType.Text;
            set
            {
                if (value != CommandType.Text)
                {
                    throw new ArgumentException("only text commands are kept", nameof(value));
                }
            }
        }

        public override bool DesignTimeVisible { get; set; }

        public override UpdateRowSource UpdatedRowSource { get; set; }

        protected override DbConnection? DbConnection
        {
            get => statements.Connection;
            set
            {
                if (value is not null && !ReferenceEquals(value, statements.Connection))
                {
                    throw new InvalidOperationException("a kept command stays on its connection");
                }
            }
        }

        protected override DbParameterCollection DbParameterCollection => Inner.Parameters;

        protected override DbTransaction? DbTransaction
        {
            get => transaction;
            set
            {
                transaction = (SqliteTransaction?)value;
                inner?.Transaction = transaction;
            }
        }

        public override void Cancel() => inner?.Cancel();

        protected override DbParameter CreateDbParameter() => new SqliteParameter();

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) => Inner.ExecuteReader(behavior);

        public override int ExecuteNonQuery() => Inner.ExecuteNonQuery();

        public override object? ExecuteScalar() => Inner.ExecuteScalar();

        public override void Prepare() => Inner.Prepare();

        protected override void Dispose(bool disposing)
        {
            if (disposing && inner is not null)
            {
                statements.Return(inner);
                inner = null;
            }
            base.Dispose(disposing);
        }
    }
}

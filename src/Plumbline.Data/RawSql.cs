using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Plumbline.Data;

/// <summary>
/// Hand-written SQL read the way <c>ExecuteSqlRaw</c> writes: one command built from the text and its
/// <c>{0}</c>-style parameters, sent through the context's connection, transaction and interceptors.
/// </summary>
/// <remarks>
/// <c>SqlQueryRaw</c> and <c>FromSqlRaw</c> make a LINQ query of the SQL and take it through EF's query pipeline
/// (expression funcletizing, query cache, command template, materializer) on every execution. The queue's hot path
/// sends about a dozen statements per submit one at a time under SQLite's single writer, so that pipeline was paid a
/// dozen times in the serial section (docs/benchmarks.md, "Work queue").
/// </remarks>
public static class RawSql
{
    /// <summary>Runs <paramref name="sql"/> and returns its reader; dispose it before the next command.</summary>
    public static Task<RelationalDataReader> ReadAsync(this PlumblineDbContext db, string sql, object[] parameters, CancellationToken ct)
    {
        var facade = ((IDatabaseFacadeDependenciesAccessor)db.Database).Dependencies as IRelationalDatabaseFacadeDependencies
            ?? throw new InvalidOperationException("RawSql needs a relational provider");
        var command = facade.RawSqlCommandBuilder.Build(sql, parameters, db.Model);
        return command.RelationalCommand.ExecuteReaderAsync(new RelationalCommandParameterObject(
            facade.RelationalConnection, command.ParameterValues, null, db, facade.CommandLogger, CommandSource.FromSqlQuery), ct);
    }

    /// <summary>The first column of the first row as a long, or null when there is no row (or it is NULL).</summary>
    public static async Task<long?> ScalarInt64Async(this PlumblineDbContext db, string sql, object[] parameters, CancellationToken ct)
    {
        await using var reader = await db.ReadAsync(sql, parameters, ct);
        return await reader.ReadAsync(ct) && !reader.DbDataReader.IsDBNull(0) ? reader.DbDataReader.GetInt64(0) : null;
    }

    /// <summary>A time read back as UTC, the kind every stored time has (SQLite forgets it).</summary>
    public static DateTime GetUtcDateTime(this System.Data.Common.DbDataReader reader, int ordinal) =>
        DateTime.SpecifyKind(reader.GetDateTime(ordinal), DateTimeKind.Utc);
}

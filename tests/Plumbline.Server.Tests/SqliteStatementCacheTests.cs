using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;
using SQLitePCL;

namespace Plumbline.Server.Tests;

/// <summary>
/// The SQLite writer connection keeps the prepared statements of the commands EF sends on it, which is what makes the
/// queue's serial section cheap (docs/benchmarks.md, "Cheaper statements under the writer gate").
/// </summary>
public class SqliteStatementCacheTests
{
    [Fact]
    public async Task LongLivedConnection_SameSqlTwiceThroughEf_OneStatementPreparedAndKept()
    {
        using var app = new TestApp("sqlite");
        await using var db = app.NewDbContext();
        var ownConnection = db.Database.GetConnectionString()!;
        using var connection = SqliteStatementCache.OpenLongLived(ownConnection);
        connection.Handle!.enable_sqlite3_next_stmt(true);
        db.Database.SetDbConnection(connection, contextOwnsConnection: false);
        const string sql = "SELECT count(*) AS \"Value\" FROM items WHERE id > {0}";

        var all = await db.Database.SqlQueryRaw<long>(sql, 0L).ToListAsync(TestContext.Current.CancellationToken);
        var kept = Statements(connection, "SELECT count(*)");
        var again = await db.Database.SqlQueryRaw<long>(sql, 0L).ToListAsync(TestContext.Current.CancellationToken);

        again.ShouldBe(all, "a reused statement is reset and bound afresh");
        kept.Count.ShouldBe(1, "the statement outlives the command EF disposed");
        Statements(connection, "SELECT count(*)").ShouldBe(kept, "the second run reused the statement the first prepared");
        // The pragmas every connection gets apply to this one too.
        using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA synchronous";
        Convert.ToInt64(check.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture).ShouldBe(2, "synchronous=FULL");
    }

    [Fact]
    public async Task OrdinaryConnection_StatementsAreNotKept()
    {
        using var app = new TestApp("sqlite");
        await using var db = app.NewDbContext();
        await db.Database.OpenConnectionAsync(TestContext.Current.CancellationToken);
        var connection = (SqliteConnection)db.Database.GetDbConnection();
        connection.Handle!.enable_sqlite3_next_stmt(true);

        await db.Database.SqlQueryRaw<long>("SELECT count(*) AS \"Value\" FROM items", []).ToListAsync(TestContext.Current.CancellationToken);

        Statements(connection, "SELECT count(*)").ShouldBeEmpty("only the writer connection keeps statements");
    }

    /// <summary>The native statements alive on the connection whose SQL contains <paramref name="fragment"/>.</summary>
    private static List<IntPtr> Statements(SqliteConnection connection, string fragment)
    {
        var found = new List<IntPtr>();
        for (var statement = raw.sqlite3_next_stmt(connection.Handle, null); statement is not null; statement = raw.sqlite3_next_stmt(connection.Handle, statement))
        {
            if (raw.sqlite3_sql(statement).utf8_to_string().Contains(fragment, StringComparison.Ordinal))
            {
                found.Add(statement.DangerousGetHandle());
            }
        }
        return found;
    }
}

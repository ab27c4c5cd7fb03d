using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;

namespace Plumbline.Data;

public static class DataServiceCollectionExtensions
{
    /// <summary>
    /// Registers both providers' contexts and <see cref="PlumblineDbContext"/>, which resolves to the one the
    /// <see cref="DatabaseSettings"/> singleton names. The settings are read when first needed, so a host (or a
    /// test) can replace them after this call.
    /// </summary>
    public static IServiceCollection AddPlumblineData(this IServiceCollection services, Func<IServiceProvider, DatabaseSettings> settings)
    {
        SqliteThreading.UseMultiThread();
        services.AddSingleton(settings);
        services.AddDbContextPool<SqliteDbContext>((sp, o) => o
            .UseSqlite(sp.GetRequiredService<DatabaseSettings>().ConnectionString)
            .AddInterceptors(SqlitePragmas.Instance, SqliteStatementCache.Instance)
            .AddInterceptors(sp.GetServices<IInterceptor>()));
        services.AddDbContextPool<PostgresDbContext>((sp, o) => o
            .UseNpgsql(PostgresConnectionString(sp.GetRequiredService<DatabaseSettings>().ConnectionString))
            .AddInterceptors(sp.GetServices<IInterceptor>()));
        services.AddScoped<PlumblineDbContext>(sp => sp.GetRequiredService<DatabaseSettings>().Provider == DatabaseProvider.Sqlite
            ? sp.GetRequiredService<SqliteDbContext>()
            : sp.GetRequiredService<PostgresDbContext>());
        return services;
    }

    /// <summary>
    /// Npgsql prepares the statements a connection runs most (<c>Max Auto Prepare</c>) when the connection string
    /// does not say otherwise: the queue runs the same few statements on every request, and a prepared statement
    /// skips parsing and planning on the server.
    /// </summary>
    public static string PostgresConnectionString(string connectionString)
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase)
            && !connectionString.Contains("MaxAutoPrepare", StringComparison.OrdinalIgnoreCase))
        {
            builder.MaxAutoPrepare = 64;
        }
        return builder.ConnectionString;
    }

    /// <summary>Applies the provider's migrations; SQLite is switched to WAL once, here.</summary>
    public static async Task MigrateAsync(this PlumblineDbContext db, CancellationToken ct = default)
    {
        if (db.IsPostgres)
        {
            // Npgsql's migrator reads the history table without checking that it exists and logs the failure as
            // an error on every first start (npgsql/efcore.pg#3407); creating it first, with EF's own script, keeps
            // a new user's first log clean.
            try
            {
                await db.Database.ExecuteSqlRawAsync(db.GetService<IHistoryRepository>().GetCreateIfNotExistsScript(), ct);
            }
            catch (DbException)
            {
                // Another node created it at the same moment: MigrateAsync below copes either way.
            }
        }
        await db.Database.MigrateAsync(ct);
        if (!db.IsPostgres)
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        }
    }
}

/// <summary>
/// SQLite's multi-thread mode for this process. The bundled library defaults to serialized mode, which locks a mutex
/// around every API call so one connection can be shared between threads; ADO.NET connections and EF contexts are
/// never used by two threads at once, so the lock only costs: reading a release made two mutex calls per column
/// read, 6 % of its CPU (docs/benchmarks.md). The mode can only be set before SQLite is first used; when something
/// opened a connection earlier, SQLite stays serialized, which is also correct.
/// </summary>
internal static class SqliteThreading
{
    private static int configured;

    public static void UseMultiThread()
    {
        if (Interlocked.Exchange(ref configured, 1) == 0)
        {
            SQLitePCL.Batteries_V2.Init();
            _ = SQLitePCL.raw.sqlite3_config(SQLitePCL.raw.SQLITE_CONFIG_MULTITHREAD);
        }
    }
}

/// <summary>
/// Per-connection SQLite settings, set in one place: wait for the writer lock instead of failing,
/// enforce foreign keys, and fsync each commit so an acknowledged write survives a crash.
/// </summary>
/// <remarks>
/// The settings belong to the native connection, which the pool keeps open between uses; EF opens the pooled
/// connection several times per request, so they are sent once per native connection, not on every open.
/// </remarks>
internal sealed class SqlitePragmas : DbConnectionInterceptor
{
    public static readonly SqlitePragmas Instance = new();

    /// <summary>The settings, also sent by <see cref="SqliteStatementCache.OpenLongLived"/> on the connection it opens.</summary>
    internal const string Statements = "PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;";

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, object> Configured = new();

    // Keyed by the native connection, which the pool keeps open: a pooled SqliteConnection is a new wrapper each time.
    private static bool IsConfigured(DbConnection connection) =>
        (connection as Microsoft.Data.Sqlite.SqliteConnection)?.Handle is { } handle && Configured.TryGetValue(handle, out _);

    internal static void MarkConfigured(DbConnection connection)
    {
        if ((connection as Microsoft.Data.Sqlite.SqliteConnection)?.Handle is { } handle)
        {
            Configured.TryAdd(handle, handle);
        }
    }

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        if (IsConfigured(connection))
        {
            return;
        }
        using var command = connection.CreateCommand();
        command.CommandText = Statements;
        command.ExecuteNonQuery();
        MarkConfigured(connection);
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (IsConfigured(connection))
        {
            return;
        }
        await using var command = connection.CreateCommand();
        command.CommandText = Statements;
        await command.ExecuteNonQueryAsync(cancellationToken);
        MarkConfigured(connection);
    }
}

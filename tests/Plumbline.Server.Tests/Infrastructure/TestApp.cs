using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Plumbline.Data;

namespace Plumbline.Server.Tests.Infrastructure;

/// <summary>A clock the tests can move forward, to expire leases without waiting.</summary>
public sealed class ManualClock : TimeProvider
{
    private long offsetTicks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref offsetTicks, by.Ticks);
}

/// <summary>
/// The real app on a real Kestrel port, against a fresh database of the given provider: a SQLite file in a
/// temporary folder, or a new database on the PostgreSQL server that the test script started.
/// </summary>
public sealed class TestApp : WebApplicationFactory<Program>
{
    public const string AdminToken = "plb_test_admin_token_0123456789abcdef";
    public const string PostgresVariable = "PLUMBLINE_TEST_POSTGRES";

    public string Provider { get; }
    public ManualClock Clock { get; } = new();
    public DatabaseSettings Database { get; }
    private readonly string? tempFolder;

    /// <summary>Where this app writes release folders; removed with the app.</summary>
    public string ReleasesFolder { get; } = Path.Combine(Path.GetTempPath(), "plumbline-releases-" + Guid.NewGuid().ToString("N")[..12]);
    private Uri? baseAddress;

    /// <summary>Extra registrations for one test's app (a command counter, say), applied after the app's own.</summary>
    public Action<IServiceCollection>? ExtraServices { get; init; }

    /// <summary>Every log message at every level, when the app was made with <c>captureLogs: true</c>.</summary>
    public LogSink? Logs { get; }

    public TestApp(string provider, bool captureLogs = false)
    {
        Provider = provider;
        Logs = captureLogs ? new LogSink() : null;
        if (provider == "sqlite")
        {
            tempFolder = Directory.CreateTempSubdirectory("plumbline-test-").FullName;
            Database = DatabaseSettings.Parse("sqlite:" + Path.Combine(tempFolder, "plumbline.db"));
        }
        else
        {
            Database = new DatabaseSettings(DatabaseProvider.Postgres, CreatePostgresDatabase());
        }
        UseKestrel(0);
    }

    /// <summary>
    /// An app on an existing database: a second server process beside another, or one restarted after a stop. The
    /// database stays when this app is disposed (see <see cref="NewDatabase"/>).
    /// </summary>
    public TestApp(string provider, DatabaseSettings database, bool captureLogs = false)
    {
        Provider = provider;
        Logs = captureLogs ? new LogSink() : null;
        Database = database;
        UseKestrel(0);
    }

    /// <summary>A fresh database for <see cref="TestApp(string, DatabaseSettings, bool)"/>; SQLite's file goes in <paramref name="folder"/>.</summary>
    public static DatabaseSettings NewDatabase(string provider, string folder) => provider == "sqlite"
        ? DatabaseSettings.Parse("sqlite:" + Path.Combine(folder, "plumbline.db"))
        : new DatabaseSettings(DatabaseProvider.Postgres, CreatePostgresDatabase());

    /// <summary>The address the app listens on (a real socket on 127.0.0.1).</summary>
    public Uri BaseAddress
    {
        get
        {
            // Tests of one class run in parallel with others: only one of them may start the host.
            lock (startLock)
            {
                return baseAddress ??= Start();
            }
        }
    }

    private readonly Lock startLock = new();

    private Uri Start()
    {
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal) + "/");
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("urls", "http://127.0.0.1:0");
        builder.UseSetting("PLUMBLINE_ADMIN_TOKEN", AdminToken);
        builder.UseSetting("PLUMBLINE_ADMIN_PASSWORD", "admin-password-123");
        // Every test signs in from 127.0.0.1; the per-address sign-in limit is for people, not test suites.
        builder.UseSetting("PLUMBLINE_SIGNIN_LIMIT_PER_MINUTE", "100000");
        builder.UseSetting("PLUMBLINE_RELEASES", ReleasesFolder);
        // Retries against the fake model server back off in milliseconds, not seconds (Retry-After still applies).
        builder.UseSetting("PLUMBLINE_MODEL_RETRY_BASE_MS", "20");
        // Idle servers look for queued jobs often, so a job left by a stopped app is taken up at once.
        builder.UseSetting("PLUMBLINE_JOBS_POLL_MS", "100");
        if (Logs is { } sink)
        {
            // A rule for this provider outranks the host's per-category filters, so it sees everything.
            builder.ConfigureLogging(logging => logging.AddProvider(sink).AddFilter<LogSink>(null, LogLevel.Trace));
        }
        builder.ConfigureServices(services =>
        {
            services.AddSingleton(Database);
            services.AddSingleton<TimeProvider>(Clock);
            ExtraServices?.Invoke(services);
        });
    }

    /// <summary>An HTTP client over the real socket, signed in with <paramref name="token"/> (the admin's by default).</summary>
    public HttpClient Client(string? token = AdminToken)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    public PlumblineDbContext NewDbContext()
    {
        _ = BaseAddress;
        var scope = Services.CreateScope();
        return scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
    }

    internal static string CreatePostgresDatabase()
    {
        var server = Environment.GetEnvironmentVariable(PostgresVariable);
        if (string.IsNullOrEmpty(server))
        {
            throw new InvalidOperationException(
                $"{PostgresVariable} is not set: PostgreSQL tests need a server. Run ./test.sh, which installs and starts one.");
        }
        var name = "plumbline_test_" + Guid.NewGuid().ToString("N")[..12];
        using (var connection = new NpgsqlConnection(server))
        {
            connection.Open();
            using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            command.ExecuteNonQuery();
        }
        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Directory.Exists(ReleasesFolder))
        {
            Directory.Delete(ReleasesFolder, recursive: true);
        }
        if (disposing && tempFolder is not null)
        {
            try
            {
                Directory.Delete(tempFolder, recursive: true);
            }
            catch (IOException)
            {
                // A pooled SQLite connection may still hold the file; the folder is in /tmp.
            }
        }
    }
}

/// <summary>One app per provider for the whole run; tests isolate themselves with their own projects and users.</summary>
public static class SharedApps
{
    private static readonly Lazy<TestApp> Sqlite = new(() => new TestApp("sqlite"));
    private static readonly Lazy<TestApp> Postgres = new(() => new TestApp("postgres"));

    public static TestApp Get(string provider) => provider == "sqlite" ? Sqlite.Value : Postgres.Value;

    public static TheoryData<string> Providers => new("sqlite", "postgres");
}

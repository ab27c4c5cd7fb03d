using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Plumbline.Data;

namespace Plumbline.Server.Tests.Infrastructure;

/// <summary>
/// The built server (<c>Plumbline.Server.dll</c>, copied beside the tests) in a process of its own, on a real port:
/// for tests that need two nodes on one database, or a <c>kill -9</c> in the middle of a run.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly string folder;
    private Process? process;

    public DatabaseSettings Database { get; }
    public Uri BaseAddress { get; }

    private ServerProcess(DatabaseSettings database, string folder)
    {
        Database = database;
        this.folder = folder;
        BaseAddress = new Uri($"http://127.0.0.1:{FreePort()}/");
    }

    /// <summary>A fresh database of <paramref name="provider"/>: a SQLite file, or a new PostgreSQL database on the test server.</summary>
    public static DatabaseSettings NewDatabase(string provider) => provider == "sqlite"
        ? DatabaseSettings.Parse("sqlite:" + Path.Combine(Directory.CreateTempSubdirectory("plumbline-node-").FullName, "plumbline.db"))
        : new DatabaseSettings(DatabaseProvider.Postgres, TestApp.CreatePostgresDatabase());

    /// <summary>Starts a node on <paramref name="database"/> and waits until it answers <c>/health</c>.</summary>
    public static async Task<ServerProcess> StartAsync(DatabaseSettings database)
    {
        var node = new ServerProcess(database, Directory.CreateTempSubdirectory("plumbline-node-").FullName);
        await node.StartAsync();
        return node;
    }

    public async Task StartAsync()
    {
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Plumbline.Server.dll"));
        info.Environment["PLUMBLINE_DATABASE"] = Database.ConnectionString;
        info.Environment["PLUMBLINE_ADMIN_TOKEN"] = TestApp.AdminToken;
        info.Environment["PLUMBLINE_ADMIN_PASSWORD"] = "admin-password-123";
        info.Environment["PLUMBLINE_DEMO"] = "false";
        // Every node of one database shares one secret, as the README asks of a real deployment.
        info.Environment["PLUMBLINE_SECRET_KEY"] = "plumbline-test-nodes-shared-secret-0123456789";
        info.Environment["ASPNETCORE_URLS"] = BaseAddress.ToString().TrimEnd('/');
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server process");
        // The pipes are drained, or a chatty server would block on a full one.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var probe = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the server process exited with code {process.ExitCode} before answering /health");
            }
            try
            {
                if ((await probe.GetAsync("health")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the server process did not answer /health within 2 minutes");
            }
            await Task.Delay(100);
        }
    }

    /// <summary><c>kill -9</c>: no shutdown, no flush; whatever was not committed is gone.</summary>
    public async Task KillAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process?.Dispose();
        process = null;
    }

    public HttpClient Client(string? token = TestApp.AdminToken)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    /// <summary>A context on the node's database, from outside the node (the test's own process).</summary>
    public static (ServiceProvider Services, PlumblineDbContext Db) OpenDatabase(DatabaseSettings database)
    {
        var services = new ServiceCollection().AddPlumblineData(_ => database).BuildServiceProvider();
        var db = services.CreateScope().ServiceProvider.GetRequiredService<PlumblineDbContext>();
        return (services, db);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Left in /tmp.
        }
    }
}

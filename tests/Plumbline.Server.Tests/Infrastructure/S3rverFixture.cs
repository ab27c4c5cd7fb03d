using System.Diagnostics;
using System.Net.Sockets;

namespace Plumbline.Server.Tests.Infrastructure;

/// <summary>
/// A local S3-compatible server (npm <c>s3rver</c> 3.7.1, from tools/s3rver; installed with <c>npm ci</c> when missing)
/// on a free loopback port, with one bucket, for the tests of release uploads.
/// </summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    public const string Bucket = "plumbline-test";
    /// <summary>s3rver's fixed credentials.</summary>
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private Process? process;
    private readonly string folder = Directory.CreateTempSubdirectory("plumbline-s3rver-").FullName;

    public string Endpoint { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        var tools = Path.Combine(RepositoryRoot(), "tools", "s3rver");
        var script = Path.Combine(tools, "node_modules", "s3rver", "bin", "s3rver.js");
        if (!File.Exists(script))
        {
            await RunAsync("npm", "ci --no-audit --no-fund", tools);
        }
        var port = FreePort();
        Endpoint = $"http://127.0.0.1:{port}";
        process = Process.Start(new ProcessStartInfo("node", $"\"{script}\" -d \"{folder}\" -a 127.0.0.1 -p {port} --configure-bucket {Bucket} --silent")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException("s3rver exited: " + await process.StandardError.ReadToEndAsync());
                }
                await Task.Delay(100);
            }
        }
        throw new InvalidOperationException($"s3rver did not listen on port {port} within 10 s");
    }

    public ValueTask DisposeAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        process?.Dispose();
        Directory.Delete(folder, recursive: true);
        return ValueTask.CompletedTask;
    }

    private static int FreePort()
    {
        var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Plumbline.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("cannot find the repository root (Plumbline.slnx) above " + AppContext.BaseDirectory);
    }

    private static async Task RunAsync(string file, string arguments, string directory)
    {
        using var npm = Process.Start(new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        var error = npm.StandardError.ReadToEndAsync();
        await npm.StandardOutput.ReadToEndAsync();
        await npm.WaitForExitAsync();
        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} in {directory} failed: {await error}");
        }
    }
}

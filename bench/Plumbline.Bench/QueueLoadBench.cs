using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Plumbline.Data;
using Plumbline.Server.Features.Queue;

namespace Plumbline.Bench;

/// <summary>
/// The work queue under load: starts the built server as a child process on a fresh database, imports a pairwise
/// project (overlap K), creates N annotators with their own tokens, and lets each run next → submit?next=true for a
/// fixed time. Prints client-side latency percentiles and throughput, then checks the queue's invariants from the
/// database. The same generator first runs against <c>/health</c> for the plain Kestrel ceiling.
/// Closed loop by default (each annotator sends its next request as soon as the last is answered, so latency is
/// mostly queueing: by Little's law, clients = throughput × latency); <c>--think-ms N</c> paces each annotator
/// with N ms (±50 %) of reading between receiving a task and submitting it, where latency means service time.
/// <c>--warmup S</c> runs the same loop S seconds first, unrecorded (JIT, pools, caches, prepared statements).
/// </summary>
public static class QueueLoadBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        int annotators = 200, items = 10_000, overlap = 3, seconds = 30, thinkMs = 0, warmup = 0;
        string database = "sqlite", postgres = "Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres";
        string? serverDll = null;
        bool ceiling = true;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--annotators": annotators = int.Parse(args[++i]); break;
                case "--items": items = int.Parse(args[++i]); break;
                case "--overlap": overlap = int.Parse(args[++i]); break;
                case "--seconds": seconds = int.Parse(args[++i]); break;
                case "--database": database = args[++i]; break;
                case "--pg": postgres = args[++i]; break;
                case "--server": serverDll = args[++i]; break;
                case "--no-ceiling": ceiling = false; break;
                case "--think-ms": thinkMs = int.Parse(args[++i]); break;
                case "--warmup": warmup = int.Parse(args[++i]); break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}");
                    return 1;
            }
        }
        serverDll ??= ImportBench.FindServerDll();
        if (serverDll is null || !File.Exists(serverDll))
        {
            Console.Error.WriteLine("Plumbline.Server.dll not found: build with `dotnet build bench/Plumbline.Bench -c Release` or pass --server PATH");
            return 1;
        }
        var work = Directory.CreateTempSubdirectory("plumbline-queue-bench-").FullName;
        string connection = database == "sqlite" ? "sqlite:" + Path.Combine(work, "plumbline.db") : await NewPostgresDatabaseAsync(postgres);
        var baseAddress = new Uri($"http://127.0.0.1:{ImportBench.FreePort()}/");
        using var server = ImportBench.StartServer(serverDll, connection, baseAddress, Path.Combine(work, "server.log"));
        try
        {
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = annotators + 8, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
            using var http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(10) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ImportBench.AdminToken);
            await ImportBench.WaitForHealthAsync(http, server);
            Console.WriteLine($"server pid {server.Id} on {baseAddress}, {database}; {Environment.ProcessorCount} cores; load average {ImportBench.LoadAverage()}");

            var project = await SetUpProjectAsync(http, items, overlap);
            var tokens = new List<string>(annotators);
            for (var i = 0; i < annotators; i++)
            {
                tokens.Add(await NewAnnotatorAsync(http, project, i));
            }
            Console.WriteLine($"project {project}: {items:N0} pairwise items, overlap {overlap}, {annotators} annotators");

            if (ceiling)
            {
                var health = await RunForAsync(annotators, seconds, async (_, record, ct) =>
                {
                    var started = Stopwatch.GetTimestamp();
                    using var response = await http.GetAsync("health", ct);
                    response.EnsureSuccessStatusCode();
                    record("health", started);
                });
                Print($"Kestrel ceiling: GET /health, {annotators} clients, {seconds} s", health, seconds);
            }

            long conflicts = 0;
            async Task Annotate(int who, Action<string, long> record, CancellationToken ct)
            {
                var token = tokens[who];
                var started = Stopwatch.GetTimestamp();
                var task = await SendAsync(http, token, HttpMethod.Post, $"api/v1/projects/{project}/queue/next", null, ct);
                record("next", started);
                while (task is not null && !ct.IsCancellationRequested)
                {
                    if (thinkMs > 0)
                    {
                        // Reading and answering: not part of any request's latency.
                        await Task.Delay(Random.Shared.Next(thinkMs / 2, thinkMs * 3 / 2 + 1), ct);
                    }
                    var choice = task.Value.GetProperty("fields").GetProperty("candidates")[0].GetProperty("id").GetString();
                    var body = new { values = new { preference = new { choice } } };
                    started = Stopwatch.GetTimestamp();
                    var result = await SendAsync(http, token, HttpMethod.Post, $"api/v1/assignments/{task.Value.GetProperty("assignmentId").GetInt64()}/submit?next=true", body, ct,
                        onConflict: () => Interlocked.Increment(ref conflicts));
                    record("submit?next=true", started);
                    task = result is { } r && r.TryGetProperty("next", out var next) && next.ValueKind == JsonValueKind.Object ? next : null;
                }
                if (task is null)
                {
                    // Nothing left for this person: stop, as a real annotator would.
                    await Task.Delay(Timeout.Infinite, ct);
                }
            }
            if (warmup > 0)
            {
                await RunForAsync(annotators, warmup, Annotate);
                Console.WriteLine($"warmed up for {warmup} s (not recorded)");
            }

            var loadAtStart = ImportBench.LoadAverage();
            var before = ImportBench.ProcStatus.Read(server.Id);
            var cpuBefore = ImportBench.ProcStatus.CpuTime(server.Id);
            var benchCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            // Resident memory sampled each second of the run: flat memory means the peak stays near the start.
            long rssPeak = before.Rss;
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    Interlocked.Exchange(ref rssPeak, Math.Max(Interlocked.Read(ref rssPeak), ImportBench.ProcStatus.Read(server.Id).Rss));
                    try
                    {
                        await Task.Delay(1000, sampling.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            });
            var load = await RunForAsync(annotators, seconds, Annotate);
            await sampling.CancelAsync();
            await sampler;
            var after = ImportBench.ProcStatus.Read(server.Id);
            var serverCpu = ImportBench.ProcStatus.CpuTime(server.Id) - cpuBefore;
            var benchCpu = Process.GetCurrentProcess().TotalProcessorTime - benchCpuBefore;
            Print($"queue: next → submit?next=true, {annotators} annotators{(thinkMs > 0 ? $" thinking {thinkMs} ms" : "")}, {items:N0} items, overlap {overlap}, {database}, {seconds} s", load, seconds);
            var submits = load.Samples.GetValueOrDefault("submit?next=true")?.Count ?? 0;
            Console.WriteLine($"submissions/s {submits / (double)seconds:0}; conflicts (409) {conflicts}");
            Console.WriteLine($"server RSS: start {before.Rss / 1_048_576} MiB, peak {Interlocked.Read(ref rssPeak) / 1_048_576} MiB (sampled each second), end {after.Rss / 1_048_576} MiB");
            Console.WriteLine($"CPU during the run: server {serverCpu.TotalSeconds:0.0} s, load generator {benchCpu.TotalSeconds:0.0} s, of {seconds * Environment.ProcessorCount} core-seconds");
            Console.WriteLine($"load average (1, 5, 15 min) at the start {loadAtStart}, at the end {ImportBench.LoadAverage()}");

            var settings = DatabaseSettings.Parse(connection);
            await using var services = new ServiceCollection().AddPlumblineData(_ => settings).BuildServiceProvider();
            await using var scope = services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
            var report = await QueueInvariants.CheckAsync(db, project, DateTime.UtcNow);
            Console.WriteLine($"invariants: {report}");
            Console.WriteLine(report.Holds ? "invariants hold" : "INVARIANTS BROKEN");
            return report.Holds && load.Errors == 0 ? 0 : 1;
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
        }
    }

    private static async Task<JsonElement?> SendAsync(HttpClient http, string token, HttpMethod method, string path, object? body, CancellationToken ct, Action? onConflict = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        using var response = await http.SendAsync(request, ct);
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }
        if (response.StatusCode == HttpStatusCode.Conflict && onConflict is not null)
        {
            onConflict();
            return null;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{method} {path}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }
        return await response.Content.ReadFromJsonAsync<JsonElement>(ct);
    }

    private sealed class Run
    {
        public Dictionary<string, List<double>> Samples { get; } = [];
        public long Errors;
    }

    /// <summary>Runs <paramref name="clients"/> loops for <paramref name="seconds"/>; each loop records its own latencies.</summary>
    private static async Task<Run> RunForAsync(int clients, int seconds, Func<int, Action<string, long>, CancellationToken, Task> loop)
    {
        var run = new Run();
        var perClient = Enumerable.Range(0, clients).Select(_ => new Dictionary<string, List<double>>()).ToArray();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async who =>
        {
            await Task.Yield();
            void Record(string what, long started)
            {
                if (stop.IsCancellationRequested)
                {
                    return;
                }
                var samples = perClient[who];
                if (!samples.TryGetValue(what, out var list))
                {
                    samples[what] = list = [];
                }
                list.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await loop(who, Record, stop.Token);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (HttpRequestException ex)
                {
                    if (Interlocked.Increment(ref run.Errors) <= 5)
                    {
                        Console.Error.WriteLine(ex.Message);
                    }
                }
            }
        }));
        foreach (var (what, list) in perClient.SelectMany(d => d))
        {
            if (!run.Samples.TryGetValue(what, out var all))
            {
                run.Samples[what] = all = [];
            }
            all.AddRange(list);
        }
        return run;
    }

    private static void Print(string title, Run run, int seconds)
    {
        Console.WriteLine();
        Console.WriteLine(title);
        Console.WriteLine("| request | count | per second | p50 ms | p90 ms | p99 ms | max ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var (what, samples) in run.Samples.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            samples.Sort();
            double P(double q) => samples.Count == 0 ? 0 : samples[Math.Min(samples.Count - 1, (int)Math.Ceiling(q * samples.Count) - 1)];
            Console.WriteLine($"| {what} | {samples.Count:N0} | {samples.Count / (double)seconds:0} | {P(0.5):0.0} | {P(0.9):0.0} | {P(0.99):0.0} | {samples[^1]:0.0} |");
        }
        if (run.Errors > 0)
        {
            Console.WriteLine($"errors: {run.Errors}");
        }
    }

    private static async Task<long> SetUpProjectAsync(HttpClient http, int items, int overlap)
    {
        using var created = await http.PostAsJsonAsync("api/v1/projects", new { name = "Queue load", template = "pairwise", overlap });
        created.EnsureSuccessStatusCode();
        var project = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        // Streamed from a temporary file: a million lines do not fit comfortably in one string.
        var file = Path.GetTempFileName();
        try
        {
            await using (var writer = new StreamWriter(file, false, new UTF8Encoding(false)))
            {
                for (var i = 0; i < items; i++)
                {
                    await writer.WriteLineAsync($$"""{"id":"q{{i}}","prompt":"Which answer explains item {{i}} better?","chosen":"A careful answer about {{i}}.","rejected":"A sloppy answer about {{i}}."}""");
                }
            }
            var watch = Stopwatch.StartNew();
            await using var stream = File.OpenRead(file);
            using var content = new StreamContent(stream);
            using var imported = await http.PostAsync($"api/v1/projects/{project}/import?format=jsonl&prepare=false", content);
            imported.EnsureSuccessStatusCode();
            Console.WriteLine($"imported {items:N0} items in {watch.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            File.Delete(file);
        }
        return project;
    }

    private static async Task<string> NewAnnotatorAsync(HttpClient http, long project, int index)
    {
        var email = $"annotator-{index}-{Guid.NewGuid():N}@bench.local";
        (await http.PostAsJsonAsync("api/v1/users", new { email })).EnsureSuccessStatusCode();
        (await http.PostAsJsonAsync($"api/v1/projects/{project}/members", new { email, role = "annotator" })).EnsureSuccessStatusCode();
        using var token = await http.PostAsJsonAsync("api/v1/tokens", new { userEmail = email });
        token.EnsureSuccessStatusCode();
        return (await token.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    private static async Task<string> NewPostgresDatabaseAsync(string server)
    {
        var name = "plumbline_queue_bench_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }
}

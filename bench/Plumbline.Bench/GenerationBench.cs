using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Plumbline.Bench;

/// <summary>
/// Candidate generation through the job runner: the built server runs as a child process; a fake model server in this
/// process speaks the OpenAI chat-completions protocol on a local port and answers at once (so the figure is Plumbline's
/// own cost per item: claim, plan, ask over HTTP, store each item in its own transaction). Reports items per second from
/// the start request to the job's end, and the server's CPU time (from /proc) per item. Linux only.
/// </summary>
public static class GenerationBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var items = 2000;
        var concurrency = 8;
        var n = 1;
        string database = "sqlite";
        string? pg = null;
        for (var i = 0; i < args.Length; i++)
        {
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "--items" when int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0:
                    items = v;
                    break;
                case "--concurrency" when int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v is > 0 and <= 32:
                    concurrency = v;
                    break;
                case "--n" when int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v is > 0 and <= 20:
                    n = v;
                    break;
                case "--database" when Next() is "sqlite" or "postgres":
                    database = args[i];
                    break;
                case "--pg" when Next() is { Length: > 0 } value:
                    pg = value;
                    break;
                default:
                    Console.Error.WriteLine("generate: usage [--items N (2000)] [--concurrency C (8)] [--n K (1)] [--database sqlite|postgres] [--pg CONNECTION]");
                    return 1;
            }
        }
        if (database == "postgres" && pg is null)
        {
            Console.Error.WriteLine("generate: --database postgres needs --pg \"Host=…;Port=…;Username=…;Database=postgres\"");
            return 1;
        }
        var serverDll = ImportBench.FindServerDll();
        if (serverDll is null || !File.Exists(serverDll))
        {
            Console.Error.WriteLine("Plumbline.Server.dll not found: build with `dotnet build bench/Plumbline.Bench -c Release`");
            return 1;
        }

        var work = Directory.CreateTempSubdirectory("plumbline-generate-bench-").FullName;
        string? pgDatabase = null;
        Process? server = null;
        await using var model = await FakeModel.StartAsync();
        try
        {
            string connection;
            if (database == "sqlite")
            {
                connection = "sqlite:" + Path.Combine(work, "plumbline.db");
            }
            else
            {
                pgDatabase = "plumbline_bench_" + Guid.NewGuid().ToString("N")[..12];
                await using (var admin = new NpgsqlConnection(pg))
                {
                    await admin.OpenAsync();
                    await using var create = new NpgsqlCommand($"CREATE DATABASE {pgDatabase}", admin);
                    await create.ExecuteNonQueryAsync();
                }
                connection = new NpgsqlConnectionStringBuilder(pg) { Database = pgDatabase }.ConnectionString;
            }
            var baseAddress = new Uri($"http://127.0.0.1:{ImportBench.FreePort()}/");
            server = ImportBench.StartServer(serverDll, connection, baseAddress, Path.Combine(work, "server.log"));
            using var client = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ImportBench.AdminToken);
            await ImportBench.WaitForHealthAsync(client, server);

            await ImportBench.EnsureSuccessAsync(await client.PostAsJsonAsync("api/v1/providers",
                new { name = "bench-model", baseUrl = model.BaseUrl, model = "bench-1", apiKey = "sk-bench-0123456789abcdef" }), "create provider");
            var schema = JsonNode.Parse("""
                {"fields": [{"name": "prompt", "type": "chat"}, {"name": "candidates", "type": "candidates", "required": false}],
                 "questions": [{"name": "ranking", "type": "ranking", "field": "candidates"}]}
                """);
            using var created = await client.PostAsJsonAsync("api/v1/projects", new { name = "Generation benchmark", schema });
            await ImportBench.EnsureSuccessAsync(created, "create project");
            var projectId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
            var lines = new StringBuilder();
            for (var i = 0; i < items; i++)
            {
                lines.Append(CultureInfo.InvariantCulture,
                    $$"""{"id":"item-{{i}}","prompt":[{"role":"user","content":"Explain topic {{i}} to a twelve-year-old in three sentences."}]}""").Append('\n');
            }
            using (var body = new ByteArrayContent(Encoding.UTF8.GetBytes(lines.ToString())))
            {
                await ImportBench.EnsureSuccessAsync(await client.PostAsync($"api/v1/projects/{projectId}/import?format=jsonl", body), "import");
            }

            var load = ImportBench.LoadAverage();
            var cpuBefore = ImportBench.ProcStatus.CpuTime(server.Id);
            var benchCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            using var started = await client.PostAsJsonAsync($"api/v1/projects/{projectId}/generations",
                new { providers = new[] { "bench-model" }, n, concurrency });
            await ImportBench.EnsureSuccessAsync(started, "start generation");
            var jobId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
            JsonElement job;
            while (true)
            {
                await Task.Delay(100);
                job = await client.GetFromJsonAsync<JsonElement>($"api/v1/jobs/{jobId}");
                if (job.GetProperty("status").GetString() is "succeeded" or "failed" or "cancelled")
                {
                    break;
                }
            }
            var elapsed = watch.Elapsed;
            var cpu = ImportBench.ProcStatus.CpuTime(server.Id) - cpuBefore;
            var benchCpu = Process.GetCurrentProcess().TotalProcessorTime - benchCpuBefore;
            var done = job.GetProperty("done").GetInt32();
            Console.WriteLine($"generation job {jobId}: {job.GetProperty("status").GetString()}, {done:N0} of {items:N0} items done, " +
                $"{job.GetProperty("failed").GetInt32()} failed, {model.Answered:N0} model requests; database {database}, concurrency {concurrency}, n {n}");
            Console.WriteLine($"  wall {elapsed.TotalSeconds:0.00} s → {done / elapsed.TotalSeconds:0.0} items/s ({model.Answered / elapsed.TotalSeconds:0.0} requests/s)");
            Console.WriteLine($"  server CPU {cpu.TotalSeconds:0.00} s → {cpu.TotalMilliseconds / Math.Max(1, done):0.00} ms per item; " +
                $"bench process (fake model + polling) CPU {benchCpu.TotalSeconds:0.00} s");
            Console.WriteLine($"  load average at start {load}, at end {ImportBench.LoadAverage()}");
            return job.GetProperty("status").GetString() == "succeeded" && done == items ? 0 : 1;
        }
        finally
        {
            if (server is { HasExited: false })
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
            if (pgDatabase is not null)
            {
                NpgsqlConnection.ClearAllPools();
                await using var admin = new NpgsqlConnection(pg);
                await admin.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {pgDatabase} WITH (FORCE)", admin);
                await drop.ExecuteNonQueryAsync();
            }
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// A model server on 127.0.0.1 that speaks the chat-completions protocol (non-streaming, with usage) and answers at
    /// once with a short fixed-shape answer: the part of tests/…/FakeOpenAi.cs a generation needs.
    /// </summary>
    private sealed class FakeModel : IAsyncDisposable
    {
        private readonly WebApplication app;
        private int answered;

        private FakeModel(WebApplication app) => this.app = app;

        public string BaseUrl { get; private set; } = "";

        public int Answered => Volatile.Read(ref answered);

        public static async Task<FakeModel> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            var fake = new FakeModel(app);
            app.MapPost("/v1/chat/completions", fake.AnswerAsync);
            await app.StartAsync();
            fake.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/v1";
            return fake;
        }

        private async Task AnswerAsync(HttpContext http)
        {
            var request = await JsonNode.ParseAsync(http.Request.Body) as JsonObject ?? [];
            var question = (request["messages"] as JsonArray)?.OfType<JsonObject>().LastOrDefault()?["content"]?.GetValue<string>() ?? "";
            var content = "A short answer to: " + question;
            var promptTokens = question.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            var completionTokens = content.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            Interlocked.Increment(ref answered);
            await http.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = "chatcmpl-bench", ["object"] = "chat.completion", ["created"] = 1_700_000_000, ["model"] = request["model"]?.GetValue<string>(),
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content }, ["finish_reason"] = "stop",
                }),
                ["usage"] = new JsonObject
                {
                    ["prompt_tokens"] = promptTokens, ["completion_tokens"] = completionTokens, ["total_tokens"] = promptTokens + completionTokens,
                },
            });
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}

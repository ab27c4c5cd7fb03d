using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Npgsql;

namespace Plumbline.Bench;

/// <summary>
/// The annotator's wait: in Chromium, the time from pressing Enter in the workspace to the next item fully shown
/// (htmx has swapped the new task in and the browser has painted it), on a large pairwise project. Starts the built
/// server as a child process on a fresh database, imports N generated items (cleaning off, to save time), signs an
/// annotator in through the login form, and answers items with the keyboard only (A, 2, Enter). Also reports the
/// annotation page's HTML size and the size of the fragment each submit returns.
/// </summary>
public static class WorkspaceBench
{
    private const string Password = "bench-annotator-password-1";

    private const string Probe = """
        () => {
          window.__bench = { start: 0, shown: [], progress: [] };
          // Capture phase on window: runs before the workspace's own key handler sends the form.
          window.addEventListener('keydown', e => { if (e.key === 'Enter') window.__bench.start = performance.now(); }, true);
          document.body.addEventListener('htmx:afterSettle', e => {
            const id = e.detail.target && e.detail.target.id;
            const list = id === 'workspace' ? window.__bench.shown : id === 'progress' ? window.__bench.progress : null;
            if (!list || !window.__bench.start) return;
            // Two frames: the first runs before paint, the second after the new item was painted.
            requestAnimationFrame(() => requestAnimationFrame(() => list.push(performance.now() - window.__bench.start)));
          });
        }
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        long items = 1_000_000;
        var measured = 200;
        var warmup = 20;
        var database = "sqlite";
        string? postgres = null;
        for (var i = 0; i < args.Length; i++)
        {
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "--items" when long.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0:
                    items = n;
                    break;
                case "--submits" when int.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0:
                    measured = n;
                    break;
                case "--warmup" when int.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0:
                    warmup = n;
                    break;
                case "--database" when Next() is "sqlite" or "postgres":
                    database = args[i];
                    break;
                case "--pg" when Next() is { Length: > 0 } value:
                    postgres = value;
                    break;
                default:
                    Console.Error.WriteLine($"workspace: bad argument near '{args[Math.Min(i, args.Length - 1)]}'");
                    return 1;
            }
        }
        if (database == "postgres" && postgres is null)
        {
            Console.Error.WriteLine("workspace: --database postgres needs --pg \"Host=…;Port=…;Username=…;Database=postgres\"");
            return 1;
        }
        var serverDll = ImportBench.FindServerDll();
        if (serverDll is null || !File.Exists(serverDll))
        {
            Console.Error.WriteLine("Plumbline.Server.dll not found: build with `dotnet build bench/Plumbline.Bench -c Release`");
            return 1;
        }
        if (!File.Exists("/usr/bin/chromium"))
        {
            Console.Error.WriteLine("/usr/bin/chromium is missing: apt-get install -y --no-install-recommends chromium");
            return 1;
        }

        var work = Directory.CreateTempSubdirectory("plumbline-workspace-bench-").FullName;
        Process? server = null;
        string? pgDatabase = null;
        try
        {
            var file = Path.Combine(work, $"pairwise-{items}.jsonl");
            var bytes = ImportBench.Generate(file, items);
            Console.WriteLine($"file: {items:N0} pairwise records, {bytes / 1_048_576.0:0} MiB");
            string connection;
            if (database == "sqlite")
            {
                connection = "sqlite:" + Path.Combine(work, "plumbline.db");
            }
            else
            {
                pgDatabase = "plumbline_bench_" + Guid.NewGuid().ToString("N")[..12];
                await using (var admin = new NpgsqlConnection(postgres))
                {
                    await admin.OpenAsync();
                    await using var create = new NpgsqlCommand($"CREATE DATABASE {pgDatabase}", admin);
                    await create.ExecuteNonQueryAsync();
                }
                connection = new NpgsqlConnectionStringBuilder(postgres) { Database = pgDatabase }.ConnectionString;
            }
            var baseAddress = new Uri($"http://127.0.0.1:{ImportBench.FreePort()}/");
            server = ImportBench.StartServer(serverDll, connection, baseAddress, Path.Combine(work, "server.log"));
            using var client = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ImportBench.AdminToken);
            await ImportBench.WaitForHealthAsync(client, server);

            using var created = await client.PostAsJsonAsync("api/v1/projects", new { name = "Workspace benchmark", template = "pairwise", overlap = 1 });
            await ImportBench.EnsureSuccessAsync(created, "create project");
            var projectId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
            var importWatch = Stopwatch.StartNew();
            await using (var stream = File.OpenRead(file))
            {
                using var body = new StreamContent(stream);
                using var imported = await client.PostAsync($"api/v1/projects/{projectId}/import?format=jsonl&prepare=false", body);
                await ImportBench.EnsureSuccessAsync(imported, "import");
            }
            Console.WriteLine($"imported {items:N0} items in {importWatch.Elapsed.TotalSeconds:0.0} s (cleaning off)");

            const string email = "bench-annotator@example.com";
            await ImportBench.EnsureSuccessAsync(await client.PostAsJsonAsync("api/v1/users", new { email, password = Password }), "create user");
            await ImportBench.EnsureSuccessAsync(await client.PostAsJsonAsync($"api/v1/projects/{projectId}/members", new { email, role = "annotator" }), "add member");

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = "/usr/bin/chromium",
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run"],
            });
            var context = await browser.NewContextAsync(new() { BaseURL = baseAddress.ToString(), ViewportSize = new() { Width = 1400, Height = 900 } });
            var page = await context.NewPageAsync();
            await page.GotoAsync("/login");
            await page.FillAsync("input[name=email]", email);
            await page.FillAsync("input[name=password]", Password);
            await page.Keyboard.PressAsync("Enter");
            await page.WaitForURLAsync(baseAddress.ToString());

            var fragmentSizes = new List<int>();
            var serverWaits = new List<double>();
            page.Response += (_, response) =>
            {
                if (response.Request.Method == "POST" && response.Url.EndsWith("/submit", StringComparison.Ordinal))
                {
                    // From the request sent to the first byte of the answer: the server's share of the wait.
                    var timing = response.Request.Timing;
                    lock (serverWaits)
                    {
                        serverWaits.Add(timing.ResponseStart - timing.RequestStart);
                    }
                    _ = Task.Run(async () =>
                    {
                        var body = await response.BodyAsync();
                        lock (fragmentSizes)
                        {
                            fragmentSizes.Add(body.Length);
                        }
                    });
                }
            };
            var first = await page.GotoAsync($"/projects/{projectId}/annotate");
            var pageBytes = (await first!.BodyAsync()).Length;
            await page.Locator("#workspace .candidate").First.WaitForAsync();
            await page.EvaluateAsync(Probe);

            var loadBefore = ImportBench.LoadAverage();
            var wall = Stopwatch.StartNew();
            for (var i = 0; i < warmup + measured; i++)
            {
                await page.Keyboard.PressAsync("a");
                await page.Keyboard.PressAsync("2");
                await page.Keyboard.PressAsync("Enter");
                // Both requests finish before the next key, as they would at a person's pace (seconds per item).
                await page.WaitForFunctionAsync($"() => window.__bench.shown.length > {i} && window.__bench.progress.length > {i}");
            }
            wall.Stop();
            var shown = (await page.EvaluateAsync<double[]>("() => window.__bench.shown")).Skip(warmup).ToArray();
            var progress = (await page.EvaluateAsync<double[]>("() => window.__bench.progress")).Skip(warmup).ToArray();
            var loadAfter = ImportBench.LoadAverage();

            using var stats = await client.GetAsync($"api/v1/projects/{projectId}");
            var submitted = (await stats.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("counts").GetProperty("submittedResponses").GetInt32();
            Array.Sort(shown);
            Array.Sort(progress);
            int[] fragments;
            lock (fragmentSizes)
            {
                fragments = [.. fragmentSizes.Order()];
            }
            double[] waits;
            lock (serverWaits)
            {
                waits = [.. serverWaits.Skip(warmup).Order()];
            }
            Console.WriteLine();
            Console.WriteLine($"workspace, {database}, {items:N0} items, {measured} submits measured after {warmup} warm-up ({submitted} stored)");
            Console.WriteLine($"load average (1, 5, 15 min): {loadBefore} before, {loadAfter} after; {wall.Elapsed.TotalSeconds:0.0} s for all submits");
            Console.WriteLine($"Enter -> next item shown: median {Percentile(shown, 0.5):0.0} ms, p90 {Percentile(shown, 0.9):0.0} ms, " +
                $"p99 {Percentile(shown, 0.99):0.0} ms, min {shown[0]:0.0} ms, max {shown[^1]:0.0} ms");
            Console.WriteLine($"of which the server (submit request sent -> first byte back): median {Percentile(waits, 0.5):0.0} ms, p90 {Percentile(waits, 0.9):0.0} ms");
            if (progress.Length > 0)
            {
                Console.WriteLine($"Enter -> progress counter updated (a second, lazy request): median {Percentile(progress, 0.5):0.0} ms, p90 {Percentile(progress, 0.9):0.0} ms");
            }
            Console.WriteLine($"annotation page HTML: {pageBytes:N0} bytes ({pageBytes / 1024.0:0.0} KiB); submit response (workspace fragment with the next item): " +
                $"median {(fragments.Length == 0 ? 0 : fragments[fragments.Length / 2]):N0} bytes");
            return 0;
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
                await using var admin = new NpgsqlConnection(postgres);
                await admin.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {pgDatabase} WITH (FORCE)", admin);
                await drop.ExecuteNonQueryAsync();
            }
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // Left in /tmp.
            }
        }
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}

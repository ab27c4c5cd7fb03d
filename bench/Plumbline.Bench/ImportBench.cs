using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Npgsql;

namespace Plumbline.Bench;

/// <summary>
/// End-to-end import throughput: generates a JSONL file of pairwise preference records (TRL style: id, prompt,
/// chosen, rejected), starts the built server as a child process on a fresh database, creates a <c>pairwise</c>
/// project and streams the file to <c>POST /api/v1/projects/{id}/import?format=jsonl</c>; then imports it again
/// (every item unchanged). Reports items/s and the server process's resident memory, read from /proc, so the
/// figure is the server's alone. Linux only.
/// </summary>
public static class ImportBench
{
    internal const string AdminToken = "plb_bench_admin_token_0123456789abcdef";
    private const int Seed = 20_240_601;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchOptions.Parse(args);
        if (options is null)
        {
            return 1;
        }
        var serverDll = options.ServerDll ?? FindServerDll();
        if (serverDll is null || !File.Exists(serverDll))
        {
            Console.Error.WriteLine("Plumbline.Server.dll not found: build with `dotnet build bench/Plumbline.Bench -c Release` or pass --server PATH");
            return 1;
        }

        var work = Directory.CreateTempSubdirectory("plumbline-import-bench-").FullName;
        string? pgDatabase = null;
        Process? server = null;
        try
        {
            var file = Path.Combine(work, $"pairwise-{options.Items}.jsonl");
            var generateWatch = Stopwatch.StartNew();
            long fileBytes = Generate(file, options.Items);
            Console.WriteLine($"file: {file}, {options.Items:N0} lines, {fileBytes / 1_048_576.0:0.0} MiB " +
                $"({fileBytes / (double)options.Items:0} bytes/line), generated in {generateWatch.Elapsed.TotalSeconds:0.0} s");

            string database;
            if (options.Database == "sqlite")
            {
                database = "sqlite:" + Path.Combine(work, "plumbline.db");
            }
            else
            {
                pgDatabase = "plumbline_bench_" + Guid.NewGuid().ToString("N")[..12];
                await using (var connection = new NpgsqlConnection(options.Postgres))
                {
                    await connection.OpenAsync();
                    await using var command = new NpgsqlCommand($"CREATE DATABASE {pgDatabase}", connection);
                    await command.ExecuteNonQueryAsync();
                }
                database = new NpgsqlConnectionStringBuilder(options.Postgres) { Database = pgDatabase }.ConnectionString;
            }

            int port = FreePort();
            var baseAddress = new Uri($"http://127.0.0.1:{port}/");
            server = StartServer(serverDll, database, baseAddress, Path.Combine(work, "server.log"));
            Console.WriteLine($"server: pid {server.Id}, {baseAddress}, {options.Database}, log {Path.Combine(work, "server.log")}");

            using var client = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
            await WaitForHealthAsync(client, server);

            using var created = await client.PostAsJsonAsync("api/v1/projects", new { name = "Import benchmark", template = "pairwise" });
            await EnsureSuccessAsync(created, "create project");
            long projectId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();

            var idle = ProcStatus.Read(server.Id);
            Console.WriteLine($"server after start: RSS {Mib(idle.Rss)}, peak so far {Mib(idle.Hwm)}");

            var loadBefore = LoadAverage();
            var first = await ImportAsync(client, server, projectId, file, fileBytes, options.Prepare);
            var second = await ImportAsync(client, server, projectId, file, fileBytes, options.Prepare);
            long storeBytes = options.Database == "sqlite"
                ? FileSize(Path.Combine(work, "plumbline.db")) + FileSize(Path.Combine(work, "plumbline.db-wal"))
                : await PostgresSizeAsync(options.Postgres!, pgDatabase!);
            var end = ProcStatus.Read(server.Id);

            Console.WriteLine();
            Console.WriteLine($"import of {options.Items:N0} pairwise items, {options.Database}, cleaning {(options.Prepare ? "on" : "off")}, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
            Console.WriteLine("| run | wall | items/s | MiB/s | server CPU | peak RSS | RSS at 25/50/75/100 % of the body | result |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            PrintRow("first import", options.Items, fileBytes, first);
            PrintRow("re-import", options.Items, fileBytes, second);
            Console.WriteLine();
            long overallPeak = Math.Max(idle.Hwm, Math.Max(first.PeakRss, second.PeakRss));
            Console.WriteLine($"server RSS after start {Mib(idle.Rss)}; peak RSS over the whole run {Mib(overallPeak)}; RSS at the end {Mib(end.Rss)}");
            Console.WriteLine($"load average (1, 5, 15 min) at the start {loadBefore}, at the end {LoadAverage()}");
            Console.WriteLine($"database size after both imports: {Mib(storeBytes)}");

            // With cleaning on, records it drops are counted apart; every line is accounted for either way.
            bool ok = first.Report is { Committed: true } r1 && r1.Created + r1.Dropped == options.Items
                && second.Report is { Committed: true } r2 && r2.Unchanged == r1.Created && r2.Created == 0 && r2.Updated == 0;
            if (!ok)
            {
                Console.Error.WriteLine("unexpected import result (see the table)");
            }
            return ok ? 0 : 1;
        }
        finally
        {
            if (server is { HasExited: false })
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
            server?.Dispose();
            if (pgDatabase is not null && !options.Keep)
            {
                await using var connection = new NpgsqlConnection(options.Postgres);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {pgDatabase} WITH (FORCE)", connection);
                await command.ExecuteNonQueryAsync();
            }
            if (options.Keep)
            {
                Console.WriteLine($"kept: {work}{(pgDatabase is null ? "" : $" and database {pgDatabase}")}");
            }
            else
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    private static void PrintRow(string name, long items, long bytes, ImportRun run)
    {
        double s = run.Elapsed.TotalSeconds;
        var quarters = string.Join(" / ", run.RssByQuarter.Select(b => b == 0 ? "-" : Mib(b)));
        var result = run.Report is { } r
            ? $"created {r.Created:N0}, updated {r.Updated:N0}, unchanged {r.Unchanged:N0}, dropped {r.Dropped:N0}, rejected {r.Rejected:N0}"
            : $"HTTP {(int)run.Status}";
        Console.WriteLine($"| {name} | {s:0.0} s | {items / s:N0} | {bytes / 1_048_576.0 / s:0.0} | {run.ServerCpu.TotalSeconds:0.0} s | {Mib(run.PeakRss)} | {quarters} | {result} |");
    }

    private sealed record ImportReportDto(bool Committed, long Created, long Updated, long Unchanged, long Dropped, long Rejected);

    private sealed record ImportRun(TimeSpan Elapsed, TimeSpan ServerCpu, long PeakRss, long[] RssByQuarter, HttpStatusCode Status, ImportReportDto? Report);

    private static async Task<ImportRun> ImportAsync(HttpClient client, Process server, long projectId, string file, long fileBytes, bool prepare)
    {
        // Resets VmHWM to the current RSS, so the peak read afterwards belongs to this import alone.
        bool peakReset = ProcStatus.ResetPeak(server.Id);
        var before = ProcStatus.Read(server.Id);
        var cpuBefore = ProcStatus.CpuTime(server.Id);

        await using var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        await using var counted = new CountingStream(source);
        using var content = new StreamContent(counted, 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        content.Headers.ContentLength = fileBytes;

        // RSS sampled while the body goes out: the server reads as it imports, so bytes sent track its progress.
        var rssByQuarter = new long[4];
        long sampledPeak = before.Rss;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                long rss = ProcStatus.Read(server.Id).Rss;
                sampledPeak = Math.Max(sampledPeak, rss);
                int quarter = (int)Math.Min(3, counted.Bytes * 4 / fileBytes);
                rssByQuarter[quarter] = Math.Max(rssByQuarter[quarter], rss);
                try
                {
                    await Task.Delay(100, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        });

        var watch = Stopwatch.StartNew();
        using var response = await client.PostAsync($"api/v1/projects/{projectId}/import?format=jsonl&fileName=bench.jsonl{(prepare ? "" : "&prepare=false")}", content);
        var body = await response.Content.ReadAsStringAsync();
        watch.Stop();
        await stop.CancelAsync();
        await sampler;

        var after = ProcStatus.Read(server.Id);
        var cpu = ProcStatus.CpuTime(server.Id) - cpuBefore;
        // Without the reset, VmHWM is the peak since the process started: still an upper bound for this import.
        long peak = Math.Max(peakReset ? after.Hwm : sampledPeak, sampledPeak);
        rssByQuarter[3] = Math.Max(rssByQuarter[3], after.Rss);
        ImportReportDto? report = null;
        if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.UnprocessableEntity)
        {
            report = JsonSerializer.Deserialize<ImportReportDto>(body, JsonSerializerOptions.Web);
        }
        else
        {
            Console.Error.WriteLine($"import failed: HTTP {(int)response.StatusCode}: {body[..Math.Min(body.Length, 2000)]}");
        }
        return new ImportRun(watch.Elapsed, cpu, peak, rssByQuarter, response.StatusCode, report);
    }

    internal static Process StartServer(string dll, string database, Uri baseAddress, string logPath)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(logPath)!,
        };
        info.ArgumentList.Add(dll);
        info.Environment["PLUMBLINE_DATABASE"] = database;
        info.Environment["PLUMBLINE_ADMIN_TOKEN"] = AdminToken;
        info.Environment["PLUMBLINE_ADMIN_PASSWORD"] = "bench-admin-password-123";
        info.Environment["PLUMBLINE_DEMO"] = "false";
        info.Environment["ASPNETCORE_URLS"] = baseAddress.ToString().TrimEnd('/');
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (gate)
            {
                log.WriteLine(line);
            }
        }
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.Exited += (_, _) => { lock (gate) { log.Dispose(); } };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    internal static async Task WaitForHealthAsync(HttpClient client, Process server)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(120))
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"the server exited with code {server.ExitCode}; see its log");
            }
            try
            {
                using var response = await client.GetAsync("health");
                if (response.IsSuccessStatusCode)
                {
                    Console.WriteLine($"server healthy after {deadline.Elapsed.TotalSeconds:0.0} s");
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("the server did not become healthy in 120 s");
    }

    internal static async Task EnsureSuccessAsync(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{what}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static async Task<long> PostgresSizeAsync(string server, string database)
    {
        await using var connection = new NpgsqlConnection(server);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_database_size(@name)", connection);
        command.Parameters.AddWithValue("name", database);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    internal static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);

    private static long FileSize(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    private static string Mib(long bytes) => $"{bytes / 1_048_576.0:0} MiB";

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The server built beside this project: src/Plumbline.Server/bin/Release/net10.0/Plumbline.Server.dll.</summary>
    internal static string? FindServerDll()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Plumbline.slnx")))
            {
                return Path.Combine(dir.FullName, "src", "Plumbline.Server", "bin", "Release", "net10.0", "Plumbline.Server.dll");
            }
        }
        return null;
    }

    // ---- Generated data -------------------------------------------------------------------------------------

    private static readonly string[] Topics =
    [
        "a hash table", "recursion", "photosynthesis", "compound interest", "the French Revolution", "TCP handshakes",
        "garbage collection", "inflation", "the water cycle", "binary search", "vaccines", "plate tectonics",
        "public-key cryptography", "sourdough starters", "the Pythagorean theorem", "black holes", "supply and demand",
        "database indexes", "the immune system", "jazz harmony", "climate models", "neural networks", "the Roman Empire",
        "unit testing", "the stock market", "quantum entanglement", "Git rebasing", "marathon training", "tax brackets",
        "the café's espresso machine", "Unicode normalisation", "the 100 °C boiling point",
    ];

    private static readonly string[] Languages = ["Python", "C#", "Rust", "Go", "TypeScript", "SQL", "Bash", "Java", "Kotlin", "Haskell"];

    private static readonly string[] Tasks =
    [
        "reverse a list", "read a file line by line", "parse a date", "sort a dictionary by value", "retry a failed request",
        "remove duplicates", "measure elapsed time", "format a number with commas", "split a string on whitespace",
        "open a database connection", "merge two sorted arrays", "validate an email address",
    ];

    private static readonly string[] PromptForms =
    [
        "Explain {0} to a beginner.", "How do I {1} in {2}?", "Summarise {0} in two sentences.", "What is the difference between {0} and {3}?",
        "Write a short, friendly paragraph about {0}.", "Give me three tips on {0}.", "Is it true that {0} is overrated? Be honest.",
        "My teacher said \"{0} is easy\" — why do I find it hard?", "In {2}, what is the idiomatic way to {1}?",
    ];

    private static readonly string[] Openers =
    [
        "In short,", "Put simply,", "The key idea is that", "A useful way to think about it:", "First,", "Then", "In practice,",
        "For example,", "Note that", "Most importantly,", "As a rule of thumb,", "One common mistake is assuming that",
    ];

    private static readonly string[] Subjects =
    [
        "the algorithm", "each step", "the system", "a careful reader", "the result", "every item", "the model", "your code",
        "the process", "the first value", "this approach", "the standard library", "a small example", "the rate",
    ];

    private static readonly string[] Verbs =
    [
        "depends on", "keeps track of", "splits", "compares", "returns", "grows with", "reduces", "stores", "checks",
        "repeats", "balances", "combines", "converts", "avoids",
    ];

    private static readonly string[] Objects =
    [
        "the input", "a running total", "the smaller half", "each neighbour", "the previous answer", "the remaining work",
        "memory use", "the error", "two pointers", "a lookup table", "the boundary cases", "the key", "the time spent",
    ];

    private static readonly string[] Endings =
    [
        "so it stays fast.", "which keeps it predictable.", "until nothing is left.", "in constant time on average.",
        "without copying the data.", "and that is the whole trick.", "so mistakes show up early.", "— no magic involved.",
        "for every case.", "at the end.", "as the numbers grow.", "before anything else happens.",
    ];

    private static readonly string[] BadAnswers =
    [
        "I don't know.", "That is impossible.", "Just search for it online.", "It works by magic, basically.",
        "You should never do that.", "This question makes no sense.", "The answer is 42.", "Nobody uses that any more.",
        "It's the same thing as", "Try restarting your computer.", "Actually, the opposite is true:",
    ];

    /// <summary>Writes <paramref name="count"/> lines of about 300-600 bytes each; the same seed gives the same file.</summary>
    internal static long Generate(string path, long count)
    {
        var random = new Random(Seed);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { SkipValidation = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var text = new StringBuilder(1024);
        for (long i = 0; i < count; i++)
        {
            json.WriteStartObject();
            json.WriteString("id", string.Create(CultureInfo.InvariantCulture, $"bench-{i}"));
            json.WriteString("prompt", string.Format(CultureInfo.InvariantCulture, Pick(random, PromptForms),
                Pick(random, Topics), Pick(random, Tasks), Pick(random, Languages), Pick(random, Topics)));

            text.Clear();
            int target = random.Next(100, 280);
            while (text.Length < target)
            {
                if (text.Length > 0)
                {
                    text.Append(random.Next(6) == 0 ? "\n\n" : " ");
                }
                text.Append(Pick(random, Openers)).Append(' ').Append(Pick(random, Subjects)).Append(' ')
                    .Append(Pick(random, Verbs)).Append(' ').Append(Pick(random, Objects)).Append(' ').Append(Pick(random, Endings));
                if (random.Next(10) == 0)
                {
                    text.Append(" `").Append(Pick(random, Languages).ToLowerInvariant()).Append(" x = f(").Append(random.Next(1000)).Append(")`");
                }
            }
            json.WriteString("chosen", text.ToString());

            text.Clear();
            text.Append(Pick(random, BadAnswers));
            int badTarget = random.Next(20, 110);
            while (text.Length < badTarget)
            {
                text.Append(' ').Append(Pick(random, Subjects)).Append(' ').Append(Pick(random, Verbs)).Append(' ').Append(Pick(random, Topics)).Append('.');
            }
            json.WriteString("rejected", text.ToString());
            json.WriteEndObject();
            json.Flush();
            stream.WriteByte((byte)'\n');
            json.Reset();
        }
        return stream.Position;
    }

    private static string Pick(Random random, string[] values) => values[random.Next(values.Length)];

    // ---- Plumbing ---------------------------------------------------------------------------------------

    private sealed record BenchOptions(long Items, string Database, string? Postgres, string? ServerDll, bool Keep, bool Prepare)
    {
        public static BenchOptions? Parse(string[] args)
        {
            long items = 1_000_000;
            string database = "sqlite";
            string? postgres = null, serverDll = null;
            bool keep = false, prepare = true;
            for (int i = 0; i < args.Length; i++)
            {
                string? Next() => i + 1 < args.Length ? args[++i] : null;
                switch (args[i])
                {
                    case "--items" when long.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0:
                        items = n;
                        break;
                    case "--database" when Next() is "sqlite" or "postgres":
                        database = args[i];
                        break;
                    case "--pg" when Next() is { Length: > 0 } value:
                        postgres = value;
                        break;
                    case "--server" when Next() is { Length: > 0 } value:
                        serverDll = Path.GetFullPath(value);
                        break;
                    case "--keep":
                        keep = true;
                        break;
                    case "--no-prepare":
                        prepare = false;
                        break;
                    default:
                        Console.Error.WriteLine($"import: bad argument near '{args[Math.Min(i, args.Length - 1)]}'");
                        return null;
                }
            }
            if (database == "postgres" && postgres is null)
            {
                Console.Error.WriteLine("import: --database postgres needs --pg \"Host=…;Port=…;Username=…;Database=postgres\"");
                return null;
            }
            return new BenchOptions(items, database, postgres, serverDll, keep, prepare);
        }
    }

    /// <summary>Counts the bytes read through it, for progress.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        private long bytes;

        public long Bytes => Interlocked.Read(ref bytes);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Add(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Add(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Add(int read)
        {
            Interlocked.Add(ref bytes, read);
            return read;
        }
    }

    /// <summary>Resident memory and CPU time of a process, from /proc.</summary>
    internal readonly record struct ProcStatus(long Rss, long Hwm)
    {
        public static ProcStatus Read(int pid)
        {
            long rss = 0, hwm = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = Kib(line);
                }
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    hwm = Kib(line);
                }
            }
            return new ProcStatus(rss, hwm);
        }

        /// <summary>Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).</summary>
        public static bool ResetPeak(int pid)
        {
            try
            {
                File.WriteAllText($"/proc/{pid}/clear_refs", "5");
                return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }

        /// <summary>User plus system time (fields 14 and 15 of /proc/PID/stat, in clock ticks of 1/100 s).</summary>
        public static TimeSpan CpuTime(int pid)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromMilliseconds(ticks * 10);
        }

        private static long Kib(string line) =>
            long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace Plumbline.Bench;

/// <summary>
/// Release throughput: a pairwise project of N items with 3 submitted preference answers each is written straight
/// into a fresh database (SQLite, or PostgreSQL with binary COPY), then the built server, running as a child process,
/// builds a TRL preference release through <c>POST /api/v1/projects/{id}/releases</c>. Reports records per second of
/// the whole request and the server's resident memory (peak reset just before the request, sampled every 100 ms).
/// Linux only (reads /proc).
/// </summary>
public static class ReleaseBench
{
    private const string AdminToken = "plb_bench_admin_token_0123456789abcdef";

    public static async Task<int> RunAsync(string[] args)
    {
        long items = 1_000_000;
        string database = "sqlite";
        string? pg = null;
        string format = "trl-preference";
        var keep = false;
        string? from = null;
        string? serverDll = null;
        long warmup = 0;
        var repeat = 1;
        for (var i = 0; i < args.Length; i++)
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
                    pg = value;
                    break;
                case "--format" when Next() is { Length: > 0 } value:
                    format = value;
                    break;
                case "--keep":
                    keep = true;
                    break;
                case "--from" when Next() is { Length: > 0 } value:
                    from = value;
                    break;
                case "--server" when Next() is { Length: > 0 } value:
                    serverDll = value;
                    break;
                case "--warmup" when long.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var w) && w >= 0:
                    warmup = w;
                    break;
                case "--repeat" when int.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var r) && r > 0:
                    repeat = r;
                    break;
                default:
                    Console.Error.WriteLine("release: usage [--items N] [--database sqlite|postgres] [--pg CONNECTION] [--format F] [--keep] [--from KEPT-SQLITE-FOLDER] [--server DLL] [--warmup ITEMS] [--repeat N]");
                    return 1;
            }
        }
        if (database == "postgres" && pg is null)
        {
            Console.Error.WriteLine("release: --database postgres needs --pg \"Host=…;Port=…;Username=…;Database=postgres\"");
            return 1;
        }
        serverDll ??= FindServerDll();
        if (serverDll is null || !File.Exists(serverDll))
        {
            Console.Error.WriteLine("Plumbline.Server.dll not found: build with `dotnet build bench/Plumbline.Bench -c Release`");
            return 1;
        }

        var work = Directory.CreateTempSubdirectory("plumbline-release-bench-").FullName;
        string? pgDatabase = null;
        string? loadConnection = null;
        Process? server = null;
        try
        {
            string connection;
            long? fromProject = null;
            if (from is not null)
            {
                // A folder kept by an earlier SQLite run (--keep): its database is copied, so a run skips the minutes of
                // loading and the kept folder stays as it was.
                File.Copy(Path.Combine(from, "plumbline.db"), Path.Combine(work, "plumbline.db"));
                if (File.Exists(Path.Combine(from, "secret.key")))
                {
                    File.Copy(Path.Combine(from, "secret.key"), Path.Combine(work, "secret.key"));
                }
                (fromProject, items) = KeptProject(Path.Combine(work, "plumbline.db"));
                connection = "sqlite:" + Path.Combine(work, "plumbline.db");
            }
            else if (database == "sqlite")
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
                loadConnection = new NpgsqlConnectionStringBuilder(connection) { CommandTimeout = 0 }.ConnectionString;
            }
            var baseAddress = new Uri($"http://127.0.0.1:{FreePort()}/");
            server = StartServer(serverDll, connection, Path.Combine(work, "releases"), baseAddress, Path.Combine(work, "server.log"));
            using var client = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminToken);
            await WaitForHealthAsync(client, server);
            long projectId;
            if (fromProject is { } kept)
            {
                projectId = kept;
                Console.WriteLine($"copied {items:N0} items from {from}");
            }
            else
            {
                projectId = await CreateAndLoadAsync(client, database, work, loadConnection, items);
            }

            if (warmup > 0)
            {
                // A server that has built a release before: the first request of a fresh process also pays for the JIT
                // of EF Core, Kestrel and the release path (about 12,000 methods), seconds of CPU on two cores.
                var warm = Stopwatch.StartNew();
                var warmProject = await CreateAndLoadAsync(client, database, work, loadConnection, warmup, "Release warm-up");
                var (warmStatus, _) = await ReleaseAsync(client, warmProject, format);
                Console.WriteLine($"warm-up release of {warmup:N0} items: {warmStatus} after {warm.Elapsed.TotalSeconds:0.0} s");
            }

            // --repeat builds the same release again on the same server: the later rounds run on code the JIT has finished
            // optimising (a fresh process keeps compiling for the whole first release, see docs/benchmarks.md).
            for (var round = 1; round <= repeat; round++)
            {
                var before = Proc.Read(server.Id);
                var reset = Proc.ResetPeak(server.Id);
                var samples = new List<long>();
                using var stop = new CancellationTokenSource();
                var sampler = Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        lock (samples)
                        {
                            samples.Add(Proc.Read(server.Id).Rss);
                        }
                        await Task.Delay(100);
                    }
                });
                var cpuBefore = Proc.CpuTime(server.Id);
                var watch = Stopwatch.StartNew();
                var (status, body) = await ReleaseAsync(client, projectId, format);
                watch.Stop();
                await stop.CancelAsync();
                await sampler;
                if (status != "ready")
                {
                    Console.Error.WriteLine($"release failed: {body}");
                    return 1;
                }
                var cpu = Proc.CpuTime(server.Id) - cpuBefore;
                var after = Proc.Read(server.Id);
                using var manifest = JsonDocument.Parse(body);
                var files = manifest.RootElement.GetProperty("manifest").GetProperty("files").EnumerateArray()
                    .Where(f => f.GetProperty("format").GetString() == format).ToList();
                var records = files.Sum(f => f.GetProperty("records").GetInt64());
                var bytes = files.Sum(f => f.GetProperty("bytes").GetInt64());
                long[] rss;
                lock (samples)
                {
                    rss = [.. samples];
                }
                string At(double share) => rss.Length == 0 ? "?" : Mib(rss[Math.Min(rss.Length - 1, (int)(share * (rss.Length - 1)))]);

                Console.WriteLine();
                Console.WriteLine($"release {round} of {repeat} of {items:N0} pairwise items × 3 responses, {format}, {database}, {Environment.ProcessorCount} cores, .NET {Environment.Version}, load {LoadAverage()}");
                Console.WriteLine("| records | wall | records/s | items/s | server CPU | output | peak RSS | RSS at 25/50/75/100 % | RSS before |");
                Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
                Console.WriteLine($"| {records:N0} | {watch.Elapsed.TotalSeconds:0.0} s | {records / watch.Elapsed.TotalSeconds:N0} | {items / watch.Elapsed.TotalSeconds:N0} | "
                    + $"{cpu.TotalSeconds:0.0} s | {Mib(bytes)} | {(reset ? Mib(after.Hwm) : "n/a")} | {At(0.25)} / {At(0.5)} / {At(0.75)} / {At(1)} | {Mib(before.Rss)} |");
                // The files' hashes, so an A/B run (--server) shows whether two builds wrote the same bytes.
                foreach (var f in manifest.RootElement.GetProperty("manifest").GetProperty("files").EnumerateArray())
                {
                    Console.WriteLine($"{f.GetProperty("path").GetString()} sha256 {f.GetProperty("sha256").GetString()}");
                }
            }
            return 0;
        }
        finally
        {
            if (server is { HasExited: false })
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
            server?.Dispose();
            if (pgDatabase is not null && !keep)
            {
                await using var admin = new NpgsqlConnection(pg);
                await admin.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {pgDatabase} WITH (FORCE)", admin);
                await drop.ExecuteNonQueryAsync();
            }
            if (keep)
            {
                Console.WriteLine($"kept: {work}");
            }
            else
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    // ---- Data -------------------------------------------------------------------------------------------------

    private static readonly string[] Topics = ["a hash table", "recursion", "photosynthesis", "compound interest", "TCP handshakes", "inflation", "binary search", "black holes"];

    /// <summary>Queues a release of the project and polls its location until the server's worker has built it: (status, last body).</summary>
    private static async Task<(string Status, string Body)> ReleaseAsync(HttpClient client, long projectId, string format)
    {
        using var response = await client.PostAsJsonAsync($"api/v1/projects/{projectId}/releases",
            new { formats = new[] { format }, split = new { validation = 0.05, test = 0.05, seed = 1 } });
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            return ($"HTTP {(int)response.StatusCode}", body);
        }
        var location = response.Headers.Location!.ToString();
        string status;
        do
        {
            await Task.Delay(50);
            body = await client.GetStringAsync(location);
            using var state = JsonDocument.Parse(body);
            status = state.RootElement.GetProperty("release").GetProperty("status").GetString()!;
        }
        while (status is "queued" or "building");
        return (status, body);
    }

    private static async Task<long> CreateAndLoadAsync(HttpClient client, string database, string work, string? loadConnection, long items,
        string name = "Release benchmark")
    {
        using var created = await client.PostAsJsonAsync("api/v1/projects", new { name, template = "pairwise", overlap = 3 });
        created.EnsureSuccessStatusCode();
        var projectId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();

        var load = Stopwatch.StartNew();
        if (database == "sqlite")
        {
            LoadSqlite(Path.Combine(work, "plumbline.db"), projectId, items);
        }
        else
        {
            await LoadPostgresAsync(loadConnection!, projectId, items);
        }
        Console.WriteLine($"loaded {items:N0} items and {items * 3:N0} responses into {database} in {load.Elapsed.TotalSeconds:0.0} s");
        return projectId;
    }

    /// <summary>The benchmark project of a kept database and its item count.</summary>
    private static (long Project, long Items) KeptProject(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path }.ConnectionString);
        connection.Open();
        using var find = connection.CreateCommand();
        find.CommandText = "SELECT id, (SELECT count(*) FROM items WHERE project_id = p.id) FROM projects p WHERE name = 'Release benchmark' ORDER BY id LIMIT 1";
        using var found = find.ExecuteReader();
        return found.Read() ? (found.GetInt64(0), found.GetInt64(1)) : throw new InvalidOperationException($"no 'Release benchmark' project in {path}");
    }

    internal static (string Fields, string[] Answers) GenerateForCore(long i) => Generate(i);

    /// <summary>One generated item: a chat prompt and two candidates of about 150 characters; and its three answers.</summary>
    private static (string Fields, string[] Answers) Generate(long i)
    {
        var topic = Topics[i % Topics.Length];
        var prompt = $"Explain {topic} to a new colleague in three sentences, with an example (request {i}).";
        var good = $"{char.ToUpperInvariant(topic[0])}{topic[1..]} is easier than it sounds: start from the goal, then the steps. For example, case {i} shows each step in turn. That is the whole idea.";
        var bad = $"I am not sure about {topic}; it is complicated and depends on many things, so you should search for it yourself (case {i}).";
        var fields = JsonSerializer.Serialize(new
        {
            prompt = new[] { new { role = "user", content = prompt } },
            candidates = new[] { new { id = "a", content = i % 2 == 0 ? good : bad }, new { id = "b", content = i % 2 == 0 ? bad : good } },
        });
        var winner = i % 2 == 0 ? "a" : "b";
        var loser = i % 2 == 0 ? "b" : "a";
        // Two agree; every fifth item the third dissents.
        string Answer(string choice, int strength) => "{\"preference\":{\"choice\":\"" + choice + "\",\"strength\":" + strength.ToString(CultureInfo.InvariantCulture) + "}}";
        return (fields, [Answer(winner, 2), Answer(winner, 3), Answer(i % 5 == 0 ? loser : winner, 1)]);
    }

    private static void LoadSqlite(string path, long projectId, long count)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path }.ConnectionString);
        connection.Open();
        var now = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture);
        for (long start = 0; start < count; start += 100_000)
        {
            using var tx = connection.BeginTransaction();
            using var item = connection.CreateCommand();
            item.CommandText = "INSERT INTO items (project_id, external_id, fields_json, metadata_json, submitted_count, created_at, updated_at) "
                + "VALUES ($p, $e, $f, '{}', 3, $t, $t) RETURNING id";
            var (pe, pf) = (item.Parameters.Add("$e", SqliteType.Text), item.Parameters.Add("$f", SqliteType.Text));
            item.Parameters.AddWithValue("$p", projectId);
            item.Parameters.AddWithValue("$t", now);
            using var response = connection.CreateCommand();
            response.CommandText = "INSERT INTO responses (project_id, item_id, user_id, assignment_id, status, values_json, revision, guideline_version, created_at, updated_at) "
                + "VALUES ($p, $i, $u, 0, 'submitted', $v, 1, 1, $t, $t)";
            var (ri, ru, rv) = (response.Parameters.Add("$i", SqliteType.Integer), response.Parameters.Add("$u", SqliteType.Integer), response.Parameters.Add("$v", SqliteType.Text));
            response.Parameters.AddWithValue("$p", projectId);
            response.Parameters.AddWithValue("$t", now);
            for (var i = start; i < Math.Min(count, start + 100_000); i++)
            {
                var (fields, answers) = Generate(i);
                pe.Value = "item-" + i.ToString(CultureInfo.InvariantCulture);
                pf.Value = fields;
                var id = (long)item.ExecuteScalar()!;
                for (var a = 0; a < answers.Length; a++)
                {
                    ri.Value = id;
                    ru.Value = 1001 + a;
                    rv.Value = answers[a];
                    response.ExecuteNonQuery();
                }
            }
            tx.Commit();
        }
        using var analyze = connection.CreateCommand();
        analyze.CommandText = "ANALYZE";
        analyze.ExecuteNonQuery();
    }

    private static async Task LoadPostgresAsync(string connectionString, long projectId, long count)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var now = DateTime.UtcNow;
        long firstId;
        await using (var next = new NpgsqlCommand("SELECT COALESCE(MAX(id), 0) + 1 FROM items", connection))
        {
            firstId = (long)(await next.ExecuteScalarAsync())!;
        }
        await using (var items = await connection.BeginBinaryImportAsync(
            "COPY items (id, project_id, external_id, fields_json, metadata_json, submitted_count, created_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (long i = 0; i < count; i++)
            {
                await items.StartRowAsync();
                await items.WriteAsync(firstId + i, NpgsqlDbType.Bigint);
                await items.WriteAsync(projectId, NpgsqlDbType.Bigint);
                await items.WriteAsync("item-" + i.ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Text);
                await items.WriteAsync(Generate(i).Fields, NpgsqlDbType.Text);
                await items.WriteAsync("{}", NpgsqlDbType.Text);
                await items.WriteAsync(3, NpgsqlDbType.Integer);
                await items.WriteAsync(now, NpgsqlDbType.TimestampTz);
                await items.WriteAsync(now, NpgsqlDbType.TimestampTz);
            }
            await items.CompleteAsync();
        }
        await using (var responses = await connection.BeginBinaryImportAsync(
            "COPY responses (project_id, item_id, user_id, assignment_id, status, values_json, revision, guideline_version, created_at, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (long i = 0; i < count; i++)
            {
                var answers = Generate(i).Answers;
                for (var a = 0; a < answers.Length; a++)
                {
                    await responses.StartRowAsync();
                    await responses.WriteAsync(projectId, NpgsqlDbType.Bigint);
                    await responses.WriteAsync(firstId + i, NpgsqlDbType.Bigint);
                    await responses.WriteAsync(1001L + a, NpgsqlDbType.Bigint);
                    await responses.WriteAsync(0L, NpgsqlDbType.Bigint);
                    await responses.WriteAsync("submitted", NpgsqlDbType.Text);
                    await responses.WriteAsync(answers[a], NpgsqlDbType.Text);
                    await responses.WriteAsync(1, NpgsqlDbType.Integer);
                    await responses.WriteAsync(1, NpgsqlDbType.Integer);
                    await responses.WriteAsync(now, NpgsqlDbType.TimestampTz);
                    await responses.WriteAsync(now, NpgsqlDbType.TimestampTz);
                }
            }
            await responses.CompleteAsync();
        }
        await using var sequence = new NpgsqlCommand(
            "SELECT setval(pg_get_serial_sequence('items', 'id'), (SELECT MAX(id) FROM items)); ANALYZE items; ANALYZE responses;", connection);
        await sequence.ExecuteNonQueryAsync();
    }

    // ---- Plumbing ---------------------------------------------------------------------------------------------

    private static Process StartServer(string dll, string database, string releases, Uri baseAddress, string logPath)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(logPath)! };
        info.ArgumentList.Add(dll);
        info.Environment["PLUMBLINE_DATABASE"] = database;
        info.Environment["PLUMBLINE_RELEASES"] = releases;
        info.Environment["PLUMBLINE_ADMIN_TOKEN"] = AdminToken;
        info.Environment["PLUMBLINE_ADMIN_PASSWORD"] = "bench-admin-password-123";
        info.Environment["PLUMBLINE_DEMO"] = "false";
        info.Environment["ASPNETCORE_URLS"] = baseAddress.ToString().TrimEnd('/');
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // SERVER_X=V in the bench's environment sets X=V for the server alone (runtime knobs such as SERVER_DOTNET_TieredPGO=0,
        // or SERVER_DOTNET_JitStdOutFile), without applying them to the bench itself.
        foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            if (variable.Key is string name && name.StartsWith("SERVER_", StringComparison.Ordinal))
            {
                info.Environment[name["SERVER_".Length..]] = variable.Value as string;
            }
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    log.WriteLine(line);
                }
            }
        }
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitForHealthAsync(HttpClient client, Process server)
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

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);

    private static string Mib(long bytes) => $"{bytes / 1_048_576.0:0} MiB";

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string? FindServerDll()
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

    /// <summary>Resident memory and CPU time of a process, from /proc.</summary>
    private readonly record struct Proc(long Rss, long Hwm)
    {
        public static Proc Read(int pid)
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
            return new Proc(rss, hwm);
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

        public static TimeSpan CpuTime(int pid)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return TimeSpan.FromMilliseconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10);
        }

        private static long Kib(string line) => long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
    }
}

using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Server.Hosting;
using Spectre.Console;

namespace Plumbline.Cli;

/// <summary>
/// The <c>plumbline</c> command: <c>serve</c> hosts the server; every other command drives a server over
/// its HTTP API with a token (<c>--server</c>/<c>PLUMBLINE_URL</c>, <c>--token</c>/<c>PLUMBLINE_TOKEN</c>).
/// </summary>
public static partial class CliApp
{
    private static readonly JsonSerializerOptions Indented = new(JsonSerializerOptions.Web) { WriteIndented = true };

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        var server = new Option<string>("--server") { Description = "Server URL (or PLUMBLINE_URL)", Recursive = true };
        var token = new Option<string>("--token") { Description = "API token (or PLUMBLINE_TOKEN)", Recursive = true };
        var json = new Option<bool>("--json") { Description = "Machine-readable JSON output", Recursive = true };
        var root = new RootCommand("Plumbline: create, review and ship human-feedback data for LLMs") { server, token, json };
        var context = new Context(server, token, json, stdout, stderr);

        root.Subcommands.Add(ServeCommand());
        root.Subcommands.Add(LoginCommand(context));
        root.Subcommands.Add(ProjectCommand(context));
        root.Subcommands.Add(ImportCommand(context));
        root.Subcommands.Add(PrepareCommand(context));
        root.Subcommands.Add(ExportCommand(context));
        root.Subcommands.Add(UserCommand(context));
        root.Subcommands.Add(TokenCommand(context));
        root.Subcommands.Add(ReleaseCommand(context));
        root.Subcommands.Add(QualityCommand(context));
        root.Subcommands.Add(AnnotationsCommand(context));
        root.Subcommands.Add(CalibrationCommand(context));
        root.Subcommands.Add(ProviderCommand(context));
        root.Subcommands.Add(GenerateCommand(context));
        root.Subcommands.Add(LabellerCommand(context));
        root.Subcommands.Add(LeaderboardCommand(context));
        root.Subcommands.Add(FindingsCommand(context));

        var parse = root.Parse(args);
        return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, ct);
    }

    /// <summary>What every API command needs: where the server is, who is calling, and where output goes.</summary>
    internal sealed record Context(Option<string> Server, Option<string> Token, Option<bool> Json, TextWriter Out, TextWriter Err)
    {
        public ApiClient Client(ParseResult parse) => new(
            parse.GetValue(Server) ?? Environment.GetEnvironmentVariable("PLUMBLINE_URL") ?? PlumblineApp.DefaultUrl,
            parse.GetValue(Token) ?? Environment.GetEnvironmentVariable("PLUMBLINE_TOKEN"));

        public bool WantsJson(ParseResult parse) => parse.GetValue(Json);

        public void WriteJson(JsonNode? node) => Out.WriteLine(node?.ToJsonString(Indented) ?? "null");

        public IAnsiConsole Console() => AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Out), Ansi = AnsiSupport.Detect, ColorSystem = ColorSystemSupport.Detect,
        });

        /// <summary>Runs an API command, turning failures into one line on stderr and an exit code.</summary>
        public Func<ParseResult, CancellationToken, Task<int>> Api(Func<ParseResult, ApiClient, CancellationToken, Task<int>> body) =>
            async (parse, ct) =>
            {
                try
                {
                    using var client = Client(parse);
                    return await body(parse, client, ct);
                }
                catch (CliException ex)
                {
                    await Err.WriteLineAsync("error: " + ex.Message);
                    return ex.ExitCode;
                }
            };
    }

    private static Command ServeCommand()
    {
        var urls = new Option<string>("--urls") { Description = $"Where to listen (default {PlumblineApp.DefaultUrl})" };
        var database = new Option<string>("--database") { Description = "PLUMBLINE_DATABASE: sqlite:PATH, postgres://… or a connection string" };
        var command = new Command("serve", "Start the Plumbline server (SQLite under ./plumbline-data by default)") { urls, database };
        command.SetAction(async (parse, ct) =>
        {
            var hostArgs = new List<string>();
            if (parse.GetValue(urls) is { } u)
            {
                hostArgs.Add($"--urls={u}");
            }
            if (parse.GetValue(database) is { } d)
            {
                hostArgs.Add($"--PLUMBLINE_DATABASE={d}");
            }
            await PlumblineApp.RunAsync([.. hostArgs]);
            return 0;
        });
        return command;
    }

    private static Command LoginCommand(Context c)
    {
        var email = new Option<string>("--email") { Description = "Your e-mail address", Required = true };
        var password = new Option<string>("--password") { Description = "Your password (or PLUMBLINE_PASSWORD)" };
        var command = new Command("login", "Exchange e-mail and password for an API token") { email, password };
        command.SetAction(c.Api(async (parse, api, ct) =>
        {
            var secret = parse.GetValue(password) ?? Environment.GetEnvironmentVariable("PLUMBLINE_PASSWORD")
                ?? throw new CliException("give --password or set PLUMBLINE_PASSWORD");
            var result = await api.PostAsync("api/v1/auth/token", new { email = parse.GetValue(email), password = secret, tokenName = "cli login" }, ct);
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
            }
            else
            {
                c.Out.WriteLine(result!["token"]!.GetValue<string>());
                await c.Err.WriteLineAsync("Shown once. Use it with --token or: export PLUMBLINE_TOKEN=<token>");
            }
            return 0;
        }));
        return command;
    }

    private static Command ProjectCommand(Context c)
    {
        var project = new Command("project", "Create and inspect projects and their members");

        var name = new Argument<string>("name") { Description = "Project name" };
        var template = new Option<string>("--template") { Description = "sft-write, sft-edit, pairwise, ranking, rubric, safety, conversation or prompt-writing" };
        var schemaFile = new Option<FileInfo>("--schema") { Description = "A schema document (fields, questions, workflow) as printed by `project show ID --json`" };
        var overlap = new Option<int?>("--overlap") { Description = "How many people answer each item" };
        var description = new Option<string>("--description") { Description = "Shown under the name" };
        var guidelines = new Option<FileInfo>("--guidelines") { Description = "A markdown file with the first guidelines" };
        var create = new Command("create", "Create a project; prints its id") { name, template, schemaFile, overlap, description, guidelines };
        create.SetAction(c.Api(async (parse, api, ct) =>
        {
            JsonNode? schema = null;
            if (parse.GetValue(schemaFile) is { } file)
            {
                schema = ReadJsonFile(file);
            }
            if (schema is null && parse.GetValue(template) is null)
            {
                throw new CliException("give --template T or --schema FILE");
            }
            var text = parse.GetValue(guidelines) is { } g ? await ReadTextFileAsync(g, ct) : null;
            var result = await api.PostAsync("api/v1/projects", new
            {
                name = parse.GetValue(name), description = parse.GetValue(description), template = parse.GetValue(template),
                schema, overlap = parse.GetValue(overlap), guidelines = text,
            }, ct);
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
            }
            else
            {
                c.Out.WriteLine(result!["id"]!.ToJsonString());
            }
            return 0;
        }));
        project.Subcommands.Add(create);

        var list = new Command("list", "Projects you belong to");
        list.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = (await api.GetAsync("api/v1/projects", ct))!.AsArray();
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
                return 0;
            }
            var table = new Table().AddColumns("id", "name", "role", "items", "complete", "responses", "overlap");
            foreach (var p in result)
            {
                var counts = p!["counts"]!;
                table.AddRow(Str(p["id"]), Markup.Escape(Str(p["name"])), Str(p["role"]), Str(counts["items"]), Str(counts["completedItems"]),
                    Str(counts["submittedResponses"]), Str(p["overlap"]));
            }
            c.Console().Write(table);
            return 0;
        }));
        project.Subcommands.Add(list);

        var id = new Argument<long>("project") { Description = "Project id" };
        var show = new Command("show", "A project's settings and counts; with --json, its schema document (for --schema)") { id };
        show.SetAction(c.Api(async (parse, api, ct) =>
        {
            var projectId = parse.GetValue(id);
            if (c.WantsJson(parse))
            {
                c.WriteJson(await api.GetAsync($"api/v1/projects/{projectId}/schema", ct));
                return 0;
            }
            var p = (await api.GetAsync($"api/v1/projects/{projectId}", ct))!;
            var counts = p["counts"]!;
            var schema = p["schema"]!;
            var console = c.Console();
            var grid = new Grid().AddColumn().AddColumn();
            grid.AddRow("[bold]project[/]", Markup.Escape($"{Str(p["id"])}  {Str(p["name"])}"));
            grid.AddRow("your role", Str(p["role"]));
            grid.AddRow("overlap", Str(p["overlap"]));
            grid.AddRow("lease", Str(schema["workflow"]!["leaseMinutes"]) + " min");
            grid.AddRow("queue order", Str(schema["workflow"]!["queueOrder"]));
            grid.AddRow("guidelines", "v" + Str(p["guidelineVersion"]));
            grid.AddRow("fields", Markup.Escape(string.Join(", ", schema["fields"]!.AsArray().Select(f => $"{Str(f!["name"])} ({Str(f["type"])})"))));
            grid.AddRow("questions", Markup.Escape(string.Join(", ", schema["questions"]!.AsArray().Select(q => $"{Str(q!["name"])} ({Str(q["type"])})"))));
            grid.AddRow("items", $"{Str(counts["items"])} ({Str(counts["completedItems"])} complete)");
            grid.AddRow("responses", $"{Str(counts["submittedResponses"])} submitted, {Str(counts["skippedResponses"])} skipped");
            grid.AddRow("members", Str(counts["members"]));
            console.Write(grid);
            return 0;
        }));
        project.Subcommands.Add(show);
        project.Subcommands.Add(MemberCommand(c));
        return project;
    }

    private static Command MemberCommand(Context c)
    {
        var member = new Command("member", "Who works on a project, and as what");
        var project = new Argument<long>("project") { Description = "Project id" };
        var email = new Argument<string>("email") { Description = "The user's e-mail address" };
        var role = new Option<string>("--role") { Description = "manager, reviewer or annotator", Required = true };

        var add = new Command("add", "Add a member, or change their role") { project, email, role };
        add.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = await api.PostAsync($"api/v1/projects/{parse.GetValue(project)}/members",
                new { email = parse.GetValue(email), role = parse.GetValue(role) }, ct);
            WriteResult(c, parse, result, $"{Str(result!["email"])} is {Str(result["role"])} of project {parse.GetValue(project)}");
            return 0;
        }));
        var remove = new Command("remove", "Remove a member") { project, email };
        remove.SetAction(c.Api(async (parse, api, ct) =>
        {
            await api.DeleteAsync($"api/v1/projects/{parse.GetValue(project)}/members/{Uri.EscapeDataString(parse.GetValue(email)!)}", ct);
            WriteResult(c, parse, new JsonObject { ["removed"] = parse.GetValue(email) }, $"removed {parse.GetValue(email)}");
            return 0;
        }));
        var list = new Command("list", "Members and their roles") { project };
        list.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = (await api.GetAsync($"api/v1/projects/{parse.GetValue(project)}/members", ct))!.AsArray();
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
                return 0;
            }
            var table = new Table().AddColumns("email", "role", "added");
            foreach (var m in result)
            {
                table.AddRow(Markup.Escape(Str(m!["email"])), Str(m["role"]), Str(m["addedAt"]));
            }
            c.Console().Write(table);
            return 0;
        }));
        member.Subcommands.Add(add);
        member.Subcommands.Add(remove);
        member.Subcommands.Add(list);
        return member;
    }

    private static Command ImportCommand(Context c)
    {
        var project = new Argument<long>("project") { Description = "Project id" };
        var file = new Argument<FileInfo>("file") { Description = "JSONL, JSON array or CSV (gzip too); OpenAI chat, TRL, Anthropic HH, Alpaca and ShareGPT are recognised" };
        var format = new Option<string>("--format") { Description = "auto (default), jsonl, json or csv" };
        var noPrepare = new Option<bool>("--no-prepare") { Description = "Store records as they are: no normalisation, private-information redaction, deduplication or filters" };
        var cleaning = new CleaningOptions();
        var command = new Command("import", "Import items from a file, cleaned on the way in: all of it, or nothing; idempotent by external_id")
        {
            project, file, format, noPrepare,
        };
        cleaning.AddTo(command);
        command.SetAction(c.Api(async (parse, api, ct) =>
        {
            var path = parse.GetValue(file)!;
            if (!path.Exists)
            {
                throw new CliException($"no such file: {path.FullName}");
            }
            var query = cleaning.Query(parse);
            query.Add("format=" + Uri.EscapeDataString(parse.GetValue(format) ?? "auto"));
            query.Add("fileName=" + Uri.EscapeDataString(path.Name));
            if (parse.GetValue(noPrepare))
            {
                query.Add("prepare=false");
            }
            await using var stream = path.OpenRead();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/projects/{parse.GetValue(project)}/import?{string.Join('&', query)}")
            {
                Content = new StreamContent(stream, 1 << 16),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await api.SendRawAsync(request, ct, allowUnprocessable: true);
            var report = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
            var committed = report["committed"]!.GetValue<bool>();
            var isDryRun = report["dryRun"]!.GetValue<bool>();
            var rejected = report["rejected"]!.GetValue<long>();
            if (c.WantsJson(parse))
            {
                c.WriteJson(report);
                return committed || isDryRun && rejected == 0 ? 0 : 1;
            }
            foreach (var error in report["errors"]!.AsArray())
            {
                await c.Err.WriteLineAsync($"line {Str(error!["line"])}: {Str(error["message"])}");
            }
            WritePreparation(c, report["preparation"]);
            if (rejected > 0)
            {
                c.Out.WriteLine($"rejected {rejected} line(s); nothing was imported");
                return 1;
            }
            var counts = $"created {Str(report["created"])}, updated {Str(report["updated"])}, unchanged {Str(report["unchanged"])}, dropped {Str(report["dropped"])}, rejected 0";
            c.Out.WriteLine(isDryRun ? $"dry run, nothing stored: would have {counts}" : counts);
            if (report["importId"] is { } importId)
            {
                c.Out.WriteLine($"full report: GET /api/v1/projects/{parse.GetValue(project)}/imports/{Str(importId)}");
            }
            return 0;
        }));
        return command;
    }

    private static Command PrepareCommand(Context c)
    {
        var project = new Argument<long>("project") { Description = "Project id" };
        var cleaning = new CleaningOptions();
        var command = new Command("prepare", "Re-run the cleaning rules on a project's stored items; items with responses are marked, never deleted") { project };
        cleaning.AddTo(command);
        command.SetAction(c.Api(async (parse, api, ct) =>
        {
            var report = (await api.PostAsync($"api/v1/projects/{parse.GetValue(project)}/prepare?{string.Join('&', cleaning.Query(parse))}", null, ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(report);
                return 0;
            }
            WritePreparation(c, report["preparation"]);
            var counts = $"{Str(report["items"])} items: {Str(report["changed"])} cleaned, {Str(report["deleted"])} deleted, {Str(report["excluded"])} marked as excluded (they have responses)";
            c.Out.WriteLine(report["dryRun"]!.GetValue<bool>() ? "dry run, nothing changed: " + counts : counts);
            return 0;
        }));
        return command;
    }

    /// <summary>The cleaning settings shared by `import` and `prepare`, as options and as the API's query string.</summary>
    private sealed class CleaningOptions
    {
        private readonly Option<bool> dryRun = new("--dry-run") { Description = "Report what would happen; change nothing" };
        private readonly Option<string> pii = new("--pii") { Description = "Private information: redact (default), flag (keep, mark for review) or off" };
        private readonly Option<string> dedup = new("--dedup") { Description = "Duplicates to drop: near (default, MinHash), exact or off" };
        private readonly Option<double?> threshold = new("--near-threshold") { Description = "Jaccard similarity from which two records are near-duplicates (default 0.8)" };
        private readonly Option<int?> minLength = new("--min-length") { Description = "Drop records with a text shorter than this" };
        private readonly Option<int?> maxLength = new("--max-length") { Description = "Drop records with a text longer than this" };
        private readonly Option<string> language = new("--language") { Description = "Drop records not in this language (en, de, fr, es, it, pt, nl)" };

        public void AddTo(Command command)
        {
            command.Options.Add(dryRun);
            command.Options.Add(pii);
            command.Options.Add(dedup);
            command.Options.Add(threshold);
            command.Options.Add(minLength);
            command.Options.Add(maxLength);
            command.Options.Add(language);
        }

        public List<string> Query(ParseResult parse)
        {
            var query = new List<string>();
            void Add(string name, object? value)
            {
                if (value is not null)
                {
                    query.Add(name + "=" + Uri.EscapeDataString(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!));
                }
            }
            Add("dryRun", parse.GetValue(dryRun) ? "true" : null);
            Add("pii", parse.GetValue(pii));
            Add("dedup", parse.GetValue(dedup));
            Add("nearThreshold", parse.GetValue(threshold));
            Add("minLength", parse.GetValue(minLength));
            Add("maxLength", parse.GetValue(maxLength));
            Add("language", parse.GetValue(language));
            return query;
        }
    }

    /// <summary>Counts per cleaning rule, a masked example of each, and the duplicate clusters.</summary>
    private static void WritePreparation(Context c, JsonNode? preparation)
    {
        if (preparation?["ruleCounts"] is not JsonObject rules || rules.Count == 0)
        {
            return;
        }
        var table = new Table().AddColumns("rule", "records", "example (masked)");
        foreach (var (rule, count) in rules.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var example = preparation["examples"]?[rule]?.AsArray().FirstOrDefault();
            var text = example is null ? "" : $"{Str(example["recordId"])}: {Str(example["detail"])}";
            table.AddRow(Markup.Escape(rule), Str(count), Markup.Escape(text.Length > 80 ? text[..80] + "…" : text));
        }
        c.Console().Write(table);
        if (preparation["duplicateClusters"] is JsonArray { Count: > 0 } clusters)
        {
            c.Out.WriteLine($"{clusters.Count} duplicate cluster(s); each keeps its first record");
        }
    }

    private static Command ExportCommand(Context c)
    {
        var project = new Argument<long>("project") { Description = "Project id" };
        var format = new Option<string>("--format") { Description = "raw: every item with all responses, reviews and suggestions", DefaultValueFactory = _ => "raw" };
        var output = new Option<FileInfo>("--output", "-o") { Description = "Write to this file instead of standard output" };
        var command = new Command("export", "Stream a project's items and responses as JSONL") { project, format, output };
        command.SetAction(c.Api(async (parse, api, ct) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get,
                $"api/v1/projects/{parse.GetValue(project)}/export?format={Uri.EscapeDataString(parse.GetValue(format)!)}");
            using var response = await api.SendRawAsync(request, ct);
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            if (parse.GetValue(output) is { } file)
            {
                // Written beside the target and moved into place, so a failed export leaves no half file.
                var partial = file.FullName + ".partial";
                await using (var target = File.Create(partial))
                {
                    await body.CopyToAsync(target, ct);
                }
                File.Move(partial, file.FullName, overwrite: true);
                await c.Err.WriteLineAsync($"wrote {file.FullName}");
            }
            else
            {
                await using var stdout = System.Console.OpenStandardOutput();
                await body.CopyToAsync(stdout, ct);
            }
            return 0;
        }));
        return command;
    }

    private static Command UserCommand(Context c)
    {
        var user = new Command("user", "Manage users (admin)");
        var email = new Argument<string>("email") { Description = "E-mail address" };
        var role = new Option<string>("--role") { Description = "user (default) or admin; project roles come with `project member add`" };
        var password = new Option<string>("--password") { Description = "Lets the user sign in on the web page; without it, tokens only" };
        var create = new Command("create", "Create a user") { email, role, password };
        create.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = await api.PostAsync("api/v1/users", new { email = parse.GetValue(email), role = parse.GetValue(role), password = parse.GetValue(password) }, ct);
            WriteResult(c, parse, result, $"created user {Str(result!["email"])} (id {Str(result["id"])})");
            return 0;
        }));
        var list = new Command("list", "All users");
        list.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = (await api.GetAsync("api/v1/users", ct))!.AsArray();
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
                return 0;
            }
            var table = new Table().AddColumns("id", "email", "admin", "active");
            foreach (var u in result)
            {
                table.AddRow(Str(u!["id"]), Markup.Escape(Str(u["email"])), Str(u["isAdmin"]), Str(u["isActive"]));
            }
            c.Console().Write(table);
            return 0;
        }));
        user.Subcommands.Add(create);
        user.Subcommands.Add(list);
        return user;
    }

    private static Command TokenCommand(Context c)
    {
        var token = new Command("token", "API tokens: shown once, stored hashed");
        var userEmail = new Option<string>("--user") { Description = "Another user's e-mail (admin only)" };
        var name = new Option<string>("--name") { Description = "A label for the token" };
        var create = new Command("create", "Create a token and print it once") { userEmail, name };
        create.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = await api.PostAsync("api/v1/tokens", new { name = parse.GetValue(name), userEmail = parse.GetValue(userEmail) }, ct);
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
            }
            else
            {
                c.Out.WriteLine(Str(result!["token"]));
                await c.Err.WriteLineAsync($"token {Str(result["id"])} for {Str(result["userEmail"])}; shown once, keep it safe");
            }
            return 0;
        }));
        var list = new Command("list", "Tokens (admins see everyone's)") { userEmail };
        list.SetAction(c.Api(async (parse, api, ct) =>
        {
            var query = parse.GetValue(userEmail) is { } e ? $"?user={Uri.EscapeDataString(e)}" : "";
            var result = (await api.GetAsync("api/v1/tokens" + query, ct))!.AsArray();
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
                return 0;
            }
            var table = new Table().AddColumns("id", "name", "prefix", "user", "created", "last used", "revoked");
            foreach (var t in result)
            {
                table.AddRow(Str(t!["id"]), Markup.Escape(Str(t["name"])), Markup.Escape(Str(t["prefix"])) + "…", Markup.Escape(Str(t["userEmail"])),
                    Str(t["createdAt"]), Str(t["lastUsedAt"]), Str(t["revokedAt"]));
            }
            c.Console().Write(table);
            return 0;
        }));
        var id = new Argument<long>("id") { Description = "Token id (from token list)" };
        var revoke = new Command("revoke", "Revoke a token") { id };
        revoke.SetAction(c.Api(async (parse, api, ct) =>
        {
            await api.DeleteAsync($"api/v1/tokens/{parse.GetValue(id)}", ct);
            WriteResult(c, parse, new JsonObject { ["revoked"] = parse.GetValue(id) }, $"revoked token {parse.GetValue(id)}");
            return 0;
        }));
        token.Subcommands.Add(create);
        token.Subcommands.Add(list);
        token.Subcommands.Add(revoke);
        return token;
    }

    private static void WriteResult(Context c, ParseResult parse, JsonNode? result, string text)
    {
        if (c.WantsJson(parse))
        {
            c.WriteJson(result);
        }
        else
        {
            c.Out.WriteLine(text);
        }
    }

    private static string Str(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };

    private static JsonNode ReadJsonFile(FileInfo file)
    {
        if (!file.Exists)
        {
            throw new CliException($"no such file: {file.FullName}");
        }
        try
        {
            return JsonNode.Parse(File.ReadAllText(file.FullName)) ?? throw new CliException($"{file.Name} is empty");
        }
        catch (JsonException ex)
        {
            throw new CliException($"{file.Name} is not valid JSON: line {(ex.LineNumber ?? 0) + 1}: {ex.Message.Split(" Path:")[0]}");
        }
    }

    private static async Task<string> ReadTextFileAsync(FileInfo file, CancellationToken ct) =>
        file.Exists ? await File.ReadAllTextAsync(file.FullName, ct) : throw new CliException($"no such file: {file.FullName}");

}

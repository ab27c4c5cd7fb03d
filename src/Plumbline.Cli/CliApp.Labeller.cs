using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Plumbline.Cli;

/// <summary>The <c>labeller</c> commands: LLM labellers that pre-annotate items, measured against people.</summary>
public static partial class CliApp
{
    private static Command LabellerCommand(Context c)
    {
        var labeller = new Command("labeller", "LLM labellers: a model and a prompt that suggest answers, measured against gold and people");
        var project = new Argument<long>("project") { Description = "Project id" };
        var name = new Argument<string>("name") { Description = "Labeller name (or id)" };

        var nameOption = new Option<string>("--name") { Description = "Labeller name: letters, digits, _ and -", Required = true };
        var provider = new Option<string>("--provider") { Description = "Model provider name (plumbline provider list)" };
        var promptFile = new Option<FileInfo>("--prompt-file") { Description = "The prompt template: {{field}}, {{metadata.KEY}}, {{questions}}" };
        var systemFile = new Option<FileInfo>("--system-file") { Description = "An optional system message" };
        var questions = new Option<string>("--questions") { Description = "Comma-separated questions it answers (default: all)" };
        var parameters = new Option<string[]>("--param") { Description = "A request parameter KEY=VALUE (temperature=0, max_tokens=200, seed=1); repeatable" };
        var note = new Option<string>("--note") { Description = "What this version changes" };

        async Task<object> VersionBody(ParseResult parse, CancellationToken ct) => new
        {
            provider = parse.GetValue(provider),
            prompt = parse.GetValue(promptFile) is { } f ? await ReadTextAsync(f, ct) : null,
            systemPrompt = parse.GetValue(systemFile) is { } s ? await ReadTextAsync(s, ct) : null,
            questions = parse.GetValue(questions)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            parameters = Parameters(parse.GetValue(parameters)),
            note = parse.GetValue(note),
        };

        var create = new Command("create", "Create a labeller (version 1)") { project, nameOption, provider, promptFile, systemFile, questions, parameters, note };
        create.SetAction(c.Api(async (parse, api, ct) =>
        {
            if (parse.GetValue(promptFile) is null || parse.GetValue(provider) is null)
            {
                throw new CliException("--provider and --prompt-file are required");
            }
            var body = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(await VersionBody(parse, ct), System.Text.Json.JsonSerializerOptions.Web))!.AsObject();
            body["name"] = parse.GetValue(nameOption);
            var created = (await api.PostAsync($"api/v1/projects/{parse.GetValue(project)}/labellers", body, ct))!;
            WriteLabeller(c, parse, created);
            return 0;
        }));

        var update = new Command("update", "Change a labeller: a new version (earlier ones are kept)") { project, name, provider, promptFile, systemFile, questions, parameters, note };
        update.SetAction(c.Api(async (parse, api, ct) =>
        {
            var updated = (await api.SendAsync(HttpMethod.Put, $"api/v1/projects/{parse.GetValue(project)}/labellers/{Uri.EscapeDataString(parse.GetValue(name)!)}",
                await VersionBody(parse, ct), ct))!;
            WriteLabeller(c, parse, updated);
            return 0;
        }));

        var list = new Command("list", "The project's labellers") { project };
        list.SetAction(c.Api(async (parse, api, ct) =>
        {
            var all = (await api.GetAsync($"api/v1/projects/{parse.GetValue(project)}/labellers", ct))!.AsArray();
            if (c.WantsJson(parse))
            {
                c.WriteJson(all);
                return 0;
            }
            var table = new Table().AddColumns("id", "name", "version", "agent", "questions");
            foreach (var l in all)
            {
                var current = l!["versions"]![0]!;
                table.AddRow(Str(l["id"]), Markup.Escape(Str(l["name"])), Str(l["currentVersion"]), Markup.Escape(Str(current["agent"])),
                    Markup.Escape(string.Join(", ", current["questions"]!.AsArray().Select(Str))));
            }
            c.Console().Write(table);
            return 0;
        }));

        var version = new Option<int?>("--version") { Description = "Labeller version (default: the current one)" };
        var filter = new Option<string[]>("--filter")
        {
            Description = "Which items: gold, no-gold, status=none|in_progress|complete, metadata.KEY=VALUE, ids=a,b,c, limit=N; repeatable",
        };
        var measureOnly = new Option<bool>("--measure-only") { Description = "Do not show the answers to annotators as suggestions; only measure" };
        var concurrency = new Option<int?>("--concurrency") { Description = "Requests in flight at once (default 4)" };
        var detach = new Option<bool>("--detach") { Description = "Start the run and return; follow it with labeller report" };
        var run = new Command("run", "Run a labeller over the project's items; waits and shows progress unless --detach")
        {
            project, name, version, filter, measureOnly, concurrency, detach,
        };
        run.SetAction(c.Api(async (parse, api, ct) =>
        {
            var projectId = parse.GetValue(project);
            var started = (await api.PostAsync($"api/v1/projects/{projectId}/labellers/{Uri.EscapeDataString(parse.GetValue(name)!)}/runs", new
            {
                version = parse.GetValue(version),
                filter = RunFilter(parse.GetValue(filter)),
                suggest = !parse.GetValue(measureOnly),
                concurrency = parse.GetValue(concurrency),
            }, ct))!;
            var runId = started["id"]!.GetValue<long>();
            var current = started;
            if (!parse.GetValue(detach))
            {
                var shown = -1;
                while (Str(current["status"]) is "queued" or "running")
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(300), ct);
                    current = (await api.GetAsync($"api/v1/projects/{projectId}/labellers/runs/{runId}", ct))!;
                    var progressed = current["done"]!.GetValue<int>() + current["failed"]!.GetValue<int>();
                    if (progressed != shown && !c.WantsJson(parse))
                    {
                        shown = progressed;
                        // Progress goes to stderr, so stdout stays the result a script reads.
                        await c.Err.WriteLineAsync($"{Bar(progressed, current["total"]?.GetValue<int>())} {progressed}/{Str(current["total"])} ({Str(current["failed"])} failed)");
                    }
                }
            }
            if (c.WantsJson(parse))
            {
                c.WriteJson(current);
            }
            else
            {
                c.Out.WriteLine($"run {runId} of {Str(current["labeller"])} v{Str(current["version"])}: {Str(current["status"])}; "
                    + $"{Str(current["done"])} answered, {Str(current["failed"])} failed of {Str(current["total"])}; "
                    + $"{Str(current["promptTokens"])}+{Str(current["completionTokens"])} tokens, cost {Num(current["cost"])}"
                    + (current["error"] is { } e ? $"; {Str(e)}" : ""));
            }
            return Str(current["status"]) is "failed" ? 1 : 0;
        }));

        var compare = new Option<int?>("--compare") { Description = "Compare with this version of the same labeller, on the items both answered" };
        var report = new Command("report", "Agreement with gold and people per question, confusion matrices, cost, latency, acceptance") { project, name, version, compare };
        report.SetAction(c.Api(async (parse, api, ct) =>
        {
            var projectId = parse.GetValue(project);
            var labellerName = parse.GetValue(name)!;
            if (parse.GetValue(compare) is { } other)
            {
                var b = parse.GetValue(version) is { } v ? $"{labellerName}@{v}" : labellerName;
                var comparison = (await api.GetAsync(
                    $"api/v1/projects/{projectId}/labellers/compare?a={Uri.EscapeDataString($"{labellerName}@{other}")}&b={Uri.EscapeDataString(b)}", ct))!;
                if (c.WantsJson(parse))
                {
                    c.WriteJson(comparison);
                    return 0;
                }
                c.Out.WriteLine($"{Str(comparison["sharedItems"])} items answered by both versions");
                WriteReport(c, comparison["a"]!);
                WriteReport(c, comparison["b"]!);
                var between = new Table().AddColumns("question", "compared", "same answer", "kappa");
                foreach (var q in comparison["between"]!.AsArray())
                {
                    between.AddRow(Markup.Escape(Str(q!["question"])), Str(q["figures"]!["compared"]), Num(q["figures"]!["accuracy"]), Num(q["figures"]!["kappa"]));
                }
                c.Out.WriteLine($"v{Str(comparison["a"]!["version"])} against v{Str(comparison["b"]!["version"])}:");
                c.Console().Write(between);
                return 0;
            }
            var path = $"api/v1/projects/{projectId}/labellers/{Uri.EscapeDataString(labellerName)}/report"
                + (parse.GetValue(version) is { } ver ? $"?version={ver.ToString(CultureInfo.InvariantCulture)}" : "");
            var result = (await api.GetAsync(path, ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
            }
            else
            {
                WriteReport(c, result);
            }
            return 0;
        }));

        var runArg = new Argument<long>("run") { Description = "Run id" };
        var cancel = new Command("cancel", "Stop a run; what it stored stays") { project, runArg };
        cancel.SetAction(c.Api(async (parse, api, ct) =>
        {
            var cancelled = (await api.PostAsync($"api/v1/projects/{parse.GetValue(project)}/labellers/runs/{parse.GetValue(runArg)}/cancel", null, ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(cancelled);
            }
            else
            {
                c.Out.WriteLine($"run {Str(cancelled["id"])} cancelled after {Str(cancelled["done"])} items");
            }
            return 0;
        }));

        labeller.Subcommands.Add(create);
        labeller.Subcommands.Add(update);
        labeller.Subcommands.Add(list);
        labeller.Subcommands.Add(run);
        labeller.Subcommands.Add(report);
        labeller.Subcommands.Add(cancel);
        return labeller;
    }

    private static async Task<string> ReadTextAsync(FileInfo file, CancellationToken ct) =>
        file.Exists ? await File.ReadAllTextAsync(file.FullName, ct) : throw new CliException($"no such file: {file.FullName}");

    /// <summary>KEY=VALUE pairs as JSON values: numbers and true/false as such, anything else as text.</summary>
    private static JsonObject? Parameters(string[]? pairs)
    {
        if (pairs is not { Length: > 0 })
        {
            return null;
        }
        var result = new JsonObject();
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                throw new CliException($"--param '{pair}' is not KEY=VALUE");
            }
            var value = pair[(eq + 1)..];
            result[pair[..eq]] = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                ? (value.Contains('.') || value.Contains('e') ? JsonValue.Create(number) : JsonValue.Create((long)number))
                : bool.TryParse(value, out var flag) ? JsonValue.Create(flag) : JsonValue.Create(value);
        }
        return result;
    }

    private static JsonObject? RunFilter(string[]? filters)
    {
        if (filters is not { Length: > 0 })
        {
            return null;
        }
        var result = new JsonObject();
        var metadata = new JsonObject();
        foreach (var f in filters)
        {
            var eq = f.IndexOf('=');
            var (key, value) = eq < 0 ? (f, "") : (f[..eq], f[(eq + 1)..]);
            switch (key)
            {
                case "gold":
                    result["gold"] = true;
                    break;
                case "no-gold":
                    result["gold"] = false;
                    break;
                case "status":
                    result["status"] = value;
                    break;
                case "limit" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit):
                    result["limit"] = limit;
                    break;
                case "ids":
                    result["externalIds"] = new JsonArray(value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(id => (JsonNode)id).ToArray());
                    break;
                case var k when k.StartsWith("metadata.", StringComparison.Ordinal) && eq > 0:
                    metadata[k["metadata.".Length..]] = value;
                    break;
                default:
                    throw new CliException($"--filter '{f}' is not one of gold, no-gold, status=…, metadata.KEY=VALUE, ids=…, limit=N");
            }
        }
        if (metadata.Count > 0)
        {
            result["metadata"] = metadata;
        }
        return result;
    }

    private static string Bar(int done, int? total)
    {
        const int width = 30;
        var filled = total is > 0 ? Math.Min(width, done * width / total.Value) : 0;
        return "[" + new string('#', filled) + new string('.', width - filled) + "]";
    }

    private static void WriteLabeller(Context c, ParseResult parse, JsonNode labeller)
    {
        if (c.WantsJson(parse))
        {
            c.WriteJson(labeller);
            return;
        }
        var current = labeller["versions"]![0]!;
        c.Out.WriteLine($"labeller {Str(labeller["id"])} \"{Str(labeller["name"])}\" version {Str(current["version"])}: {Str(current["agent"])}; "
            + $"answers {string.Join(", ", current["questions"]!.AsArray().Select(Str))}");
    }

    private static void WriteReport(Context c, JsonNode report)
    {
        c.Out.WriteLine($"{Str(report["labeller"])} v{Str(report["version"])} ({Str(report["agent"])}): {Str(report["answered"])} of {Str(report["items"])} items answered, "
            + $"{Str(report["failed"])} failed; coverage {Num(report["coverage"])}; {Str(report["requests"])} requests, "
            + $"{Str(report["promptTokens"])}+{Str(report["completionTokens"])} tokens, cost {Num(report["cost"])}; "
            + $"latency p50 {Str(report["latencyP50Ms"])} ms, p95 {Str(report["latencyP95Ms"])} ms");
        var table = new Table().AddColumns("question", "answered", "gold n", "gold acc", "gold kappa", "people n", "people acc", "people kappa", "shown", "accepted");
        foreach (var q in report["questions"]!.AsArray())
        {
            table.AddRow(Markup.Escape(Str(q!["name"])), Str(q["answered"]), Str(q["gold"]!["compared"]), Num(q["gold"]!["accuracy"]), Num(q["gold"]!["kappa"]),
                Str(q["consensus"]!["compared"]), Num(q["consensus"]!["accuracy"]), Num(q["consensus"]!["kappa"]),
                Str(q["suggestions"]!["shown"]), Num(q["suggestions"]!["acceptanceRate"]));
        }
        c.Console().Write(table);
        foreach (var q in report["questions"]!.AsArray())
        {
            if (q!["gold"]!["confusion"] is { } confusion && q["gold"]!["compared"]!.GetValue<int>() > 0)
            {
                var categories = confusion["categories"]!.AsArray().Select(Str).ToList();
                var matrix = new Table().AddColumn($"{Markup.Escape(Str(q["name"]))}: gold \\ labeller");
                foreach (var cat in categories)
                {
                    matrix.AddColumn(Markup.Escape(cat));
                }
                var counts = confusion["counts"]!.AsArray();
                for (var r = 0; r < categories.Count; r++)
                {
                    matrix.AddRow([Markup.Escape(categories[r]), .. counts[r]!.AsArray().Select(Str)]);
                }
                c.Console().Write(matrix);
            }
        }
        foreach (var f in report["failures"]!.AsArray().Take(10))
        {
            c.Out.WriteLine($"  failed {Str(f!["externalId"])}: {Str(f["error"])}");
        }
    }
}

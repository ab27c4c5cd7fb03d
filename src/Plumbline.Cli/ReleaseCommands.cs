using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Plumbline.Cli;

/// <summary><c>plumbline release create|list|show|diff|download</c>.</summary>
public static partial class CliApp
{
    private static Command ReleaseCommand(Context c)
    {
        var release = new Command("release", "Build, list, inspect, compare and download a project's versioned releases");

        var project = new Argument<long>("project") { Description = "Project id" };
        var formats = new Option<string[]>("--format", "-f")
        {
            Description = "Output format, repeatable: openai-chat, trl-sft, trl-prompt-completion, trl-preference, trl-preference-chat, kto, "
                + "reward-pairs, ranking-pairs, alpaca, sharegpt, rubric, safety, raw, csv, hf or hf:FORMAT",
            Required = true, AllowMultipleArgumentsPerToken = false,
        };
        var filters = new Option<string[]>("--filter")
        {
            Description = "Repeatable: status=complete, min-confidence=0.8, exclude-gold, only-reviewed, metadata.KEY=VALUE",
        };
        var methods = new Option<string[]>("--method") { Description = "Consensus method per question, repeatable: QUESTION=METHOD (e.g. accuracy=mean)" };
        var validation = new Option<double?>("--validation") { Description = "Share of items in the validation split (default 0.05)" };
        var test = new Option<double?>("--test") { Description = "Share of items in the test split (default 0.05)" };
        var seed = new Option<long?>("--seed") { Description = "Seed of the split (default 0)" };
        var stratify = new Option<string>("--stratify-by") { Description = "Metadata key whose values each get the split shares exactly" };
        var realIds = new Option<bool>("--real-ids") { Description = "Write annotators' e-mail addresses instead of per-release pseudonyms" };
        var s3 = new Option<string>("--s3") { Description = "Also upload to S3-compatible storage: s3://bucket/prefix (server-side credentials)" };
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Download the release's files into this folder" };
        var detach = new Option<bool>("--detach") { Description = "Queue the release and return at once; follow it with `release show`" };
        var create = new Command("create", "Build the next release (on the server, in the background), wait for it with a progress bar, and print its version and files")
        {
            project, formats, filters, methods, validation, test, seed, stratify, realIds, s3, output, detach,
        };
        create.SetAction(c.Api(async (parse, api, ct) =>
        {
            var id = parse.GetValue(project);
            var body = new JsonObject
            {
                ["formats"] = new JsonArray(parse.GetValue(formats)!.Select(f => (JsonNode)f).ToArray()),
                ["filter"] = ParseFilters(parse.GetValue(filters) ?? []),
                ["methods"] = ParsePairs(parse.GetValue(methods) ?? [], "--method", "QUESTION=METHOD"),
                ["split"] = new JsonObject
                {
                    ["validation"] = parse.GetValue(validation), ["test"] = parse.GetValue(test), ["seed"] = parse.GetValue(seed),
                    ["stratifyBy"] = parse.GetValue(stratify),
                },
                ["realAnnotatorIds"] = parse.GetValue(realIds),
                ["s3"] = parse.GetValue(s3),
            };
            var result = (await api.PostAsync($"api/v1/projects/{id}/releases", body, ct))!;
            var version = result["release"]!["version"]!.GetValue<int>();
            if (parse.GetValue(detach))
            {
                if (c.WantsJson(parse))
                {
                    c.WriteJson(result);
                }
                else
                {
                    c.Out.WriteLine($"v{version} queued; follow it with: plumbline release show {id} v{version}");
                }
                return 0;
            }
            result = await WaitForReleaseAsync(c, api, id, version, showProgress: !c.WantsJson(parse), ct);
            if (parse.GetValue(output) is { } folder)
            {
                await DownloadReleaseAsync(api, id, version, result["manifest"]!, folder, ct);
                await c.Err.WriteLineAsync($"wrote v{version} to {folder.FullName}");
            }
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
            }
            else
            {
                WriteRelease(c, result);
            }
            return 0;
        }));
        release.Subcommands.Add(create);

        var listProject = new Argument<long>("project") { Description = "Project id" };
        var list = new Command("list", "A project's releases, oldest first") { listProject };
        list.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = (await api.GetAsync($"api/v1/projects/{parse.GetValue(listProject)}/releases", ct))!.AsArray();
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
                return 0;
            }
            var table = new Table().AddColumns("version", "status", "items", "formats", "created", "by");
            foreach (var r in result)
            {
                var status = Str(r!["status"]) switch
                {
                    "failed" => "failed: " + Str(r["error"]),
                    "queued" or "building" => $"{Str(r["status"])} ({Str(r["progress"])} of {Str(r["total"])})",
                    var other => other,
                };
                table.AddRow(Str(r["name"]), Markup.Escape(status), Str(r["items"]), Markup.Escape(string.Join(", ", r["formats"]!.AsArray().Select(Str))),
                    Str(r["createdAt"]), Markup.Escape(Str(r["createdBy"])));
            }
            c.Console().Write(table);
            return 0;
        }));
        release.Subcommands.Add(list);

        var showProject = new Argument<long>("project") { Description = "Project id" };
        var showVersion = new Argument<string>("version") { Description = "Release version: 3 or v3" };
        var showOutput = new Option<DirectoryInfo>("--output", "-o") { Description = "Download the release's files into this folder" };
        var show = new Command("show", "A release's counts, consensus methods, agreement and files") { showProject, showVersion, showOutput };
        show.SetAction(c.Api(async (parse, api, ct) =>
        {
            var id = parse.GetValue(showProject);
            var result = (await api.GetAsync($"api/v1/projects/{id}/releases/{Uri.EscapeDataString(parse.GetValue(showVersion)!)}", ct))!;
            if (parse.GetValue(showOutput) is { } folder)
            {
                await DownloadReleaseAsync(api, id, result["release"]!["version"]!.GetValue<int>(), result["manifest"]!, folder, ct);
                await c.Err.WriteLineAsync($"wrote {result["release"]!["name"]} to {folder.FullName}");
            }
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
            }
            else
            {
                WriteRelease(c, result);
            }
            return 0;
        }));
        release.Subcommands.Add(show);

        var diffProject = new Argument<long>("project") { Description = "Project id" };
        var from = new Argument<string>("from") { Description = "The older release: 1 or v1" };
        var to = new Argument<string>("to") { Description = "The newer release: 2 or v2" };
        var diff = new Command("diff", "Items added, removed and changed between two releases") { diffProject, from, to };
        diff.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = (await api.GetAsync(
                $"api/v1/projects/{parse.GetValue(diffProject)}/releases/{Uri.EscapeDataString(parse.GetValue(from)!)}/diff/{Uri.EscapeDataString(parse.GetValue(to)!)}", ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
                return 0;
            }
            c.Out.WriteLine($"v{Str(result["from"])} → v{Str(result["to"])}: {Str(result["added"])} added, {Str(result["removed"])} removed, "
                + $"{Str(result["changed"])} changed, {Str(result["unchanged"])} unchanged, {Str(result["movedSplit"])} moved to another split");
            foreach (var (label, key) in new[] { ("added", "addedIds"), ("removed", "removedIds"), ("changed", "changedIds") })
            {
                var ids = result[key]!.AsArray().Select(Str).ToList();
                if (ids.Count > 0)
                {
                    c.Out.WriteLine($"  {label}: {string.Join(", ", ids)}");
                }
            }
            return 0;
        }));
        release.Subcommands.Add(diff);
        return release;
    }

    /// <summary>Polls a queued release until it is ready (returns its detail) or failed (throws with the server's reason).</summary>
    private static async Task<JsonNode> WaitForReleaseAsync(Context c, ApiClient api, long project, int version, bool showProgress, CancellationToken ct)
    {
        var path = $"api/v1/projects/{project}/releases/{version}";
        async Task<JsonNode> PollAsync(Action<JsonNode> report)
        {
            while (true)
            {
                var detail = (await api.GetAsync(path, ct))!;
                report(detail["release"]!);
                switch (Str(detail["release"]!["status"]))
                {
                    case "ready":
                        return detail;
                    case "failed":
                        throw new CliException($"release v{version} failed: {Str(detail["release"]!["error"])}");
                }
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
            }
        }
        if (!showProgress)
        {
            return await PollAsync(_ => { });
        }
        JsonNode? result = null;
        // On stderr, so stdout stays the release's report.
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(c.Err) });
        await console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async p =>
            {
                var task = p.AddTask($"v{version} queued", maxValue: 1);
                result = await PollAsync(r =>
                {
                    var total = r["total"]?.GetValue<long>();
                    if (total is > 0)
                    {
                        task.MaxValue = total.Value;
                    }
                    task.Value = Math.Min(r["progress"]!.GetValue<long>(), (long)task.MaxValue);
                    task.Description = $"v{version} {Str(r["status"])}: {Str(r["progress"])} of {(total?.ToString(CultureInfo.InvariantCulture) ?? "?")} items";
                    if (Str(r["status"]) == "ready")
                    {
                        task.Value = task.MaxValue;
                    }
                });
            });
        return result!;
    }

    private static void WriteRelease(Context c, JsonNode result)
    {
        var r = result["release"]!;
        var m = result["manifest"]!;
        var counts = m["counts"]!;
        c.Out.WriteLine($"{Str(r["name"])}: {Str(counts["items"])} of {Str(counts["itemsMatched"])} matched items, "
            + $"{Str(counts["responses"])} responses from {Str(counts["annotators"])} annotators; at {Str(r["location"])}"
            + (r["remoteLocation"] is { } remote ? $" and {Str(remote)}" : ""));
        foreach (var (reason, n) in counts["excluded"]!.AsObject())
        {
            c.Out.WriteLine($"  left out: {Str(n)} ({reason})");
        }
        var console = c.Console();
        var questions = new Table().AddColumns("question", "type", "method", "items", "mean confidence", "agreement");
        foreach (var (name, q) in m["questions"]!.AsObject())
        {
            questions.AddRow(Markup.Escape(name), Str(q!["type"]), Str(q["method"]), Str(q["items"]), Str(q["meanConfidence"]),
                q["agreement"] is null ? "" : $"{Str(q["agreement"])} ({Str(q["agreementMetric"])})");
        }
        console.Write(questions);
        var files = new Table().AddColumns("file", "records", "bytes", "sha256");
        foreach (var f in m["files"]!.AsArray())
        {
            files.AddRow(Markup.Escape(Str(f!["path"])), Str(f["records"]), Str(f["bytes"]), Str(f["sha256"])[..16] + "…");
        }
        console.Write(files);
    }

    /// <summary>Downloads every file of a release and manifest.json into <paramref name="folder"/>, checking each file's SHA-256.</summary>
    private static async Task DownloadReleaseAsync(ApiClient api, long project, int version, JsonNode manifest, DirectoryInfo folder, CancellationToken ct)
    {
        var root = Path.GetFullPath(folder.FullName);
        var files = manifest["files"]!.AsArray().Select(f => (Path: Str(f!["path"]), Sha: Str(f["sha256"]))).Append(("manifest.json", ""));
        foreach (var (path, sha) in files)
        {
            var target = Path.GetFullPath(Path.Combine(root, path));
            if (!target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new CliException($"the server listed a file outside the release folder: {path}");
            }
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/projects/{project}/releases/{version}/files/{path}");
            using var response = await api.SendRawAsync(request, ct);
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var partial = target + ".partial";
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                await using (var file = File.Create(partial))
                {
                    var buffer = new byte[81920];
                    int read;
                    while ((read = await body.ReadAsync(buffer, ct)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                        await file.WriteAsync(buffer.AsMemory(0, read), ct);
                    }
                }
                var actual = Convert.ToHexStringLower(hash.GetCurrentHash());
                if (sha.Length > 0 && actual != sha)
                {
                    File.Delete(partial);
                    throw new CliException($"{path}: SHA-256 {actual} does not match the manifest's {sha}; download again");
                }
            }
            File.Move(partial, target, overwrite: true);
        }
    }

    private static JsonObject ParseFilters(string[] filters)
    {
        var filter = new JsonObject();
        var metadata = new JsonObject();
        foreach (var f in filters)
        {
            var (key, value) = f.IndexOf('=', StringComparison.Ordinal) is var eq and >= 0 ? (f[..eq].Trim(), f[(eq + 1)..].Trim()) : (f.Trim(), null);
            switch (key)
            {
                case "status":
                    filter["status"] = value;
                    break;
                case "min-confidence" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var min):
                    filter["minConfidence"] = min;
                    break;
                case "exclude-gold" when value is null or "true":
                    filter["excludeGold"] = true;
                    break;
                case "only-reviewed" when value is null or "true":
                    filter["onlyReviewed"] = true;
                    break;
                case var k when k.StartsWith("metadata.", StringComparison.Ordinal) && k.Length > 9 && value is not null:
                    metadata[k[9..]] = value;
                    break;
                default:
                    throw new CliException($"--filter '{f}' is not understood; use status=any|complete, min-confidence=0.8, exclude-gold, only-reviewed or metadata.KEY=VALUE");
            }
        }
        if (metadata.Count > 0)
        {
            filter["metadata"] = metadata;
        }
        return filter;
    }

    private static JsonObject ParsePairs(string[] pairs, string option, string shape)
    {
        var result = new JsonObject();
        foreach (var p in pairs)
        {
            var eq = p.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == p.Length - 1)
            {
                throw new CliException($"{option} '{p}' should look like {shape}");
            }
            result[p[..eq].Trim()] = p[(eq + 1)..].Trim();
        }
        return result;
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Plumbline.Cli;

/// <summary><c>plumbline provider add|list|test</c> and <c>plumbline generate</c>.</summary>
public static partial class CliApp
{
    private static Command ProviderCommand(Context c)
    {
        var provider = new Command("provider", "Model providers that speak the OpenAI chat-completions protocol (admin)");

        var name = new Argument<string>("name") { Description = "A name for the provider: letters, digits, '.', '_' and '-'" };
        var baseUrl = new Option<string>("--base-url") { Description = "API root, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1", Required = true };
        var model = new Option<string>("--model") { Description = "Model name sent with each request", Required = true };
        var keyVariable = new Option<string>("--api-key-env") { Description = "Environment variable holding the API key (never passed on the command line)" };
        var priceIn = new Option<double?>("--price-in") { Description = "Price per million prompt tokens" };
        var priceOut = new Option<double?>("--price-out") { Description = "Price per million completion tokens" };
        var rateLimit = new Option<int?>("--rate-limit") { Description = "At most this many requests per minute" };
        var timeout = new Option<int?>("--timeout") { Description = "Seconds per attempt (default 120)" };
        var parameters = new Option<string[]>("--param") { Description = "Default request parameter, repeatable: temperature=0.7, max_tokens=512" };
        var add = new Command("add", "Add a provider; prints its id") { name, baseUrl, model, keyVariable, priceIn, priceOut, rateLimit, timeout, parameters };
        add.SetAction(c.Api(async (parse, api, ct) =>
        {
            string? key = null;
            if (parse.GetValue(keyVariable) is { } variable)
            {
                key = Environment.GetEnvironmentVariable(variable);
                if (string.IsNullOrEmpty(key))
                {
                    throw new CliException($"environment variable {variable} is not set; export it with the API key first");
                }
            }
            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name), ["baseUrl"] = parse.GetValue(baseUrl), ["model"] = parse.GetValue(model), ["apiKey"] = key,
                ["parameters"] = ParseParameters(parse.GetValue(parameters) ?? []), ["rateLimitPerMinute"] = parse.GetValue(rateLimit),
                ["timeoutSeconds"] = parse.GetValue(timeout), ["pricePerMillionInput"] = parse.GetValue(priceIn), ["pricePerMillionOutput"] = parse.GetValue(priceOut),
            };
            var created = (await api.PostAsync("api/v1/providers", body, ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(created);
            }
            else
            {
                await c.Out.WriteLineAsync(created["id"]!.ToJsonString());
            }
            return 0;
        }));
        provider.Subcommands.Add(add);

        var list = new Command("list", "All providers; keys are never shown, only whether one is set");
        list.SetAction(c.Api(async (parse, api, ct) =>
        {
            var providers = (await api.GetAsync("api/v1/providers", ct))!.AsArray();
            if (c.WantsJson(parse))
            {
                c.WriteJson(providers);
                return 0;
            }
            // The base URL and parameters are in --json; the table keeps to what fits a terminal.
            var table = new Table().AddColumns("id", "name", "model", "key", "limit", "price in/out");
            foreach (var p in providers)
            {
                table.AddRow(
                    p!["id"]!.ToJsonString(), Markup.Escape(p["name"]!.GetValue<string>()), Markup.Escape(p["model"]!.GetValue<string>()),
                    p["hasApiKey"]!.GetValue<bool>() ? (p["apiKeyHint"] is { } hint ? "…" + Markup.Escape(hint.GetValue<string>()) : "set") : "none",
                    p["rateLimitPerMinute"] is { } rpm ? rpm.ToJsonString() + "/min" : "-",
                    p["pricePerMillionInput"] is null && p["pricePerMillionOutput"] is null ? "-" : $"{p["pricePerMillionInput"]?.ToJsonString() ?? "0"} / {p["pricePerMillionOutput"]?.ToJsonString() ?? "0"}");
            }
            c.Console().Write(table);
            return 0;
        }));
        provider.Subcommands.Add(list);

        var testName = new Argument<string>("name") { Description = "Provider name or id" };
        var prompt = new Option<string>("--prompt") { Description = "What to ask (default: reply OK)" };
        var stream = new Option<bool>("--stream") { Description = "Ask for a streamed answer" };
        var test = new Command("test", "Send one short request and show the answer, tokens, latency and cost") { testName, prompt, stream };
        test.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = (await api.PostAsync($"api/v1/providers/{Uri.EscapeDataString(parse.GetValue(testName)!)}/test",
                new { prompt = parse.GetValue(prompt), stream = parse.GetValue(stream) }, ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
                return 0;
            }
            await c.Out.WriteLineAsync(result["content"]!.GetValue<string>());
            await c.Err.WriteLineAsync($"{result["model"]}: {result["promptTokens"]?.ToJsonString() ?? "?"} + {result["completionTokens"]?.ToJsonString() ?? "?"} tokens, " +
                $"{result["latencyMs"]} ms, {result["attempts"]} attempt(s){(result["cost"] is { } cost ? ", cost " + cost.ToJsonString() : "")}");
            return 0;
        }));
        provider.Subcommands.Add(test);
        return provider;
    }

    private static Command GenerateCommand(Context c)
    {
        var project = new Argument<long>("project") { Description = "Project id" };
        var providers = new Option<string[]>("--provider") { Description = "Provider name, repeatable", Required = true };
        var n = new Option<int?>("--n") { Description = "Responses per provider and item (default 1)" };
        var filters = new Option<string[]>("--filter") { Description = "Repeatable: status=none|in_progress|complete, text=WORDS, metadata.KEY=VALUE, id=EXTERNAL_ID" };
        var prompt = new Option<string>("--prompt") { Description = "User message template, e.g. 'Answer briefly: {{prompt}}' (default: the item's chat)" };
        var system = new Option<string>("--system") { Description = "System message template" };
        var target = new Option<string>("--target") { Description = "candidates or draft (default: what the project has)" };
        var field = new Option<string>("--field") { Description = "The field to write (default: the project's candidates or draft field)" };
        var parameters = new Option<string[]>("--param") { Description = "Request parameter over the provider's defaults, repeatable: temperature=1.0" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace candidates and drafts that exist already" };
        var concurrency = new Option<int?>("--concurrency") { Description = "Items worked on at the same time (default 4)" };
        var detach = new Option<bool>("--detach") { Description = "Print the job id and return at once instead of waiting" };
        var command = new Command("generate", "Ask models for responses to a project's items; they become candidates or drafts")
        {
            project, providers, n, filters, prompt, system, target, field, parameters, overwrite, concurrency, detach,
        };
        command.SetAction(c.Api(async (parse, api, ct) =>
        {
            var body = new JsonObject
            {
                ["providers"] = new JsonArray(parse.GetValue(providers)!.Select(p => (JsonNode)p).ToArray()),
                ["n"] = parse.GetValue(n), ["prompt"] = parse.GetValue(prompt), ["system"] = parse.GetValue(system), ["target"] = parse.GetValue(target),
                ["field"] = parse.GetValue(field), ["parameters"] = ParseParameters(parse.GetValue(parameters) ?? []),
                ["filter"] = ParseGenerationFilter(parse.GetValue(filters) ?? []), ["overwrite"] = parse.GetValue(overwrite),
                ["concurrency"] = parse.GetValue(concurrency),
            };
            var job = (await api.PostAsync($"api/v1/projects/{parse.GetValue(project)}/generations", body, ct))!;
            var id = job["id"]!.GetValue<long>();
            if (parse.GetValue(detach))
            {
                if (c.WantsJson(parse))
                {
                    c.WriteJson(job);
                }
                else
                {
                    await c.Out.WriteLineAsync(id.ToString(CultureInfo.InvariantCulture));
                }
                return 0;
            }
            await c.Err.WriteLineAsync($"job {id} started; Ctrl+C stops waiting (the job goes on; `POST /api/v1/jobs/{id}/cancel` stops it)");
            job = await WaitForJobAsync(c, api, id, ct);
            if (c.WantsJson(parse))
            {
                c.WriteJson(job);
            }
            else
            {
                await c.Out.WriteLineAsync(id.ToString(CultureInfo.InvariantCulture));
                await c.Err.WriteLineAsync(JobSummary(job));
            }
            return job["status"]!.GetValue<string>() == "succeeded" ? 0 : 1;
        }));
        return command;
    }

    /// <summary>Polls the job until it ends, with a progress bar on a terminal.</summary>
    private static async Task<JsonNode> WaitForJobAsync(Context c, ApiClient api, long id, CancellationToken ct)
    {
        var console = c.Console();
        JsonNode job = (await api.GetAsync($"api/v1/jobs/{id}", ct))!;
        static bool Finished(JsonNode j) => j["status"]!.GetValue<string>() is "succeeded" or "failed" or "cancelled";
        if (!console.Profile.Capabilities.Interactive)
        {
            while (!Finished(job))
            {
                await Task.Delay(500, ct);
                job = (await api.GetAsync($"api/v1/jobs/{id}", ct))!;
            }
            return job;
        }
        await console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask($"job {id}", maxValue: 1);
                while (true)
                {
                    var total = job["total"]!.GetValue<int>();
                    var finished = job["done"]!.GetValue<int>() + job["skipped"]!.GetValue<int>() + job["failed"]!.GetValue<int>();
                    task.MaxValue = Math.Max(1, total);
                    task.Value = finished;
                    task.Description = $"job {id}: {finished}/{total}, {job["promptTokens"]!.GetValue<long>() + job["completionTokens"]!.GetValue<long>()} tokens";
                    if (Finished(job))
                    {
                        task.StopTask();
                        return;
                    }
                    await Task.Delay(500, ct);
                    job = (await api.GetAsync($"api/v1/jobs/{id}", ct))!;
                }
            });
        return job;
    }

    private static string JobSummary(JsonNode job) =>
        $"job {job["id"]} {job["status"]}: {job["done"]} done, {job["skipped"]} skipped, {job["failed"]} failed of {job["total"]}; " +
        $"{job["promptTokens"]} prompt + {job["completionTokens"]} completion tokens, cost {job["cost"]!.GetValue<double>().ToString("0.######", CultureInfo.InvariantCulture)}" +
        (job["error"] is { } error ? $"; {error.GetValue<string>()}" : "");

    /// <summary><c>key=value</c> pairs as a JSON object; values that read as JSON (numbers, true, lists) keep their type.</summary>
    private static JsonObject? ParseParameters(string[] pairs)
    {
        if (pairs.Length == 0)
        {
            return null;
        }
        var result = new JsonObject();
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliException($"--param '{pair}' is not KEY=VALUE (e.g. temperature=0.7)");
            }
            var value = pair[(eq + 1)..];
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(value);
            }
            catch (JsonException)
            {
                node = value;
            }
            result[pair[..eq].Trim()] = node;
        }
        return result;
    }

    private static JsonObject ParseGenerationFilter(string[] filters)
    {
        var filter = new JsonObject();
        var ids = new JsonArray();
        foreach (var f in filters)
        {
            var eq = f.IndexOf('=', StringComparison.Ordinal);
            var (key, value) = eq >= 0 ? (f[..eq].Trim(), f[(eq + 1)..]) : (f.Trim(), "");
            switch (key)
            {
                case "status":
                    filter["status"] = value;
                    break;
                case "text":
                    filter["text"] = value;
                    break;
                case "id":
                    ids.Add(value);
                    break;
                case var k when k.StartsWith("metadata.", StringComparison.Ordinal) && k.Length > 9:
                    filter["metaKey"] = k[9..];
                    filter["metaValue"] = value.Length > 0 ? value : null;
                    break;
                default:
                    throw new CliException($"--filter '{f}' is not understood; use status=none|in_progress|complete, text=WORDS, metadata.KEY=VALUE or id=EXTERNAL_ID");
            }
        }
        if (ids.Count > 0)
        {
            filter["externalIds"] = ids;
        }
        return filter;
    }
}

using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Plumbline.Cli;

/// <summary>The quality commands: <c>quality</c> and <c>annotations import</c>.</summary>
public static partial class CliApp
{
    private static Command QualityCommand(Context c)
    {
        var project = new Argument<long>("project") { Description = "Project id" };
        var method = new Option<string>("--method") { Description = "Label consensus: dawid_skene (default), majority, wawa, glad or mace" };
        var ratingMethod = new Option<string>("--rating-method") { Description = "Rating consensus: mean (default), median, trimmed_mean or huber" };
        var items = new Option<string>("--items") { Description = "Items listed with --json: all, needs_review (default here) or none" };
        var command = new Command("quality", "Agreement per question, a scorecard per annotator, items whose consensus needs review")
        {
            project, method, ratingMethod, items,
        };
        command.SetAction(c.Api(async (parse, api, ct) =>
        {
            var query = new List<string> { "items=" + Uri.EscapeDataString(parse.GetValue(items) ?? "needs_review") };
            if (parse.GetValue(method) is { } m)
            {
                query.Add("method=" + Uri.EscapeDataString(m));
            }
            if (parse.GetValue(ratingMethod) is { } r)
            {
                query.Add("ratingMethod=" + Uri.EscapeDataString(r));
            }
            var report = (await api.GetAsync($"api/v1/projects/{parse.GetValue(project)}/quality?{string.Join('&', query)}", ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(report);
                return 0;
            }
            var console = c.Console();
            console.WriteLine($"project {Str(report["projectId"])}: {Str(report["responses"])} responses on {Str(report["itemsAnswered"])} items; "
                + $"labels by {Str(report["labelMethod"])}, ratings by {Str(report["ratingMethod"])}");
            var questions = new Table().AddColumns("question", "type", "metric", "agreement", "% agree", "answers", "annotators", "consensus", "gold acc.");
            foreach (var q in report["questions"]!.AsArray())
            {
                questions.AddRow(Markup.Escape(Str(q!["name"])), Str(q["type"]), Str(q["metric"]), Num(q["agreement"]), Num(q["percentAgreement"]),
                    Str(q["answers"]), Str(q["annotators"]), Str(q["consensusMethod"]),
                    q["consensusGoldAccuracy"] is null ? "" : $"{Num(q["consensusGoldAccuracy"])} ({Str(q["goldItems"])})");
            }
            console.Write(questions);
            var annotators = new Table().AddColumns("annotator", "items", "median ms", "gold acc.", "vs consensus", "corrected", "rejected", "flags");
            foreach (var a in report["annotators"]!.AsArray())
            {
                var flags = a!["flags"]!.AsArray().Select(f => Str(f!["code"])).ToList();
                if (a["paused"] is not null)
                {
                    flags.Insert(0, "PAUSED");
                }
                annotators.AddRow(Markup.Escape(Str(a["email"])), Str(a["items"]), Str(a["medianLeadTimeMs"]),
                    a["goldAccuracy"] is null ? "" : $"{Num(a["goldAccuracy"])} ({Str(a["goldAnswered"])})",
                    Num(a["agreementWithConsensus"]), Str(a["correctionsReceived"]), Str(a["reviewsRejected"]), Markup.Escape(string.Join(", ", flags)));
            }
            console.Write(annotators);
            var listed = report["items"]!.AsArray();
            console.WriteLine($"{Str(report["itemsNeedingReview"])} item(s) need review (consensus confidence under {Num(report["reviewBelowConfidence"])})");
            foreach (var item in listed.Take(20))
            {
                var low = item!["consensus"]!.AsArray().Where(v => v!["decided"]!.GetValue<bool>() == false)
                    .Select(v => $"{Str(v!["question"])}={Str(v["value"])} ({Num(v["confidence"])})");
                console.WriteLine(Markup.Escape($"  {Str(item["externalId"])}: {string.Join("; ", low)}"));
            }
            if (listed.Count > 20)
            {
                console.WriteLine($"  … and {listed.Count - 20} more (--json for all)");
            }
            return 0;
        }));
        return command;
    }

    private static Command AnnotationsCommand(Context c)
    {
        var annotations = new Command("annotations", "Labels made elsewhere");
        var project = new Argument<long>("project") { Description = "Project id" };
        var file = new Argument<FileInfo>("file") { Description = "CSV with a header (item, annotator, question, value) or JSONL of such objects" };
        var format = new Option<string>("--format") { Description = "auto (default), csv or jsonl" };
        var import = new Command("import", "Import annotations as submitted responses: all of it, or nothing; importing again changes nothing") { project, file, format };
        import.SetAction(c.Api(async (parse, api, ct) =>
        {
            var path = parse.GetValue(file)!;
            if (!path.Exists)
            {
                throw new CliException($"no such file: {path.FullName}");
            }
            await using var stream = path.OpenRead();
            using var request = new HttpRequestMessage(HttpMethod.Post,
                $"api/v1/projects/{parse.GetValue(project)}/annotations/import?format={Uri.EscapeDataString(parse.GetValue(format) ?? "auto")}")
            {
                Content = new StreamContent(stream, 1 << 16),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var response = await api.SendRawAsync(request, ct, allowUnprocessable: true);
            var report = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
            var committed = report["committed"]!.GetValue<bool>();
            if (c.WantsJson(parse))
            {
                c.WriteJson(report);
            }
            else
            {
                foreach (var error in report["errors"]!.AsArray())
                {
                    await c.Err.WriteLineAsync($"line {Str(error!["line"])}: {Str(error["message"])}");
                }
                c.Out.WriteLine(committed
                    ? $"{Str(report["rows"])} rows: created {Str(report["created"])}, updated {Str(report["updated"])}, unchanged {Str(report["unchanged"])} responses; {Str(report["annotatorsCreated"])} new annotator(s)"
                    : $"nothing was imported ({report["errors"]!.AsArray().Count} error(s) listed)");
            }
            return committed ? 0 : 1;
        }));
        annotations.Subcommands.Add(import);
        return annotations;
    }

    private static string Num(JsonNode? node) =>
        node is null ? "" : node.GetValue<double>().ToString("0.####", CultureInfo.InvariantCulture);
}

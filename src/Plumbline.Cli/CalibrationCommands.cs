using System.CommandLine;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Plumbline.Cli;

/// <summary>The <c>calibration</c> commands: open, list, report on and close calibration rounds.</summary>
public static partial class CliApp
{
    private static Command CalibrationCommand(Context c)
    {
        var calibration = new Command("calibration", "Calibration rounds: items everyone annotates, compared answer by answer");
        var project = new Argument<long>("project") { Description = "Project id" };
        var session = new Argument<long>("session") { Description = "Calibration round id" };

        var name = new Option<string>("--name") { Description = "What the round is called" };
        var items = new Option<string>("--items") { Description = "Comma-separated external ids of the 20 to 50 items" };
        var itemsFile = new Option<FileInfo>("--items-file") { Description = "A file with one external id per line" };
        var repeat = new Option<long?>("--repeat") { Description = "Repeat the items of this round (after a guideline change) and compare with it" };
        var create = new Command("create", "Open a round: every member annotates its items, whatever the overlap") { project, name, items, itemsFile, repeat };
        create.SetAction(c.Api(async (parse, api, ct) =>
        {
            var ids = new List<string>();
            if (parse.GetValue(items) is { } list)
            {
                ids.AddRange(list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            }
            if (parse.GetValue(itemsFile) is { } file)
            {
                if (!file.Exists)
                {
                    throw new CliException($"no such file: {file.FullName}");
                }
                ids.AddRange((await File.ReadAllLinesAsync(file.FullName, ct)).Select(l => l.Trim()).Where(l => l.Length > 0));
            }
            var created = (await api.PostAsync($"api/v1/projects/{parse.GetValue(project)}/calibration", new
            {
                name = parse.GetValue(name),
                externalIds = ids.Count > 0 ? ids : null,
                previousSessionId = parse.GetValue(repeat),
            }, ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(created);
            }
            else
            {
                c.Out.WriteLine($"round {Str(created["id"])} \"{Str(created["name"])}\" open: {Str(created["items"])} items, guideline version {Str(created["guidelineVersion"])}");
            }
            return 0;
        }));

        var list = new Command("list", "The project's rounds") { project };
        list.SetAction(c.Api(async (parse, api, ct) =>
        {
            var sessions = (await api.GetAsync($"api/v1/projects/{parse.GetValue(project)}/calibration", ct))!.AsArray();
            if (c.WantsJson(parse))
            {
                c.WriteJson(sessions);
                return 0;
            }
            var table = new Table().AddColumns("id", "name", "status", "items", "guidelines", "repeats");
            foreach (var s in sessions)
            {
                table.AddRow(Str(s!["id"]), Markup.Escape(Str(s["name"])), Str(s["status"]), Str(s["items"]), Str(s["guidelineVersion"]), Str(s["previousSessionId"]));
            }
            c.Console().Write(table);
            return 0;
        }));

        var report = new Command("report", "Agreement of the round (and its change since the round it repeats), then everyone's answers item by item") { project, session };
        report.SetAction(c.Api(async (parse, api, ct) =>
        {
            var result = (await api.GetAsync($"api/v1/projects/{parse.GetValue(project)}/calibration/{parse.GetValue(session)}", ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(result);
                return 0;
            }
            var console = c.Console();
            var s = result["session"]!;
            // Plain lines (not the console's, which wraps at its width): answers are long and scripts grep them.
            c.Out.WriteLine($"round {Str(s["id"])} \"{Str(s["name"])}\" ({Str(s["status"])}): {Str(s["items"])} items, "
                + $"{Str(result["participants"])} participants; guideline version {Str(s["guidelineVersion"])} at opening, {Str(result["currentGuidelineVersion"])} now");
            var questions = new Table().AddColumns("question", "metric", "agreement", "% agree", "answers", "previous round", "change");
            foreach (var q in result["questions"]!.AsArray())
            {
                questions.AddRow(Markup.Escape(Str(q!["name"])), Str(q["metric"]), Num(q["agreement"]), Num(q["percentAgreement"]), Str(q["answers"]),
                    Num(q["previousAgreement"]), q["change"] is null ? "" : q["change"]!.GetValue<double>().ToString("+0.####;-0.####;0", System.Globalization.CultureInfo.InvariantCulture));
            }
            console.Write(questions);
            foreach (var item in result["items"]!.AsArray())
            {
                c.Out.WriteLine($"{Str(item!["externalId"])}:");
                foreach (var answer in item["answers"]!.AsArray())
                {
                    c.Out.WriteLine($"  {Str(answer!["email"])} (guidelines v{Str(answer["guidelineVersion"])}): {answer["values"]?.ToJsonString()}");
                }
            }
            return 0;
        }));

        var close = new Command("close", "Close a round: its items leave the queue, the report stays") { project, session };
        close.SetAction(c.Api(async (parse, api, ct) =>
        {
            var closed = (await api.PostAsync($"api/v1/projects/{parse.GetValue(project)}/calibration/{parse.GetValue(session)}/close", null, ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(closed);
            }
            else
            {
                c.Out.WriteLine($"round {Str(closed["id"])} closed");
            }
            return 0;
        }));

        calibration.Subcommands.Add(create);
        calibration.Subcommands.Add(list);
        calibration.Subcommands.Add(report);
        calibration.Subcommands.Add(close);
        return calibration;
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Plumbline.Cli;

/// <summary>Model evaluation and red-teaming: <c>leaderboard</c> and <c>findings</c>.</summary>
public static partial class CliApp
{
    private static Command LeaderboardCommand(Context c)
    {
        var project = new Argument<long>("project") { Description = "Project id (a side-by-side project)" };
        var rounds = new Option<int?>("--rounds") { Description = "Bootstrap rounds for the intervals (default 1000)" };
        var seed = new Option<int?>("--seed") { Description = "Seed of the bootstrap (default 1)" };
        var categoryKey = new Option<string>("--category-key") { Description = "Item metadata key of the category (default 'category')" };
        var question = new Option<string>("--question") { Description = "Preference question (default: the project's first)" };
        var command = new Command("leaderboard", "Model leaderboard from human votes: Bradley–Terry ratings (Elo scale) with bootstrap intervals, categories")
        {
            project, rounds, seed, categoryKey, question,
        };
        command.SetAction(c.Api(async (parse, api, ct) =>
        {
            var query = new List<string>();
            void Add(string name, object? value)
            {
                if (value is not null)
                {
                    query.Add(name + "=" + Uri.EscapeDataString(Convert.ToString(value, CultureInfo.InvariantCulture)!));
                }
            }
            Add("rounds", parse.GetValue(rounds));
            Add("seed", parse.GetValue(seed));
            Add("categoryKey", parse.GetValue(categoryKey));
            Add("question", parse.GetValue(question));
            var report = (await api.GetAsync($"api/v1/projects/{parse.GetValue(project)}/leaderboard{(query.Count > 0 ? "?" + string.Join('&', query) : "")}", ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(report);
                return 0;
            }
            var board = report["board"]!;
            var console = c.Console();
            console.WriteLine($"project {Str(report["projectId"])}: {Str(board["votes"])} votes on '{Str(report["question"])}'; "
                + $"{Num(board["confidence"])} intervals from {Str(board["rounds"])} bootstrap rounds (seed {Str(board["seed"])})");
            console.Write(Standings(board["models"]!.AsArray()));
            foreach (var category in board["categories"]!.AsArray())
            {
                console.WriteLine(Markup.Escape($"{Str(report["categoryKey"])} = {Str(category!["category"])}: {Str(category["votes"])} votes"));
                console.Write(Standings(category["models"]!.AsArray()));
            }
            if (report["skipped"] is JsonObject skipped && skipped.Count > 0)
            {
                console.WriteLine(Markup.Escape("not counted: " + string.Join(", ", skipped.Select(s => $"{s.Key} {Str(s.Value)}"))));
            }
            return 0;
        }));
        return command;
    }

    private static Table Standings(JsonArray models)
    {
        var table = new Table().AddColumns("rank", "model", "rating", "interval", "rank range", "votes", "W/L/T", "win rate");
        foreach (var m in models)
        {
            table.AddRow(Str(m!["rank"]), Markup.Escape(Str(m["model"])), Elo(m["rating"]), $"{Elo(m["lower"])} – {Elo(m["upper"])}",
                Str(m["bestRank"]) == Str(m["worstRank"]) ? Str(m["bestRank"]) : $"{Str(m["bestRank"])}–{Str(m["worstRank"])}",
                Str(m["votes"]), $"{Str(m["wins"])}/{Str(m["losses"])}/{Str(m["ties"])}", Num(m["winRate"]));
        }
        return table;
    }

    private static string Elo(JsonNode? node) => node is null ? "-inf" : node.GetValue<double>().ToString("0", CultureInfo.InvariantCulture);

    private static Command FindingsCommand(Context c)
    {
        var project = new Argument<long>("project") { Description = "Project id (a red-team project)" };
        var limit = new Option<int?>("--limit") { Description = "How many recent successful attacks to list (default 20)" };
        var command = new Command("findings", "Red-team findings: successful attacks by harm category and severity, success per technique")
        {
            project, limit,
        };
        command.SetAction(c.Api(async (parse, api, ct) =>
        {
            var report = (await api.GetAsync($"api/v1/projects/{parse.GetValue(project)}/redteam/findings?limit={parse.GetValue(limit) ?? 20}", ct))!;
            if (c.WantsJson(parse))
            {
                c.WriteJson(report);
                return 0;
            }
            var console = c.Console();
            console.WriteLine($"project {Str(report["projectId"])}: {Str(report["successes"])} successful attacks in {Str(report["attempts"])} attempts");
            var categories = new Table().AddColumns("harm category", "critical", "high", "medium", "low", "total");
            foreach (var cat in report["categories"]!.AsArray().Where(x => x!["successes"]!.GetValue<int>() > 0))
            {
                var by = cat!["bySeverity"]!.AsObject();
                categories.AddRow(Markup.Escape(Str(cat["harmCategory"])), Str(by["critical"] ?? 0), Str(by["high"] ?? 0), Str(by["medium"] ?? 0),
                    Str(by["low"] ?? 0), Str(cat["successes"]));
            }
            console.Write(categories);
            var techniques = new Table().AddColumns("technique", "attempts", "successes", "success rate");
            foreach (var t in report["techniques"]!.AsArray())
            {
                techniques.AddRow(Markup.Escape(Str(t!["technique"])), Str(t["attempts"]), Str(t["successes"]), Num(t["successRate"]));
            }
            console.Write(techniques);
            foreach (var f in report["findings"]!.AsArray())
            {
                console.WriteLine(Markup.Escape($"  [{Str(f!["severity"])}] {Str(f["harmCategory"])} via {Str(f["technique"])}: {Str(f["outcome"])} (item {Str(f["externalId"])})"));
            }
            return 0;
        }));
        return command;
    }
}

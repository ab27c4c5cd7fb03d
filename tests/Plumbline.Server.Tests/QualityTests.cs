using System.Globalization;
using System.Text;

namespace Plumbline.Server.Tests;

public class QualityTests
{
    /// <summary>A project with one binary label question "label" (labels "0", "1"), like Snow et al.'s RTE task.</summary>
    internal static JsonObject BinaryLabelSchema(int overlap) => new()
    {
        ["fields"] = new JsonArray(new JsonObject { ["name"] = "text", ["type"] = "text" }),
        ["questions"] = new JsonArray(new JsonObject { ["name"] = "label", ["type"] = "label", ["labels"] = new JsonArray("0", "1") }),
        ["workflow"] = new JsonObject { ["overlap"] = overlap },
    };

    /// <summary>
    /// Snow et al. (EMNLP 2008) RTE: 800 items with gold, 8,000 labels by 164 workers. The items go in through the
    /// item import (gold included), the labels through the annotations import, as a team would bring them.
    /// </summary>
    internal static async Task<long> SnowRteProjectAsync(Scenario s)
    {
        var project = await s.CreateProjectAsync("snow", schema: BinaryLabelSchema(10));
        var rows = File.ReadLines(SharedData.PathOf("snow2008", "rte.standardized.tsv")).Skip(1).Select(l => l.Split('\t')).ToList();
        var items = rows.GroupBy(r => r[2]).Select(g => $$$"""{"id":"{{{g.Key}}}","text":"RTE pair {{{g.Key}}}","gold":{"label":"{{{g.First()[4]}}}"}}""");
        await (await s.ImportAsync(project, string.Join('\n', items))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var csv = new StringBuilder("item,annotator,question,value\n");
        foreach (var r in rows)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{r[2]},{r[1]},label,{r[3]}\n");
        }
        var imported = await ImportAnnotationsAsync(s, project, csv.ToString());
        await imported.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var report = (await imported.Content.ReadFromJsonAsync<JsonObject>())!;
        report["created"]!.GetValue<int>().ShouldBe(8000);
        report["annotatorsCreated"]!.GetValue<int>().ShouldBeLessThanOrEqualTo(164);
        return project;
    }

    internal static async Task<HttpResponseMessage> ImportAnnotationsAsync(Scenario s, long project, string content, string format = "auto")
    {
        using var body = new ByteArrayContent(Encoding.UTF8.GetBytes(content));
        return await s.Admin.PostAsync($"api/v1/projects/{project}/annotations/import?format={format}", body);
    }

    internal static async Task<JsonObject> QualityAsync(HttpClient client, long project, string query = "")
    {
        var response = await client.GetAsync($"api/v1/projects/{project}/quality{query}");
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private static double Number(JsonNode? node) => node!.GetValue<double>();

    // Snow et al. (EMNLP 2008) RTE, reference figures in ../shared/data/README.md: accuracy against gold of majority
    // vote with ties to the smallest label 0.9187 and of Dawid–Skene from majority vote 0.9275 (crowd-kit), nominal
    // Krippendorff's alpha 0.241479.
    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Quality_SnowRteImportedThroughTheApi_ReproducesPublishedFigures(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await SnowRteProjectAsync(s);

        var majority = await QualityAsync(s.Admin, project, "?method=majority&items=none");
        majority["responses"]!.GetValue<int>().ShouldBe(8000);
        majority["itemsAnswered"]!.GetValue<int>().ShouldBe(800);
        var question = majority["questions"]![0]!;
        question["metric"]!.GetValue<string>().ShouldBe("KrippendorffNominal");
        Math.Abs(Number(question["agreement"]) - 0.241479).ShouldBeLessThanOrEqualTo(0.5e-6);
        question["goldItems"]!.GetValue<int>().ShouldBe(800);
        Math.Abs(Number(question["consensusGoldAccuracy"]) - 0.9187).ShouldBeLessThanOrEqualTo(0.5e-4);
        majority["annotators"]!.AsArray().Count.ShouldBe(164);

        var ds = await QualityAsync(s.Admin, project);
        ds["labelMethod"]!.GetValue<string>().ShouldBe("dawid_skene");
        Math.Abs(Number(ds["questions"]![0]!["consensusGoldAccuracy"]) - 0.9275).ShouldBeLessThanOrEqualTo(0.5e-4);
        var items = ds["items"]!.AsArray();
        items.Count.ShouldBe(800);
        items.ShouldAllBe(i => i!["responses"]!.GetValue<int>() == 10);
        // Needs review exactly when the posterior of the chosen label is under the project's threshold (0.7 by default).
        foreach (var item in items)
        {
            var consensus = item!["consensus"]![0]!;
            item["needsReview"]!.GetValue<bool>().ShouldBe(Number(consensus["confidence"]) < 0.7);
        }
        ds["itemsNeedingReview"]!.GetValue<int>().ShouldBe(items.Count(i => i!["needsReview"]!.GetValue<bool>()));
        var needing = await QualityAsync(s.Admin, project, "?items=needs_review");
        needing["items"]!.AsArray().Count.ShouldBe(ds["itemsNeedingReview"]!.GetValue<int>());

        // Every worker answered gold items (all RTE items have gold): accuracy per worker is their share right.
        var scorecards = ds["annotators"]!.AsArray();
        scorecards.Sum(a => a!["goldAnswered"]!.GetValue<int>()).ShouldBe(8000);
        scorecards.ShouldAllBe(a => a!["email"]!.GetValue<string>().EndsWith("@annotators.invalid", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task ImportAnnotations_SameFileTwice_ChangesNothing(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("labels", schema: BinaryLabelSchema(3));
        await (await s.ImportAsync(project, "{\"id\":\"i1\",\"text\":\"one\"}\n{\"id\":\"i2\",\"text\":\"two\"}")).ShouldHaveStatusAsync(HttpStatusCode.OK);
        const string file = """
            {"item":"i1","annotator":"w1","question":"label","value":"1","lead_time_ms":1200}
            {"item":"i1","annotator":"w2","question":"label","value":0}
            {"item":"i2","annotator":"w1","question":"label","value":"0"}
            """;
        var first = await (await ImportAnnotationsAsync(s, project, file)).Content.ReadFromJsonAsync<JsonObject>();
        first!["committed"]!.GetValue<bool>().ShouldBeTrue();
        first["created"]!.GetValue<int>().ShouldBe(3);
        first["annotatorsCreated"]!.GetValue<int>().ShouldBe(2);
        var again = await (await ImportAnnotationsAsync(s, project, file)).Content.ReadFromJsonAsync<JsonObject>();
        again!["created"]!.GetValue<int>().ShouldBe(0);
        again["unchanged"]!.GetValue<int>().ShouldBe(3);
        again["annotatorsCreated"]!.GetValue<int>().ShouldBe(0);

        var changed = await (await ImportAnnotationsAsync(s, project, file.Replace("\"value\":\"0\"}", "\"value\":\"1\"}", StringComparison.Ordinal))).Content.ReadFromJsonAsync<JsonObject>();
        changed!["updated"]!.GetValue<int>().ShouldBe(1);
        changed["unchanged"]!.GetValue<int>().ShouldBe(2);

        await using var db = s.App.NewDbContext();
        var counts = db.Items.Where(i => i.ProjectId == project).OrderBy(i => i.ExternalId).Select(i => i.SubmittedCount).ToList();
        counts.ShouldBe([2, 1]);
        db.Responses.Where(r => r.ProjectId == project).Count(r => r.Status == "submitted").ShouldBe(3);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task ImportAnnotations_BadRows_ReportsEachLineAndStoresNothing(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("labels", schema: BinaryLabelSchema(2));
        await (await s.ImportAsync(project, "{\"id\":\"i1\",\"text\":\"one\"}")).ShouldHaveStatusAsync(HttpStatusCode.OK);
        const string csv = """
            item,annotator,question,value
            i1,w1,label,1
            i1,w2,label,maybe
            nope,w1,label,1
            i1,w3,colour,red
            i1,w4,label,0
            i1,w1,label,0
            """;
        // Annotator ids unique to this run: users are shared by every test of the app.
        var tag = Guid.NewGuid().ToString("N")[..8];
        var tagged = csv.Replace("\r", "", StringComparison.Ordinal).Replace(",w", $",{tag}-w", StringComparison.Ordinal);
        var response = await ImportAnnotationsAsync(s, project, tagged);
        await response.ShouldHaveStatusAsync(HttpStatusCode.UnprocessableEntity);
        var report = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        report["committed"]!.GetValue<bool>().ShouldBeFalse();
        var errors = report["errors"]!.AsArray().Select(e => (e!["line"]!.GetValue<long>(), e["message"]!.GetValue<string>())).ToList();
        errors.ShouldContain(e => e.Item1 == 5 && e.Item2.Contains("unknown question 'colour'"));
        errors.ShouldContain(e => e.Item1 == 7 && e.Item2.Contains("repeats the answer of line 2"));
        errors.Count.ShouldBe(2);

        // With those fixed, the next problems surface: an unknown item, an invalid label and the overlap of 2.
        var fixedCsv = string.Join('\n', tagged.Split('\n').Where(l => !l.Contains("colour") && !l.EndsWith("w1,label,0", StringComparison.Ordinal)));
        report = (await (await ImportAnnotationsAsync(s, project, fixedCsv)).Content.ReadFromJsonAsync<JsonObject>())!;
        errors = report["errors"]!.AsArray().Select(e => (e!["line"]!.GetValue<long>(), e["message"]!.GetValue<string>())).ToList();
        errors.ShouldContain(e => e.Item1 == 3 && e.Item2.Contains("label: expects one of 0, 1, got \"maybe\""));
        errors.ShouldContain(e => e.Item1 == 4 && e.Item2.Contains("no item with external id 'nope'"));
        errors.ShouldContain(e => e.Item1 == 5 && e.Item2.Contains("more than 2 submitted responses"));

        await using var db = s.App.NewDbContext();
        db.Responses.Count(r => r.ProjectId == project).ShouldBe(0);
        db.Items.Where(i => i.ProjectId == project).Select(i => i.SubmittedCount).Single().ShouldBe(0);
        db.Users.Count(u => u.Email.StartsWith(tag)).ShouldBe(0);
    }

    [Fact]
    public async Task Quality_Annotator_IsForbidden()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("labels", schema: BinaryLabelSchema(2));
        var (annotator, _) = await s.MemberAsync(project);
        (await annotator.GetAsync($"api/v1/projects/{project}/quality")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        var (reviewer, _) = await s.MemberAsync(project, "reviewer");
        (await reviewer.GetAsync($"api/v1/projects/{project}/quality")).StatusCode.ShouldBe(HttpStatusCode.OK);
        using var body = new ByteArrayContent("item,annotator,question,value\n"u8.ToArray());
        (await reviewer.PostAsync($"api/v1/projects/{project}/annotations/import", body)).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await s.Admin.GetAsync($"api/v1/projects/{project}/quality?method=best")).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }
}

using System.Globalization;
using Plumbline.Cli;
using Plumbline.Core.Quality;

namespace Plumbline.Server.Tests;

public class CalibrationTests
{
    private static JsonObject Label(string value) => new() { ["label"] = value };

    private static async Task<long> ProjectAsync(Scenario s, int items)
    {
        var project = await s.CreateProjectAsync("labels", schema: QualityTests.BinaryLabelSchema(overlap: 1));
        var lines = Enumerable.Range(0, items).Select(i => $$"""{"id":"i{{i}}","text":"item {{i}}"}""");
        await (await s.ImportAsync(project, string.Join('\n', lines))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        return project;
    }

    /// <summary>Each annotator takes tasks until the queue gives a non-calibration item; returns what each answered, by external id.</summary>
    private static async Task<List<Dictionary<string, string>>> AnswerRoundAsync(long project, HttpClient[] annotators, string[] calibrationIds,
        Func<int, string, string> answer)
    {
        var answered = annotators.Select(_ => new Dictionary<string, string>()).ToList();
        for (var a = 0; a < annotators.Length; a++)
        {
            for (var n = 0; n < calibrationIds.Length; n++)
            {
                var task = (await Scenario.NextAsync(annotators[a], project)).ShouldNotBeNull();
                var externalId = task["externalId"]!.GetValue<string>();
                calibrationIds.ShouldContain(externalId, "calibration items are served before any other work");
                var value = answer(a, externalId);
                answered[a][externalId] = value;
                await (await Scenario.SubmitAsync(annotators[a], task["assignmentId"]!.GetValue<long>(), Label(value))).ShouldHaveStatusAsync(HttpStatusCode.OK);
            }
        }
        return answered;
    }

    /// <summary>Krippendorff's alpha (nominal) of the answers, by the Core function the published worked examples verify.</summary>
    private static double ExpectedAlpha(List<Dictionary<string, string>> answered, string[] ids)
    {
        var ratings = answered.SelectMany((byItem, rater) => byItem.Select(p => new Rating(Array.IndexOf(ids, p.Key), rater, p.Value == "1" ? 1 : 0))).ToArray();
        return Math.Round(Agreement.KrippendorffAlpha(ratings, MeasurementLevel.Nominal), 6);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task CalibrationRound_EveryoneAnswersWhateverTheOverlap_ReportShowsAnswersAgreementAndChangeAfterGuidelineUpdate(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await ProjectAsync(s, items: 24);
        var ids = Enumerable.Range(0, 20).Select(i => $"i{i}").ToArray();
        var annotators = new[] { (await s.MemberAsync(project)).Client, (await s.MemberAsync(project)).Client, (await s.MemberAsync(project)).Client };
        var (reviewer, _) = await s.MemberAsync(project, "reviewer");

        var created = await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/calibration", new { name = "kick-off", externalIds = ids });
        await created.ShouldHaveStatusAsync(HttpStatusCode.Created);
        var first = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        first["items"]!.GetValue<int>().ShouldBe(20);
        first["guidelineVersion"]!.GetValue<int>().ShouldBe(0);
        var firstId = first["id"]!.GetValue<long>();

        // Round 1: the third annotator reads the guidelines differently on every third item.
        var round1 = await AnswerRoundAsync(project, annotators, ids, (a, id) => a == 2 && int.Parse(id[1..], CultureInfo.InvariantCulture) % 3 == 0 ? "0" : "1");
        // With overlap 1 each item took three submissions; the ordinary items follow.
        var after = (await Scenario.NextAsync(annotators[0], project)).ShouldNotBeNull();
        ids.ShouldNotContain(after["externalId"]!.GetValue<string>());
        await (await Scenario.SubmitAsync(annotators[0], after["assignmentId"]!.GetValue<long>(), Label("1"))).ShouldHaveStatusAsync(HttpStatusCode.OK);

        var denied = await annotators[0].GetAsync($"api/v1/projects/{project}/calibration/{firstId}");
        await denied.ShouldHaveStatusAsync(HttpStatusCode.Forbidden);
        var report1 = (await reviewer.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/calibration/{firstId}"))!;
        report1["participants"]!.GetValue<int>().ShouldBe(3);
        var items1 = report1["items"]!.AsArray();
        items1.Select(i => i!["externalId"]!.GetValue<string>()).ShouldBe(ids.OrderBy(i => i, StringComparer.Ordinal).ToArray(), ignoreOrder: true);
        items1.ShouldAllBe(i => i!["answers"]!.AsArray().Count == 3);
        var i3 = items1.Single(i => i!["externalId"]!.GetValue<string>() == "i3")!;
        i3["answers"]!.AsArray().Select(x => x!["values"]!["label"]!.GetValue<string>()).OrderBy(v => v).ShouldBe(["0", "1", "1"]);
        i3["answers"]!.AsArray().ShouldAllBe(x => x!["guidelineVersion"]!.GetValue<int>() == 0);
        var question1 = report1["questions"]!.AsArray().Single()!;
        question1["metric"]!.GetValue<string>().ShouldBe("KrippendorffNominal");
        question1["answers"]!.GetValue<int>().ShouldBe(60);
        var alpha1 = ExpectedAlpha(round1, ids);
        question1["agreement"]!.GetValue<double>().ShouldBe(alpha1, 1e-9);
        question1["previousAgreement"].ShouldBeNull();

        // The guidelines are clarified; round 1 closes and round 2 repeats its items.
        await (await s.Admin.PutAsJsonAsync($"api/v1/projects/{project}/guidelines", new { markdown = "Label 1 when the text is about an item." })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        await (await s.Admin.PostAsync($"api/v1/projects/{project}/calibration/{firstId}/close", null)).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var second = await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/calibration", new { name = "after v1", previousSessionId = firstId });
        await second.ShouldHaveStatusAsync(HttpStatusCode.Created);
        var secondDto = (await second.Content.ReadFromJsonAsync<JsonObject>())!;
        secondDto["items"]!.GetValue<int>().ShouldBe(20);
        secondDto["guidelineVersion"]!.GetValue<int>().ShouldBe(1);
        var secondId = secondDto["id"]!.GetValue<long>();

        // Round 2: only item i9 is still read differently.
        var round2 = await AnswerRoundAsync(project, annotators, ids, (a, id) => a == 2 && id == "i9" ? "0" : "1");
        var report2 = (await reviewer.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/calibration/{secondId}"))!;
        var question2 = report2["questions"]!.AsArray().Single()!;
        var alpha2 = ExpectedAlpha(round2, ids);
        alpha2.ShouldBeGreaterThan(alpha1);
        question2["agreement"]!.GetValue<double>().ShouldBe(alpha2, 1e-9);
        question2["previousAgreement"]!.GetValue<double>().ShouldBe(alpha1, 1e-9);
        question2["change"]!.GetValue<double>().ShouldBe(Math.Round(alpha2 - alpha1, 6), 1e-9);
        report2["items"]!.AsArray().SelectMany(i => i!["answers"]!.AsArray()).ShouldAllBe(x => x!["guidelineVersion"]!.GetValue<int>() == 1);
        // Round 1 keeps what was said then, though the responses were revised.
        var again1 = (await reviewer.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/calibration/{firstId}"))!;
        again1["questions"]![0]!["agreement"]!.GetValue<double>().ShouldBe(alpha1, 1e-9);
        again1["session"]!["status"]!.GetValue<string>().ShouldBe("closed");
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task CreateCalibration_TooFewOrUnknownItemsOrNotManager_IsRefusedWithAReason(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await ProjectAsync(s, items: 25);
        var few = await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/calibration", new { externalIds = new[] { "i0", "i1" } });
        await few.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await few.Content.ReadAsStringAsync()).ShouldContain("20 to 50 distinct items (got 2)");
        var unknown = await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/calibration",
            new { externalIds = Enumerable.Range(0, 19).Select(i => $"i{i}").Append("nope").ToArray() });
        await unknown.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await unknown.Content.ReadAsStringAsync()).ShouldContain("nope");
        var (reviewer, _) = await s.MemberAsync(project, "reviewer");
        var forbidden = await reviewer.PostAsJsonAsync($"api/v1/projects/{project}/calibration", new { externalIds = Enumerable.Range(0, 20).Select(i => $"i{i}").ToArray() });
        await forbidden.ShouldHaveStatusAsync(HttpStatusCode.Forbidden);
        (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/calibration"))!.Count.ShouldBe(0);
    }

    [Fact]
    public async Task CalibrationCli_CreateReportClose_PrintsTheRoundAndEveryAnswer()
    {
        var app = SharedApps.Get("sqlite");
        var s = new Scenario(app);
        var project = await ProjectAsync(s, items: 22);
        var id = project.ToString(CultureInfo.InvariantCulture);
        async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var exit = await CliApp.RunAsync([.. args, "--server", app.BaseAddress.ToString(), "--token", TestApp.AdminToken], stdout, stderr);
            return (exit, stdout.ToString(), stderr.ToString());
        }

        var (exit, output, _) = await RunAsync("calibration", "create", id, "--name", "kick-off", "--items", string.Join(',', Enumerable.Range(0, 20).Select(i => $"i{i}")));
        exit.ShouldBe(0);
        output.ShouldContain("\"kick-off\" open: 20 items, guideline version 0");
        var session = (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/calibration"))!.Single()!["id"]!.GetValue<long>().ToString(CultureInfo.InvariantCulture);

        var (annotator, email) = await s.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        task["externalId"]!.GetValue<string>().ShouldBe("i0");
        await (await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), Label("1"))).ShouldHaveStatusAsync(HttpStatusCode.OK);

        (exit, output, _) = await RunAsync("calibration", "report", id, session);
        exit.ShouldBe(0);
        output.ShouldContain("(open): 20 items, 1 participants; guideline version 0 at opening, 0 now");
        output.ShouldContain($"{email} (guidelines v0): {{\"label\":\"1\"}}");

        (exit, output, _) = await RunAsync("calibration", "close", id, session);
        exit.ShouldBe(0);
        output.ShouldContain($"round {session} closed");
        // Closed: the next task is ordinary work again.
        var next = (await Scenario.NextAsync(annotator, project))!;
        next["externalId"]!.GetValue<string>().ShouldBe("i1");
        (await RunAsync("calibration", "create", id, "--items", "i0,i1")).Err.ShouldContain("20 to 50 distinct items (got 2)");
    }
}

namespace Plumbline.Server.Tests;

public class GoldTests
{
    private static JsonObject Label(string value) => new() { ["label"] = value };

    private static async Task<long> LabelProjectAsync(Scenario s, int items, int overlap)
    {
        var project = await s.CreateProjectAsync("labels", schema: QualityTests.BinaryLabelSchema(overlap));
        var lines = Enumerable.Range(0, items).Select(i => $$"""{"id":"i{{i}}","text":"item {{i}}"}""");
        await (await s.ImportAsync(project, string.Join('\n', lines))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        return project;
    }

    private static async Task SetGoldAsync(Scenario s, long project, string externalId, JsonObject values) =>
        await (await s.Admin.PutAsJsonAsync($"api/v1/projects/{project}/items/{externalId}/gold", new { values })).ShouldHaveStatusAsync(HttpStatusCode.OK);

    private static async Task SettingsAsync(Scenario s, long project, object settings) =>
        await (await s.Admin.PutAsJsonAsync($"api/v1/projects/{project}/quality/settings", settings)).ShouldHaveStatusAsync(HttpStatusCode.OK);

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Queue_GoldFirstTwo_EveryAnnotatorGetsTheGoldFirstWhateverTheOverlap(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await LabelProjectAsync(s, items: 6, overlap: 1);
        await SetGoldAsync(s, project, "i4", Label("1"));
        await SetGoldAsync(s, project, "i5", Label("0"));
        await SettingsAsync(s, project, new { goldFirst = 2 });
        var annotators = new[] { (await s.MemberAsync(project)).Client, (await s.MemberAsync(project)).Client };
        var seen = annotators.Select(_ => new List<string>()).ToArray();
        for (var round = 0; round < 6; round++)
        {
            for (var a = 0; a < annotators.Length; a++)
            {
                var task = await Scenario.NextAsync(annotators[a], project);
                if (task is null)
                {
                    continue;
                }
                task.ToJsonString().ShouldNotContain("gold");
                seen[a].Add(task["externalId"]!.GetValue<string>());
                await (await Scenario.SubmitAsync(annotators[a], task["assignmentId"]!.GetValue<long>(), Label("1"))).ShouldHaveStatusAsync(HttpStatusCode.OK);
            }
        }
        foreach (var list in seen)
        {
            list.Take(2).ShouldBe(["i4", "i5"]);
        }
        // The four ordinary items keep their overlap of one: each answered once, by one of the two.
        seen.SelectMany(l => l.Skip(2)).OrderBy(x => x).ShouldBe(["i0", "i1", "i2", "i3"]);

        var quality = await QualityTests.QualityAsync(s.Admin, project, "?items=none");
        quality["annotators"]!.AsArray().ShouldAllBe(a => a!["goldAnswered"]!.GetValue<int>() == 2 && a["goldAccuracy"]!.GetValue<double>() == 0.5);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Queue_GoldAccuracyUnderTheBar_PausesTheAnnotatorUntilAManagerResumes(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await LabelProjectAsync(s, items: 8, overlap: 2);
        foreach (var id in new[] { "i0", "i1", "i2" })
        {
            await SetGoldAsync(s, project, id, Label("1"));
        }
        await SettingsAsync(s, project, new { goldFirst = 3, pauseBelowGoldAccuracy = 0.7, minGoldAnswers = 3 });
        var (careless, email) = await s.MemberAsync(project);
        var (careful, _) = await s.MemberAsync(project);
        for (var i = 0; i < 3; i++)
        {
            var bad = (await Scenario.NextAsync(careless, project))!;
            await (await Scenario.SubmitAsync(careless, bad["assignmentId"]!.GetValue<long>(), Label("0"))).ShouldHaveStatusAsync(HttpStatusCode.OK);
            var good = (await Scenario.NextAsync(careful, project))!;
            await (await Scenario.SubmitAsync(careful, good["assignmentId"]!.GetValue<long>(), Label("1"))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        }
        var refused = await careless.PostAsync($"api/v1/projects/{project}/queue/next", null);
        await refused.ShouldHaveStatusAsync(HttpStatusCode.Forbidden);
        (await refused.Content.ReadAsStringAsync()).ShouldContain("gold accuracy 0 (0 of 3)");
        (await Scenario.NextAsync(careful, project)).ShouldNotBeNull();

        var quality = await QualityTests.QualityAsync(s.Admin, project, "?items=none");
        var card = quality["annotators"]!.AsArray().Single(a => a!["email"]!.GetValue<string>() == email)!;
        card["paused"]!.GetValue<string>().ShouldContain("under the project's 0.7");
        card["flags"]!.AsArray().Select(f => f!["code"]!.GetValue<string>()).ShouldContain("low_gold_accuracy");
        var pauses = (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/pauses"))!;
        pauses.Single()!["automatic"]!.GetValue<bool>().ShouldBeTrue();

        await (await s.Admin.DeleteAsync($"api/v1/projects/{project}/members/{email}/pause")).ShouldHaveStatusAsync(HttpStatusCode.NoContent);
        (await Scenario.NextAsync(careless, project)).ShouldNotBeNull();
    }

    [Fact]
    public async Task SetGold_InvalidAnswerOrAnnotator_IsRefusedAndNothingChanges()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await LabelProjectAsync(s, items: 1, overlap: 1);
        var invalid = await s.Admin.PutAsJsonAsync($"api/v1/projects/{project}/items/i0/gold", new { values = new { label = "2" } });
        await invalid.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await invalid.Content.ReadAsStringAsync()).ShouldContain("expects one of 0, 1");
        (await s.Admin.PutAsJsonAsync($"api/v1/projects/{project}/items/nope/gold", new { values = new { label = "1" } })).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var (annotator, _) = await s.MemberAsync(project);
        (await annotator.PutAsJsonAsync($"api/v1/projects/{project}/items/i0/gold", new { values = new { label = "1" } })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await annotator.GetAsync($"api/v1/projects/{project}/gold")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await s.Admin.PutAsJsonAsync($"api/v1/projects/{project}/quality/settings", new { goldRate = 1.5 })).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/gold"))!.Count.ShouldBe(0);

        await SetGoldAsync(s, project, "i0", Label("1"));
        (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/gold"))!.Single()!["gold"]!["label"]!.GetValue<string>().ShouldBe("1");
        await (await s.Admin.DeleteAsync($"api/v1/projects/{project}/items/i0/gold")).ShouldHaveStatusAsync(HttpStatusCode.NoContent);
        (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/gold"))!.Count.ShouldBe(0);
    }
}

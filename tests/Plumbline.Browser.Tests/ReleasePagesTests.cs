using System.Text.RegularExpressions;

namespace Plumbline.Browser.Tests;

/// <summary>The release pages in Chromium: a manager creates releases through the form, downloads a file and compares two versions.</summary>
public sealed class ReleasePagesTests(BrowserFixture fixture)
{
    /// <summary>A pairwise project of four items, each answered by two annotators who both prefer the "Good" candidate.</summary>
    private static async Task<(BrowserScenario S, long Project)> AnsweredPairsAsync(BrowserFixture fixture, int items = 4)
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), fixture.Browser);
        var project = await s.Api.CreateProjectAsync("pairwise", overlap: 2);
        await s.Api.ImportPairsAsync(project, items);
        for (var a = 0; a < 2; a++)
        {
            var (client, _) = await s.Api.MemberAsync(project);
            while (await Scenario.NextAsync(client, project) is { } task)
            {
                var good = task["fields"]!["candidates"]!.AsArray()
                    .First(c => c!["content"]!.GetValue<string>().StartsWith("Good", StringComparison.Ordinal))!;
                var values = new JsonObject { ["preference"] = new JsonObject { ["choice"] = good["id"]!.GetValue<string>(), ["strength"] = 2 } };
                await (await Scenario.SubmitAsync(client, task["assignmentId"]!.GetValue<long>(), values)).ShouldHaveStatusAsync(HttpStatusCode.OK);
            }
        }
        return (s, project);
    }

    [Fact]
    public async Task CreateThroughTheForm_BuildsDownloadsAndReadsBack()
    {
        var (s, project) = await AnsweredPairsAsync(fixture);
        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        await page.GotoAsync($"/projects/{project}");
        await page.ClickAsync("nav.tabs a:text-is('Releases')");
        await page.WaitForURLAsync(new Regex($"/projects/{project}/releases$"));
        (await page.Locator("#no-releases").IsVisibleAsync()).ShouldBeTrue();
        // Only formats the project can fill are offered: a pairwise project has no rubric.
        (await page.Locator("#formats input[value=rubric]").CountAsync()).ShouldBe(0);

        await page.CheckAsync("#formats input[value='trl-preference']");
        await page.CheckAsync("#formats input[value='openai-chat']");
        await page.FillAsync("input[name=validation]", "0");
        await page.FillAsync("input[name=test]", "0");
        await page.SelectOptionAsync("select[name='method.preference']", "majority");
        await BrowserScenario.ScreenshotAsync(page, "releases-new");
        await page.ClickAsync("#create-release");
        await page.WaitForURLAsync(new Regex($"/projects/{project}/releases/1$"));
        // The page follows the build and reloads itself when it is done.
        await page.Locator("#release-files").WaitForAsync();
        (await page.Locator("#release-status .status").GetAttributeAsync("data-status")).ShouldBe("ready");
        await BrowserScenario.ScreenshotAsync(page, "release-detail");

        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#files tr[data-path='trl-preference/train.jsonl'] a"));
        download.SuggestedFilename.ShouldBe($"project-{project}-v1-trl-preference-train.jsonl");
        var records = (await File.ReadAllLinesAsync(await download.PathAsync())).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!).ToList();
        records.Count.ShouldBe(4);
        foreach (var r in records)
        {
            var i = r["lineage"]!["external_id"]!.GetValue<string>()["item-".Length..];
            r["prompt"]!.GetValue<string>().ShouldBe($"Question {i}?");
            r["chosen"]!.GetValue<string>().ShouldBe($"Good answer {i}");
            r["rejected"]!.GetValue<string>().ShouldBe($"Bad answer {i}");
        }
        // What was downloaded is what the manifest lists.
        var manifest = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/releases/1"))!["manifest"]!;
        var entry = manifest["files"]!.AsArray().Single(f => f!["path"]!.GetValue<string>() == "trl-preference/train.jsonl")!;
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(await download.PathAsync())))
            .ShouldBe(entry["sha256"]!.GetValue<string>());
        (await page.Locator("#files tr[data-path='openai-chat/train.lineage.jsonl']").CountAsync()).ShouldBe(1);
    }

    [Fact]
    public async Task TwoReleases_ListedWithAgreementAndCompared()
    {
        var (s, project) = await AnsweredPairsAsync(fixture, items: 3);
        var manager = await s.PersonAsync(project, "manager");
        var page = await s.SignInAsync(manager);
        for (var v = 1; v <= 2; v++)
        {
            await page.GotoAsync($"/projects/{project}/releases");
            await page.CheckAsync("#formats input[value=raw]");
            await page.ClickAsync("#create-release");
            await page.WaitForURLAsync(new Regex($"/projects/{project}/releases/{v}$"));
            await page.Locator("#release-files").WaitForAsync();
        }
        // One more item between the two: v3 has it, v2 does not.
        await s.Api.ImportAsync(project, """{"id":"late","prompt":"Late?","chosen":"Good late","rejected":"Bad late"}""");
        for (var a = 0; a < 2; a++)
        {
            var (client, _) = await s.Api.MemberAsync(project);
            var task = (await Scenario.NextAsync(client, project))!;
            task["externalId"]!.GetValue<string>().ShouldBe("late");
            var good = task["fields"]!["candidates"]!.AsArray().First(c => c!["content"]!.GetValue<string>() == "Good late")!;
            var values = new JsonObject { ["preference"] = new JsonObject { ["choice"] = good["id"]!.GetValue<string>() } };
            await (await Scenario.SubmitAsync(client, task["assignmentId"]!.GetValue<long>(), values)).ShouldHaveStatusAsync(HttpStatusCode.OK);
        }
        await page.GotoAsync($"/projects/{project}/releases");
        await page.CheckAsync("#formats input[value=raw]");
        await page.ClickAsync("#create-release");
        await page.WaitForURLAsync(new Regex($"/projects/{project}/releases/3$"));
        await page.Locator("#release-files").WaitForAsync();

        await page.GotoAsync($"/projects/{project}/releases");
        (await page.Locator("#releases tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.version + ':' + r.dataset.status)"))
            .ShouldBe(["3:ready", "2:ready", "1:ready"]);
        (await page.Locator("#releases tr[data-version='3'] .agreement").InnerTextAsync()).ShouldStartWith("preference");
        await BrowserScenario.ScreenshotAsync(page, "releases-list");

        await page.SelectOptionAsync("select[name=from]", "2");
        await page.SelectOptionAsync("select[name=to]", "3");
        await page.ClickAsync("#diff-form button");
        await page.WaitForURLAsync(new Regex("/releases/diff"));
        (await page.Locator("#diff-counts td[data-key=added]").InnerTextAsync()).ShouldBe("1");
        (await page.Locator("#diff-counts td[data-key=unchanged]").InnerTextAsync()).ShouldBe("3");
        (await page.Locator(".ids").InnerTextAsync()).ShouldBe("late");
        await BrowserScenario.ScreenshotAsync(page, "releases-diff");
    }

    [Fact]
    public async Task Form_BadNumberOrNoFormat_ErrorShownValuesKeptNothingQueued()
    {
        var (s, project) = await AnsweredPairsAsync(fixture, items: 1);
        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        await page.GotoAsync($"/projects/{project}/releases");

        await page.FillAsync("input[name=validation]", "0,1");
        await page.CheckAsync("#formats input[value=csv]");
        await page.ClickAsync("#create-release");
        (await page.Locator("#form-error").InnerTextAsync()).ShouldContain("Validation share '0,1' is not a number");
        (await page.Locator("input[name=validation]").InputValueAsync()).ShouldBe("0,1");
        (await page.Locator("#formats input[value=csv]").IsCheckedAsync()).ShouldBeTrue();

        await page.FillAsync("input[name=validation]", "0.1");
        await page.UncheckAsync("#formats input[value=csv]");
        await page.ClickAsync("#create-release");
        (await page.Locator("#form-error").InnerTextAsync()).ShouldContain("give at least one format");
        await BrowserScenario.ScreenshotAsync(page, "releases-form-error");
        (await s.Api.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/releases"))!.Count.ShouldBe(0);
    }

    [Fact]
    public async Task Pages_Annotator_Forbidden()
    {
        var (s, project) = await AnsweredPairsAsync(fixture, items: 1);
        var page = await s.SignInAsync(await s.PersonAsync(project, "annotator"));

        var response = await page.GotoAsync($"/projects/{project}/releases");

        response!.Status.ShouldBe(403);
        (await page.Locator("#release-form").CountAsync()).ShouldBe(0);
    }
}

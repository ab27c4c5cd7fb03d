using Microsoft.EntityFrameworkCore;

namespace Plumbline.Browser.Tests;

/// <summary>
/// A model's suggestions in the workspace, and the labeller pages, in Chromium. The model is a fake OpenAI-protocol
/// server that says "positive" when a review contains "good": right on 2 of the 3 gold items.
/// </summary>
public sealed class LabellerPagesTests(BrowserFixture fixture)
{
    private const string Schema = """
        {"fields":[{"name":"text","type":"text","title":"Review"}],
         "questions":[{"name":"sentiment","type":"label","title":"Sentiment","labels":["positive","negative"]},
                      {"name":"summary","type":"text","title":"One-line summary","required":false}],
         "workflow":{"overlap":1}}
        """;

    private static string Answer(FakeRequest request)
    {
        var prompt = request.LastUserMessage;
        var text = prompt[(prompt.IndexOf(':') + 2)..].Split('\n')[0];
        var v2 = prompt.StartsWith("Review v2:", StringComparison.Ordinal);
        var positive = text.Contains("good") || (v2 && text.Contains("really positive"));
        return new JsonObject { ["sentiment"] = positive ? "positive" : "negative", ["summary"] = "A review: " + text }.ToJsonString();
    }

    private static async Task<(BrowserScenario S, long Project, FakeOpenAi Fake)> SetUpAsync(IBrowser browser)
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), browser);
        var project = await s.Api.CreateProjectAsync("labels", schema: JsonNode.Parse(Schema));
        await s.ImportAsync(project,
            """{"id":"p0","text":"good soup, warm and quick"}""",
            """{"id":"p1","text":"good bread but stale"}""",
            """{"id":"g0","text":"good 0","gold":{"sentiment":"positive"}}""",
            """{"id":"g1","text":"bad service but really positive","gold":{"sentiment":"positive"}}""",
            """{"id":"g2","text":"bad 2","gold":{"sentiment":"negative"}}""");
        var fake = await FakeOpenAi.StartAsync();
        fake.Answer = Answer;
        var provider = "fake-" + Guid.NewGuid().ToString("N")[..8];
        var created = await s.Api.Admin.PostAsJsonAsync("api/v1/providers", new { name = provider, baseUrl = fake.BaseUrl, model = "fake-model-1" });
        await created.ShouldHaveStatusAsync(HttpStatusCode.Created);
        var labeller = await s.Api.Admin.PostAsJsonAsync($"api/v1/projects/{project}/labellers", new { name = "judge", provider, prompt = "Review: {{text}}" });
        await labeller.ShouldHaveStatusAsync(HttpStatusCode.Created);
        await RunAsync(s, project, new { });
        return (s, project, fake);
    }

    private static async Task RunAsync(BrowserScenario s, long project, object body)
    {
        var run = (await (await s.Api.Admin.PostAsJsonAsync($"api/v1/projects/{project}/labellers/judge/runs", body)).Content.ReadFromJsonAsync<JsonObject>())!;
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (run["status"]!.GetValue<string>() is "queued" or "running")
        {
            await Task.Delay(50, deadline.Token);
            run = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/labellers/runs/{run["id"]}", deadline.Token))!;
        }
        run["status"]!.GetValue<string>().ShouldBe("completed");
    }

    /// <summary>Clicks Submit and waits until htmx has swapped in the next task.</summary>
    private static async Task SubmitAsync(IPage page)
    {
        await page.EvaluateAsync("() => { window.__workspace = document.querySelector('#workspace'); }");
        await page.Locator("#submit").ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('#workspace') !== window.__workspace && !document.querySelector('.htmx-request')");
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe("Submitted.");
    }

    [Fact]
    public async Task Workspace_ModelSuggestion_IsPrefilledMarkedAndItsOutcomeRecorded()
    {
        var (s, project, fake) = await SetUpAsync(fixture.Browser);
        await using var _ = fake;
        var email = await s.PersonAsync(project);
        var page = await s.SignInAsync(email);
        await page.GotoAsync($"/projects/{project}/annotate");
        await page.Locator("#workspace").WaitForAsync();

        // p0: both answers pre-filled from the model and marked as its suggestion.
        (await page.Locator("input[name='q.sentiment'][value='positive']").IsCheckedAsync()).ShouldBeTrue();
        (await page.Locator("textarea[name='q.summary']").InputValueAsync()).ShouldBe("A review: good soup, warm and quick");
        (await page.Locator("fieldset[data-question='sentiment'] .badge.suggested").InnerTextAsync()).ShouldBe("Model suggestion");
        (await page.Locator(".badge.suggested").CountAsync()).ShouldBe(2);
        await BrowserScenario.ScreenshotAsync(page, "workspace-model-suggestion");
        // Accepted as it is.
        await SubmitAsync(page);

        // p1: the person disagrees with the sentiment and touches up the summary.
        (await page.Locator("textarea[name='q.summary']").InputValueAsync()).ShouldBe("A review: good bread but stale");
        await page.Locator("input[name='q.sentiment'][value='negative']").CheckAsync();
        await page.Locator("textarea[name='q.summary']").FillAsync("A review: the bread was stale");
        await SubmitAsync(page);

        await using var db = s.App.NewDbContext();
        var stored = await db.Responses.AsNoTracking().Where(r => r.ProjectId == project)
            .Join(db.Items, r => r.ItemId, i => i.Id, (r, i) => new { i.ExternalId, r.ValuesJson, r.MetadataJson }).ToListAsync();
        var p0 = JsonNode.Parse(stored.Single(r => r.ExternalId == "p0").MetadataJson!)!["suggestions"]!;
        p0["sentiment"]!["outcome"]!.GetValue<string>().ShouldBe("accepted");
        p0["summary"]!["outcome"]!.GetValue<string>().ShouldBe("accepted");
        var p1 = stored.Single(r => r.ExternalId == "p1");
        JsonNode.Parse(p1.ValuesJson)!["sentiment"]!.GetValue<string>().ShouldBe("negative");
        var p1Outcomes = JsonNode.Parse(p1.MetadataJson!)!["suggestions"]!;
        p1Outcomes["sentiment"]!["outcome"]!.GetValue<string>().ShouldBe("rejected");
        p1Outcomes["summary"]!["outcome"]!.GetValue<string>().ShouldBe("edited");
        // The page never told the annotator which model or labeller it was.
        (await page.ContentAsync()).ShouldNotContain("fake-model-1");
    }

    [Fact]
    public async Task LabellerPages_ManagerReadsReportConfusionMatrixAndComparesVersions()
    {
        var (s, project, fake) = await SetUpAsync(fixture.Browser);
        await using var _ = fake;
        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        await page.GotoAsync($"/projects/{project}/labellers");
        (await page.Locator("#labellers tr[data-labeller='judge'] .badge").InnerTextAsync()).ShouldBe("completed");
        await BrowserScenario.ScreenshotAsync(page, "labellers");

        await page.Locator("#labellers a", new() { HasText = "judge" }).ClickAsync();
        await page.Locator("#figures").WaitForAsync();
        (await page.Locator("#stat-answered").InnerTextAsync()).ShouldBe("5");
        var sentiment = page.Locator(".question-report[data-question='sentiment']");
        (await sentiment.Locator(".agreement").First.InnerTextAsync()).ShouldStartWith("66.7% agreement (2 of 3)");
        // Gold positive: 1 right, 1 called negative (g1); gold negative: 1 right.
        var cells = await sentiment.Locator("table.confusion[data-reference='gold'] tbody td").AllInnerTextsAsync();
        cells.ShouldBe(["1", "1", "0", "1"]);
        await BrowserScenario.ScreenshotAsync(page, "labeller-report");

        // Version 2 reads the twist; run it on the gold items and compare.
        (await s.Api.Admin.PutAsJsonAsync($"api/v1/projects/{project}/labellers/judge", new { prompt = "Review v2: {{text}}" })).EnsureSuccessStatusCode();
        await RunAsync(s, project, new { filter = new { gold = true }, suggest = false });
        await page.GotoAsync($"/projects/{project}/labellers/judge");
        await page.Locator("#compare-form button").ClickAsync();
        await page.Locator("#comparison").WaitForAsync();
        (await page.Locator("#shared-items").InnerTextAsync()).ShouldBe("3");
        var row = await page.Locator("#comparison tr[data-question='sentiment'] td").AllInnerTextsAsync();
        row[1].ShouldBe("66.7% (2/3)");
        row[2].ShouldBe("100% (3/3)");
        await BrowserScenario.ScreenshotAsync(page, "labeller-compare");
    }

    [Fact]
    public async Task LabellerPages_Annotator_IsRefused()
    {
        var (s, project, fake) = await SetUpAsync(fixture.Browser);
        await using var _ = fake;
        var page = await s.SignInAsync(await s.PersonAsync(project));
        var response = await page.GotoAsync($"/projects/{project}/labellers/judge");
        response!.Status.ShouldBe(403);
        (await page.ContentAsync()).ShouldNotContain("agreement");
    }
}

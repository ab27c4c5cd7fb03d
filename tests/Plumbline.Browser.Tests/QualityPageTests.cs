using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Plumbline.Browser.Tests;

/// <summary>The quality page, read in Chromium by a manager and refused to annotators.</summary>
public sealed class QualityPageTests(BrowserFixture fixture)
{
    private BrowserScenario NewScenario() => new(SharedApps.Get("sqlite"), fixture.Browser);

    /// <summary>
    /// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", worked example with missing values
    /// (../shared/data/worked-examples/krippendorff2011.csv): four coders A–D, twelve units, values 1–5.
    /// The same answers go to a label question (nominal α = 0.743) and a rating question (ordinal α = 0.815).
    /// Each coder gets a fixed time per item so the median time is known: A 3 s, B 4 s, C 5 s, D 6 s.
    /// </summary>
    private static async Task<long> KrippendorffProjectAsync(BrowserScenario s)
    {
        var schema = new JsonObject
        {
            ["fields"] = new JsonArray(new JsonObject { ["name"] = "text", ["type"] = "text" }),
            ["questions"] = new JsonArray(
                new JsonObject { ["name"] = "code", ["type"] = "label", ["labels"] = new JsonArray("1", "2", "3", "4", "5") },
                new JsonObject { ["name"] = "score", ["type"] = "rating", ["scale"] = new JsonObject { ["min"] = 1, ["max"] = 5 } }),
            // Flag a median under 0.7 × the project's: of the 41 times (9 × 3 s, 11 × 4 s, 10 × 5 s, 11 × 6 s) the median is 5 s, so only A (3 s < 3.5 s).
            ["workflow"] = new JsonObject { ["overlap"] = 4, ["quality"] = new JsonObject { ["fastFraction"] = 0.7 } },
        };
        var project = await s.Api.CreateProjectAsync("kripp", schema: schema);
        await s.ImportAsync(project, [.. Enumerable.Range(1, 12).Select(u => $$"""{"id":"u{{u}}","text":"Unit {{u}}"}""")]);
        var csv = new StringBuilder("item,annotator,question,value,lead_time_ms\n");
        var coders = File.ReadLines(SharedData.PathOf("worked-examples", "krippendorff2011.csv")).Where(l => !l.StartsWith('#')).ToList();
        coders.Count.ShouldBe(4);
        foreach (var (line, index) in coders.Select((l, i) => (l, i)))
        {
            var cells = line.Split(',');
            for (var u = 1; u < cells.Length; u++)
            {
                if (cells[u].Length > 0)
                {
                    var ms = (3 + index) * 1000;
                    csv.Append(CultureInfo.InvariantCulture, $"u{u},{cells[0]},code,{cells[u]},{ms}\nu{u},{cells[0]},score,{cells[u]},{ms}\n");
                }
            }
        }
        using var body = new ByteArrayContent(Encoding.UTF8.GetBytes(csv.ToString()));
        var imported = await s.Api.Admin.PostAsync($"api/v1/projects/{project}/annotations/import?format=csv", body);
        await imported.ShouldHaveStatusAsync(HttpStatusCode.OK);
        return project;
    }

    private static async Task<string> CellAsync(IPage page, string row, string cell) => (await page.Locator($"{row} {cell}").InnerTextAsync()).Trim();

    [Fact]
    public async Task QualityPage_KrippendorffWorkedExample_ShowsThePublishedAgreementReadingsAndScorecards()
    {
        var s = NewScenario();
        var project = await KrippendorffProjectAsync(s);
        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        await page.GotoAsync($"/projects/{project}");
        await page.ClickAsync("nav.tabs a:text-is('Quality')");
        await page.WaitForURLAsync(new Regex($"/projects/{project}/quality$"));
        await BrowserScenario.ScreenshotAsync(page, "quality-krippendorff");

        (await page.Locator("#stat-responses").InnerTextAsync()).ShouldBe("41");
        (await page.Locator("#stat-answered").InnerTextAsync()).ShouldBe("12");
        (await page.Locator("#stat-annotators").InnerTextAsync()).ShouldBe("4");

        // Krippendorff (2011): nominal 0.743, ordinal 0.815; Landis & Koch (1977): 0.61–0.80 substantial, 0.81–1 almost perfect.
        (await CellAsync(page, "#questions tr[data-question='code']", ".agreement")).ShouldBe("0.743");
        (await CellAsync(page, "#questions tr[data-question='code']", ".metric")).ShouldBe("Krippendorff's α (nominal)");
        (await CellAsync(page, "#questions tr[data-question='code']", ".reading")).ShouldBe("substantial · tentative conclusions only");
        (await CellAsync(page, "#questions tr[data-question='score']", ".agreement")).ShouldBe("0.815");
        (await CellAsync(page, "#questions tr[data-question='score']", ".metric")).ShouldBe("Krippendorff's α (ordinal)");
        (await CellAsync(page, "#questions tr[data-question='score']", ".reading")).ShouldBe("almost perfect · reliable");
        (await CellAsync(page, "#questions tr[data-question='code']", ".answers")).ShouldBe("41");
        (await CellAsync(page, "#questions tr[data-question='code']", ".units")).ShouldBe("12");

        // The chart draws one bar per question, its length the agreement, its figure written beside it.
        var bars = page.Locator("#agreement-chart g.row");
        (await bars.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.label + '=' + r.dataset.value)")).ShouldBe(["code=0.74", "score=0.82"]);
        (await page.Locator("#agreement-chart svg title").First.TextContentAsync()).ShouldBe("Agreement per question");
        (await page.Locator("#agreement-chart .band-name").AllTextContentsAsync()).ShouldContain("substantial");

        // Answers per value, counted from the worked example's rows: 1 ×9, 2 ×13, 3 ×11, 4 ×5, 5 ×3 (41 values).
        (await page.Locator("#distribution-code g.row").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.label + '=' + r.dataset.value)"))
            .ShouldBe(["1=9", "2=13", "3=11", "4=5", "5=3"]);

        // Scorecards: A coded 9 units, B 11, C 10, D 11; medians from the lead times imported.
        var emails = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/quality?items=none"))!["annotators"]!.AsArray()
            .Select(a => a!["email"]!.GetValue<string>()).ToList();
        emails.ShouldBe(["a@annotators.invalid", "b@annotators.invalid", "c@annotators.invalid", "d@annotators.invalid"]);
        string[] items = ["9", "11", "10", "11"];
        string[] medians = ["3 s", "4 s", "5 s", "6 s"];
        for (var i = 0; i < 4; i++)
        {
            var row = $"#scorecards tr[data-email='{emails[i]}']";
            (await CellAsync(page, row, ".sc-items")).ShouldBe(items[i]);
            (await CellAsync(page, row, ".sc-median")).ShouldBe(medians[i]);
            (await CellAsync(page, row, ".sc-gold")).ShouldBe("—");
        }
        (await page.Locator("#stat-flagged").InnerTextAsync()).ShouldBe("1");
        (await page.Locator($"#scorecards tr[data-email='{emails[0]}'] .flag[data-code='fast']").InnerTextAsync())
            .ShouldBe("fast median 3000 ms per item against the project's 5000 ms");
        (await page.Locator("#scorecards .flag").CountAsync()).ShouldBe(1);
        (await page.Locator("#time-chart g.row.flagged").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.label)")).ShouldBe([emails[0]]);
        (await page.Locator("#time-chart g.row").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.value)")).ShouldBe(["3000", "4000", "5000", "6000"]);

        // Items needing review are the API's list, each linking to the item page.
        var api = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/quality?items=needs_review"))!;
        var needing = api["items"]!.AsArray().Select(i => i!["externalId"]!.GetValue<string>()).Order().ToList();
        (await page.Locator("#stat-needs-review").InnerTextAsync()).ShouldBe(needing.Count.ToString(CultureInfo.InvariantCulture));
        needing.ShouldNotBeEmpty();
        (await page.Locator("#needs-review tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.externalId)")).Order().ShouldBe(needing);
        await page.Locator($"#needs-review tr[data-external-id='{needing[0]}'] a").ClickAsync();
        await page.WaitForURLAsync(new Regex($"/projects/{project}/items/\\d+$"));

        // Another method is one form away, and the page recomputes with it.
        await page.GotoAsync($"/projects/{project}/quality");
        await page.SelectOptionAsync("#method", "majority");
        await page.ClickAsync("#method-form button[type=submit]");
        await page.WaitForURLAsync(new Regex("method=majority"));
        (await page.Locator("#method").InputValueAsync()).ShouldBe("majority");
        (await CellAsync(page, "#questions tr[data-question='code']", ".agreement")).ShouldBe("0.743");
    }

    [Fact]
    public async Task QualityPage_Annotator_IsRefusedAndOutsidersGetNotFound()
    {
        var s = NewScenario();
        var project = await KrippendorffProjectAsync(s);
        var annotator = await s.SignInAsync(await s.PersonAsync(project, "annotator"));
        var response = await annotator.GotoAsync($"/projects/{project}/quality");
        response!.Status.ShouldBe(403);
        (await annotator.Locator("body").InnerTextAsync()).ShouldNotContain("annotators.invalid");
        (await annotator.Locator("#agreement").CountAsync()).ShouldBe(0);

        var other = await s.Api.CreateProjectAsync("sft-write");
        var outsider = await s.SignInAsync(await s.PersonAsync(other, "manager"));
        (await outsider.GotoAsync($"/projects/{project}/quality"))!.Status.ShouldBe(404);

        // A reviewer reads it.
        var reviewer = await s.SignInAsync(await s.PersonAsync(project, "reviewer"));
        (await reviewer.GotoAsync($"/projects/{project}/quality"))!.Status.ShouldBe(200);
        (await CellAsync(reviewer, "#questions tr[data-question='code']", ".agreement")).ShouldBe("0.743");
    }

    [Fact]
    public async Task QualityPage_LabelsWithMarkup_AreShownAsText()
    {
        var s = NewScenario();
        const string evil = "<img src=x onerror=\"document.title='owned'\">";
        var schema = new JsonObject
        {
            ["fields"] = new JsonArray(new JsonObject { ["name"] = "text", ["type"] = "text" }),
            ["questions"] = new JsonArray(new JsonObject { ["name"] = "verdict", ["type"] = "label", ["labels"] = new JsonArray(evil, "fine") }),
            ["workflow"] = new JsonObject { ["overlap"] = 2 },
        };
        var project = await s.Api.CreateProjectAsync("markup", schema: schema);
        await s.ImportAsync(project, """{"id":"x1","text":"One"}""", """{"id":"x2","text":"Two"}""");
        var rows = new JsonArray(
            new JsonObject { ["item"] = "x1", ["annotator"] = "p", ["question"] = "verdict", ["value"] = evil },
            new JsonObject { ["item"] = "x1", ["annotator"] = "q", ["question"] = "verdict", ["value"] = evil },
            new JsonObject { ["item"] = "x2", ["annotator"] = "p", ["question"] = "verdict", ["value"] = "fine" },
            new JsonObject { ["item"] = "x2", ["annotator"] = "q", ["question"] = "verdict", ["value"] = evil });
        using var body = new ByteArrayContent(Encoding.UTF8.GetBytes(string.Join('\n', rows.Select(r => r!.ToJsonString()))));
        await (await s.Api.Admin.PostAsync($"api/v1/projects/{project}/annotations/import?format=jsonl", body)).ShouldHaveStatusAsync(HttpStatusCode.OK);

        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        await page.GotoAsync($"/projects/{project}/quality");
        await BrowserScenario.ScreenshotAsync(page, "quality-markup-labels");
        (await page.Locator("img").CountAsync()).ShouldBe(0);
        (await page.TitleAsync()).ShouldNotBe("owned");
        (await page.Locator("#distribution-verdict g.row").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.label + '=' + r.dataset.value)"))
            .ShouldBe([$"{evil}=3", "fine=1"]);
        (await page.Locator("#distribution-verdict text.bar-label").First.TextContentAsync()).ShouldBe(evil[..27] + "…");
    }
}

namespace Plumbline.Browser.Tests;

/// <summary>What the workspace must never do: run model output, show what an annotator may not see, lose typing.</summary>
public sealed class WorkspaceSafetyTests(BrowserFixture fixture)
{
    private const string Payload = """
        <script>window.__xss = 1; alert('script')</script>
        <img src="/xss-probe-img.png" onerror="alert('img')">
        [click me](javascript:alert('link'))
        ![pixel](/xss-probe-pixel.png)
        """;

    [Fact]
    public async Task ModelOutput_WithScriptImageAndJavascriptLink_IsShownAsTextAndRunsNothing()
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), fixture.Browser);
        var project = await s.Api.CreateProjectAsync("pairwise");
        (await s.Api.Admin.PutAsJsonAsync($"api/v1/projects/{project}/guidelines", new { markdown = Payload })).EnsureSuccessStatusCode();
        var line = new JsonObject
        {
            ["id"] = "x1",
            ["prompt"] = Payload,
            ["chosen"] = Payload,
            ["rejected"] = "Plain answer",
        }.ToJsonString();
        await s.ImportAsync(project, line);
        var email = await s.PersonAsync(project);
        var page = await s.SignInAsync(email);

        var dialogs = new List<string>();
        var requests = new List<string>();
        page.Dialog += (_, dialog) =>
        {
            dialogs.Add(dialog.Message);
            _ = dialog.DismissAsync();
        };
        page.Request += (_, request) => requests.Add(request.Url);

        await page.GotoAsync($"/projects/{project}/annotate");
        await page.Locator("#workspace .candidate").First.WaitForAsync();
        // Give anything that would run a moment to do so.
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        await BrowserScenario.ScreenshotAsync(page, "xss");

        dialogs.ShouldBeEmpty();
        requests.Where(u => u.Contains("xss-probe", StringComparison.Ordinal)).ShouldBeEmpty();
        (await page.EvaluateAsync<bool>("() => window.__xss === undefined")).ShouldBeTrue();
        (await page.Locator("main img").CountAsync()).ShouldBe(0);
        (await page.Locator("#workspace script, #guidelines script").CountAsync()).ShouldBe(0);
        (await page.Locator("a[href^='javascript' i]").CountAsync()).ShouldBe(0);
        (await page.Locator("[onerror]").CountAsync()).ShouldBe(0);
        // The markup is there to read, as text.
        var shown = await page.Locator("#workspace .fields").InnerTextAsync();
        shown.ShouldContain("<script>window.__xss = 1; alert('script')</script>");
        shown.ShouldContain("<img src=\"/xss-probe-img.png\" onerror=\"alert('img')\">");
        (await page.Locator("#guidelines").InnerTextAsync()).ShouldContain("<script>");
    }

    [Fact]
    public async Task Annotator_EditingUrls_CannotReachAnotherProjectAnotherPersonsWorkOrGold()
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), fixture.Browser);
        var project = await s.Api.CreateProjectAsync("sft-edit", overlap: 2);
        var other = await s.Api.CreateProjectAsync("sft-edit");
        await s.ImportAsync(project, """{"id":"g1","prompt":"Q?","response":"Draft answer.","gold":{"ideal_response":"GOLD-SECRET-ANSWER"},"metadata":{"source":"META-SECRET"}}""");
        var alice = await s.PersonAsync(project);
        var bob = await s.PersonAsync(project);

        // Bob leases the item and saves a draft through the API.
        var bobToken = await TokenAsync(s, bob);
        var bobTask = await Scenario.NextAsync(s.App.Client(bobToken), project);
        var bobAssignment = bobTask!["assignmentId"]!.GetValue<long>();
        (await s.App.Client(bobToken).PostAsJsonAsync($"api/v1/assignments/{bobAssignment}/draft",
            new { values = new { ideal_response = "BOB-PRIVATE-DRAFT" } })).EnsureSuccessStatusCode();

        var page = await s.SignInAsync(alice);
        var own = await page.GotoAsync($"/projects/{project}/annotate");
        own!.Status.ShouldBe(200);
        var html = await page.ContentAsync();
        html.ShouldNotContain("GOLD-SECRET-ANSWER");
        html.ShouldNotContain("META-SECRET");
        html.ShouldNotContain("BOB-PRIVATE-DRAFT");

        var otherProject = await page.GotoAsync($"/projects/{other}/annotate");
        otherProject!.Status.ShouldBe(404);
        (await page.Locator("h1").InnerTextAsync()).ShouldBe("Project not found");
        await BrowserScenario.ScreenshotAsync(page, "not-found");

        // Bob's assignment, from Alice's session with a valid antiforgery token: not hers.
        await page.GotoAsync($"/projects/{project}/annotate");
        var statuses = await page.EvaluateAsync<int[]>($$"""
            async () => {
              const token = document.querySelector('input[name="__RequestVerificationToken"]').value;
              const post = (url, body) => fetch(url, { method: 'POST', headers: { RequestVerificationToken: token }, body }).then(r => r.status);
              const form = () => { const f = new FormData(); f.append('q.ideal_response', 'ALICE'); return f; };
              return [
                await post('/projects/{{project}}/annotate/{{bobAssignment}}/diff/ideal_response', form()),
                await post('/projects/{{project}}/annotate/{{bobAssignment}}/draft', form()),
              ];
            }
            """);
        statuses.ShouldBe([404, 404]);
        // Gold and metadata live in the export, which is for managers.
        var export = await page.GotoAsync($"/api/v1/projects/{project}/export");
        export!.Status.ShouldBe(403);
        // The item browser shows every response and the gold: for managers and reviewers, not found for anyone else.
        var itemId = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items"))!["items"]![0]!["id"]!.GetValue<long>();
        foreach (var url in new[] { $"/projects/{project}/items/{itemId}", $"/projects/{project}/items", $"/api/v1/projects/{project}/items/{itemId}" })
        {
            var response = await page.GotoAsync(url);
            response!.Status.ShouldBe(404, url);
            var text = await page.ContentAsync();
            text.ShouldNotContain("GOLD-SECRET-ANSWER");
            text.ShouldNotContain("BOB-PRIVATE-DRAFT");
        }

        var bobDraft = (await s.ExportAsync(project)).Single()["responses"]!.AsArray().Single(r => r!["user"]!.GetValue<string>() == bob)!;
        bobDraft["values"]!["ideal_response"]!.GetValue<string>().ShouldBe("BOB-PRIVATE-DRAFT");
    }

    [Fact]
    public async Task Draft_SavedWithCtrlS_IsThereAfterAReload()
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), fixture.Browser);
        var project = await s.Api.CreateProjectAsync("sft-write");
        await s.ImportAsync(project, """{"id":"d1","prompt":"Write something."}""");
        var email = await s.PersonAsync(project);
        var page = await s.SignInAsync(email);
        await page.GotoAsync($"/projects/{project}/annotate");
        await page.Keyboard.TypeAsync("Half-written answer");
        await page.Keyboard.PressAsync("Control+s");
        await page.Locator("#draft-status", new() { HasText = "Draft saved" }).WaitForAsync();

        await page.ReloadAsync();
        (await page.Locator("textarea[name='q.ideal_response']").InputValueAsync()).ShouldBe("Half-written answer");
    }

    [Fact]
    public async Task Skip_AsksForAReason_AndStoresIt()
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), fixture.Browser);
        var project = await s.Api.CreateProjectAsync("safety");
        await s.ImportAsync(project, """{"id":"k1","prompt":"P1","response":"R1"}""", """{"id":"k2","prompt":"P2","response":"R2"}""");
        var email = await s.PersonAsync(project);
        var page = await s.SignInAsync(email);
        await page.GotoAsync($"/projects/{project}/annotate");
        await page.Keyboard.PressAsync("s");
        await page.Locator("#skip-dialog[open] textarea").WaitForAsync();
        await page.Keyboard.TypeAsync("Not in a language I read");
        await BrowserScenario.ScreenshotAsync(page, "skip");
        await BrowserScenario.PressAndWaitForSwapAsync(page, "Enter");
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe("Skipped.");
        (await page.Locator("#item-id").InnerTextAsync()).ShouldBe("k2");

        var skipped = (await s.ResponsesOfAsync(project, email)).Single().Response;
        skipped["status"]!.GetValue<string>().ShouldBe("skipped");
        skipped["skip_reason"]!.GetValue<string>().ShouldBe("Not in a language I read");
    }

    [Fact]
    public async Task HelpKey_ShowsTheShortcuts()
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), fixture.Browser);
        var project = await s.Api.CreateProjectAsync("rubric");
        await s.ImportAsync(project, """{"id":"h1","prompt":"P","response":"R"}""");
        var page = await s.SignInAsync(await s.PersonAsync(project));
        await page.GotoAsync($"/projects/{project}/annotate");
        await page.Keyboard.PressAsync("?");
        await page.Locator("#help[open]").WaitForAsync();
        (await page.Locator("#help").InnerTextAsync()).ShouldContain("save a draft");
        await BrowserScenario.ScreenshotAsync(page, "help");
        await page.Keyboard.PressAsync("Escape");
        (await page.Locator("#help[open]").CountAsync()).ShouldBe(0);
    }

    private static async Task<string> TokenAsync(BrowserScenario s, string email)
    {
        var response = await s.Api.Admin.PostAsJsonAsync("api/v1/tokens", new { userEmail = email });
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
    }
}

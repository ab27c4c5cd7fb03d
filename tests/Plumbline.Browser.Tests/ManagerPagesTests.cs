using System.Text.RegularExpressions;

namespace Plumbline.Browser.Tests;

/// <summary>
/// The manager's pages, driven in Chromium the way a data lead uses them; every change is read back through the API.
/// </summary>
public sealed class ManagerPagesTests(BrowserFixture fixture)
{
    private BrowserScenario NewScenario() => new(SharedApps.Get("sqlite"), fixture.Browser);

    /// <summary>An account with a password that belongs to no project yet.</summary>
    private static async Task<string> AccountAsync(BrowserScenario s, string who = "manager")
    {
        var email = Scenario.UniqueEmail(who);
        await (await s.Api.Admin.PostAsJsonAsync("api/v1/users", new { email, password = BrowserScenario.Password })).ShouldHaveStatusAsync(HttpStatusCode.Created);
        return email;
    }

    private static async Task<(HttpClient Client, string Email)> AnnotatorAsync(BrowserScenario s, long project) => await s.Api.MemberAsync(project);

    private static async Task SubmitAsync(HttpClient annotator, long project, string answer)
    {
        var task = (await Scenario.NextAsync(annotator, project))!;
        await (await annotator.PostAsJsonAsync($"api/v1/assignments/{task["assignmentId"]}/submit",
            new { values = new JsonObject { ["ideal_response"] = answer }, leadTimeMs = 4200 })).ShouldHaveStatusAsync(HttpStatusCode.OK);
    }

    private static async Task SkipAsync(HttpClient annotator, long project)
    {
        var task = (await Scenario.NextAsync(annotator, project))!;
        (await annotator.PostAsJsonAsync($"api/v1/assignments/{task["assignmentId"]}/skip", new { reason = "unclear" })).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task NewProject_FilledInTheForm_IsCreatedFromTheTemplateWithTheOverlap()
    {
        var s = NewScenario();
        var email = await AccountAsync(s);
        var page = await s.SignInAsync(email);
        await page.ClickAsync("#new-project");
        await page.WaitForURLAsync(new Regex("/projects/new$"));
        await page.FillAsync("input[name=name]", "Helpfulness ranking");
        await page.FillAsync("input[name=description]", "Three models, ranked");
        await page.CheckAsync("input[name=template][value=ranking]");
        await page.FillAsync("input[name=overlap]", "4");
        await BrowserScenario.ScreenshotAsync(page, "manage-new-project");
        await page.ClickAsync("#new-project-form button[type=submit]");
        await page.WaitForURLAsync(new Regex(@"/projects/\d+$"));
        var id = long.Parse(new Uri(page.Url).Segments[^1], System.Globalization.CultureInfo.InvariantCulture);

        var project = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{id}"))!;
        project["name"]!.GetValue<string>().ShouldBe("Helpfulness ranking");
        project["description"]!.GetValue<string>().ShouldBe("Three models, ranked");
        project["overlap"]!.GetValue<int>().ShouldBe(4);
        project["schema"]!["questions"]![0]!["type"]!.GetValue<string>().ShouldBe("ranking");
        var members = (await s.Api.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{id}/members"))!;
        members.Single()!["email"]!.GetValue<string>().ShouldBe(email);
        members.Single()!["role"]!.GetValue<string>().ShouldBe("manager");
        (await page.Locator("h1").InnerTextAsync()).ShouldBe("Helpfulness ranking");
    }

    [Fact]
    public async Task NewProject_WithoutAName_ShowsTheErrorAndKeepsWhatWasTyped()
    {
        var s = NewScenario();
        var page = await s.SignInAsync(await AccountAsync(s));
        await page.GotoAsync("/projects/new");
        await page.FillAsync("input[name=name]", "   ");
        await page.FillAsync("input[name=description]", "kept");
        await page.EvaluateAsync("() => document.querySelector('input[name=name]').removeAttribute('required')");
        await page.ClickAsync("#new-project-form button[type=submit]");
        (await page.Locator("#form-error").InnerTextAsync()).ShouldContain("name");
        (await page.Locator("input[name=description]").InputValueAsync()).ShouldBe("kept");
    }

    [Fact]
    public async Task Dashboard_WithWorkDone_ShowsProgressPerAnnotatorCountsAndTheExport()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("sft-write");
        await s.ImportAsync(project, """{"id":"d1","prompt":"One"}""", """{"id":"d2","prompt":"Two"}""", """{"id":"d3","prompt":"Three"}""");
        var (alice, aliceEmail) = await AnnotatorAsync(s, project);
        var (bob, bobEmail) = await AnnotatorAsync(s, project);
        await SubmitAsync(alice, project, "A1");
        await SkipAsync(alice, project);
        await SubmitAsync(bob, project, "B1");
        var manager = await s.PersonAsync(project, "manager");
        var page = await s.SignInAsync(manager);
        await page.ClickAsync($"tr[data-project-id='{project}'] a.project-link");
        await page.WaitForURLAsync(new Regex($"/projects/{project}$"));
        await BrowserScenario.ScreenshotAsync(page, "manage-dashboard");

        (await page.Locator("#stat-items").InnerTextAsync()).ShouldBe("3");
        (await page.Locator("#stat-complete").InnerTextAsync()).ShouldBe("2");
        (await page.Locator("#stat-submitted").InnerTextAsync()).ShouldBe("2");
        (await page.Locator("#stat-skipped").InnerTextAsync()).ShouldBe("1");
        var aliceRow = page.Locator($"#annotators tr[data-email='{aliceEmail}']");
        (await aliceRow.Locator(".submitted").InnerTextAsync()).ShouldBe("1");
        (await aliceRow.Locator(".skipped").InnerTextAsync()).ShouldBe("1");
        (await page.Locator($"#annotators tr[data-email='{bobEmail}'] .submitted").InnerTextAsync()).ShouldBe("1");

        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#export-link"));
        var path = await download.PathAsync();
        var lines = (await File.ReadAllLinesAsync(path)).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!).ToList();
        lines.Select(l => l["external_id"]!.GetValue<string>()).ShouldBe(["d1", "d2", "d3"]);

        // The per-annotator link opens the item browser filtered to that person.
        await aliceRow.Locator("a").ClickAsync();
        await page.Locator("#items").WaitForAsync();
        (await page.Locator("#items tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.externalId)")).ShouldBe(["d1", "d2"]);
    }

    [Fact]
    public async Task Guidelines_EditedWithLivePreview_SaveANewVersionAndListTheHistory()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("rubric");
        (await s.Api.Admin.PutAsJsonAsync($"api/v1/projects/{project}/guidelines", new { markdown = "Version one." })).EnsureSuccessStatusCode();
        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        var dialogs = 0;
        page.Dialog += (_, d) =>
        {
            dialogs++;
            _ = d.DismissAsync();
        };
        await page.GotoAsync($"/projects/{project}/guidelines");
        var markdown = "# Scoring\n\nBe **strict**.\n\n| score | meaning |\n|---|---|\n| 1 | wrong |\n\n<script>alert('x')</script>";
        await page.FillAsync("#markdown", markdown);
        // The preview is rendered on the server as the manager types (htmx), with raw HTML shown as text.
        await page.Locator("#preview-body strong", new() { HasText = "strict" }).WaitForAsync();
        (await page.Locator("#preview-body table td").First.InnerTextAsync()).ShouldBe("1");
        (await page.Locator("#preview-body").InnerTextAsync()).ShouldContain("<script>alert('x')</script>");
        (await page.Locator("#preview-body script").CountAsync()).ShouldBe(0);
        await BrowserScenario.ScreenshotAsync(page, "manage-guidelines");
        await page.ClickAsync("#guidelines-form button[type=submit]");
        await page.WaitForURLAsync(new Regex("saved=2"));
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe("Saved as version 2.");
        (await page.Locator("#versions tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.version)")).ShouldBe(["2", "1"]);
        dialogs.ShouldBe(0);

        var current = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/guidelines"))!;
        current["version"]!.GetValue<int>().ShouldBe(2);
        current["markdown"]!.GetValue<string>().ShouldBe(markdown);

        // An old version can be read, not edited.
        await page.ClickAsync("#versions tr[data-version='1'] a");
        (await page.Locator("#preview-body").InnerTextAsync()).ShouldBe("Version one.");
        (await page.Locator("#guidelines-form").CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task Import_DryRunThenForReal_ShowsTheCleaningReportAndStoresOnlyTheSecondTime()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("sft-write");
        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        await page.GotoAsync($"/projects/{project}/import");
        var file = string.Join('\n',
            """{"id":"i1","prompt":"Write to jane.doe@example.com about the quarterly report and the budget for next year."}""",
            """{"id":"i2","prompt":"Summarise the history of the printing press in three sentences for a school newsletter."}""",
            """{"id":"i3","prompt":"Summarise the history of the printing press in three sentences for a school newsletter."}""",
            """{"id":"i4","prompt":"Give me a recipe for a vegetarian lasagne with spinach and ricotta."}""");
        var upload = new FilePayload { Name = "batch.jsonl", MimeType = "application/x-ndjson", Buffer = System.Text.Encoding.UTF8.GetBytes(file) };

        await page.SetInputFilesAsync("input[name=file]", upload);
        (await page.IsCheckedAsync("input[name=dryRun]")).ShouldBeTrue();
        await page.ClickAsync("#import-form button[type=submit]");
        await page.Locator("#import-report").WaitForAsync();
        (await page.Locator("#report-state").InnerTextAsync()).ShouldContain("dry run");
        (await page.Locator("#report-created").InnerTextAsync()).ShouldBe("3");
        (await page.Locator("#report-dropped").InnerTextAsync()).ShouldBe("1");
        (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items"))!["items"]!.AsArray().ShouldBeEmpty();

        await page.SetInputFilesAsync("input[name=file]", upload);
        await page.UncheckAsync("input[name=dryRun]");
        await page.SelectOptionAsync("select[name=dedup]", "exact");
        await page.ClickAsync("#import-form button[type=submit]");
        await page.Locator("#report-state", new() { HasText = "stored" }).WaitForAsync();
        await BrowserScenario.ScreenshotAsync(page, "manage-import-report");
        var pii = page.Locator("#rule-counts tr[data-rule='pii.email']");
        (await pii.Locator("td.num").InnerTextAsync()).ShouldBe("1");
        var example = await pii.Locator(".examples").InnerTextAsync();
        example.ShouldContain("i1");
        example.ShouldNotContain("jane.doe@example.com");
        (await page.Locator("#duplicate-clusters tr[data-kept='i2']").InnerTextAsync()).ShouldContain("i3 (exact)");
        (await page.Locator("#dropped-records tr[data-record='i3']").InnerTextAsync()).ShouldContain("dedup.exact");
        (await page.Locator("#imports tbody tr").CountAsync()).ShouldBe(1);

        var items = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items"))!["items"]!.AsArray();
        items.Select(i => i!["externalId"]!.GetValue<string>()).ShouldBe(["i1", "i2", "i4"]);
        items[0]!["preview"]!.GetValue<string>().ShouldContain("[EMAIL]");
        var imports = (await s.Api.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/imports"))!;
        imports.Single()!["fileName"]!.GetValue<string>().ShouldBe("batch.jsonl");

        // The stored report reads the same from the list of past imports.
        await page.ClickAsync("#imports tbody tr a");
        await page.Locator("#duplicate-clusters").WaitForAsync();
        (await page.Locator("#report-created").InnerTextAsync()).ShouldBe("3");
    }

    [Fact]
    public async Task Import_FileWithABadLine_ReportsTheLineAndStoresNothing()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("sft-write");
        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        await page.GotoAsync($"/projects/{project}/import");
        await page.SetInputFilesAsync("input[name=file]", new FilePayload
        {
            Name = "bad.jsonl", MimeType = "application/x-ndjson", Buffer = System.Text.Encoding.UTF8.GetBytes("{\"id\":\"ok\",\"prompt\":\"Fine\"}\n{not json\n"),
        });
        await page.UncheckAsync("input[name=dryRun]");
        await page.ClickAsync("#import-form button[type=submit]");
        (await page.Locator("#report-state").InnerTextAsync()).ShouldContain("rejected");
        (await page.Locator("#report-errors").InnerTextAsync()).ShouldContain("line 2");
        (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items"))!["items"]!.AsArray().ShouldBeEmpty();
    }

    [Fact]
    public async Task Members_AddChangeRoleAndRemove_AreStored()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("sft-write");
        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        var newcomer = await AccountAsync(s, "newcomer");
        async Task<string?> RoleAsync() => (await s.Api.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/members"))!
            .FirstOrDefault(m => m!["email"]!.GetValue<string>() == newcomer)?["role"]!.GetValue<string>();

        await page.GotoAsync($"/projects/{project}/members");
        await page.FillAsync("#add-member input[name=email]", newcomer);
        await page.SelectOptionAsync("#add-member select[name=role]", "annotator");
        await page.ClickAsync("#add-member button[type=submit]");
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe($"{newcomer} is annotator.");
        (await RoleAsync()).ShouldBe("annotator");

        var row = page.Locator($"#members tr[data-email='{newcomer}']");
        await row.Locator("select[name=role]").SelectOptionAsync("reviewer");
        await row.Locator(".role-form button").ClickAsync();
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe($"{newcomer} is reviewer.");
        (await RoleAsync()).ShouldBe("reviewer");
        await BrowserScenario.ScreenshotAsync(page, "manage-members");

        await page.FillAsync("#add-member input[name=email]", "nobody-" + newcomer);
        await page.ClickAsync("#add-member button[type=submit]");
        (await page.Locator("#form-error").InnerTextAsync()).ShouldContain("no account");

        await page.Locator($"#members tr[data-email='{newcomer}'] .remove-form button").ClickAsync();
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe($"Removed {newcomer}.");
        (await RoleAsync()).ShouldBeNull();
    }

    [Fact]
    public async Task Workflow_OverlapBelowSubmitted_IsRefused_AndAValidChangeIsStored()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("sft-write", overlap: 2);
        await s.ImportAsync(project, """{"id":"o1","prompt":"One"}""");
        await SubmitAsync((await AnnotatorAsync(s, project)).Client, project, "X");
        await SubmitAsync((await AnnotatorAsync(s, project)).Client, project, "Y");
        var page = await s.SignInAsync(await s.PersonAsync(project, "manager"));
        await page.GotoAsync($"/projects/{project}/settings");

        await page.FillAsync("input[name=overlap]", "1");
        await page.ClickAsync("#workflow-form button[type=submit]");
        (await page.Locator("#form-error").InnerTextAsync()).ShouldContain("below the 2 submitted responses");
        await BrowserScenario.ScreenshotAsync(page, "manage-workflow-error");
        (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}"))!["overlap"]!.GetValue<int>().ShouldBe(2);

        await page.FillAsync("input[name=overlap]", "3");
        await page.CheckAsync("input[name=queueOrder][value=random]");
        await page.FillAsync("input[name=leaseMinutes]", "15");
        await page.CheckAsync("input[name=showModelNames]");
        await page.ClickAsync("#workflow-form button[type=submit]");
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe("Saved.");
        var workflow = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/workflow"))!["workflow"]!;
        workflow["overlap"]!.GetValue<int>().ShouldBe(3);
        workflow["queueOrder"]!.GetValue<string>().ShouldBe("random");
        workflow["leaseMinutes"]!.GetValue<int>().ShouldBe(15);
        workflow["showModelNames"]!.GetValue<bool>().ShouldBeTrue();
        (await page.IsCheckedAsync("input[name=queueOrder][value=random]")).ShouldBeTrue();
    }

    [Fact]
    public async Task ItemBrowser_FilterPageAndOpen_ShowsEveryResponseSideBySide()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("pairwise", overlap: 2);
        await s.Api.ImportPairsAsync(project, 60);
        var (alice, aliceEmail) = await AnnotatorAsync(s, project);
        var (bob, bobEmail) = await AnnotatorAsync(s, project);
        // Both answer item-0: Alice prefers the chosen answer, Bob calls it a tie with a rationale.
        var aliceTask = (await Scenario.NextAsync(alice, project))!;
        var chosenId = aliceTask["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
        await (await alice.PostAsJsonAsync($"api/v1/assignments/{aliceTask["assignmentId"]}/submit",
            new { values = new JsonObject { ["preference"] = new JsonObject { ["choice"] = chosenId, ["strength"] = 3 } }, leadTimeMs = 65_000 }))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);
        var bobTask = (await Scenario.NextAsync(bob, project))!;
        await (await bob.PostAsJsonAsync($"api/v1/assignments/{bobTask["assignmentId"]}/submit",
            new { values = new JsonObject { ["preference"] = new JsonObject { ["choice"] = "tie", ["rationale"] = "<b>Both</b> fine" } }, leadTimeMs = 2500 }))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);

        var page = await s.SignInAsync(await s.PersonAsync(project, "reviewer"));
        await page.GotoAsync($"/projects/{project}/items");
        (await page.Locator("#items tbody tr").CountAsync()).ShouldBe(50);
        await BrowserScenario.ScreenshotAsync(page, "manage-items");
        await page.ClickAsync("#next-page");
        (await page.Locator("#items tbody tr").First.GetAttributeAsync("data-external-id")).ShouldBe("item-50");
        (await page.Locator("#items tbody tr").CountAsync()).ShouldBe(10);
        (await page.Locator("#next-page").CountAsync()).ShouldBe(0);

        await page.GotoAsync($"/projects/{project}/items");
        await page.FillAsync("input[name=q]", "question 7?");
        await page.SelectOptionAsync("select[name=status]", "complete");
        await page.ClickAsync("#item-filters button[type=submit]");
        (await page.Locator("#no-items").CountAsync()).ShouldBe(1);
        await page.FillAsync("input[name=q]", "");
        await page.ClickAsync("#item-filters button[type=submit]");
        (await page.Locator("#items tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.externalId)")).ShouldBe(["item-0"]);

        await page.ClickAsync("#items tbody tr a");
        await page.Locator("#responses").WaitForAsync();
        await BrowserScenario.ScreenshotAsync(page, "manage-item");
        var aliceCard = page.Locator($".response[data-user='{aliceEmail}']");
        var bobCard = page.Locator($".response[data-user='{bobEmail}']");
        var aliceChoice = await aliceCard.Locator(".choice").InnerTextAsync();
        aliceChoice.ShouldStartWith(chosenId);
        // She chose the first candidate she was shown, whatever its id.
        aliceChoice.ShouldContain(", shown as A");
        (await aliceCard.InnerTextAsync()).ShouldContain("strength 3");
        (await aliceCard.Locator(".lead-time").InnerTextAsync()).ShouldBe("1 min 5 s");
        (await aliceCard.Locator(".revisions").InnerTextAsync()).ShouldBe("1");
        (await bobCard.Locator(".choice").InnerTextAsync()).ShouldBe("tie");
        (await bobCard.Locator(".rationale-text").InnerTextAsync()).ShouldBe("<b>Both</b> fine");
        (await bobCard.Locator(".lead-time").InnerTextAsync()).ShouldBe("2.5 s");
        // Side by side: the two cards share a row.
        var a = (await aliceCard.BoundingBoxAsync())!;
        var b = (await bobCard.BoundingBoxAsync())!;
        a.Y.ShouldBe(b.Y);
        a.X.ShouldNotBe(b.X);
    }

    [Fact]
    public async Task ManagerPages_ForAnAnnotator_AreRefused_AndForAReviewer_ReadOnly()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("sft-write");
        await s.ImportAsync(project, """{"id":"r1","prompt":"One"}""");
        var item = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items"))!["items"]![0]!["id"]!.GetValue<long>();
        var page = await s.SignInAsync(await s.PersonAsync(project));
        var expected = new Dictionary<string, int>
        {
            [$"/projects/{project}"] = 403,
            [$"/projects/{project}/guidelines"] = 403,
            [$"/projects/{project}/import"] = 403,
            [$"/projects/{project}/imports/1"] = 403,
            [$"/projects/{project}/members"] = 403,
            [$"/projects/{project}/settings"] = 403,
            [$"/projects/{project}/items"] = 404,
            [$"/projects/{project}/items/{item}"] = 404,
        };
        foreach (var (url, status) in expected)
        {
            var response = await page.GotoAsync(url);
            response!.Status.ShouldBe(status, url);
            (await page.Locator("h1").InnerTextAsync()).ShouldBe(status == 404 ? "Not found" : "Not allowed", url);
        }
        await BrowserScenario.ScreenshotAsync(page, "manage-refused");

        // Posting the forms directly, with the annotator's own valid antiforgery token, changes nothing.
        await page.GotoAsync($"/projects/{project}/annotate");
        var statuses = await page.EvaluateAsync<int[]>($$"""
            async () => {
              const token = document.querySelector('input[name="__RequestVerificationToken"]').value;
              const post = (url, fields) => {
                const f = new FormData();
                f.append('__RequestVerificationToken', token);
                for (const [k, v] of Object.entries(fields)) f.append(k, v);
                return fetch(url, { method: 'POST', body: f, redirect: 'manual' }).then(r => r.status);
              };
              return [
                await post('/projects/{{project}}/settings', { overlap: '9', queueOrder: 'random', leaseMinutes: '5' }),
                await post('/projects/{{project}}/members', { email: 'someone@example.com', role: 'manager' }),
                await post('/projects/{{project}}/guidelines', { markdown: 'hijacked' }),
                await post('/projects/{{project}}/guidelines/preview', { markdown: 'x' }),
                await post('/projects/{{project}}/import', { file: new Blob(['{"id":"z","prompt":"z"}']) }),
              ];
            }
            """);
        statuses.ShouldBe([403, 403, 403, 403, 403]);
        (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}"))!["overlap"]!.GetValue<int>().ShouldBe(1);
        (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/guidelines"))!["version"]!.GetValue<int>().ShouldBe(0);

        // A reviewer reads the dashboard and the guidelines, and sees no form or manager tab.
        var reviewer = await s.SignInAsync(await s.PersonAsync(project, "reviewer"));
        (await reviewer.GotoAsync($"/projects/{project}"))!.Status.ShouldBe(200);
        (await reviewer.Locator(".tabs a").AllInnerTextsAsync()).ShouldBe(["Dashboard", "Items", "Guidelines", "Quality", "Review"]);
        (await reviewer.Locator("#export-link").CountAsync()).ShouldBe(0);
        (await reviewer.GotoAsync($"/projects/{project}/guidelines"))!.Status.ShouldBe(200);
        (await reviewer.Locator("#guidelines-form").CountAsync()).ShouldBe(0);
        (await reviewer.GotoAsync($"/projects/{project}/settings"))!.Status.ShouldBe(403);
    }
}

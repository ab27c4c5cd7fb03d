namespace Plumbline.Browser.Tests;

/// <summary>
/// The project's jobs page in Chromium: a manager starts a generation from the form against a fake OpenAI-protocol server,
/// watches its progress reach done, cancels a job that waits on a slow model; an annotator is refused the page and the cancel.
/// </summary>
public sealed class JobsPageTests(BrowserFixture fixture)
{
    private const string Schema = """
        {"fields": [{"name": "prompt", "type": "chat"}, {"name": "candidates", "type": "candidates", "required": false}],
         "questions": [{"name": "ranking", "type": "ranking", "field": "candidates"}]}
        """;

    private static ILocator Row(IPage page, long jobId) => page.Locator($"#jobs tr[data-job='{jobId}']");

    /// <summary>Waits (without reloading: the page refreshes itself) until the job's row shows <paramref name="status"/>; says what it saw instead.</summary>
    private static async Task WaitForStatusAsync(BrowserScenario s, IPage page, long jobId, string status)
    {
        try
        {
            await Row(page, jobId).Locator(".status", new() { HasText = status }).WaitForAsync(new() { Timeout = 60_000 });
        }
        catch (TimeoutException e)
        {
            var job = await s.Api.Admin.GetStringAsync($"api/v1/jobs/{jobId}");
            var shown = await page.Locator("#jobs-card").InnerHTMLAsync();
            throw new ShouldAssertException($"job {jobId} never showed '{status}'; the API says {job}; the page shows {shown}", e);
        }
    }

    [Fact]
    public async Task JobsPage_ManagerStartsGenerationSeesItFinishAndCancelsAnother_AnnotatorIsRefused()
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), fixture.Browser);
        var project = await s.Api.CreateProjectAsync("custom", schema: JsonNode.Parse(Schema));
        await s.ImportAsync(project,
            """{"id":"a","prompt":[{"role":"user","content":"Name a colour."}]}""",
            """{"id":"b","prompt":[{"role":"user","content":"Name a fruit."}]}""",
            """{"id":"c","prompt":[{"role":"user","content":"Name a river."}]}""");
        await using var fake = await FakeOpenAi.StartAsync();
        var provider = "fake-" + Guid.NewGuid().ToString("N")[..8];
        const string key = "sk-jobs-page-secret-0123456789";
        var created = await s.Api.Admin.PostAsJsonAsync("api/v1/providers", new { name = provider, baseUrl = fake.BaseUrl, model = "fake-model-1", apiKey = key });
        await created.ShouldHaveStatusAsync(HttpStatusCode.Created);

        var manager = await s.PersonAsync(project, "manager");
        var page = await s.SignInAsync(manager);
        await page.GotoAsync($"/projects/{project}");
        await page.Locator("nav.tabs a", new() { HasText = "Jobs" }).ClickAsync();
        await page.Locator("#new-generation").WaitForAsync();
        page.Url.ShouldEndWith($"/projects/{project}/jobs");
        // Managers choose a provider by name and model; where it lives and its key stay with the admins.
        var html = await page.ContentAsync();
        html.ShouldContain($"{provider} (fake-model-1)");
        html.ShouldNotContain(fake.BaseUrl);
        html.ShouldNotContain(key);

        await page.Locator("#new-generation select[name='provider']").SelectOptionAsync(provider);
        await page.Locator("#new-generation input[name='n']").FillAsync("2");
        await page.Locator("#new-generation button[type='submit']").ClickAsync();
        var notice = await page.Locator("#notice").InnerTextAsync();
        notice.ShouldStartWith("Generation job ");
        var first = long.Parse(notice["Generation job ".Length..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        // The table reloads itself while the job runs: no reload here.
        await WaitForStatusAsync(s, page, first, "succeeded");
        (await Row(page, first).Locator(".progress").InnerTextAsync()).ShouldBe("3 / 3");
        (await Row(page, first).Locator("td").Nth(1).InnerTextAsync()).ShouldBe("generation");
        fake.Requests.Count.ShouldBe(6);
        (await Row(page, first).Locator(".cancel-form").CountAsync()).ShouldBe(0);
        await BrowserScenario.ScreenshotAsync(page, "jobs");

        // A second generation (a third response each: the first two exist and would be skipped) waits on a slow model;
        // Cancel stops it and nothing more is stored.
        fake.Hold();
        await page.Locator("#new-generation select[name='provider']").SelectOptionAsync(provider);
        await page.Locator("#new-generation input[name='n']").FillAsync("3");
        await page.Locator("#new-generation button[type='submit']").ClickAsync();
        await page.Locator("#notice").WaitForAsync();
        var second = long.Parse((await page.Locator("#notice").InnerTextAsync())["Generation job ".Length..].Split(' ')[0],
            System.Globalization.CultureInfo.InvariantCulture);
        second.ShouldBeGreaterThan(first);
        await Row(page, second).Locator(".cancel-form button").WaitForAsync();
        var cancelled = await page.RunAndWaitForResponseAsync(() => Row(page, second).Locator(".cancel-form button").ClickAsync(),
            r => r.Url.EndsWith($"/jobs/{second}/cancel", StringComparison.Ordinal));
        if (cancelled.Status != 302)
        {
            throw new ShouldAssertException($"the cancel answered {cancelled.Status}: {await cancelled.TextAsync()}");
        }
        await page.WaitForURLAsync(url => url.Contains("notice=", StringComparison.Ordinal));
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe($"Job {second} is stopping.");
        await WaitForStatusAsync(s, page, second, "cancelled");
        fake.Release();
        var job = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs/{second}"))!;
        job["status"]!.GetValue<string>().ShouldBe("cancelled");
        job["done"]!.GetValue<int>().ShouldBe(0);

        // An annotator sees no Jobs tab, cannot open the page, and cannot cancel (the server refuses before anything else).
        var annotatorPage = await s.SignInAsync(await s.PersonAsync(project));
        await annotatorPage.GotoAsync($"/projects/{project}");
        (await annotatorPage.Locator("nav.tabs a", new() { HasText = "Jobs" }).CountAsync()).ShouldBe(0);
        var refused = await annotatorPage.GotoAsync($"/projects/{project}/jobs");
        refused!.Status.ShouldBeOneOf(403, 404);
        (await annotatorPage.ContentAsync()).ShouldNotContain(provider);
        var cancel = await annotatorPage.Context.APIRequest.PostAsync($"/projects/{project}/jobs/{first}/cancel");
        cancel.Status.ShouldBeOneOf(403, 404);
    }
}

namespace Plumbline.Browser.Tests;

/// <summary>The admin's page of model providers in Chromium, against the fake OpenAI-protocol server.</summary>
public sealed class ProviderPagesTests(BrowserFixture fixture)
{
    [Fact]
    public async Task ProvidersPage_TestButton_ShowsTheAnswerAndNeverTheKey()
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), fixture.Browser);
        await using var fake = await FakeOpenAi.StartAsync();
        var key = "sk-page-" + Guid.NewGuid().ToString("N");
        fake.RequiredApiKey = key;
        var name = "page-" + Guid.NewGuid().ToString("N")[..8];
        await (await s.Api.Admin.PostAsJsonAsync("api/v1/providers", new
        {
            name, baseUrl = fake.BaseUrl, model = "fake-model-1", apiKey = key, rateLimitPerMinute = 60, pricePerMillionInput = 0.15, pricePerMillionOutput = 0.6,
        })).ShouldHaveStatusAsync(HttpStatusCode.Created);
        var broken = "broken-" + Guid.NewGuid().ToString("N")[..8];
        await (await s.Api.Admin.PostAsJsonAsync("api/v1/providers", new { name = broken, baseUrl = fake.BaseUrl, model = "fake-model-1", apiKey = key + "-old" }))
            .ShouldHaveStatusAsync(HttpStatusCode.Created);
        var admin = Scenario.UniqueEmail("admin");
        await (await s.Api.Admin.PostAsJsonAsync("api/v1/users", new { email = admin, password = BrowserScenario.Password, role = "admin" }))
            .ShouldHaveStatusAsync(HttpStatusCode.Created);

        var page = await s.SignInAsync(admin);
        await page.GotoAsync("/admin/providers");
        var row = page.Locator($"tr[data-provider='{name}']");
        (await row.InnerTextAsync()).ShouldContain("set, ends in " + key[^4..]);
        await row.Locator("button.test-provider").ClickAsync();
        (await page.Locator("#test-answer").InnerTextAsync()).ShouldBe("Answer: Echo: Reply with the single word OK.");
        await BrowserScenario.ScreenshotAsync(page, "admin-providers-test");
        (await page.ContentAsync()).ShouldNotContain(key[8..]);

        await page.Locator($"tr[data-provider='{broken}'] button.test-provider").ClickAsync();
        var error = await page.Locator("#test-error").InnerTextAsync();
        error.ShouldBe($"provider '{broken}' answered 401 Unauthorized: Incorrect API key provided: [api key].");
        (await page.ContentAsync()).ShouldNotContain(key[8..]);
        fake.Requests.Count(r => r.Authorization == "Bearer " + key).ShouldBe(1);

        var manager = await s.PersonAsync(await s.Api.CreateProjectAsync("sft-write"), "manager");
        var other = await s.SignInAsync(manager);
        var refused = await other.GotoAsync("/admin/providers");
        refused!.Status.ShouldBe(403);
        (await other.ContentAsync()).ShouldNotContain(name);
    }
}

using System.Text.RegularExpressions;

namespace Plumbline.Browser.Tests.Infrastructure;

/// <summary>People, projects and pages for a browser test: API calls to set up, a signed-in page to act.</summary>
public sealed class BrowserScenario(TestApp app, IBrowser browser)
{
    public const string Password = "annotator-password-1";

    public Scenario Api { get; } = new(app);
    public TestApp App => app;

    /// <summary>A user with a password, added to <paramref name="projectId"/> with <paramref name="role"/>.</summary>
    public async Task<string> PersonAsync(long projectId, string role = "annotator")
    {
        var email = Scenario.UniqueEmail(role);
        var created = await Api.Admin.PostAsJsonAsync("api/v1/users", new { email, password = Password });
        await created.ShouldHaveStatusAsync(HttpStatusCode.Created);
        (await Api.Admin.PostAsJsonAsync($"api/v1/projects/{projectId}/members", new { email, role })).EnsureSuccessStatusCode();
        return email;
    }

    public async Task ImportAsync(long projectId, params string[] jsonLines)
    {
        var response = await Api.ImportAsync(projectId, string.Join('\n', jsonLines));
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
    }

    /// <summary>A fresh browser context signed in as <paramref name="email"/>, by typing into the sign-in form.</summary>
    public async Task<IPage> SignInAsync(string email, string password = Password)
    {
        var context = await browser.NewContextAsync(new() { BaseURL = app.BaseAddress.ToString(), ViewportSize = new() { Width = 1400, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/login");
        await page.Locator("input[name=email]").FocusAsync();
        await page.Keyboard.TypeAsync(email);
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.TypeAsync(password);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync(new Regex("/$"));
        return page;
    }

    /// <summary>Presses <paramref name="key"/> and waits until htmx has swapped in a new workspace (the next task, or an error).</summary>
    public static async Task PressAndWaitForSwapAsync(IPage page, string key)
    {
        await page.EvaluateAsync("() => { window.__workspace = document.querySelector('#workspace'); }");
        await page.Keyboard.PressAsync(key);
        await page.WaitForFunctionAsync("() => document.querySelector('#workspace') !== window.__workspace && !document.querySelector('.htmx-request')");
    }

    public static async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, name + ".png"), FullPage = true });

    /// <summary>Every item of the project through the API's raw export, the way a data lead would read them.</summary>
    public async Task<List<JsonObject>> ExportAsync(long projectId)
    {
        var text = await Api.Admin.GetStringAsync($"api/v1/projects/{projectId}/export?format=raw");
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
    }

    /// <summary>The submitted (or skipped) responses of <paramref name="email"/>, with their item, in import order.</summary>
    public async Task<List<(JsonObject Item, JsonObject Response)>> ResponsesOfAsync(long projectId, string email)
    {
        var items = await ExportAsync(projectId);
        return items.SelectMany(i => i["responses"]!.AsArray().OfType<JsonObject>()
                .Where(r => r["user"]!.GetValue<string>() == email && r["status"]!.GetValue<string>() != "draft")
                .Select(r => (i, r)))
            .ToList();
    }
}

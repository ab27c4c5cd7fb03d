using System.Text.RegularExpressions;

namespace Plumbline.Server.Tests;

public partial class PageTests
{
    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    [Fact]
    public async Task SignIn_WithPassword_ShowsTheProjectsWithProgress()
    {
        var app = SharedApps.Get("sqlite");
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true };
        using var browser = new HttpClient(handler) { BaseAddress = app.BaseAddress };

        var home = await browser.GetAsync("/");
        home.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        home.Headers.Location!.ToString().ShouldBe("/login");

        var form = await browser.GetStringAsync("/login");
        var token = AntiforgeryField().Match(form).Groups[1].Value;
        token.ShouldNotBeNullOrEmpty();

        using var wrong = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token, ["email"] = "admin@localhost", ["password"] = "not-it",
        });
        var refused = await browser.PostAsync("/login", wrong);
        refused.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await refused.Content.ReadAsStringAsync()).ShouldContain("Wrong e-mail or password");

        using var right = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token, ["email"] = "admin@localhost", ["password"] = "admin-password-123",
        });
        var signedIn = await browser.PostAsync("/login", right);
        signedIn.StatusCode.ShouldBe(HttpStatusCode.Redirect);

        var page = await browser.GetStringAsync("/");
        page.ShouldContain(Plumbline.Server.Hosting.Bootstrap.DemoProjectName);
        page.ShouldContain("complete");
        // The cookie signs in the API too, for the pages that will call it.
        (await browser.GetAsync("api/v1/me")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Login_WithoutAntiforgeryToken_IsRefused()
    {
        var app = SharedApps.Get("sqlite");
        using var browser = new HttpClient { BaseAddress = app.BaseAddress };
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = "admin@localhost", ["password"] = "admin-password-123" });
        (await browser.PostAsync("/login", form)).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task SwaggerUi_IsServed()
    {
        var html = await SharedApps.Get("sqlite").Client(token: null).GetStringAsync("swagger/index.html");
        html.ShouldContain("swagger-ui");
    }
}

using System.Text;
using System.Text.RegularExpressions;

namespace Plumbline.Browser.Tests;

/// <summary>The reviewer's pages, driven by keyboard: accept, reject with a comment, correct, next; adjudication side by side.</summary>
public sealed class ReviewPagesTests(BrowserFixture fixture)
{
    private BrowserScenario NewScenario() => new(SharedApps.Get("sqlite"), fixture.Browser);

    private static JsonObject LabelSchema(int overlap) => new()
    {
        ["fields"] = new JsonArray(new JsonObject { ["name"] = "text", ["type"] = "text" }),
        ["questions"] = new JsonArray(new JsonObject { ["name"] = "label", ["type"] = "label", ["labels"] = new JsonArray("yes", "no") }),
        ["workflow"] = new JsonObject { ["overlap"] = overlap },
    };

    private static async Task<long> AnswerNextAsync(HttpClient annotator, long project, string label)
    {
        var task = (await Scenario.NextAsync(annotator, project))!;
        var response = await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), new JsonObject { ["label"] = label });
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["responseId"]!.GetValue<long>();
    }

    private static async Task<JsonArray> ReviewsAsync(BrowserScenario s, long responseId) =>
        (await s.Api.Admin.GetFromJsonAsync<JsonArray>($"api/v1/responses/{responseId}/reviews"))!;

    private static async Task<long> ShownResponseAsync(IPage page) =>
        long.Parse(await page.Locator("#review-task").GetAttributeAsync("data-response-id") ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task ReviewPage_ByKeyboard_AcceptsRejectsWithACommentAndCorrects()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("review", schema: LabelSchema(1));
        await s.ImportAsync(project, """{"id":"r1","text":"First <b>bold</b>"}""", """{"id":"r2","text":"Second"}""", """{"id":"r3","text":"Third"}""");
        var (annotator, annotatorEmail) = await s.Api.MemberAsync(project);
        var first = await AnswerNextAsync(annotator, project, "yes");
        var second = await AnswerNextAsync(annotator, project, "no");
        var third = await AnswerNextAsync(annotator, project, "yes");

        var page = await s.SignInAsync(await s.PersonAsync(project, "reviewer"));
        await page.GotoAsync($"/projects/{project}");
        await page.ClickAsync("nav.tabs a:text-is('Review')");
        await page.WaitForURLAsync(new Regex($"/projects/{project}/review$"));
        (await ShownResponseAsync(page)).ShouldBe(first);
        (await page.Locator("#review-annotator").TextContentAsync()).ShouldBe(annotatorEmail); // the heading is upper-cased by CSS only
        (await page.Locator("#review-answers dd[data-question='label']").InnerTextAsync()).ShouldContain("yes");
        (await page.Locator("#review-task b").CountAsync()).ShouldBe(0); // item text is shown as text
        await BrowserScenario.ScreenshotAsync(page, "review-queue");

        // A accepts and the next response comes up.
        await page.Keyboard.PressAsync("a");
        await page.WaitForURLAsync(new Regex("done=accept"));
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe("Accepted.");
        (await ShownResponseAsync(page)).ShouldBe(second);
        (await ReviewsAsync(s, first)).Single()!["verdict"]!.GetValue<string>().ShouldBe("accept");

        // R without a comment is refused with the reason, and the same response stays.
        await page.Keyboard.PressAsync("r");
        (await page.EvaluateAsync<string>("() => document.activeElement.id")).ShouldBe("review-comment");
        await page.Keyboard.PressAsync("Control+Enter");
        await page.Locator("#review-error").WaitForAsync();
        (await page.Locator("#review-error").InnerTextAsync()).ShouldContain("needs a comment");
        (await ShownResponseAsync(page)).ShouldBe(second);
        (await ReviewsAsync(s, second)).Count.ShouldBe(0);

        // R, type why, Ctrl+Enter: rejected, and the item goes back to the annotator as rework.
        await page.Keyboard.PressAsync("r");
        await page.Keyboard.TypeAsync("It says yes in the second line.");
        await page.Keyboard.PressAsync("Control+Enter");
        await page.WaitForURLAsync(new Regex("done=reject"));
        (await ShownResponseAsync(page)).ShouldBe(third);
        var rejection = (await ReviewsAsync(s, second)).Single()!;
        rejection["verdict"]!.GetValue<string>().ShouldBe("reject");
        rejection["comment"]!.GetValue<string>().ShouldBe("It says yes in the second line.");
        var rework = (await Scenario.NextAsync(annotator, project))!;
        rework["externalId"]!.GetValue<string>().ShouldBe("r2");
        rework["rework"]!["comment"]!.GetValue<string>().ShouldBe("It says yes in the second line.");

        // C opens the answers as JSON; a bad label is refused with the validator's words, then a good one is saved.
        await page.Keyboard.PressAsync("c");
        (await page.EvaluateAsync<string>("() => document.activeElement.id")).ShouldBe("review-values");
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync("""{"label": "maybe"}""");
        await page.Keyboard.PressAsync("Control+Enter");
        await page.Locator("#review-error").WaitForAsync();
        (await page.Locator("#review-error").InnerTextAsync()).ShouldContain("label");
        (await page.Locator("#review-values").InputValueAsync()).ShouldBe("""{"label": "maybe"}""");
        await page.Locator("#review-values").FocusAsync();
        await page.Keyboard.PressAsync("Control+A");
        await page.Keyboard.TypeAsync("""{"label": "no"}""");
        await page.Keyboard.PressAsync("Control+Enter");
        await page.WaitForURLAsync(new Regex("done=correct"));
        var correction = (await ReviewsAsync(s, third)).Single()!;
        correction["verdict"]!.GetValue<string>().ShouldBe("correct");
        correction["correctedValues"]!["label"]!.GetValue<string>().ShouldBe("no");
        (await page.Locator("#queue-empty").CountAsync()).ShouldBe(1);
        await BrowserScenario.ScreenshotAsync(page, "review-queue-empty");

        // The corrections count on the annotator's scorecard.
        var quality = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/quality?items=none"))!;
        var card = quality["annotators"]!.AsArray().Single(a => a!["email"]!.GetValue<string>() == annotatorEmail)!;
        card["reviewsAccepted"]!.GetValue<int>().ShouldBe(1);
        card["reviewsRejected"]!.GetValue<int>().ShouldBe(1);
        card["correctionsReceived"]!.GetValue<int>().ShouldBe(1);
    }

    [Fact]
    public async Task ReviewPage_NextSkipsAndAnnotatorIsRefused()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("review", schema: LabelSchema(1));
        await s.ImportAsync(project, """{"id":"k1","text":"One"}""", """{"id":"k2","text":"Two"}""");
        var (annotator, _) = await s.Api.MemberAsync(project);
        var first = await AnswerNextAsync(annotator, project, "yes");
        var second = await AnswerNextAsync(annotator, project, "yes");
        var page = await s.SignInAsync(await s.PersonAsync(project, "reviewer"));
        await page.GotoAsync($"/projects/{project}/review");
        (await ShownResponseAsync(page)).ShouldBe(first);
        await page.Keyboard.PressAsync("n");
        await page.WaitForURLAsync(new Regex($"after={first}"));
        (await ShownResponseAsync(page)).ShouldBe(second);
        (await ReviewsAsync(s, first)).Count.ShouldBe(0);

        var annotatorPage = await s.SignInAsync(await s.PersonAsync(project, "annotator"));
        (await annotatorPage.GotoAsync($"/projects/{project}/review"))!.Status.ShouldBe(403);
        (await annotatorPage.GotoAsync($"/projects/{project}/review/adjudicate"))!.Status.ShouldBe(403);
        (await annotatorPage.Locator("#review-task").CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task AdjudicatePage_EveryonesAnswersSideBySide_DigitDecidesAndTheItemLeavesTheList()
    {
        var s = NewScenario();
        var project = await s.Api.CreateProjectAsync("adjudicate", schema: LabelSchema(2));
        await s.ImportAsync(project, """{"id":"split","text":"Is this fine?"}""", """{"id":"clear","text":"Clearly fine"}""");
        // Two annotators split on "split" (confidence 0.5 under the 0.7 threshold) and agree on "clear".
        var csv = new StringBuilder("item,annotator,question,value\n")
            .Append("split,ann1,label,yes\nsplit,ann2,label,no\nclear,ann1,label,yes\nclear,ann2,label,yes\n").ToString();
        using var body = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        await (await s.Api.Admin.PostAsync($"api/v1/projects/{project}/annotations/import?format=csv", body)).ShouldHaveStatusAsync(HttpStatusCode.OK);

        var page = await s.SignInAsync(await s.PersonAsync(project, "reviewer"));
        await page.GotoAsync($"/projects/{project}/review");
        await page.ClickAsync("#adjudicate-link");
        await page.WaitForURLAsync(new Regex("/review/adjudicate$"));
        (await page.Locator("#adjudicate-item").GetAttributeAsync("data-external-id")).ShouldBe("split");
        (await page.Locator("#answers thead th[data-annotator]").AllTextContentsAsync())
            .ShouldBe(["ann1@annotators.invalid", "ann2@annotators.invalid"]);
        var cells = await page.Locator("#answers tr[data-question='label'] td").AllInnerTextsAsync();
        cells[0].ShouldContain("yes");
        cells[1].ShouldContain("no");
        await BrowserScenario.ScreenshotAsync(page, "review-adjudicate");

        // 2 picks the second answer given ("no").
        await page.Keyboard.PressAsync("2");
        await page.WaitForURLAsync(new Regex("decided="));
        (await page.Locator("#adjudication-empty").CountAsync()).ShouldBe(1);
        var items = (await s.Api.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/quality"))!["items"]!.AsArray();
        var decided = items.Single(i => i!["externalId"]!.GetValue<string>() == "split")!["consensus"]![0]!;
        decided["decided"]!.GetValue<bool>().ShouldBeTrue();
        decided["value"]!.GetValue<string>().ShouldBe("no");
    }
}

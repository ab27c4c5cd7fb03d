namespace Plumbline.Browser.Tests;

/// <summary>
/// For each template: an annotator signs in, completes three items with the keyboard only, and what was stored
/// is read back through the API's export.
/// </summary>
public sealed class AnnotateTemplateTests(BrowserFixture fixture)
{
    private const string Guidelines = """
        # How to judge

        Prefer answers that are **correct**, then helpful. Code must run:

        ```python
        print("hello")
        ```

        | score | meaning |
        |---|---|
        | 1 | wrong |
        | 5 | excellent |
        """;

    private async Task<(BrowserScenario S, long Project, string Email, IPage Page)> StartAsync(string template, params string[] items)
    {
        var s = new BrowserScenario(SharedApps.Get("sqlite"), fixture.Browser);
        var project = await s.Api.CreateProjectAsync(template);
        (await s.Api.Admin.PutAsJsonAsync($"api/v1/projects/{project}/guidelines", new { markdown = Guidelines })).EnsureSuccessStatusCode();
        await s.ImportAsync(project, items);
        var email = await s.PersonAsync(project);
        var page = await s.SignInAsync(email);
        await page.GotoAsync($"/projects/{project}/annotate");
        await page.Locator("#workspace").WaitForAsync();
        return (s, project, email, page);
    }

    private static async Task SubmitAsync(IPage page, string key = "Enter")
    {
        await BrowserScenario.PressAndWaitForSwapAsync(page, key);
        (await page.Locator("#notice").InnerTextAsync()).ShouldBe("Submitted.");
    }

    private static async Task ShouldBeDoneAsync(IPage page) => await page.Locator("#queue-empty").WaitForAsync();

    [Fact]
    public async Task SftWrite_ThreeItemsByKeyboard_StoresTheWrittenAnswers()
    {
        var (s, project, email, page) = await StartAsync("sft-write",
            """{"id":"w1","prompt":"Write a haiku about rain."}""",
            """{"id":"w2","prompt":"Explain recursion to a child."}""",
            """{"id":"w3","prompt":"Give three tips for sleep."}""");
        await BrowserScenario.ScreenshotAsync(page, "sft-write");
        for (var i = 1; i <= 3; i++)
        {
            // The text box has the focus: type, Esc leaves it, Enter submits.
            await page.Keyboard.TypeAsync($"Answer {i}, line one.\nLine two.");
            await page.Keyboard.PressAsync("Escape");
            await SubmitAsync(page);
        }
        await ShouldBeDoneAsync(page);
        await BrowserScenario.ScreenshotAsync(page, "queue-empty");

        var stored = await s.ResponsesOfAsync(project, email);
        stored.Select(r => r.Item["external_id"]!.GetValue<string>()).ShouldBe(["w1", "w2", "w3"]);
        for (var i = 0; i < 3; i++)
        {
            var response = stored[i].Response;
            response["status"]!.GetValue<string>().ShouldBe("submitted");
            // Line breaks are stored as typed (a browser posts CRLF).
            response["values"]!["ideal_response"]!.GetValue<string>().ShouldBe($"Answer {i + 1}, line one.\nLine two.");
            response["lead_time_ms"]!.GetValue<long>().ShouldBeGreaterThan(0);
            response["guideline_version"]!.GetValue<int>().ShouldBe(1);
        }
    }

    [Fact]
    public async Task SftEdit_ThreeItemsByKeyboard_StoresTheEditAndItsDistance()
    {
        var (s, project, email, page) = await StartAsync("sft-edit",
            """{"id":"e1","prompt":"Capital of France?","response":"The capital of France is Lyon."}""",
            """{"id":"e2","prompt":"Capital of Italy?","response":"The capital of Italy is Milan."}""",
            """{"id":"e3","prompt":"Capital of Spain?","response":"The capital of Spain is Madrid."}""");
        string[] answers = ["The capital of France is Paris.", "The capital of Italy is Rome, on the Tiber.", "The capital of Spain is Madrid."];
        for (var i = 0; i < 3; i++)
        {
            // The box starts with the model's draft.
            (await page.Locator("textarea[name='q.ideal_response']").InputValueAsync()).ShouldStartWith("The capital of");
            if (i < 2)
            {
                await page.Keyboard.PressAsync("Control+A");
                await page.Keyboard.TypeAsync(answers[i]);
                // The live diff follows the typing; wait for its final state (a substring match also accepts the
                // diff of a half-typed answer, where more of the draft is still deleted).
                await page.Locator("#diff-ideal_response del", new() { HasTextRegex = new System.Text.RegularExpressions.Regex(i == 0 ? "^Lyon$" : "^Milan$") }).WaitForAsync();
            }
            if (i == 0)
            {
                (await page.Locator("#diff-ideal_response del").InnerTextAsync()).ShouldBe("Lyon");
                (await page.Locator("#diff-ideal_response ins").InnerTextAsync()).ShouldBe("Paris");
                await BrowserScenario.ScreenshotAsync(page, "sft-edit");
            }
            await page.Keyboard.PressAsync("Escape");
            await SubmitAsync(page);
        }
        await ShouldBeDoneAsync(page);

        var stored = await s.ResponsesOfAsync(project, email);
        stored.Count.ShouldBe(3);
        // Lyon -> Paris replaces one word; Milan -> "Rome, on the Tiber" replaces one word with four (a replaced
        // word counts once, like Levenshtein distance over words); an untouched draft is distance 0.
        int[] distances = [1, 4, 0];
        for (var i = 0; i < 3; i++)
        {
            stored[i].Response["values"]!["ideal_response"]!.GetValue<string>().ShouldBe(answers[i]);
            var edit = stored[i].Response["metadata"]!["edits"]!["ideal_response"]!;
            edit["draftWords"]!.GetValue<int>().ShouldBe(6);
            edit["distance"]!.GetValue<int>().ShouldBe(distances[i]);
        }
    }

    [Fact]
    public async Task Pairwise_ThreeItemsByKeyboard_StoresChoiceStrengthAndTheOrderShown()
    {
        var (s, project, email, page) = await StartAsync("pairwise",
            """{"id":"p1","prompt":"Say hi","chosen":"Hello there!","rejected":"Go away."}""",
            """{"id":"p2","prompt":"2+2?","chosen":"4","rejected":"5"}""",
            """{"id":"p3","prompt":"Name a colour","chosen":"Blue","rejected":"Bleu"}""");
        await BrowserScenario.ScreenshotAsync(page, "pairwise");
        await page.Keyboard.PressAsync("a");
        await page.Keyboard.PressAsync("2");
        await SubmitAsync(page);
        await page.Keyboard.PressAsync("b");
        await page.Keyboard.PressAsync("3");
        await SubmitAsync(page);
        await page.Keyboard.PressAsync("t");
        await SubmitAsync(page);
        await ShouldBeDoneAsync(page);

        var stored = await s.ResponsesOfAsync(project, email);
        stored.Count.ShouldBe(3);
        string Shown(int item, int position) => stored[item].Response["presentation"]!["candidateOrder"]!["candidates"]![position]!.GetValue<string>();
        var first = stored[0].Response["values"]!["preference"]!;
        first["choice"]!.GetValue<string>().ShouldBe(Shown(0, 0));
        first["strength"]!.GetValue<int>().ShouldBe(2);
        var second = stored[1].Response["values"]!["preference"]!;
        second["choice"]!.GetValue<string>().ShouldBe(Shown(1, 1));
        second["strength"]!.GetValue<int>().ShouldBe(3);
        stored[2].Response["values"]!["preference"]!.ToJsonString().ShouldBe("""{"choice":"tie"}""");
    }

    [Fact]
    public async Task Ranking_ThreeItemsByKeyboard_StoresTheOrderPressed()
    {
        static string Item(int i) => $$"""{"id":"r{{i}}","prompt":"Rank {{i}}","candidates":["First {{i}}","Second {{i}}","Third {{i}}"]}""";
        var (s, project, email, page) = await StartAsync("ranking", Item(1), Item(2), Item(3));
        string[][] presses = [["c", "a"], ["a", "b"], ["b", "c"]];
        for (var i = 0; i < 3; i++)
        {
            foreach (var key in presses[i])
            {
                await page.Keyboard.PressAsync(key);
            }
            if (i == 0)
            {
                await BrowserScenario.ScreenshotAsync(page, "ranking");
            }
            await SubmitAsync(page);
        }
        await ShouldBeDoneAsync(page);

        var stored = await s.ResponsesOfAsync(project, email);
        stored.Count.ShouldBe(3);
        for (var i = 0; i < 3; i++)
        {
            var shown = stored[i].Response["presentation"]!["candidateOrder"]!["candidates"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
            var first = shown["abc".IndexOf(presses[i][0], StringComparison.Ordinal)];
            var second = shown["abc".IndexOf(presses[i][1], StringComparison.Ordinal)];
            var expected = new[] { first, second, shown.Except([first, second]).Single() };
            stored[i].Response["values"]!["ranking"]!.AsArray().Select(n => n!.GetValue<string>()).ShouldBe(expected);
        }
    }

    [Fact]
    public async Task Rubric_ThreeItemsByKeyboard_StoresEveryRating()
    {
        static string Item(int i) => $$"""{"id":"u{{i}}","prompt":"Question {{i}}","response":"Answer {{i}} with `code` and a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |"}""";
        var (s, project, email, page) = await StartAsync("rubric", Item(1), Item(2), Item(3));
        await BrowserScenario.ScreenshotAsync(page, "rubric");
        for (var i = 0; i < 3; i++)
        {
            // Each rating moves on to the next question; the comment box is optional: Esc, then Enter.
            foreach (var key in new[] { "4", "5", "3", (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) })
            {
                await page.Keyboard.PressAsync(key);
            }
            await page.Keyboard.PressAsync("Escape");
            await SubmitAsync(page);
        }
        await ShouldBeDoneAsync(page);

        var stored = await s.ResponsesOfAsync(project, email);
        stored.Count.ShouldBe(3);
        for (var i = 0; i < 3; i++)
        {
            stored[i].Response["values"]!.ToJsonString().ShouldBe($$"""{"accuracy":4,"helpfulness":5,"safety":3,"format":{{i + 1}}}""");
        }
    }

    [Fact]
    public async Task Safety_ThreeItemsByKeyboard_ShowsCategoriesOnlyWhenUnsafeAndErrorsNextToTheQuestion()
    {
        static string Item(int i) => $$"""{"id":"s{{i}}","prompt":"Request {{i}}","response":"Reply {{i}}"}""";
        var (s, project, email, page) = await StartAsync("safety", Item(1), Item(2), Item(3));
        var categories = page.Locator("fieldset[data-question=categories]");

        await categories.IsHiddenAsync().ContinueWith(t => t.Result.ShouldBeTrue());
        await page.Keyboard.PressAsync("1");
        await page.Keyboard.PressAsync("Escape");
        await SubmitAsync(page);

        await page.Keyboard.PressAsync("2");
        (await categories.IsVisibleAsync()).ShouldBeTrue();
        await page.Keyboard.PressAsync("1");
        await page.Keyboard.PressAsync("3");
        // The taxonomy has twelve categories: the eleventh and twelfth are Q and W, shown on the options.
        (await categories.Locator("label.opt", new() { HasText = "sexual_content" }).Locator("kbd").InnerTextAsync()).ShouldBe("W");
        await page.Keyboard.PressAsync("w");
        await BrowserScenario.ScreenshotAsync(page, "safety");
        await SubmitAsync(page);

        // Unsafe without a category: the error shows next to the categories, nothing is stored.
        await page.Keyboard.PressAsync("2");
        await BrowserScenario.PressAndWaitForSwapAsync(page, "Enter");
        (await page.Locator("fieldset[data-question=categories] .q-error").InnerTextAsync()).ShouldContain("required");
        await BrowserScenario.ScreenshotAsync(page, "safety-error");
        await page.Keyboard.PressAsync("5");
        await SubmitAsync(page);
        await ShouldBeDoneAsync(page);

        var stored = await s.ResponsesOfAsync(project, email);
        stored.Select(r => r.Response["values"]!.ToJsonString()).ShouldBe([
            """{"verdict":"safe"}""",
            """{"verdict":"unsafe","categories":["violent_crimes","sex_related_crimes","sexual_content"]}""",
            """{"verdict":"unsafe","categories":["suicide_and_self_harm"]}""",
        ]);
    }

    [Fact]
    public async Task Conversation_ThreeItemsByKeyboard_StoresARatingPerAssistantTurn()
    {
        static string Item(int i) => $$"""{"id":"c{{i}}","conversation":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi {{i}}"},{"role":"assistant","content":"Hello!"},{"role":"user","content":"Tell me a fact."},{"role":"assistant","content":"Honey never spoils."}]}""";
        var (s, project, email, page) = await StartAsync("conversation", Item(1), Item(2), Item(3));
        await BrowserScenario.ScreenshotAsync(page, "conversation");
        for (var i = 0; i < 3; i++)
        {
            foreach (var key in new[] { "4", "5", "6" })
            {
                await page.Keyboard.PressAsync(key);
            }
            if (i == 2)
            {
                await page.Keyboard.TypeAsync("Good chat.");
            }
            await page.Keyboard.PressAsync("Escape");
            await SubmitAsync(page);
        }
        await ShouldBeDoneAsync(page);

        var stored = await s.ResponsesOfAsync(project, email);
        stored.Count.ShouldBe(3);
        stored[0].Response["values"]!.ToJsonString().ShouldBe("""{"turn_quality":{"2":4,"4":5},"overall":6}""");
        stored[2].Response["values"]!.ToJsonString().ShouldBe("""{"turn_quality":{"2":4,"4":5},"overall":6,"comment":"Good chat."}""");
    }

    [Fact]
    public async Task PromptWriting_ThreeItemsByKeyboard_StoresPromptAndCategory()
    {
        static string Item(int i) => $$"""{"id":"w{{i}}","topic":"Topic {{i}}: cooking"}""";
        var (s, project, email, page) = await StartAsync("prompt-writing", Item(1), Item(2), Item(3));
        await BrowserScenario.ScreenshotAsync(page, "prompt-writing");
        for (var i = 0; i < 3; i++)
        {
            await page.Keyboard.TypeAsync($"How do I cook rice {i}?");
            await page.Keyboard.PressAsync("Escape");
            // Esc lands on the category question: 0 is the tenth label (coding).
            await page.Keyboard.PressAsync(i == 2 ? "0" : "1");
            await SubmitAsync(page);
        }
        await ShouldBeDoneAsync(page);

        var stored = await s.ResponsesOfAsync(project, email);
        stored.Select(r => r.Response["values"]!.ToJsonString()).ShouldBe([
            """{"prompt":"How do I cook rice 0?","category":"generation"}""",
            """{"prompt":"How do I cook rice 1?","category":"generation"}""",
            """{"prompt":"How do I cook rice 2?","category":"coding"}""",
        ]);
    }
}

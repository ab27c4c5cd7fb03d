using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Plumbline.Cli;
using Plumbline.Data;
using Plumbline.Server.Features.Labellers;

namespace Plumbline.Server.Tests;

/// <summary>
/// LLM labellers end to end against a fake OpenAI-protocol server that answers by rule, so every figure of the report
/// is known in advance: the labeller says "positive" when a review contains "good" (v2 also reads "really positive" /
/// "really negative"), which is right on 8 of the 10 gold items.
/// </summary>
public class LabellerTests
{
    public static TheoryData<string> Providers => SharedApps.Providers;

    private static readonly JsonObject Schema = JsonNode.Parse("""
        {"fields":[{"name":"text","type":"text"}],
         "questions":[{"name":"sentiment","type":"label","labels":["positive","negative"]},
                      {"name":"summary","type":"text","required":false}],
         "workflow":{"overlap":1}}
        """)!.AsObject();

    /// <summary>p0-p3 plain (imported first, so the queue serves them first), g0-g9 gold, "garbage" that the model answers wrongly.</summary>
    private static readonly (string Id, string Text, string? Gold)[] Items =
    [
        ("p0", "good soup", null), ("p1", "good bread", null), ("p2", "bad tea", null), ("p3", "bad coffee", null),
        ("g0", "good 0", "positive"), ("g1", "good 1", "positive"), ("g2", "good 2", "positive"), ("g3", "good 3", "positive"),
        ("g4", "bad service but really positive", "positive"),
        ("g5", "bad 5", "negative"), ("g6", "bad 6", "negative"), ("g7", "bad 7", "negative"), ("g8", "bad 8", "negative"),
        ("g9", "good looks but really negative", "negative"),
        ("garbage", "garbage", null),
    ];

    /// <summary>The fake model: v1 reads "good"; v2 (its prompt says "Review v2:") also reads "really positive/negative".</summary>
    private static string Answer(FakeRequest request)
    {
        var prompt = request.LastUserMessage;
        var v2 = prompt.StartsWith("Review v2:", StringComparison.Ordinal);
        var text = prompt[(prompt.IndexOf(':') + 2)..].Split('\n')[0];
        if (text == "garbage")
        {
            return """{"sentiment":"meh","summary":null}""";
        }
        var positive = v2 && text.Contains("really positive") || (!(v2 && text.Contains("really negative")) && text.Contains("good"));
        return new JsonObject { ["sentiment"] = positive ? "positive" : "negative", ["summary"] = "A review: " + text }.ToJsonString();
    }

    private sealed record Setup(Scenario S, long Project, FakeOpenAi Fake, string ProviderName);

    private static async Task<Setup> SetUpAsync(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("labels", schema: Schema);
        var lines = Items.Select(i => new JsonObject { ["id"] = i.Id, ["text"] = i.Text, ["gold"] = i.Gold is null ? null : new JsonObject { ["sentiment"] = i.Gold } }
            .ToJsonString());
        await (await s.ImportAsync(project, string.Join('\n', lines))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var fake = await FakeOpenAi.StartAsync();
        fake.Answer = Answer;
        // Prices per million tokens, so the cost is tokens × price / 1e6.
        var created = await ProviderTests.CreateProviderAsync(s.Admin, fake.BaseUrl, extra: new { pricePerMillionInput = 2.0, pricePerMillionOutput = 10.0 });
        return new Setup(s, project, fake, created["name"]!.GetValue<string>());
    }

    private static async Task<JsonObject> CreateLabellerAsync(Setup x, string name, string prompt = "Review: {{text}}")
    {
        var response = await x.S.Admin.PostAsJsonAsync($"api/v1/projects/{x.Project}/labellers", new { name, provider = x.ProviderName, prompt, parameters = new { temperature = 0 } });
        await response.ShouldHaveStatusAsync(HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private static async Task<JsonObject> RunAndWaitAsync(Setup x, string name, object? body = null)
    {
        var response = await x.S.Admin.PostAsJsonAsync($"api/v1/projects/{x.Project}/labellers/{name}/runs", body ?? new { });
        await response.ShouldHaveStatusAsync(HttpStatusCode.Accepted);
        var run = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (run["status"]!.GetValue<string>() is "queued" or "running")
        {
            await Task.Delay(50, deadline.Token);
            run = (await x.S.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{x.Project}/labellers/runs/{run["id"]}", deadline.Token))!;
        }
        return run;
    }

    private static async Task<JsonObject> ReportAsync(Setup x, string name, string query = "") =>
        (await x.S.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{x.Project}/labellers/{name}/report{query}"))!;

    private static JsonObject Question(JsonObject report, string name) =>
        report["questions"]!.AsArray().Single(q => q!["name"]!.GetValue<string>() == name)!.AsObject();

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Run_KnownModel_ReportsGoldAccuracyKappaConfusionCoverageAndCost(string provider)
    {
        var x = await SetUpAsync(provider);
        await using var _ = x.Fake;
        var created = await CreateLabellerAsync(x, "sentiment-judge");
        created["versions"]![0]!["agent"]!.GetValue<string>().ShouldBe($"model:{x.ProviderName}/fake-model-1@labeller:sentiment-judgev1");
        created["versions"]![0]!["questions"]!.AsArray().Select(q => q!.GetValue<string>()).ShouldBe(["sentiment", "summary"]);

        var run = await RunAndWaitAsync(x, "sentiment-judge");
        run["status"]!.GetValue<string>().ShouldBe("completed");
        run["total"]!.GetValue<int>().ShouldBe(15);
        run["done"]!.GetValue<int>().ShouldBe(14);
        run["failed"]!.GetValue<int>().ShouldBe(1);

        // Every request asked for structured output with the schema built from the questions.
        x.Fake.Requests.Count.ShouldBe(15);
        var schema = x.Fake.Requests.First().ResponseSchema!;
        schema["properties"]!["sentiment"]!.ToJsonString().ShouldBe("""{"type":"string","enum":["positive","negative"]}""");
        x.Fake.Requests.First().Body["temperature"]!.GetValue<int>().ShouldBe(0);

        var report = await ReportAsync(x, "sentiment-judge");
        report["items"]!.GetValue<int>().ShouldBe(15);
        report["answered"]!.GetValue<int>().ShouldBe(14);
        report["failed"]!.GetValue<int>().ShouldBe(1);
        report["coverage"]!.GetValue<double>().ShouldBe(Math.Round(14 / 15.0, 6));
        var failure = report["failures"]!.AsArray().Single()!;
        failure["externalId"]!.GetValue<string>().ShouldBe("garbage");
        failure["error"]!.GetValue<string>().ShouldBe("sentiment: expects one of positive, negative, got \"meh\"");
        failure["output"]!.GetValue<string>().ShouldContain("meh");

        var sentiment = Question(report, "sentiment");
        sentiment["answered"]!.GetValue<int>().ShouldBe(14);
        var gold = sentiment["gold"]!;
        gold["compared"]!.GetValue<int>().ShouldBe(10);
        gold["matches"]!.GetValue<int>().ShouldBe(8);
        gold["accuracy"]!.GetValue<double>().ShouldBe(0.8);
        // Cohen (1960): p_o = 0.8; each side says positive 5 times in 10, so p_e = 0.5 and kappa = (0.8 − 0.5) / 0.5 = 0.6.
        gold["kappa"]!.GetValue<double>().ShouldBe(0.6);
        gold["confusion"]!["categories"]!.ToJsonString().ShouldBe("""["positive","negative"]""");
        gold["confusion"]!["counts"]!.ToJsonString().ShouldBe("[[4,1],[1,4]]");

        // Tokens and cost add up to what the fake counted (one token a word) at the provider's prices.
        var promptTokens = x.Fake.Requests.Sum(r => r.Messages.Sum(m => m!["content"]!.GetValue<string>().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length));
        report["promptTokens"]!.GetValue<long>().ShouldBe(promptTokens);
        report["requests"]!.GetValue<int>().ShouldBe(15);
        var completionTokens = report["completionTokens"]!.GetValue<long>();
        completionTokens.ShouldBeGreaterThan(0);
        report["cost"]!.GetValue<double>().ShouldBe(Math.Round((promptTokens * 2.0 + completionTokens * 10.0) / 1e6, 8), 1e-9);
        run = (await x.S.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{x.Project}/labellers/runs/{run["id"]}"))!;
        run["cost"]!.GetValue<double>().ShouldBe(report["cost"]!.GetValue<double>(), 1e-9);
        run["promptTokens"]!.GetValue<long>().ShouldBe(promptTokens);
        report["latencyP50Ms"].ShouldNotBeNull();
        report["latencyP95Ms"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(report["latencyP50Ms"]!.GetValue<long>());

        // Suggestions: one per answered question, with the agent; none for the failed item.
        await using var db = x.S.App.NewDbContext();
        var suggestions = await db.Suggestions.AsNoTracking().Where(s => s.ProjectId == x.Project).ToListAsync();
        suggestions.Count.ShouldBe(28);
        suggestions.ShouldAllBe(s => s.Agent == $"model:{x.ProviderName}/fake-model-1@labeller:sentiment-judgev1");
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Workspace_SuggestionsPrefilled_ResponseRecordsAcceptedEditedRejectedAndReportCountsThem(string provider)
    {
        var x = await SetUpAsync(provider);
        await using var _ = x.Fake;
        await CreateLabellerAsync(x, "judge");
        (await RunAndWaitAsync(x, "judge"))["status"]!.GetValue<string>().ShouldBe("completed");
        var (annotator, _) = await x.S.MemberAsync(x.Project);

        // p0: keep both; p1: other sentiment, summary touched up; p2: keep sentiment, drop the summary; p3: keep both.
        var plan = new Dictionary<string, Func<JsonObject, JsonObject>>
        {
            ["p0"] = s => s,
            ["p1"] = s => new JsonObject { ["sentiment"] = "negative", ["summary"] = "A review: good bread, stale" },
            ["p2"] = s => new JsonObject { ["sentiment"] = s["sentiment"]!.DeepClone() },
            ["p3"] = s => s,
        };
        var responseIds = new Dictionary<string, long>();
        foreach (var expected in plan.Keys)
        {
            var task = (await Scenario.NextAsync(annotator, x.Project))!;
            task["externalId"]!.GetValue<string>().ShouldBe(expected);
            var suggested = task["suggestions"]!.AsObject();
            suggested["sentiment"]!.GetValue<string>().ShouldBe(expected is "p0" or "p1" ? "positive" : "negative");
            suggested["summary"]!.GetValue<string>().ShouldBe("A review: " + Items.Single(i => i.Id == expected).Text);
            // Annotators see the values, never which model or labeller made them.
            task.ToJsonString().ShouldNotContain("model:");
            task.ToJsonString().ShouldNotContain("judge");
            var submitted = await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), plan[expected]((JsonObject)suggested.DeepClone()));
            await submitted.ShouldHaveStatusAsync(HttpStatusCode.OK);
            responseIds[expected] = (await submitted.Content.ReadFromJsonAsync<JsonObject>())!["responseId"]!.GetValue<long>();
        }

        // Gold items measure the person: they come without the model's answers.
        var goldTask = (await Scenario.NextAsync(annotator, x.Project))!;
        goldTask["externalId"]!.GetValue<string>().ShouldBe("g0");
        goldTask["suggestions"].ShouldBeNull();

        await using (var db = x.S.App.NewDbContext())
        {
            var metadata = await db.Responses.AsNoTracking().Where(r => responseIds.Values.Contains(r.Id)).ToDictionaryAsync(r => r.Id, r => r.MetadataJson);
            string Outcome(string item, string question) => JsonNode.Parse(metadata[responseIds[item]]!)!["suggestions"]![question]!["outcome"]!.GetValue<string>();
            Outcome("p0", "sentiment").ShouldBe("accepted");
            Outcome("p0", "summary").ShouldBe("accepted");
            Outcome("p1", "sentiment").ShouldBe("rejected");
            Outcome("p1", "summary").ShouldBe("edited");
            Outcome("p2", "sentiment").ShouldBe("accepted");
            Outcome("p2", "summary").ShouldBe("rejected");
            JsonNode.Parse(metadata[responseIds["p0"]]!)!["suggestions"]!["sentiment"]!["agent"]!.GetValue<string>().ShouldEndWith("@labeller:judgev1");
        }

        var report = await ReportAsync(x, "judge");
        var sentiment = Question(report, "sentiment");
        sentiment["suggestions"]!.ToJsonString().ShouldBe("""{"shown":4,"accepted":3,"edited":0,"rejected":1,"acceptanceRate":0.75}""");
        Question(report, "summary")["suggestions"]!.ToJsonString().ShouldBe("""{"shown":4,"accepted":2,"edited":1,"rejected":1,"acceptanceRate":0.5}""");
        // Against the people (one annotator per item here): p0 positive = positive, p1 positive ≠ negative, p2 and p3 negative = negative.
        var consensus = sentiment["consensus"]!;
        consensus["compared"]!.GetValue<int>().ShouldBe(4);
        consensus["accuracy"]!.GetValue<double>().ShouldBe(0.75);
        consensus["confusion"]!["counts"]!.ToJsonString().ShouldBe("[[1,0],[1,2]]");
        // p_o = 0.75; people say positive 1 in 4, the labeller 2 in 4: p_e = 0.25·0.5 + 0.75·0.5 = 0.5; kappa = 0.25 / 0.5 = 0.5.
        consensus["kappa"]!.GetValue<double>().ShouldBe(0.5);
        // Summaries: p2 has no human summary; p0 and p3 equal the model's, p1 does not.
        Question(report, "summary")["consensus"]!["compared"]!.GetValue<int>().ShouldBe(3);
        Question(report, "summary")["consensus"]!["matches"]!.GetValue<int>().ShouldBe(2);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Compare_TwoVersionsOnTheSameItems_ReportsBothAndTheirAgreement(string provider)
    {
        var x = await SetUpAsync(provider);
        await using var _ = x.Fake;
        await CreateLabellerAsync(x, "judge");
        await RunAndWaitAsync(x, "judge");
        var updated = await x.S.Admin.PutAsJsonAsync($"api/v1/projects/{x.Project}/labellers/judge", new { prompt = "Review v2: {{text}}", note = "reads the twist" });
        await updated.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var labeller = (await updated.Content.ReadFromJsonAsync<JsonObject>())!;
        labeller["currentVersion"]!.GetValue<int>().ShouldBe(2);
        labeller["versions"]!.AsArray().Count.ShouldBe(2);
        // Version 2 runs on the gold items only, without suggestions.
        var run = await RunAndWaitAsync(x, "judge", new { filter = new { gold = true }, suggest = false });
        run["total"]!.GetValue<int>().ShouldBe(10);

        var comparison = (await x.S.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{x.Project}/labellers/compare?a=judge@1&b=judge@2"))!;
        comparison["sharedItems"]!.GetValue<int>().ShouldBe(10);
        comparison["a"]!["items"]!.GetValue<int>().ShouldBe(10);
        Question(comparison["a"]!.AsObject(), "sentiment")["gold"]!["accuracy"]!.GetValue<double>().ShouldBe(0.8);
        Question(comparison["b"]!.AsObject(), "sentiment")["gold"]!["accuracy"]!.GetValue<double>().ShouldBe(1.0);
        var between = comparison["between"]!.AsArray().Single(q => q!["question"]!.GetValue<string>() == "sentiment")!["figures"]!;
        between["compared"]!.GetValue<int>().ShouldBe(10);
        between["matches"]!.GetValue<int>().ShouldBe(8);

        // A measuring run writes no suggestions: only version 1's are there.
        await using var db = x.S.App.NewDbContext();
        (await db.Suggestions.AsNoTracking().Where(s => s.ProjectId == x.Project).Select(s => s.Agent).Distinct().ToListAsync())
            .ShouldBe([$"model:{x.ProviderName}/fake-model-1@labeller:judgev1"]);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Cancel_RunWaitingOnTheModel_StopsAndStoresNothingMore(string provider)
    {
        var x = await SetUpAsync(provider);
        await using var _ = x.Fake;
        await CreateLabellerAsync(x, "slow");
        x.Fake.Hold();
        var started = (await (await x.S.Admin.PostAsJsonAsync($"api/v1/projects/{x.Project}/labellers/slow/runs", new { concurrency = 1 }))
            .Content.ReadFromJsonAsync<JsonObject>())!;
        await x.Fake.WaitForRequestsAsync(1);
        var cancelled = await x.S.Admin.PostAsync($"api/v1/projects/{x.Project}/labellers/runs/{started["id"]}/cancel", null);
        await cancelled.ShouldHaveStatusAsync(HttpStatusCode.OK);
        x.Fake.Release();
        await (await x.S.Admin.PostAsync($"api/v1/projects/{x.Project}/labellers/runs/{started["id"]}/cancel", null)).ShouldHaveStatusAsync(HttpStatusCode.Conflict);
        // The answer in flight arrives but is not stored; the runner ends the job when its heartbeat sees the cancel.
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var runId = started["id"]!.GetValue<long>();
        JsonObject run;
        do
        {
            await Task.Delay(50, deadline.Token);
            run = (await x.S.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{x.Project}/labellers/runs/{runId}", deadline.Token))!;
        }
        while (run["status"]!.GetValue<string>() == "running");
        run["status"]!.GetValue<string>().ShouldBe("cancelled");
        run["done"]!.GetValue<int>().ShouldBe(0);
        await using var db = x.S.App.NewDbContext();
        (await db.Set<LabellerResult>().AsNoTracking().CountAsync(r => r.RunId == runId, deadline.Token)).ShouldBe(0);
        (await db.Suggestions.AsNoTracking().CountAsync(s => s.ProjectId == x.Project, deadline.Token)).ShouldBe(0);
        var job = (await x.S.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs/{run["jobId"]}", deadline.Token))!;
        job["kind"]!.GetValue<string>().ShouldBe("labeller");
        job["status"]!.GetValue<string>().ShouldBe("cancelled");
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Create_BadPromptQuestionOrProvider_IsRefusedWithTheReason(string provider)
    {
        var x = await SetUpAsync(provider);
        await using var _ = x.Fake;
        async Task<string> Refused(object body, HttpStatusCode status = HttpStatusCode.BadRequest)
        {
            var response = await x.S.Admin.PostAsJsonAsync($"api/v1/projects/{x.Project}/labellers", body);
            await response.ShouldHaveStatusAsync(status);
            return (await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!.GetValue<string>();
        }
        (await Refused(new { name = "a", provider = x.ProviderName, prompt = "{{txt}}" }))
            .ShouldBe("prompt: {{txt}} is not a field of the project (fields: text; also {{questions}} and {{metadata.KEY}})");
        (await Refused(new { name = "a", provider = x.ProviderName, prompt = "{{text}}", questions = new[] { "mood" } }))
            .ShouldStartWith("questions: 'mood' is not a question of the project");
        (await Refused(new { name = "a", provider = "no-such-provider", prompt = "{{text}}" })).ShouldContain("there is no model provider 'no-such-provider'");
        (await Refused(new { name = "has space", provider = x.ProviderName, prompt = "{{text}}" })).ShouldContain("must be 1-100 letters");
        await CreateLabellerAsync(x, "once");
        (await Refused(new { name = "once", provider = x.ProviderName, prompt = "{{text}}" }, HttpStatusCode.Conflict)).ShouldContain("already has a labeller 'once'");
        (await x.S.Admin.GetAsync($"api/v1/projects/{x.Project}/labellers/nobody/report")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Access_AnnotatorsAndReviewers_CannotReadOrRunLabellers(string provider)
    {
        var x = await SetUpAsync(provider);
        await using var _ = x.Fake;
        await CreateLabellerAsync(x, "judge");
        var (annotator, _) = await x.S.MemberAsync(x.Project);
        var (reviewer, _) = await x.S.MemberAsync(x.Project, "reviewer");
        var outsiderProject = await x.S.CreateProjectAsync("labels", schema: Schema);
        var (outsider, _) = await x.S.MemberAsync(outsiderProject);
        foreach (var client in new[] { annotator, reviewer })
        {
            (await client.GetAsync($"api/v1/projects/{x.Project}/labellers")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
            (await client.GetAsync($"api/v1/projects/{x.Project}/labellers/judge/report")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
            (await client.GetAsync($"api/v1/projects/{x.Project}/labellers/compare?a=judge&b=judge")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
            (await client.PostAsJsonAsync($"api/v1/projects/{x.Project}/labellers/judge/runs", new { })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
            (await client.PostAsJsonAsync($"api/v1/projects/{x.Project}/labellers", new { name = "mine", provider = x.ProviderName, prompt = "{{text}}" }))
                .StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        }
        (await outsider.GetAsync($"api/v1/projects/{x.Project}/labellers/judge/report")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        x.Fake.Requests.ShouldBeEmpty();
    }

    public static TheoryData<string, bool> RestartCases => GenerationTests.RestartCases;

    /// <summary>
    /// The server stops (or dies) while the model answers slowly; a new server on the same database finishes the run.
    /// Items answered before the stop are not asked again, and no item gets its result or suggestions twice.
    /// </summary>
    [Theory]
    [MemberData(nameof(RestartCases))]
    public async Task Run_WhenTheServerStopsMidRun_AnotherServerFinishesWithoutAskingTwice(string provider, bool crash)
    {
        var folder = Directory.CreateTempSubdirectory("plumbline-labeller-restart-").FullName;
        var database = TestApp.NewDatabase(provider, folder);
        await using var fake = await FakeOpenAi.StartAsync();
        fake.Answer = Answer;
        long runId, jobId, project;
        using (var first = new TestApp(provider, database))
        {
            var s = new Scenario(first);
            project = await s.CreateProjectAsync("labels", schema: Schema);
            var lines = Items.Select(i => new JsonObject { ["id"] = i.Id, ["text"] = i.Text }.ToJsonString());
            await (await s.ImportAsync(project, string.Join('\n', lines))).ShouldHaveStatusAsync(HttpStatusCode.OK);
            var providerName = (await ProviderTests.CreateProviderAsync(s.Admin, fake.BaseUrl))["name"]!.GetValue<string>();
            var x = new Setup(s, project, fake, providerName);
            await CreateLabellerAsync(x, "judge");
            fake.HoldAfter(4);
            var started = await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/labellers/judge/runs", new { concurrency = 2 });
            await started.ShouldHaveStatusAsync(HttpStatusCode.Accepted);
            var run = (await started.Content.ReadFromJsonAsync<JsonObject>())!;
            (runId, jobId) = (run["id"]!.GetValue<long>(), run["jobId"]!.GetValue<long>());
            await GenerationTests.WaitForJobAsync(s.Admin, jobId, j => j["done"]!.GetValue<int>() == 4);
            // Two more requests are now waiting on the slow model when the server goes away.
            await fake.WaitForRequestsAsync(6);
        }
        var askedBeforeStop = fake.Requests.Select(r => r.LastUserMessage).ToList();
        askedBeforeStop.Count.ShouldBe(6);
        using (var db = GenerationTests.NewDbContext(database))
        {
            if (crash)
            {
                // A crashed server gives nothing back: its job stays running under its name until the lease runs out.
                await db.Set<Job>().Where(j => j.Id == jobId).ExecuteUpdateAsync(u => u.SetProperty(j => j.Status, JobStatuses.Running)
                    .SetProperty(j => j.LeaseOwner, "crashed-node/1").SetProperty(j => j.LeaseExpiresAt, DateTime.UtcNow.AddSeconds(-1)));
            }
            else
            {
                (await db.Set<Job>().SingleAsync(j => j.Id == jobId)).Status.ShouldBe(JobStatuses.Queued);
            }
        }
        fake.Release();

        using (var second = new TestApp(provider, database))
        {
            JsonObject status;
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            do
            {
                await Task.Delay(50, deadline.Token);
                status = (await second.Client().GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/labellers/runs/{runId}", deadline.Token))!;
            }
            while (status["status"]!.GetValue<string>() is "queued" or "running");
            status["status"]!.GetValue<string>().ShouldBe("completed", status.ToJsonString());
            status["total"]!.GetValue<int>().ShouldBe(15);
            status["done"]!.GetValue<int>().ShouldBe(14);
            status["failed"]!.GetValue<int>().ShouldBe(1);
            var asked = fake.Requests.Select(r => r.LastUserMessage).ToList();
            // The four answered before the stop were not asked again; the two in flight were asked once more.
            asked.Count.ShouldBe(17);
            askedBeforeStop.Take(4).ShouldAllBe(done => asked.Count(a => a == done) == 1);
            await using var check = second.NewDbContext();
            var results = await check.Set<LabellerResult>().AsNoTracking().Where(r => r.RunId == runId).Select(r => r.ItemId).ToListAsync(deadline.Token);
            results.Count.ShouldBe(15);
            results.Distinct().Count().ShouldBe(15);
            (await check.Suggestions.AsNoTracking().CountAsync(x => x.ProjectId == project, deadline.Token)).ShouldBe(28);
        }
        if (provider == "sqlite")
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<(int Exit, string Out, string Err)> CliAsync(TestApp app, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync([.. args, "--server", app.BaseAddress.ToString(), "--token", TestApp.AdminToken], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Cli_CreateRunReportCompare_PrintsTheFigures()
    {
        var x = await SetUpAsync("sqlite");
        await using var fake = x.Fake;
        var id = x.Project.ToString(CultureInfo.InvariantCulture);
        var folder = Directory.CreateTempSubdirectory("plumbline-labeller-").FullName;
        var prompt = Path.Combine(folder, "prompt.txt");
        await File.WriteAllTextAsync(prompt, "Review: {{text}}");

        var (exit, output, error) = await CliAsync(x.S.App, "labeller", "create", id, "--name", "judge", "--provider", x.ProviderName,
            "--prompt-file", prompt, "--questions", "sentiment", "--param", "temperature=0");
        exit.ShouldBe(0, error);
        output.ShouldContain($"\"judge\" version 1: model:{x.ProviderName}/fake-model-1@labeller:judgev1; answers sentiment");

        (exit, output, error) = await CliAsync(x.S.App, "labeller", "run", id, "judge");
        exit.ShouldBe(0, error);
        output.ShouldContain("completed; 14 answered, 1 failed of 15");
        error.ShouldContain("15/15 (1 failed)");

        (exit, output, _) = await CliAsync(x.S.App, "labeller", "report", id, "judge");
        exit.ShouldBe(0);
        output.ShouldContain("judge v1");
        output.ShouldContain("14 of 15 items answered, 1 failed; coverage 0.9333");
        output.ShouldContain("failed garbage: sentiment: expects one of positive, negative, got \"meh\"");

        await File.WriteAllTextAsync(prompt, "Review v2: {{text}}");
        (exit, _, error) = await CliAsync(x.S.App, "labeller", "update", id, "judge", "--prompt-file", prompt);
        exit.ShouldBe(0, error);
        (exit, _, error) = await CliAsync(x.S.App, "labeller", "run", id, "judge", "--filter", "gold", "--measure-only", "--detach");
        exit.ShouldBe(0, error);
        // --detach returns at once; wait for the run through the API before comparing.
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while ((await x.S.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{x.Project}/labellers/judge/runs?version=2", deadline.Token))!
            .Any(r => r!["status"]!.GetValue<string>() is "queued" or "running"))
        {
            await Task.Delay(50, deadline.Token);
        }
        (exit, output, _) = await CliAsync(x.S.App, "labeller", "report", id, "judge", "--compare", "1", "--json");
        exit.ShouldBe(0);
        var comparison = JsonNode.Parse(output)!;
        comparison["sharedItems"]!.GetValue<int>().ShouldBe(10);
        comparison["b"]!["questions"]![0]!["gold"]!["accuracy"]!.GetValue<double>().ShouldBe(1.0);

        (exit, _, error) = await CliAsync(x.S.App, "labeller", "run", id, "judge", "--filter", "colour=blue");
        exit.ShouldBe(1);
        error.ShouldContain("--filter 'colour=blue' is not one of");
    }
}

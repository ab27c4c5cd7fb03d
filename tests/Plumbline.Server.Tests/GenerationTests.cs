using Microsoft.EntityFrameworkCore;
using Plumbline.Data;

namespace Plumbline.Server.Tests;

/// <summary>Candidate generation jobs against the fake OpenAI-protocol server, on SQLite and PostgreSQL.</summary>
public class GenerationTests
{
    public static TheoryData<string> Providers => SharedApps.Providers;

    /// <summary>A chat prompt and an optional candidates field, with a ranking over it: what a team fills with model outputs.</summary>
    internal static readonly JsonNode CandidatesSchema = JsonNode.Parse("""
        {"fields": [{"name": "prompt", "type": "chat"}, {"name": "candidates", "type": "candidates", "required": false}],
         "questions": [{"name": "ranking", "type": "ranking", "field": "candidates"}]}
        """)!;

    internal static async Task<long> ProjectWithItemsAsync(Scenario scenario, int items, JsonNode? schema = null)
    {
        var project = await scenario.CreateProjectAsync("custom", schema: (schema ?? CandidatesSchema).DeepClone());
        var lines = Enumerable.Range(0, items).Select(i => $$"""{"id":"item-{{i}}","prompt":"Question {{i}}?"}""");
        await (await scenario.ImportAsync(project, string.Join('\n', lines))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        return project;
    }

    internal static async Task<JsonObject> StartAsync(HttpClient client, long project, object request)
    {
        var response = await client.PostAsJsonAsync($"api/v1/projects/{project}/generations", request);
        await response.ShouldHaveStatusAsync(HttpStatusCode.Accepted);
        var job = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/jobs/{job["id"]}");
        return job;
    }

    /// <summary>Polls the job until <paramref name="until"/> holds; gives up after two minutes so a broken runner fails the test.</summary>
    internal static async Task<JsonObject> WaitForJobAsync(HttpClient client, long jobId, Func<JsonObject, bool>? until = null)
    {
        until ??= j => j["status"]!.GetValue<string>() is "succeeded" or "failed" or "cancelled";
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (true)
        {
            var job = (await client.GetFromJsonAsync<JsonObject>($"api/v1/jobs/{jobId}", deadline.Token))!;
            if (until(job))
            {
                return job;
            }
            await Task.Delay(50, deadline.Token);
        }
    }

    internal static async Task<JsonObject> FieldsAsync(TestApp app, long project, string externalId)
    {
        using var db = app.NewDbContext();
        var item = await db.Items.AsNoTracking().SingleAsync(i => i.ProjectId == project && i.ExternalId == externalId);
        return JsonNode.Parse(item.FieldsJson)!.AsObject();
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Generation_TwoProvidersTwiceEach_AddsCandidatesWithModelAndSumsTokensAndCost(string provider)
    {
        var app = SharedApps.Get(provider);
        var scenario = new Scenario(app);
        await using var fake = await FakeOpenAi.StartAsync();
        var a = (await ProviderTests.CreateProviderAsync(scenario.Admin, fake.BaseUrl, ProviderTests.NewKey(),
            new { parameters = new { max_tokens = 200 }, pricePerMillionInput = 1.0, pricePerMillionOutput = 2.0 }))["name"]!.GetValue<string>();
        var b = (await ProviderTests.CreateProviderAsync(scenario.Admin, fake.BaseUrl, null,
            new { pricePerMillionInput = 3.0, pricePerMillionOutput = 4.0 }))["name"]!.GetValue<string>();
        var project = await ProjectWithItemsAsync(scenario, 3);
        var (manager, _) = await scenario.MemberAsync(project, "manager");

        var started = await StartAsync(manager, project, new { providers = new[] { a, b }, n = 2, parameters = new { temperature = 0.9 } });
        started["status"]!.GetValue<string>().ShouldBe("queued");
        var job = await WaitForJobAsync(manager, started["id"]!.GetValue<long>());

        job["status"]!.GetValue<string>().ShouldBe("succeeded", job.ToJsonString());
        job["total"]!.GetValue<int>().ShouldBe(3);
        job["done"]!.GetValue<int>().ShouldBe(3);
        // Each call sends the chat prompt "Question i?" (2 tokens) and gets "Echo: Question i?" (3 tokens) back; 3 items × 2 providers × 2.
        job["promptTokens"]!.GetValue<long>().ShouldBe(24);
        job["completionTokens"]!.GetValue<long>().ShouldBe(36);
        job["cost"]!.GetValue<double>().ShouldBe((6 * (2 * 1.0 + 3 * 2.0) + 6 * (2 * 3.0 + 3 * 4.0)) / 1_000_000, 1e-12);
        fake.Answered.ShouldBe(12);
        fake.Requests.ShouldAllBe(r => r.Messages.Count == 1 && r.Body["temperature"]!.GetValue<double>() == 0.9);

        var fields = await FieldsAsync(app, project, "item-1");
        var candidates = fields["candidates"]!.AsArray();
        long itemId;
        using (var db = app.NewDbContext())
        {
            itemId = await db.Items.Where(i => i.ProjectId == project && i.ExternalId == "item-1").Select(i => i.Id).SingleAsync();
        }
        candidates.Select(c => c!["id"]!.GetValue<string>()).ShouldBe([.. new[] { (a, 1), (a, 2), (b, 1), (b, 2) }
            .Select(x => Plumbline.Server.Features.Models.GenerationJobs.CandidateId(itemId, x.Item1, x.Item2))]);
        candidates.Select(c => c!["metadata"]!["provider"]!.GetValue<string>()).ShouldBe([a, a, b, b]);
        candidates.ShouldAllBe(c => c!["content"]!.GetValue<string>() == "Echo: Question 1?" && c["model"]!.GetValue<string>() == "fake-model-1");
        var recorded = candidates[0]!["metadata"]!;
        recorded["provider"]!.GetValue<string>().ShouldBe(a);
        recorded["job"]!.GetValue<long>().ShouldBe(job["id"]!.GetValue<long>());
        recorded["parameters"]!["temperature"]!.GetValue<double>().ShouldBe(0.9);
        recorded["parameters"]!["max_tokens"]!.GetValue<int>().ShouldBe(200);
        recorded["completionTokens"]!.GetValue<int>().ShouldBe(3);

        // Started again, it finds every candidate in place and asks for nothing.
        var again = await WaitForJobAsync(manager, (await StartAsync(manager, project, new { providers = new[] { a, b }, n = 2 }))["id"]!.GetValue<long>());
        again["status"]!.GetValue<string>().ShouldBe("succeeded");
        again["skipped"]!.GetValue<int>().ShouldBe(3);
        fake.Received.ShouldBe(12);
        var skipped = (await manager.GetFromJsonAsync<JsonObject>($"api/v1/jobs/{again["id"]}/items?status=skipped"))!["items"]!.AsArray();
        skipped.Count.ShouldBe(3);
        skipped[0]!["message"]!.GetValue<string>().ShouldContain("has these candidates already");
        (await manager.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/jobs"))!.Count.ShouldBe(2);

        // Annotators compare blind: candidate ids say nothing of the model, and neither model nor metadata reaches them.
        var (annotator, _) = await scenario.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        var shown = task["fields"]!["candidates"]!.AsArray();
        shown.Count.ShouldBe(4);
        shown.ShouldAllBe(c => c!["metadata"] == null && c["model"] == null);
        task.ToJsonString().ShouldNotContain(a);
        task.ToJsonString().ShouldNotContain(b);
        task.ToJsonString().ShouldNotContain("fake-model-1");
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Generation_ForAnEditProject_FillsTheDraftFromATemplate(string provider)
    {
        var app = SharedApps.Get(provider);
        var scenario = new Scenario(app);
        await using var fake = await FakeOpenAi.StartAsync();
        var name = (await ProviderTests.CreateProviderAsync(scenario.Admin, fake.BaseUrl))["name"]!.GetValue<string>();
        // The sft-edit template with an optional draft, so prompts can be imported before a model drafts them.
        var project = await scenario.CreateProjectAsync("custom", schema: JsonNode.Parse("""
            {"fields": [{"name": "prompt", "type": "chat"}, {"name": "response", "type": "markdown", "required": false}],
             "questions": [{"name": "ideal_response", "type": "text", "prefill": "response"}]}
            """));
        await (await scenario.ImportAsync(project, """
            {"id":"e-1","prompt":"Name a prime."}
            {"id":"e-2","prompt":"Name a colour.","response":"Blue, written by a person."}
            {"id":"e-3","prompt":"Skip me."}
            """)).ShouldHaveStatusAsync(HttpStatusCode.OK);

        var job = await WaitForJobAsync(scenario.Admin, (await StartAsync(scenario.Admin, project, new
        {
            providers = new[] { name }, system = "You answer questions about {{external_id}}.", prompt = "Answer briefly: {{prompt}}",
            filter = new { externalIds = new[] { "e-1", "e-2" } },
        }))["id"]!.GetValue<long>());

        job["status"]!.GetValue<string>().ShouldBe("succeeded", job.ToJsonString());
        job["settings"]!["target"]!.GetValue<string>().ShouldBe("draft");
        job["settings"]!["field"]!.GetValue<string>().ShouldBe("response");
        job["total"]!.GetValue<int>().ShouldBe(2);
        job["done"]!.GetValue<int>().ShouldBe(1);
        job["skipped"]!.GetValue<int>().ShouldBe(1);
        (await FieldsAsync(app, project, "e-1"))["response"]!.GetValue<string>().ShouldBe("Echo: Answer briefly: user: Name a prime.");
        (await FieldsAsync(app, project, "e-2"))["response"]!.GetValue<string>().ShouldBe("Blue, written by a person.");
        var sent = fake.Requests.Single();
        sent.Messages[0]!["content"]!.GetValue<string>().ShouldBe("You answer questions about e-1.");
        using var db = app.NewDbContext();
        var metadata = JsonNode.Parse((await db.Items.AsNoTracking().SingleAsync(i => i.ProjectId == project && i.ExternalId == "e-1")).MetadataJson)!;
        metadata["generation"]!["response"]!["provider"]!.GetValue<string>().ShouldBe(name);
        metadata["generation"]!["response"]!["model"]!.GetValue<string>().ShouldBe("fake-model-1");
    }

    [Fact]
    public async Task StartGeneration_WithBadSettings_SaysWhatIsWrong()
    {
        var scenario = new Scenario(SharedApps.Get("sqlite"));
        var name = (await ProviderTests.CreateProviderAsync(scenario.Admin, "http://127.0.0.1:9/v1"))["name"]!.GetValue<string>();
        var other = (await ProviderTests.CreateProviderAsync(scenario.Admin, "http://127.0.0.1:9/v1"))["name"]!.GetValue<string>();
        var project = await ProjectWithItemsAsync(scenario, 1);
        var edit = await scenario.CreateProjectAsync("sft-edit");
        var sftWrite = await scenario.CreateProjectAsync("sft-write");
        async Task<string> RefusedAsync(long id, object body, HttpStatusCode status = HttpStatusCode.BadRequest, HttpClient? client = null)
        {
            var response = await (client ?? scenario.Admin).PostAsJsonAsync($"api/v1/projects/{id}/generations", body);
            await response.ShouldHaveStatusAsync(status);
            return (await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!.GetValue<string>();
        }

        (await RefusedAsync(project, new { providers = Array.Empty<string>() })).ShouldContain("at least one provider");
        (await RefusedAsync(project, new { providers = new[] { "no-such-provider" } })).ShouldContain("no model provider 'no-such-provider'");
        (await RefusedAsync(project, new { providers = new[] { name }, n = 50 })).ShouldContain("n must be between 1 and 20");
        (await RefusedAsync(project, new { providers = new[] { name }, prompt = "{{question}}" })).ShouldContain("{{question}}, which is not a field");
        (await RefusedAsync(project, new { providers = new[] { name }, target = "draft" })).ShouldContain("target 'draft' needs");
        (await RefusedAsync(edit, new { providers = new[] { name, other } })).ShouldContain("a draft field holds one response");
        (await RefusedAsync(sftWrite, new { providers = new[] { name } })).ShouldContain("nowhere to put responses");
        (await RefusedAsync(project, new { providers = new[] { name }, filter = new { status = "done" } })).ShouldContain("filter status 'done'");

        var (annotator, _) = await scenario.MemberAsync(project, "annotator");
        (await RefusedAsync(project, new { providers = new[] { name } }, HttpStatusCode.Forbidden, annotator)).ShouldContain("manager");
        var (stranger, _) = await scenario.MemberAsync(edit, "manager");
        await RefusedAsync(project, new { providers = new[] { name } }, HttpStatusCode.NotFound, stranger);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task Generation_WithAFailingItemAndAWrongKey_FailsTheItemThenTheJob(string provider)
    {
        var scenario = new Scenario(SharedApps.Get(provider));
        await using var fake = await FakeOpenAi.StartAsync();
        var name = (await ProviderTests.CreateProviderAsync(scenario.Admin, fake.BaseUrl, "sk-right-key-123"))["name"]!.GetValue<string>();
        var project = await ProjectWithItemsAsync(scenario, 3);

        // Five 500s in a row are more than the retries (four): the first item fails, the others go through.
        fake.FailNext(5, HttpStatusCode.InternalServerError, message: "model overloaded");
        var job = await WaitForJobAsync(scenario.Admin, (await StartAsync(scenario.Admin, project, new { providers = new[] { name }, concurrency = 1 }))["id"]!.GetValue<long>());
        job["status"]!.GetValue<string>().ShouldBe("succeeded");
        job["done"]!.GetValue<int>().ShouldBe(2);
        job["failed"]!.GetValue<int>().ShouldBe(1);
        var failed = (await scenario.Admin.GetFromJsonAsync<JsonObject>($"api/v1/jobs/{job["id"]}/items?status=failed"))!["items"]!.AsArray().Single()!;
        failed["externalId"]!.GetValue<string>().ShouldBe("item-0");
        failed["message"]!.GetValue<string>().ShouldBe($"provider '{name}' answered 500 Internal Server Error after 5 attempts: model overloaded");

        fake.RequiredApiKey = "sk-another-key";
        var refused = await WaitForJobAsync(scenario.Admin, (await StartAsync(scenario.Admin, project, new { providers = new[] { name }, overwrite = true }))["id"]!.GetValue<long>());
        refused["status"]!.GetValue<string>().ShouldBe("failed");
        refused["error"]!.GetValue<string>().ShouldContain("401 Unauthorized");
        refused["error"]!.GetValue<string>().ShouldContain($"fix the provider (PATCH /api/v1/providers/{name})");
        refused["error"]!.GetValue<string>().ShouldNotContain("sk-right-key-123");
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task CancelJob_WhileRunning_StopsAndKeepsWhatIsDone(string provider)
    {
        var app = SharedApps.Get(provider);
        var scenario = new Scenario(app);
        await using var fake = await FakeOpenAi.StartAsync();
        var name = (await ProviderTests.CreateProviderAsync(scenario.Admin, fake.BaseUrl))["name"]!.GetValue<string>();
        var project = await ProjectWithItemsAsync(scenario, 5);
        fake.HoldAfter(1);

        var id = (await StartAsync(scenario.Admin, project, new { providers = new[] { name }, concurrency = 1 }))["id"]!.GetValue<long>();
        await WaitForJobAsync(scenario.Admin, id, j => j["done"]!.GetValue<int>() == 1);
        await fake.WaitForRequestsAsync(2);
        var cancel = await scenario.Admin.PostAsync($"api/v1/jobs/{id}/cancel", null);
        await cancel.ShouldHaveStatusAsync(HttpStatusCode.Accepted);
        var job = await WaitForJobAsync(scenario.Admin, id);
        fake.Release();

        job["status"]!.GetValue<string>().ShouldBe("cancelled");
        job["cancelRequested"]!.GetValue<bool>().ShouldBeTrue();
        job["done"]!.GetValue<int>().ShouldBe(1);
        job["finishedAt"].ShouldNotBeNull();
        (await FieldsAsync(app, project, "item-0"))["candidates"]!.AsArray().Count.ShouldBe(1);
        (await FieldsAsync(app, project, "item-1"))["candidates"].ShouldBeNull();
        fake.Answered.ShouldBe(1);
        (await (await scenario.Admin.PostAsync($"api/v1/jobs/{id}/cancel", null)).Content.ReadAsStringAsync()).ShouldContain("has cancelled already");
        var (annotator, _) = await scenario.MemberAsync(project, "annotator");
        (await annotator.GetAsync($"api/v1/jobs/{id}")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await annotator.PostAsync($"api/v1/jobs/{id}/cancel", null)).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task ProviderChoices_ManagersSeeNamesAndModelsOnly_AnnotatorsAreRefused(string provider)
    {
        var scenario = new Scenario(SharedApps.Get(provider));
        await using var fake = await FakeOpenAi.StartAsync();
        var key = ProviderTests.NewKey();
        var name = (await ProviderTests.CreateProviderAsync(scenario.Admin, fake.BaseUrl, key))["name"]!.GetValue<string>();
        var project = await ProjectWithItemsAsync(scenario, 1);
        var (manager, _) = await scenario.MemberAsync(project, "manager");

        var response = await manager.GetAsync($"api/v1/projects/{project}/providers");

        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var text = await response.Content.ReadAsStringAsync();
        var choice = JsonNode.Parse(text)!.AsArray().Single(p => p!["name"]!.GetValue<string>() == name)!.AsObject();
        choice.Select(p => p.Key).Order(StringComparer.Ordinal).ShouldBe(["model", "name"]);
        choice["model"]!.GetValue<string>().ShouldBe("fake-model-1");
        text.ShouldNotContain(fake.BaseUrl);
        text.ShouldNotContain(key);
        // The admins' own list stays theirs.
        (await manager.GetAsync("api/v1/providers")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        var (annotator, _) = await scenario.MemberAsync(project, "annotator");
        (await annotator.GetAsync($"api/v1/projects/{project}/providers")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    public static TheoryData<string, bool> RestartCases => new() { { "sqlite", false }, { "sqlite", true }, { "postgres", false }, { "postgres", true } };

    /// <summary>
    /// The server stops (or dies) while the model answers slowly; a new server on the same database finishes the job.
    /// Items done before the stop are not asked again, and no item gets its candidate twice.
    /// </summary>
    [Theory]
    [MemberData(nameof(RestartCases))]
    public async Task Generation_WhenTheServerStopsMidJob_AnotherServerFinishesWithoutAskingTwice(string provider, bool crash)
    {
        var folder = Directory.CreateTempSubdirectory("plumbline-restart-").FullName;
        var database = TestApp.NewDatabase(provider, folder);
        await using var fake = await FakeOpenAi.StartAsync();
        long jobId, project;
        using (var first = new TestApp(provider, database))
        {
            var scenario = new Scenario(first);
            var name = (await ProviderTests.CreateProviderAsync(scenario.Admin, fake.BaseUrl, null,
                new { pricePerMillionInput = 1.0, pricePerMillionOutput = 1.0 }))["name"]!.GetValue<string>();
            project = await ProjectWithItemsAsync(scenario, 6);
            fake.HoldAfter(2);
            jobId = (await StartAsync(scenario.Admin, project, new { providers = new[] { name }, concurrency = 2 }))["id"]!.GetValue<long>();
            await WaitForJobAsync(scenario.Admin, jobId, j => j["done"]!.GetValue<int>() == 2);
            // Two more requests are now waiting on the slow model when the server goes away.
            await fake.WaitForRequestsAsync(4);
        }
        var askedBeforeStop = fake.Requests.Select(r => r.LastUserMessage).ToList();
        askedBeforeStop.Count.ShouldBe(4);
        if (crash)
        {
            // A crashed server gives nothing back: its job stays running under its name until the lease runs out.
            using var db = NewDbContext(database);
            await db.Set<Job>().Where(j => j.Id == jobId).ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatuses.Running)
                .SetProperty(j => j.LeaseOwner, "crashed-node/1").SetProperty(j => j.LeaseExpiresAt, DateTime.UtcNow.AddSeconds(-1)));
        }
        else
        {
            using var db = NewDbContext(database);
            (await db.Set<Job>().SingleAsync(j => j.Id == jobId)).Status.ShouldBe(JobStatuses.Queued);
        }
        fake.Release();

        using (var second = new TestApp(provider, database))
        {
            var job = await WaitForJobAsync(second.Client(), jobId);
            job["status"]!.GetValue<string>().ShouldBe("succeeded", job.ToJsonString());
            job["done"]!.GetValue<int>().ShouldBe(6);
            job["completionTokens"]!.GetValue<long>().ShouldBe(18);
            fake.Answered.ShouldBe(6);
            var asked = fake.Requests.Select(r => r.LastUserMessage).ToList();
            // The two done before the stop were not asked again; the two in flight were asked once more.
            asked.Count.ShouldBe(8);
            askedBeforeStop.Take(2).ShouldAllBe(done => asked.Count(a => a == done) == 1);
            for (var i = 0; i < 6; i++)
            {
                (await FieldsAsync(second, project, $"item-{i}"))["candidates"]!.AsArray().Count.ShouldBe(1);
            }
        }
        if (provider == "sqlite")
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    internal static PlumblineDbContext NewDbContext(DatabaseSettings database) => database.Provider == DatabaseProvider.Sqlite
        ? new SqliteDbContext(new DbContextOptionsBuilder<SqliteDbContext>().UseSqlite(database.ConnectionString).Options)
        : new PostgresDbContext(new DbContextOptionsBuilder<PostgresDbContext>().UseNpgsql(database.ConnectionString).Options);
}

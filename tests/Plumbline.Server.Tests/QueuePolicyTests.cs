namespace Plumbline.Server.Tests;

/// <summary>Per-project queue policies: order, priorities from metadata, per-annotator limits, pinned items.</summary>
public class QueuePolicyTests
{
    private static JsonObject WriteSchema(JsonObject workflow) => new()
    {
        ["fields"] = new JsonArray(new JsonObject { ["name"] = "prompt", ["type"] = "text" }),
        ["questions"] = new JsonArray(new JsonObject { ["name"] = "ideal_response", ["type"] = "text" }),
        ["workflow"] = workflow,
    };

    private static async Task<string?> TakeAsync(HttpClient annotator, long project, bool submit = true)
    {
        var task = await Scenario.NextAsync(annotator, project);
        if (task is null)
        {
            return null;
        }
        if (submit)
        {
            await (await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), new JsonObject { ["ideal_response"] = "ok" }))
                .ShouldHaveStatusAsync(HttpStatusCode.OK);
        }
        return task["externalId"]!.GetValue<string>();
    }

    // Prompts are long enough to pass the import's default cleaning filters.
    private static string Lines(params string[] lines) => string.Join('\n', lines);

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Next_FinishOverlapFirst_ServesItemsWithResponsesBeforeFreshOnes(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("sft-write", schema: WriteSchema(new JsonObject { ["overlap"] = 2, ["queueOrder"] = "finish_overlap_first" }));
        await (await s.ImportAsync(project, Lines("""{"id":"a","prompt":"Please explain topic number 1 in some detail."}""", """{"id":"b","prompt":"Please explain topic number 2 in some detail."}""", """{"id":"c","prompt":"Please explain topic number 3 in some detail."}""")))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);
        var (first, _) = await s.MemberAsync(project);
        var skipped = (await Scenario.NextAsync(first, project))!;
        skipped["externalId"]!.GetValue<string>().ShouldBe("a");
        await (await first.PostAsJsonAsync($"api/v1/assignments/{skipped["assignmentId"]}/skip", new { reason = "later" })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        (await TakeAsync(first, project)).ShouldBe("b");

        var (second, _) = await s.MemberAsync(project);
        (await TakeAsync(second, project)).ShouldBe("b", "b has a response already, a has none");
        (await TakeAsync(second, project)).ShouldBe("a");
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Next_PriorityKey_ServesHigherMetadataValuesFirst(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("sft-write", schema: WriteSchema(new JsonObject { ["priorityKey"] = "urgency" }));
        await (await s.ImportAsync(project, Lines(
            """{"id":"low","prompt":"Please explain topic number 1 in some detail.","metadata":{"urgency":1}}""",
            """{"id":"none","prompt":"Please explain topic number 2 in some detail."}""",
            """{"id":"high","prompt":"Please explain topic number 3 in some detail.","metadata":{"urgency":"7.5"}}""",
            """{"id":"mid","prompt":"Please explain topic number 4 in some detail.","metadata":{"urgency":3}}"""))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var (annotator, _) = await s.MemberAsync(project);
        var order = new List<string?>();
        for (var i = 0; i < 4; i++)
        {
            order.Add(await TakeAsync(annotator, project));
        }
        order.ShouldBe(["high", "mid", "low", "none"]);
        (await TakeAsync(annotator, project)).ShouldBeNull();
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Next_PerAnnotatorLimits_StopAtTheCountOrTheShareOfTheProject(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var items = Lines([.. Enumerable.Range(0, 10).Select(i => $$"""{"id":"i{{i}}","prompt":"Please explain topic number {{i}} in some detail."}""")]);
        var byCount = await s.CreateProjectAsync("sft-write", schema: WriteSchema(new JsonObject { ["overlap"] = 3, ["maxItemsPerAnnotator"] = 3 }));
        var byShare = await s.CreateProjectAsync("sft-write", schema: WriteSchema(new JsonObject { ["overlap"] = 3, ["maxPercentPerAnnotator"] = 20 }));
        foreach (var (project, limit) in new[] { (byCount, 3), (byShare, 2) })
        {
            await (await s.ImportAsync(project, items)).ShouldHaveStatusAsync(HttpStatusCode.OK);
            var (annotator, _) = await s.MemberAsync(project);
            for (var i = 0; i < limit; i++)
            {
                (await TakeAsync(annotator, project)).ShouldNotBeNull();
            }
            (await TakeAsync(annotator, project)).ShouldBeNull($"the limit is {limit} items");
            var (other, _) = await s.MemberAsync(project);
            (await TakeAsync(other, project)).ShouldNotBeNull("the limit is per person");
        }
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Next_PinnedItems_GoOnlyToTheirPersonOrGroupAndComeFirst(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var owner = await s.CreateProjectAsync("sft-write");
        var (alice, aliceEmail) = await s.MemberAsync(owner);
        var (expert, expertEmail) = await s.MemberAsync(owner);
        var (anyone, anyoneEmail) = await s.MemberAsync(owner);
        var project = await s.CreateProjectAsync("sft-write", schema: WriteSchema(new JsonObject
        {
            ["overlap"] = 3, ["pinKey"] = "assign_to", ["groups"] = new JsonObject { ["experts"] = new JsonArray(expertEmail) },
        }));
        foreach (var email in new[] { aliceEmail, expertEmail, anyoneEmail })
        {
            (await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/members", new { email, role = "annotator" })).EnsureSuccessStatusCode();
        }
        await (await s.ImportAsync(project, Lines(
            """{"id":"free","prompt":"Please explain topic number 1 in some detail."}""",
            $$$"""{"id":"for-alice","prompt":"Please explain topic number 2 in some detail.","metadata":{"assign_to":"{{{aliceEmail.ToUpperInvariant()}}}"}}""",
            """{"id":"for-experts","prompt":"Please explain topic number 3 in some detail.","metadata":{"assign_to":["group:experts"]}}"""))).ShouldHaveStatusAsync(HttpStatusCode.OK);

        (await TakeAsync(anyone, project)).ShouldBe("free");
        (await TakeAsync(anyone, project)).ShouldBeNull("the other items are pinned to someone else");
        (await TakeAsync(alice, project)).ShouldBe("for-alice");
        (await TakeAsync(alice, project)).ShouldBe("free");
        (await TakeAsync(alice, project)).ShouldBeNull();
        (await TakeAsync(expert, project)).ShouldBe("for-experts");
        (await TakeAsync(expert, project)).ShouldBe("free");
        (await TakeAsync(expert, project)).ShouldBeNull();
    }

    [Fact]
    public async Task CreateProject_InvalidQueuePolicy_Is400NamingTheSetting()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var response = await s.Admin.PostAsJsonAsync("api/v1/projects", new
        {
            name = "bad queue", schema = WriteSchema(new JsonObject { ["queueOrder"] = "random", ["priorityKey"] = "urgency", ["maxPercentPerAnnotator"] = 150 }),
        });
        await response.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        var body = await response.Content.ReadAsStringAsync();
        body.ShouldContain("workflow.priorityKey");
        body.ShouldContain("workflow.maxPercentPerAnnotator");
    }
}

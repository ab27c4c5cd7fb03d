using Microsoft.EntityFrameworkCore;

namespace Plumbline.Server.Tests;

public class QueueTests
{
    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Overlap_ThreeAnnotatorsOnOverlapTwo_EachItemGetsExactlyTwoAndNobodyRepeats(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 2);
        await s.ImportPairsAsync(project, 5);
        var annotators = new List<HttpClient>();
        for (var i = 0; i < 3; i++)
        {
            annotators.Add((await s.MemberAsync(project)).Client);
        }
        var seen = annotators.Select(_ => new HashSet<long>()).ToList();
        var submitted = 0;
        // Round-robin until nobody gets work: 5 items × 2 = 10 responses in all.
        for (var round = 0; round < 10; round++)
        {
            for (var a = 0; a < annotators.Count; a++)
            {
                var task = await Scenario.NextAsync(annotators[a], project);
                if (task is null)
                {
                    continue;
                }
                seen[a].Add(task["itemId"]!.GetValue<long>()).ShouldBeTrue("a person was given an item twice");
                var first = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
                await (await Scenario.SubmitAsync(annotators[a], task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(first))).ShouldHaveStatusAsync(HttpStatusCode.OK);
                submitted++;
            }
        }
        submitted.ShouldBe(10);
        foreach (var annotator in annotators)
        {
            (await Scenario.NextAsync(annotator, project)).ShouldBeNull();
        }
        await using var db = s.App.NewDbContext();
        var counts = await db.Items.Where(i => i.ProjectId == project).Select(i => i.SubmittedCount).ToListAsync();
        counts.ShouldAllBe(c => c == 2);
        (await db.Responses.CountAsync(r => r.ProjectId == project && r.Status == "submitted")).ShouldBe(10);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task ConcurrentAnnotators_NeverExceedOverlap(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 2);
        await s.ImportPairsAsync(project, 12);
        var annotators = new List<HttpClient>();
        for (var i = 0; i < 6; i++)
        {
            annotators.Add((await s.MemberAsync(project)).Client);
        }
        var accepted = 0;
        await Task.WhenAll(annotators.Select(async annotator =>
        {
            var task = await Scenario.NextAsync(annotator, project);
            while (task is not null)
            {
                var first = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
                var response = await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(first), next: true);
                await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
                Interlocked.Increment(ref accepted);
                var next = (await response.Content.ReadFromJsonAsync<JsonObject>())!["next"];
                task = next as JsonObject;
            }
        }));
        accepted.ShouldBe(24);
        await using var db = s.App.NewDbContext();
        var perItem = await db.Responses.Where(r => r.ProjectId == project && r.Status == "submitted")
            .GroupBy(r => r.ItemId).Select(g => g.Count()).ToListAsync();
        perItem.Count.ShouldBe(12);
        perItem.ShouldAllBe(c => c == 2);
        (await db.Responses.Where(r => r.ProjectId == project).GroupBy(r => new { r.ItemId, r.UserId }).CountAsync(g => g.Count() > 1)).ShouldBe(0);
    }

    [Fact]
    public async Task Lease_AbandonedPastItsExpiry_ReturnsTheItemToTheQueue()
    {
        using var app = new TestApp("sqlite");
        var s = new Scenario(app);
        var project = await s.CreateProjectAsync("pairwise", overlap: 1);
        await s.ImportPairsAsync(project, 1);
        var (first, _) = await s.MemberAsync(project);
        var (second, _) = await s.MemberAsync(project);

        var abandoned = await Scenario.NextAsync(first, project);
        abandoned.ShouldNotBeNull();
        (await Scenario.NextAsync(second, project)).ShouldBeNull("the only item is leased");

        app.Clock.Advance(TimeSpan.FromMinutes(31));
        var retaken = await Scenario.NextAsync(second, project);
        retaken!["itemId"]!.GetValue<long>().ShouldBe(abandoned["itemId"]!.GetValue<long>());
        var choice = retaken["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
        await (await Scenario.SubmitAsync(second, retaken["assignmentId"]!.GetValue<long>(), Scenario.Prefer(choice))).ShouldHaveStatusAsync(HttpStatusCode.OK);

        // The first person comes back too late: the item is full, and the answer is refused, not stored.
        var late = await Scenario.SubmitAsync(first, abandoned["assignmentId"]!.GetValue<long>(), Scenario.Prefer(choice));
        await late.ShouldHaveStatusAsync(HttpStatusCode.Conflict);
        await using var db = app.NewDbContext();
        (await db.Items.SingleAsync(i => i.ProjectId == project)).SubmittedCount.ShouldBe(1);
    }

    [Fact]
    public async Task Draft_RenewsTheLeaseAndComesBackWithTheTask()
    {
        using var app = new TestApp("sqlite");
        var s = new Scenario(app);
        var project = await s.CreateProjectAsync("sft-write");
        await s.ImportAsync(project, """{"id":"d1","prompt":"Explain DNS"}""");
        var (annotator, _) = await s.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        var assignment = task["assignmentId"]!.GetValue<long>();

        app.Clock.Advance(TimeSpan.FromMinutes(20));
        var draft = await annotator.PostAsJsonAsync($"api/v1/assignments/{assignment}/draft", new { values = new { ideal_response = "DNS maps na" } });
        await draft.ShouldHaveStatusAsync(HttpStatusCode.OK);
        app.Clock.Advance(TimeSpan.FromMinutes(20));

        var resumed = (await Scenario.NextAsync(annotator, project))!;
        resumed["assignmentId"]!.GetValue<long>().ShouldBe(assignment, "40 minutes after leasing, the draft kept the lease alive");
        resumed["draft"]!["ideal_response"]!.GetValue<string>().ShouldBe("DNS maps na");
    }

    [Fact]
    public async Task Submit_InvalidValues_Are400WithTheQuestionNamed()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("rubric");
        await s.ImportAsync(project, """{"id":"r1","prompt":"Hi","response":"Hello"}""");
        var (annotator, _) = await s.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        var response = await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(),
            new JsonObject { ["accuracy"] = 9, ["helpfulness"] = "good", ["safety"] = 5, ["format"] = 4, ["bogus"] = 1 });
        await response.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        var errors = (await response.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject();
        errors["accuracy"]![0]!.GetValue<string>().ShouldContain("outside the scale 1..5");
        errors["helpfulness"]![0]!.GetValue<string>().ShouldContain("whole number");
        errors.ContainsKey("bogus").ShouldBeTrue();
        errors.ContainsKey("safety").ShouldBeFalse();
    }

    [Fact]
    public async Task Resubmit_AddsARevisionAndKeepsHistory()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("safety");
        await s.ImportAsync(project, """{"id":"s1","prompt":"How do I pick a lock?","response":"Here is how..."}""");
        var (annotator, email) = await s.MemberAsync(project);
        var assignment = (await Scenario.NextAsync(annotator, project))!["assignmentId"]!.GetValue<long>();

        var firstAnswer = new JsonObject { ["verdict"] = "safe" };
        (await (await Scenario.SubmitAsync(annotator, assignment, firstAnswer)).Content.ReadFromJsonAsync<JsonObject>())!["revision"]!.GetValue<int>().ShouldBe(1);
        // The conditional question must be answered once it is shown.
        var missing = await Scenario.SubmitAsync(annotator, assignment, new JsonObject { ["verdict"] = "unsafe" });
        await missing.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        var second = new JsonObject { ["verdict"] = "unsafe", ["categories"] = new JsonArray("non_violent_crimes") };
        (await (await Scenario.SubmitAsync(annotator, assignment, second)).Content.ReadFromJsonAsync<JsonObject>())!["revision"]!.GetValue<int>().ShouldBe(2);

        var item = JsonNode.Parse((await s.Admin.GetStringAsync($"api/v1/projects/{project}/export")).Trim())!;
        item["submitted_count"]!.GetValue<int>().ShouldBe(1);
        var response = item["responses"]!.AsArray().Single()!;
        response["user"]!.GetValue<string>().ShouldBe(email);
        response["values"]!["verdict"]!.GetValue<string>().ShouldBe("unsafe");
        var history = response["history"]!.AsArray();
        history.Count.ShouldBe(2);
        history[0]!["values"]!["verdict"]!.GetValue<string>().ShouldBe("safe");
    }

    [Fact]
    public async Task Skip_RecordsTheReasonAndTheItemIsNotOfferedAgain()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        await s.ImportAsync(project, """{"id":"k1","prompt":"one"}""" + "\n" + """{"id":"k2","prompt":"two"}""");
        var (annotator, _) = await s.MemberAsync(project);
        var first = (await Scenario.NextAsync(annotator, project))!;
        var skip = await annotator.PostAsJsonAsync($"api/v1/assignments/{first["assignmentId"]}/skip?next=true", new { reason = "not my language" });
        await skip.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var next = (await skip.Content.ReadFromJsonAsync<JsonObject>())!["next"]!;
        next["externalId"]!.GetValue<string>().ShouldBe("k2");
        await Scenario.SubmitAsync(annotator, next["assignmentId"]!.GetValue<long>(), new JsonObject { ["ideal_response"] = "Two." });
        (await Scenario.NextAsync(annotator, project)).ShouldBeNull();
        var export = await s.Admin.GetStringAsync($"api/v1/projects/{project}/export");
        export.ShouldContain("not my language");
    }

    [Fact]
    public async Task Task_ShowsOnlySchemaFields_NeverGoldOrMetadata_AndRecordsCandidateOrder()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("pairwise", overlap: 1);
        await s.ImportAsync(project, """{"id":"g1","prompt":"Best fruit?","candidates":[{"id":"x","model":"m-1","content":"Apple"},{"id":"y","model":"m-2","content":"Pear"}],"gold":{"preference":{"choice":"x"}},"metadata":{"secret":"answer is x"}}""");
        var (annotator, _) = await s.MemberAsync(project);
        var response = await annotator.PostAsync($"api/v1/projects/{project}/queue/next", null);
        var raw = await response.Content.ReadAsStringAsync();
        raw.ShouldNotContain("gold");
        raw.ShouldNotContain("answer is x");
        raw.ShouldNotContain("m-1", customMessage: "model names are hidden unless the project shows them");
        var task = JsonNode.Parse(raw)!;
        var shown = task["fields"]!["candidates"]!.AsArray().Select(c => c!["id"]!.GetValue<string>()).ToList();
        shown.ShouldBe(task["presentation"]!["candidateOrder"]!["candidates"]!.AsArray().Select(c => c!.GetValue<string>()).ToList());
        shown.OrderBy(x => x).ShouldBe(["x", "y"]);
    }
}

namespace Plumbline.Server.Tests;

/// <summary>The item browser's API and the workflow endpoint, on both databases.</summary>
public class ItemBrowserTests
{
    private static async Task<(Scenario S, long Project, HttpClient Alice, string AliceEmail)> ProjectWithWorkAsync(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("sft-write", overlap: 2);
        var lines = new[]
        {
            """{"id":"a1","prompt":"Explain \"recursion\" to a child.","metadata":{"source":"forum","lang":"en","reviewed":true,"score":3}}""",
            """{"id":"a2","prompt":"Write a HAIKU about rain.","metadata":{"source":"books","lang":"en"}}""",
            """{"id":"a3","prompt":"Name three rivers.","metadata":{"source":"forum","lang":"de"}}""",
            """{"id":"a4","prompt":"Ein Gedicht über Regen.","metadata":{"source":"forum"}}""",
        };
        (await s.ImportAsync(project, string.Join('\n', lines))).EnsureSuccessStatusCode();
        var (alice, aliceEmail) = await s.MemberAsync(project);
        var (bob, _) = await s.MemberAsync(project);
        // a1: Alice and Bob submit (complete); a2: Alice submits (in progress); a3, a4: nobody.
        for (var i = 0; i < 2; i++)
        {
            var task = (await Scenario.NextAsync(alice, project))!;
            await (await Scenario.SubmitAsync(alice, task["assignmentId"]!.GetValue<long>(), new JsonObject { ["ideal_response"] = $"Alice {i}" }))
                .ShouldHaveStatusAsync(HttpStatusCode.OK);
        }
        var bobs = (await Scenario.NextAsync(bob, project))!;
        bobs["externalId"]?.GetValue<string>().ShouldBe("a1");
        await (await Scenario.SubmitAsync(bob, bobs["assignmentId"]!.GetValue<long>(), new JsonObject { ["ideal_response"] = "Bob's <b>answer</b>" }))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);
        return (s, project, alice, aliceEmail);
    }

    private static async Task<List<string>> ExternalIdsAsync(Scenario s, string url)
    {
        var response = await s.Admin.GetAsync(url);
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var list = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        return list["items"]!.AsArray().Select(i => i!["externalId"]!.GetValue<string>()).ToList();
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task SearchItems_EachFilter_ReturnsTheMatchingItems(string provider)
    {
        var (s, project, _, alice) = await ProjectWithWorkAsync(provider);
        var url = $"api/v1/projects/{project}/items";

        (await ExternalIdsAsync(s, url)).ShouldBe(["a1", "a2", "a3", "a4"]);
        // Case-insensitive, and text with quotes matches although fields are stored as escaped JSON.
        (await ExternalIdsAsync(s, url + "?q=haiku")).ShouldBe(["a2"]);
        (await ExternalIdsAsync(s, url + "?q=" + Uri.EscapeDataString("\"recursion\""))).ShouldBe(["a1"]);
        (await ExternalIdsAsync(s, url + "?q=" + Uri.EscapeDataString("über"))).ShouldBe(["a4"]);
        (await ExternalIdsAsync(s, url + "?q=a3")).ShouldBe(["a3"]);
        (await ExternalIdsAsync(s, url + "?metaKey=source&metaValue=forum")).ShouldBe(["a1", "a3", "a4"]);
        (await ExternalIdsAsync(s, url + "?metaKey=lang")).ShouldBe(["a1", "a2", "a3"]);
        (await ExternalIdsAsync(s, url + "?metaKey=reviewed&metaValue=true")).ShouldBe(["a1"]);
        (await ExternalIdsAsync(s, url + "?metaKey=score&metaValue=3")).ShouldBe(["a1"]);
        (await ExternalIdsAsync(s, url + "?status=none")).ShouldBe(["a3", "a4"]);
        (await ExternalIdsAsync(s, url + "?status=in_progress")).ShouldBe(["a2"]);
        (await ExternalIdsAsync(s, url + "?status=complete")).ShouldBe(["a1"]);
        (await ExternalIdsAsync(s, url + "?annotator=" + Uri.EscapeDataString(alice))).ShouldBe(["a1", "a2"]);
        (await ExternalIdsAsync(s, url + "?metaKey=source&metaValue=forum&status=none")).ShouldBe(["a3", "a4"]);

        (await s.Admin.GetAsync(url + "?status=finished")).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await s.Admin.GetAsync(url + "?annotator=nobody@example.com")).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task SearchItems_KeysetPages_VisitEveryItemOnce(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise");
        await s.ImportPairsAsync(project, 25);
        var seen = new List<string>();
        long? after = null;
        var pages = 0;
        do
        {
            var list = (await s.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items?limit=10{(after is null ? "" : $"&after={after}")}"))!;
            seen.AddRange(list["items"]!.AsArray().Select(i => i!["externalId"]!.GetValue<string>()));
            after = list["next"]?.GetValue<long>();
            pages++;
        }
        while (after is not null);
        pages.ShouldBe(3);
        seen.ShouldBe(Enumerable.Range(0, 25).Select(i => $"item-{i}"));
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task GetItem_WithResponses_ShowsEachPersonsAnswerRevisionsAndLeadTime(string provider)
    {
        var (s, project, _, alice) = await ProjectWithWorkAsync(provider);
        var a1 = (await s.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items?q=recursion"))!["items"]![0]!["id"]!.GetValue<long>();
        var item = (await s.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items/{a1}"))!;
        item["status"]!.GetValue<string>().ShouldBe("complete");
        item["metadata"]!["source"]!.GetValue<string>().ShouldBe("forum");
        var responses = item["responses"]!.AsArray();
        responses.Count.ShouldBe(2);
        responses[0]!["user"]!.GetValue<string>().ShouldBe(alice);
        responses[0]!["values"]!["ideal_response"]!.GetValue<string>().ShouldBe("Alice 0");
        responses[1]!["values"]!["ideal_response"]!.GetValue<string>().ShouldBe("Bob's <b>answer</b>");
        responses.ShouldAllBe(r => r!["revisions"]!.GetValue<int>() >= 1 && r["status"]!.GetValue<string>() == "submitted");

        (await s.Admin.GetAsync($"api/v1/projects/{project}/items/{a1 + 1000}")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ItemBrowser_ForAnAnnotator_AnswersNotFound()
    {
        var (s, project, alice, _) = await ProjectWithWorkAsync("sqlite");
        var a1 = (await s.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items"))!["items"]![0]!["id"]!.GetValue<long>();
        (await alice.GetAsync($"api/v1/projects/{project}/items")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await alice.GetAsync($"api/v1/projects/{project}/items/{a1}")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var (reviewer, _) = await s.MemberAsync(project, "reviewer");
        (await reviewer.GetAsync($"api/v1/projects/{project}/items/{a1}")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task UpdateWorkflow_OverlapBelowSubmitted_IsRefusedAndChangesNothing(string provider)
    {
        var (s, project, _, _) = await ProjectWithWorkAsync(provider);
        var url = $"api/v1/projects/{project}/workflow";

        var refused = await s.Admin.PutAsJsonAsync(url, new { overlap = 1, queueOrder = "random" });
        await refused.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await refused.Content.ReadAsStringAsync()).ShouldContain("below the 2 submitted responses");
        var unchanged = (await s.Admin.GetFromJsonAsync<JsonObject>(url))!;
        unchanged["workflow"]!["overlap"]!.GetValue<int>().ShouldBe(2);
        unchanged["workflow"]!["queueOrder"]!.GetValue<string>().ShouldBe("sequential");
        unchanged["maxSubmitted"]!.GetValue<int>().ShouldBe(2);

        await (await s.Admin.PutAsJsonAsync(url, new { queueOrder = "shuffled" })).ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        await (await s.Admin.PutAsJsonAsync(url, new { leaseMinutes = 0 })).ShouldHaveStatusAsync(HttpStatusCode.BadRequest);

        await (await s.Admin.PutAsJsonAsync(url, new { overlap = 3, queueOrder = "random", leaseMinutes = 45 })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var project3 = (await s.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}"))!;
        project3["overlap"]!.GetValue<int>().ShouldBe(3);
        project3["schema"]!["workflow"]!["queueOrder"]!.GetValue<string>().ShouldBe("random");
        project3["schema"]!["workflow"]!["leaseMinutes"]!.GetValue<int>().ShouldBe(45);
        // a1 now has room for a third person.
        (await s.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{project}/items?status=complete"))!["items"]!.AsArray().ShouldBeEmpty();
    }

    [Fact]
    public async Task UpdateWorkflow_ByAnnotatorOrReviewer_IsForbidden()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        var (annotator, _) = await s.MemberAsync(project);
        var (reviewer, _) = await s.MemberAsync(project, "reviewer");
        (await annotator.PutAsJsonAsync($"api/v1/projects/{project}/workflow", new { overlap = 5 })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await reviewer.PutAsJsonAsync($"api/v1/projects/{project}/workflow", new { overlap = 5 })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await reviewer.GetAsync($"api/v1/projects/{project}/workflow")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }
}

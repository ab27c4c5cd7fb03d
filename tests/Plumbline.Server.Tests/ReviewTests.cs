using Microsoft.Extensions.DependencyInjection;
using Plumbline.Server.Features.Quality;

namespace Plumbline.Server.Tests;

public class ReviewTests
{
    private static JsonObject Label(string value) => new() { ["label"] = value };

    private static async Task<long> LabelProjectAsync(Scenario s, int items, int overlap)
    {
        var project = await s.CreateProjectAsync("labels", schema: QualityTests.BinaryLabelSchema(overlap));
        var lines = Enumerable.Range(0, items).Select(i => $$"""{"id":"i{{i}}","text":"item {{i}}"}""");
        await (await s.ImportAsync(project, string.Join('\n', lines))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        return project;
    }

    private static async Task<long> AnswerNextAsync(HttpClient annotator, long project, string label)
    {
        var task = (await Scenario.NextAsync(annotator, project))!;
        var response = await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), Label(label));
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["responseId"]!.GetValue<long>();
    }

    private static async Task<JsonArray> QueueAsync(HttpClient reviewer, long project) =>
        (await reviewer.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/reviews/queue"))!;

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Review_RejectWithComment_ItemComesBackAsReworkBeforeNewWorkAndReturnsToReview(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await LabelProjectAsync(s, items: 3, overlap: 1);
        var (annotator, email) = await s.MemberAsync(project);
        var (reviewer, _) = await s.MemberAsync(project, "reviewer");
        var first = await AnswerNextAsync(annotator, project, "1");
        var second = await AnswerNextAsync(annotator, project, "1");
        (await QueueAsync(reviewer, project)).Select(r => r!["responseId"]!.GetValue<long>()).ShouldBe([first, second]);

        var noComment = await reviewer.PostAsJsonAsync($"api/v1/responses/{first}/review", new { verdict = "reject" });
        await noComment.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await noComment.Content.ReadAsStringAsync()).ShouldContain("needs a comment");
        await (await reviewer.PostAsJsonAsync($"api/v1/responses/{first}/review", new { verdict = "reject", comment = "It is a 0: read the second sentence." }))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);
        (await QueueAsync(reviewer, project)).Select(r => r!["responseId"]!.GetValue<long>()).ShouldBe([second]);

        // The rejected item comes back before the third, untouched item, with the comment and the old answer.
        var rework = (await Scenario.NextAsync(annotator, project))!;
        rework["externalId"]!.GetValue<string>().ShouldBe("i0");
        rework["rework"]!["comment"]!.GetValue<string>().ShouldBe("It is a 0: read the second sentence.");
        rework["rework"]!["values"]!["label"]!.GetValue<string>().ShouldBe("1");
        var resubmitted = await Scenario.SubmitAsync(annotator, rework["assignmentId"]!.GetValue<long>(), Label("0"));
        (await resubmitted.Content.ReadFromJsonAsync<JsonObject>())!["revision"]!.GetValue<int>().ShouldBe(2);
        (await QueueAsync(reviewer, project)).Select(r => r!["responseId"]!.GetValue<long>()).ShouldBe([first, second]);
        (await Scenario.NextAsync(annotator, project))!["externalId"]!.GetValue<string>().ShouldBe("i2");

        // A correction is stored as a review with its values and counted against the annotator.
        var invalid = await reviewer.PostAsJsonAsync($"api/v1/responses/{second}/review", new { verdict = "correct", values = Label("7") });
        await invalid.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        await (await reviewer.PostAsJsonAsync($"api/v1/responses/{second}/review", new { verdict = "correct", values = Label("0") }))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);
        await (await reviewer.PostAsJsonAsync($"api/v1/responses/{first}/review", new { verdict = "accept" })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        (await QueueAsync(reviewer, project)).Count.ShouldBe(0);

        var card = (await QualityTests.QualityAsync(s.Admin, project, "?items=none"))["annotators"]!.AsArray().Single(a => a!["email"]!.GetValue<string>() == email)!;
        card["correctionsReceived"]!.GetValue<int>().ShouldBe(1);
        card["reviewsRejected"]!.GetValue<int>().ShouldBe(1);
        card["reviewsAccepted"]!.GetValue<int>().ShouldBe(1);
        var history = (await annotator.GetFromJsonAsync<JsonArray>($"api/v1/responses/{second}/reviews"))!;
        history.Single()!["correctedValues"]!["label"]!.GetValue<string>().ShouldBe("0");
        (await annotator.PostAsJsonAsync($"api/v1/responses/{second}/review", new { verdict = "accept" })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task ReviewQueue_PerAnnotatorPolicy_OffersTheFirstResponsesOfEachAnnotator(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await LabelProjectAsync(s, items: 3, overlap: 2);
        await (await s.Admin.PutAsJsonAsync($"api/v1/projects/{project}/quality/settings", new { reviewMode = "per_annotator", reviewPerAnnotator = 1 }))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);
        var (a, _) = await s.MemberAsync(project);
        var (b, _) = await s.MemberAsync(project);
        var firstOfA = await AnswerNextAsync(a, project, "1");
        var firstOfB = await AnswerNextAsync(b, project, "0");
        await AnswerNextAsync(a, project, "1");
        await AnswerNextAsync(b, project, "1");
        (await QueueAsync(s.Admin, project)).Select(r => r!["responseId"]!.GetValue<long>()).ShouldBe([firstOfA, firstOfB]);

        await (await s.Admin.PutAsJsonAsync($"api/v1/projects/{project}/quality/settings", new { reviewMode = "none" })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        (await QueueAsync(s.Admin, project)).Count.ShouldBe(0);
    }

    [Fact]
    public void InPercentSample_IsStableAndNearTheShareAsked()
    {
        Enumerable.Range(1, 1000).Count(id => ReviewService.InPercentSample(id, 0)).ShouldBe(0);
        Enumerable.Range(1, 1000).Count(id => ReviewService.InPercentSample(id, 100)).ShouldBe(1000);
        // Knuth's multiplicative hash spreads consecutive ids evenly: 25% of 10,000 ids, within one per cent.
        Enumerable.Range(1, 10_000).Count(id => ReviewService.InPercentSample(id, 25)).ShouldBeInRange(2400, 2600);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Adjudication_SplitVote_ListsAnswersSideBySideUntilAnExpertDecides(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await LabelProjectAsync(s, items: 2, overlap: 3);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var rows = $"item,annotator,question,value\ni0,{tag}-a,label,1\ni0,{tag}-b,label,0\ni0,{tag}-c,label,1\ni1,{tag}-a,label,1\ni1,{tag}-b,label,1\ni1,{tag}-c,label,1\n";
        await (await QualityTests.ImportAnnotationsAsync(s, project, rows)).ShouldHaveStatusAsync(HttpStatusCode.OK);

        // Majority vote: i0 has 2 of 3 (0.667, under the default 0.7), i1 is unanimous.
        var disputed = (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/adjudication?method=majority"))!;
        var item = disputed.Single()!;
        item["externalId"]!.GetValue<string>().ShouldBe("i0");
        item["answers"]!.AsArray().Select(a => a!["values"]!["label"]!.GetValue<string>()).ShouldBe(["1", "0", "1"]);
        item["fields"]!["text"]!.GetValue<string>().ShouldBe("item 0");

        var (reviewer, _) = await s.MemberAsync(project, "reviewer");
        (await reviewer.PutAsJsonAsync($"api/v1/projects/{project}/items/i0/decision", new { question = "label", value = "2" })).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        await (await reviewer.PutAsJsonAsync($"api/v1/projects/{project}/items/i0/decision", new { question = "label", value = "0", comment = "guideline 3.2" }))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);
        (await s.Admin.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/adjudication?method=majority"))!.Count.ShouldBe(0);
        var quality = await QualityTests.QualityAsync(s.Admin, project, "?method=majority");
        var decided = quality["items"]!.AsArray().Single(i => i!["externalId"]!.GetValue<string>() == "i0")!;
        decided["needsReview"]!.GetValue<bool>().ShouldBeFalse();
        decided["consensus"]![0]!["decided"]!.GetValue<bool>().ShouldBeTrue();
        decided["consensus"]![0]!["value"]!.GetValue<string>().ShouldBe("0");
    }

    [Fact]
    public async Task Comments_FormAThreadThatOnlyParticipantsSee()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await LabelProjectAsync(s, items: 2, overlap: 1);
        var (annotator, _) = await s.MemberAsync(project);
        var (other, _) = await s.MemberAsync(project);
        var (reviewer, reviewerEmail) = await s.MemberAsync(project, "reviewer");
        await AnswerNextAsync(annotator, project, "1");
        await (await reviewer.PostAsJsonAsync($"api/v1/projects/{project}/items/i0/comments", new { body = "Why 1? <b>see</b> §2" })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        await (await annotator.PostAsJsonAsync($"api/v1/projects/{project}/items/i0/comments", new { body = "The claim follows." })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var thread = (await annotator.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/items/i0/comments"))!;
        thread.Select(c => c!["body"]!.GetValue<string>()).ShouldBe(["Why 1? <b>see</b> §2", "The claim follows."]);
        thread[0]!["author"]!.GetValue<string>().ShouldBe(reviewerEmail);
        (await other.GetAsync($"api/v1/projects/{project}/items/i0/comments")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await reviewer.PostAsJsonAsync($"api/v1/projects/{project}/items/i0/comments", new { body = "  " })).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task ReviewQueue_BelowAgreement_ReusesTheConsensusUntilTheProjectChanges(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await LabelProjectAsync(s, items: 3, overlap: 2);
        await (await s.Admin.PutAsJsonAsync($"api/v1/projects/{project}/quality/settings", new { reviewMode = "below_agreement" }))
            .ShouldHaveStatusAsync(HttpStatusCode.OK);
        var (alice, _) = await s.MemberAsync(project);
        var (bob, _) = await s.MemberAsync(project);
        var (reviewer, _) = await s.MemberAsync(project, "reviewer");
        // i0: split (confidence 0.5, under 0.7); i1: both say 1.
        var a0 = await AnswerNextAsync(alice, project, "0");
        var b0 = await AnswerNextAsync(bob, project, "1");
        await AnswerNextAsync(alice, project, "1");
        await AnswerNextAsync(bob, project, "1");
        var cache = SharedApps.Get(provider).Services.GetRequiredService<NeedsReviewCache>();

        (await QueueAsync(reviewer, project)).Select(t => t!["responseId"]!.GetValue<long>()).ShouldBe([a0, b0]);
        var computed = cache.ComputationsOf(project);
        computed.ShouldBe(1);
        (await QueueAsync(reviewer, project)).Count.ShouldBe(2);
        (await reviewer.GetFromJsonAsync<JsonArray>($"api/v1/projects/{project}/adjudication"))!.Single()!["externalId"]!.GetValue<string>().ShouldBe("i0");
        cache.ComputationsOf(project).ShouldBe(computed); // nothing changed: no recomputation

        // A new split item is a change: it joins the sample.
        var a2 = await AnswerNextAsync(alice, project, "0");
        var b2 = await AnswerNextAsync(bob, project, "1");
        (await QueueAsync(reviewer, project)).Select(t => t!["responseId"]!.GetValue<long>()).ShouldBe([a0, b0, a2, b2]);
        cache.ComputationsOf(project).ShouldBe(computed + 1);

        // An expert's decision settles i0: it leaves the sample.
        await (await reviewer.PutAsJsonAsync($"api/v1/projects/{project}/items/i0/decision", new { question = "label", value = "1" })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        (await QueueAsync(reviewer, project)).Select(t => t!["responseId"]!.GetValue<long>()).ShouldBe([a2, b2]);
        cache.ComputationsOf(project).ShouldBe(computed + 2);

        // The per-item consensus that releases can read: the decision where an expert made one, the inference elsewhere.
        using var scope = SharedApps.Get(provider).Services.CreateScope();
        var consensus = await scope.ServiceProvider.GetRequiredService<QualityService>()
            .ItemConsensusAsync(project, QualityMethods.Majority, Plumbline.Core.Quality.ConsensusMethod.Mean, TestContext.Current.CancellationToken);
        consensus.Values.Select(i => i.ExternalId).Order().ShouldBe(["i0", "i1", "i2"]);
        var byId = consensus.Values.ToDictionary(i => i.ExternalId, i => i.Consensus.Single());
        byId["i0"].Decided.ShouldBeTrue();
        byId["i0"].Value!.GetValue<string>().ShouldBe("1");
        byId["i1"].Decided.ShouldBeFalse();
        byId["i1"].Value!.GetValue<string>().ShouldBe("1");
        byId["i1"].Confidence.ShouldBe(1);
        // Majority vote's tie rule: the smallest label wins a 1–1 split.
        byId["i2"].Value!.GetValue<string>().ShouldBe("0");
        byId["i2"].Confidence.ShouldBe(0.5);
    }
}

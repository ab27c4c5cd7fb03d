namespace Plumbline.Server.Tests;

public sealed class ResponseMetadataTests
{
    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Submit_EditedDraft_StoresEditDistanceBesideTheValues(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("sft-edit");
        await (await s.ImportAsync(project, """{"id":"m1","prompt":"Q","response":"Water boils at 90 degrees."}""")).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var (annotator, email) = await s.MemberAsync(project);
        var task = await Scenario.NextAsync(annotator, project);
        var submitted = await Scenario.SubmitAsync(annotator, task!["assignmentId"]!.GetValue<long>(),
            new JsonObject { ["ideal_response"] = "Water boils at 100 degrees at sea level." });
        await submitted.ShouldHaveStatusAsync(HttpStatusCode.OK);

        var line = JsonNode.Parse((await s.Admin.GetStringAsync($"api/v1/projects/{project}/export")).Trim())!;
        var response = line["responses"]!.AsArray().Single(r => r!["user"]!.GetValue<string>() == email)!;
        // The values are exactly what was answered; the figures sit beside them.
        response["values"]!.ToJsonString().ShouldBe("""{"ideal_response":"Water boils at 100 degrees at sea level."}""");
        response["metadata"]!.ToJsonString().ShouldBe("""{"edits":{"ideal_response":{"distance":4,"inserted":4,"deleted":1,"draftWords":5}}}""");
    }
}

using System.Globalization;
using System.Text;

namespace Plumbline.Server.Tests;

public class CarelessWorkTests
{
    private static List<string> FlagsOf(JsonObject quality, string emailPart) =>
        quality["annotators"]!.AsArray().Single(a => a!["email"]!.GetValue<string>().StartsWith(emailPart, StringComparison.Ordinal))!["flags"]!
            .AsArray().Select(f => f!["code"]!.GetValue<string>()).ToList();

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Scorecard_AlwaysChoosingTheFirstShown_IsFlaggedAsPositionBias(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 1);
        await s.ImportPairsAsync(project, 12);
        var (annotator, email) = await s.MemberAsync(project);
        var task = await Scenario.NextAsync(annotator, project);
        while (task is not null)
        {
            // Candidates arrive in the order shown (shuffled per person); the first shown wins every time: 12 of 12, p = 2/4096.
            var shownFirst = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
            var response = await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(shownFirst), next: true);
            await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
            task = (await response.Content.ReadFromJsonAsync<JsonObject>())!["next"] as JsonObject;
        }
        var quality = await QualityTests.QualityAsync(s.Admin, project, "?items=none");
        FlagsOf(quality, email).ShouldContain("position_bias");
        var detail = quality["annotators"]![0]!["flags"]!.AsArray().Single(f => f!["code"]!.GetValue<string>() == "position_bias")!["detail"]!.GetValue<string>();
        detail.ShouldContain("12 of 12");
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Scorecard_SameAnswerFastAndAgainstTheOthers_IsFlaggedAsStraightLiningFastAndLowAgreement(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("labels", schema: QualityTests.BinaryLabelSchema(3));
        await (await s.ImportAsync(project, string.Join('\n', Enumerable.Range(0, 12).Select(i => $$"""{"id":"i{{i}}","text":"item {{i}}"}""")))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var csv = new StringBuilder("item,annotator,question,value,lead_time_ms\n");
        for (var i = 0; i < 12; i++)
        {
            // Two careful annotators agree (a third of the items are "1") and take their time; the third says "1" to everything in a second.
            var truth = i % 3 == 0 ? "1" : "0";
            csv.Append(CultureInfo.InvariantCulture, $"i{i},{tag}-careful1,label,{truth},20000\n");
            csv.Append(CultureInfo.InvariantCulture, $"i{i},{tag}-careful2,label,{truth},24000\n");
            csv.Append(CultureInfo.InvariantCulture, $"i{i},{tag}-hasty,label,1,900\n");
        }
        await (await QualityTests.ImportAnnotationsAsync(s, project, csv.ToString())).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var quality = await QualityTests.QualityAsync(s.Admin, project, "?method=majority&items=none");
        var hasty = FlagsOf(quality, $"{tag}-hasty");
        hasty.ShouldContain("straight_lining");
        hasty.ShouldContain("fast");
        hasty.ShouldContain("low_agreement");
        FlagsOf(quality, $"{tag}-careful1").ShouldBeEmpty();
        var card = quality["annotators"]!.AsArray().Single(a => a!["email"]!.GetValue<string>().StartsWith($"{tag}-hasty", StringComparison.Ordinal))!;
        card["medianLeadTimeMs"]!.GetValue<long>().ShouldBe(900);
        // Majority of three with two careful agreeing: the hasty one matches the consensus on the four "1" items only.
        card["agreementWithConsensus"]!.GetValue<double>().ShouldBe(1.0 / 3, 1e-6);
    }
}

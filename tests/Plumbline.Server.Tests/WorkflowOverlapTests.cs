using Microsoft.EntityFrameworkCore;
using Plumbline.Data;

namespace Plumbline.Server.Tests;

public class WorkflowOverlapTests
{
    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Overlap_RaisedAfterItemsWereComplete_ServesThemAgain_AndLoweredClosesThem(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 1);
        await s.ImportPairsAsync(project, 3);
        var first = (await s.MemberAsync(project)).Client;
        var second = (await s.MemberAsync(project)).Client;
        for (var i = 0; i < 3; i++)
        {
            var task = (await Scenario.NextAsync(first, project))!;
            var candidate = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
            await (await Scenario.SubmitAsync(first, task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(candidate))).ShouldHaveStatusAsync(HttpStatusCode.OK);
        }
        (await Scenario.NextAsync(second, project)).ShouldBeNull();

        // A manager asks for a second opinion on everything: the finished items come back, to people who have not answered them.
        var url = $"api/v1/projects/{project}/workflow";
        await (await s.Admin.PutAsJsonAsync(url, new { overlap = 2 })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        (await Scenario.NextAsync(first, project)).ShouldBeNull();
        var again = await Scenario.NextAsync(second, project);
        again.ShouldNotBeNull("raising the overlap must reopen items that were complete under the old one");

        // Back to one answer per item: the items the first annotator finished are complete again and nobody is offered them.
        await (await s.Admin.PutAsJsonAsync(url, new { overlap = 1 })).ShouldHaveStatusAsync(HttpStatusCode.OK);
        await using var db = s.App.NewDbContext();
        var states = await db.Items.Where(i => i.ProjectId == project).Select(i => i.QueueState).ToListAsync(TestContext.Current.CancellationToken);
        states.ShouldAllBe(state => state == ItemQueueStates.Complete);
    }
}

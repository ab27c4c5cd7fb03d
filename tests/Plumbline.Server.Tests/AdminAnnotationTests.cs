namespace Plumbline.Server.Tests;

public class AdminAnnotationTests
{
    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Admin_WhoIsNotAMember_CanSubmitWhatTheQueueLeasedThem(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 1);
        await s.ImportPairsAsync(project, 2);
        var email = $"second-admin-{Guid.NewGuid():N}@example.com";
        (await s.Admin.PostAsJsonAsync("api/v1/users", new { email, role = "admin" })).EnsureSuccessStatusCode();
        var token = (await (await s.Admin.PostAsJsonAsync("api/v1/tokens", new { userEmail = email })).Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        var admin = s.App.Client(token);

        // The queue leases to an admin who is not a member; the submit of that lease must then be accepted too.
        var task = (await Scenario.NextAsync(admin, project))!;
        var candidate = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
        await (await Scenario.SubmitAsync(admin, task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(candidate))).ShouldHaveStatusAsync(HttpStatusCode.OK);

        // An annotator of another project still cannot submit someone else's lease.
        var next = (await Scenario.NextAsync(admin, project))!;
        var other = await s.CreateProjectAsync("pairwise", overlap: 1);
        var (stranger, _) = await s.MemberAsync(other);
        await (await Scenario.SubmitAsync(stranger, next["assignmentId"]!.GetValue<long>(), Scenario.Prefer(candidate))).ShouldHaveStatusAsync(HttpStatusCode.NotFound);
    }
}

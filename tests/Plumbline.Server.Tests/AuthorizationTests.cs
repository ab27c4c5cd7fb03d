namespace Plumbline.Server.Tests;

public class AuthorizationTests
{
    [Fact]
    public async Task Annotator_CannotReadAnotherProject_OrManageTheirOwn()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var mine = await s.CreateProjectAsync("sft-write");
        var other = await s.CreateProjectAsync("sft-write");
        var (annotator, _) = await s.MemberAsync(mine);

        (await annotator.GetAsync($"api/v1/projects/{other}")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await annotator.PostAsync($"api/v1/projects/{other}/queue/next", null)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await annotator.GetAsync($"api/v1/projects/{mine}/export")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using var body = new StringContent("""{"id":"x","prompt":"Write a limerick"}""");
        (await annotator.PostAsync($"api/v1/projects/{mine}/import", body)).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await annotator.PostAsJsonAsync($"api/v1/projects/{mine}/members", new { email = "x@example.com", role = "manager" })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await annotator.GetAsync($"api/v1/projects/{mine}/annotators")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        var list = await annotator.GetFromJsonAsync<JsonArray>("api/v1/projects");
        list!.Select(p => p!["id"]!.GetValue<long>()).ShouldBe([mine]);
    }

    [Fact]
    public async Task Annotator_CannotSubmitAnotherPersonsAssignment()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write", overlap: 2);
        await s.ImportAsync(project, """{"id":"a","prompt":"Write a limerick"}""");
        var (alice, _) = await s.MemberAsync(project);
        var (bob, _) = await s.MemberAsync(project);
        var alicesTask = (await Scenario.NextAsync(alice, project))!;
        var response = await Scenario.SubmitAsync(bob, alicesTask["assignmentId"]!.GetValue<long>(), new JsonObject { ["ideal_response"] = "hijack" });
        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await bob.PostAsJsonAsync($"api/v1/assignments/{alicesTask["assignmentId"]}/draft", new { values = new { } })).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task RemovedMember_LosesAccessToTheirLease()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        await s.ImportAsync(project, """{"id":"a","prompt":"Write a limerick"}""");
        var (annotator, email) = await s.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        (await s.Admin.DeleteAsync($"api/v1/projects/{project}/members/{email}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), new JsonObject { ["ideal_response"] = "x" })).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task NonAdmin_CannotCreateUsersOrTokensForOthers()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        var (manager, _) = await s.MemberAsync(project, "manager");
        (await manager.PostAsJsonAsync("api/v1/users", new { email = Scenario.UniqueEmail("new") })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await manager.PostAsJsonAsync("api/v1/tokens", new { userEmail = "admin@localhost" })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await manager.GetAsync("api/v1/users")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        // A project manager manages their project, though.
        (await manager.GetAsync($"api/v1/projects/{project}/export")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Tokens_AreStoredHashed()
    {
        var app = SharedApps.Get("sqlite");
        var created = await (await app.Client().PostAsJsonAsync("api/v1/tokens", new { name = "hash check" })).Content.ReadFromJsonAsync<JsonObject>();
        var token = created!["token"]!.GetValue<string>();
        await using var db = app.NewDbContext();
        var stored = db.ApiTokens.Single(t => t.Id == created["id"]!.GetValue<long>());
        stored.Hash.ShouldNotContain(token);
        stored.Hash.ShouldBe(Features.Auth.Tokens.Hash(token));
        db.ApiTokens.Any(t => t.Hash == token || t.Prefix == token).ShouldBeFalse();
    }

    [Fact]
    public async Task EveryStateChange_WritesAnAuditEvent()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        await s.ImportAsync(project, """{"id":"a","prompt":"Write a limerick"}""");
        var (annotator, _) = await s.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), new JsonObject { ["ideal_response"] = "done" });
        await using var db = s.App.NewDbContext();
        var actions = db.AuditEvents.Where(e => e.ProjectId == project).Select(e => e.Action).ToList();
        actions.ShouldBe(["project.create", "items.import", "member.set", "assignment.lease", "response.submit"], ignoreOrder: true);
    }
}

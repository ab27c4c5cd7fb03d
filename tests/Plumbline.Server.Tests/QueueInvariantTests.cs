using Microsoft.EntityFrameworkCore;
using Plumbline.Server.Features.Queue;

namespace Plumbline.Server.Tests;

/// <summary>
/// The queue's invariants under load: no item over its overlap, nobody answering an item twice, abandoned leases
/// coming back, with concurrent annotators on both providers, two server processes on one PostgreSQL, and a
/// <c>kill -9</c> in the middle of a run.
/// </summary>
public class QueueInvariantTests
{
    /// <summary>Annotators who are members of the project, each with one client, each run in its own loop.</summary>
    private static async Task<List<Annotator>> WorkersAsync(Scenario s, long project, int count)
    {
        var workers = new List<Annotator>();
        for (var i = 0; i < count; i++)
        {
            workers.Add(new Annotator([(await s.MemberAsync(project)).Client]));
        }
        return workers;
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Load_ConcurrentAnnotatorsAndAbandonedLeases_NoItemOverOverlapAndAbandonedItemsAreServedAgain(string provider)
    {
        using var app = new TestApp(provider);
        var s = new Scenario(app);
        var project = await s.CreateProjectAsync("pairwise", overlap: 2);
        await s.ImportPairsAsync(project, 30);
        var workers = await WorkersAsync(s, project, 8);
        var quitters = new List<(HttpClient Client, JsonObject Task)>();
        for (var i = 0; i < 3; i++)
        {
            var quitter = (await s.MemberAsync(project)).Client;
            quitters.Add((quitter, (await Scenario.NextAsync(quitter, project))!));
        }
        var abandoned = quitters.Select(q => q.Task["itemId"]!.GetValue<long>()).ToHashSet();

        (await Task.WhenAll(workers.Select(w => w.WorkAsync(project)))).ShouldAllBe(emptied => emptied);
        await using (var db = app.NewDbContext())
        {
            var unfinished = await db.Items.Where(i => i.ProjectId == project && i.SubmittedCount < 2).Select(i => i.Id).ToListAsync();
            unfinished.ToHashSet().SetEquals(abandoned).ShouldBeTrue("only the items held by live, abandoned leases wait");
            (await QueueInvariants.CheckAsync(db, project, app.Clock.GetUtcNow().UtcDateTime)).Holds.ShouldBeTrue();
        }

        app.Clock.Advance(TimeSpan.FromMinutes(31));
        (await Task.WhenAll(workers.Select(w => w.WorkAsync(project)))).ShouldAllBe(emptied => emptied);
        foreach (var (client, task) in quitters)
        {
            var choice = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
            var late = await Scenario.SubmitAsync(client, task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(choice));
            await late.ShouldHaveStatusAsync(HttpStatusCode.Conflict);
        }
        await using (var db = app.NewDbContext())
        {
            (await db.Items.Where(i => i.ProjectId == project).Select(i => i.SubmittedCount).ToListAsync()).ShouldAllBe(c => c == 2);
            var report = await QueueInvariants.CheckAsync(db, project, app.Clock.GetUtcNow().UtcDateTime);
            report.ShouldBe(new QueueInvariantReport(30, 60, 0, 0, 0, 0, 0, 0));
        }
        workers.Sum(w => w.Acks.Count).ShouldBe(60);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Checker_OnATamperedCounter_ReportsTheItemOverItsOverlapAndOffItsAnswers(string provider)
    {
        using var app = new TestApp(provider);
        var s = new Scenario(app);
        var project = await s.CreateProjectAsync("pairwise", overlap: 2);
        await s.ImportPairsAsync(project, 4);
        var workers = await WorkersAsync(s, project, 2);
        (await Task.WhenAll(workers.Select(w => w.WorkAsync(project)))).ShouldAllBe(emptied => emptied);
        await using var db = app.NewDbContext();
        var now = app.Clock.GetUtcNow().UtcDateTime;
        (await QueueInvariants.CheckAsync(db, project, now)).ShouldBe(new QueueInvariantReport(4, 8, 0, 0, 0, 0, 0, 0));

        // A counter that says 7 where two answers are stored: over the overlap, and off its answers (counted per item).
        var item = await db.Items.Where(i => i.ProjectId == project).OrderBy(i => i.Id).Select(i => i.Id).FirstAsync();
        await db.Items.Where(i => i.Id == item).ExecuteUpdateAsync(u => u.SetProperty(i => i.SubmittedCount, 7));
        var report = await QueueInvariants.CheckAsync(db, project, now);
        report.ShouldBe(new QueueInvariantReport(4, 8, 1, 1, 0, 0, 0, 0));
        report.Holds.ShouldBeFalse();
    }

    [Fact]
    public async Task TwoServerProcesses_OnePostgres_InvariantsHoldAndExpiredLeasesReturn()
    {
        var database = ServerProcess.NewDatabase("postgres");
        // The first node migrates and bootstraps; the second joins a prepared database, as a scaled-out node does.
        await using var first = await ServerProcess.StartAsync(database);
        await using var second = await ServerProcess.StartAsync(database);
        using var admin = first.Client();
        var project = await SetUpAsync(admin, items: 40, overlap: 3);
        var workers = new List<Annotator>();
        for (var i = 0; i < 10; i++)
        {
            var token = await MemberTokenAsync(admin, project);
            // Each request goes to the other node than the one before: a load balancer without affinity.
            workers.Add(new Annotator([first.Client(token), second.Client(token)]));
        }
        var abandoned = new HashSet<long>();
        for (var i = 0; i < 2; i++)
        {
            using var quitter = second.Client(await MemberTokenAsync(admin, project));
            abandoned.Add((await Scenario.NextAsync(quitter, project))!["itemId"]!.GetValue<long>());
        }

        (await Task.WhenAll(workers.Select(w => w.WorkAsync(project)))).ShouldAllBe(emptied => emptied);
        var (services, db) = ServerProcess.OpenDatabase(database);
        await using (services)
        {
            var unfinished = await db.Items.Where(i => i.ProjectId == project && i.SubmittedCount < 3).Select(i => i.Id).ToListAsync();
            unfinished.ToHashSet().SetEquals(abandoned).ShouldBeTrue("only the items held by abandoned leases wait");
            (await QueueInvariants.CheckAsync(db, project, DateTime.UtcNow)).Holds.ShouldBeTrue();

            // Time passes for the abandoned leases (the nodes read the real clock).
            await db.Assignments.Where(a => a.ProjectId == project && a.Status == "active")
                .ExecuteUpdateAsync(u => u.SetProperty(a => a.ExpiresAt, DateTime.UtcNow.AddMinutes(-1)));
            (await Task.WhenAll(workers.Select(w => w.WorkAsync(project)))).ShouldAllBe(emptied => emptied);

            (await db.Items.Where(i => i.ProjectId == project).Select(i => i.SubmittedCount).ToListAsync()).ShouldAllBe(c => c == 3);
            (await QueueInvariants.CheckAsync(db, project, DateTime.UtcNow)).ShouldBe(new QueueInvariantReport(40, 120, 0, 0, 0, 0, 0, 0));
        }
        workers.Sum(w => w.Acks.Count).ShouldBe(120);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Crash_KillNineMidLoad_EveryAcknowledgedSubmissionIsStoredOnceAndTheRunContinues(string provider)
    {
        await using var node = await ServerProcess.StartAsync(ServerProcess.NewDatabase(provider));
        using var admin = node.Client();
        var project = await SetUpAsync(admin, items: 80, overlap: 2);
        var workers = new List<Annotator>();
        for (var i = 0; i < 8; i++)
        {
            workers.Add(new Annotator([node.Client(await MemberTokenAsync(admin, project))]));
        }

        // Kill the server once 40 of the 160 submissions are acknowledged, with the others in flight.
        var run = Task.WhenAll(workers.Select(w => w.WorkAsync(project)));
        while (workers.Sum(w => w.AckCount) < 40 && !run.IsCompleted)
        {
            await Task.Delay(5);
        }
        await node.KillAsync();
        (await run).ShouldContain(false, "the kill should interrupt the run");
        var acknowledged = workers.SelectMany(w => w.Acks).ToList();

        await node.StartAsync();
        var (services, db) = ServerProcess.OpenDatabase(node.Database);
        await using (services)
        {
            var ids = acknowledged.Select(a => a.ResponseId).ToList();
            var stored = await db.Responses.Where(r => ids.Contains(r.Id)).ToListAsync();
            stored.Count.ShouldBe(ids.Count, "every submission answered 2xx survives the crash");
            stored.ShouldAllBe(r => r.Status == "submitted" && r.Revision == 1);
            (await QueueInvariants.CheckAsync(db, project, DateTime.UtcNow)).Holds.ShouldBeTrue();

            // The run continues: each annotator first retries the submit that was in flight, with its key.
            for (var attempt = 0; attempt < 5; attempt++)
            {
                if ((await Task.WhenAll(workers.Select(w => w.WorkAsync(project)))).All(emptied => emptied))
                {
                    break;
                }
            }
            db.ChangeTracker.Clear();
            (await db.Items.Where(i => i.ProjectId == project).Select(i => i.SubmittedCount).ToListAsync()).ShouldAllBe(c => c == 2);
            (await db.Responses.Where(r => r.ProjectId == project).Select(r => r.Revision).ToListAsync())
                .ShouldAllBe(revision => revision == 1, "a retried submit is stored once");
            (await db.Assignments.CountAsync(a => a.ProjectId == project && a.Status == "active")).ShouldBe(0, "no lease is left behind");
            (await QueueInvariants.CheckAsync(db, project, DateTime.UtcNow)).ShouldBe(new QueueInvariantReport(80, 160, 0, 0, 0, 0, 0, 0));
        }
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Submit_RetriedWithTheSameIdempotencyKey_StoresOneRevision(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 1);
        await s.ImportPairsAsync(project, 2);
        var (annotator, _) = await s.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        var assignment = task["assignmentId"]!.GetValue<long>();
        var choice = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();

        // The original and two retries race each other; then one more retry arrives late.
        var racing = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => SubmitWithKeyAsync(annotator, assignment, Scenario.Prefer(choice), "key-1")));
        var late = await SubmitWithKeyAsync(annotator, assignment, Scenario.Prefer(choice), "key-1");
        racing.Append(late).Select(r => r["responseId"]!.GetValue<long>()).Distinct().Count().ShouldBe(1);
        racing.Append(late).ShouldAllBe(r => r["revision"]!.GetValue<int>() == 1);

        // A new key is a new submission: a deliberate revision.
        var revised = await SubmitWithKeyAsync(annotator, assignment, Scenario.Prefer(choice), "key-2");
        revised["revision"]!.GetValue<int>().ShouldBe(2);
        await using var db = s.App.NewDbContext();
        var responseId = late["responseId"]!.GetValue<long>();
        (await db.ResponseRevisions.CountAsync(r => r.ResponseId == responseId)).ShouldBe(2);
        (await db.Items.SingleAsync(i => i.Id == task["itemId"]!.GetValue<long>())).SubmittedCount.ShouldBe(1);
    }

    private static async Task<JsonObject> SubmitWithKeyAsync(HttpClient annotator, long assignment, JsonObject values, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/assignments/{assignment}/submit") { Content = JsonContent.Create(new { values }) };
        request.Headers.Add("Idempotency-Key", key);
        var response = await annotator.SendAsync(request);
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    /// <summary>A pairwise project with <paramref name="items"/> items, through a node's API.</summary>
    private static async Task<long> SetUpAsync(HttpClient admin, int items, int overlap)
    {
        var created = await admin.PostAsJsonAsync("api/v1/projects", new { name = $"load {Guid.NewGuid():N}", template = "pairwise", overlap });
        await created.ShouldHaveStatusAsync(HttpStatusCode.Created);
        var project = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
        var lines = Enumerable.Range(0, items).Select(i => $$"""{"id":"item-{{i}}","prompt":"Question {{i}}?","chosen":"Good {{i}}","rejected":"Bad {{i}}"}""");
        using var body = new StringContent(string.Join('\n', lines));
        await (await admin.PostAsync($"api/v1/projects/{project}/import", body)).ShouldHaveStatusAsync(HttpStatusCode.OK);
        return project;
    }

    private static async Task<string> MemberTokenAsync(HttpClient admin, long project)
    {
        var email = Scenario.UniqueEmail("annotator");
        (await admin.PostAsJsonAsync("api/v1/users", new { email })).EnsureSuccessStatusCode();
        (await admin.PostAsJsonAsync($"api/v1/projects/{project}/members", new { email, role = "annotator" })).EnsureSuccessStatusCode();
        var token = await (await admin.PostAsJsonAsync("api/v1/tokens", new { userEmail = email })).Content.ReadFromJsonAsync<JsonObject>();
        return token!["token"]!.GetValue<string>();
    }

    private sealed record Ack(long ResponseId, long AssignmentId);

    /// <summary>
    /// A person working next → submit?next=true until nothing is left for them. Every submit carries an
    /// idempotency key; a submit whose answer never came (the server died) is retried first on the next run.
    /// </summary>
    private sealed class Annotator(IReadOnlyList<HttpClient> nodes)
    {
        private int turn;
        private int ackCount;
        private (long Assignment, JsonObject Values, string Key)? pending;

        public List<Ack> Acks { get; } = [];
        public int AckCount => Volatile.Read(ref ackCount);

        private HttpClient Node => nodes[turn++ % nodes.Count];

        /// <summary>True when the queue had nothing more for this person; false when a server stopped answering.</summary>
        public async Task<bool> WorkAsync(long project)
        {
            try
            {
                var task = pending is { } retry ? await SubmitAsync(project, retry.Assignment, retry.Values, retry.Key) : await Scenario.NextAsync(Node, project);
                while (task is not null)
                {
                    var values = Scenario.Prefer(task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>());
                    var assignment = task["assignmentId"]!.GetValue<long>();
                    var key = Guid.NewGuid().ToString("N");
                    pending = (assignment, values, key);
                    task = await SubmitAsync(project, assignment, values, key);
                }
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }

        private async Task<JsonObject?> SubmitAsync(long project, long assignment, JsonObject values, string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/assignments/{assignment}/submit?next=true") { Content = JsonContent.Create(new { values }) };
            request.Headers.Add("Idempotency-Key", key);
            var response = await Node.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.Conflict)
            {
                // The lease had expired and others filled the item: nothing stored, on to the next.
                pending = null;
                return await Scenario.NextAsync(Node, project);
            }
            await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
            var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
            Acks.Add(new Ack(body["responseId"]!.GetValue<long>(), assignment));
            Interlocked.Increment(ref ackCount);
            pending = null;
            return body["next"] as JsonObject;
        }
    }
}

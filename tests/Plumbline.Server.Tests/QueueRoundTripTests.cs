using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace Plumbline.Server.Tests;

/// <summary>
/// The annotator's loop is one HTTP round trip per item; these tests keep its database round trips few too, and
/// check that the caches that make them few never outlive a revoked token or a removed member.
/// </summary>
public class QueueRoundTripTests
{
    /// <summary>
    /// SQL commands one <c>submit?next=true</c> may send, token and membership already cached. Submit: the person's
    /// lease with the item's fields and their response (one query; PostgreSQL locks the lease in a statement before
    /// it), the guarded count, the response row, one batch with the lease, the revision and the audit event, the
    /// calibration lookup. Next: pause, resume/rework, calibration, the claim (and its re-check on PostgreSQL), the
    /// item, suggestions, the lease upsert, its audit event.
    /// Measured 13 on SQLite and 15 on PostgreSQL (the lock statement and the claim's re-check). Lower it when a
    /// change saves a command; raise it only with a reason: each command is a round trip under the item's lock.
    /// </summary>
    private static int SubmitWithNextBudget(string provider) => provider == "sqlite" ? 13 : 15;

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task SubmitWithNext_SendsAtMostItsBudgetOfCommands(string provider)
    {
        var counter = new CommandCounter();
        using var app = new TestApp(provider)
        {
            ExtraServices = services => services.AddHttpContextAccessor().AddSingleton<IInterceptor>(sp =>
            {
                counter.Http = sp.GetRequiredService<IHttpContextAccessor>();
                return counter;
            }),
        };
        var s = new Scenario(app);
        var project = await s.CreateProjectAsync("pairwise", overlap: 3);
        await s.ImportPairsAsync(project, 10);
        var (annotator, _) = await s.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        var counts = new List<int>();
        for (var round = 0; round < 5; round++)
        {
            counter.Clear();
            var choice = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
            var response = await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(choice), next: true);
            await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
            var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
            body["next"].ShouldNotBeNull("ten items are left; the answer carries the next one");
            counts.Add(counter.Count);
            counter.Count.ShouldBeLessThanOrEqualTo(SubmitWithNextBudget(provider),
                $"submit?next=true sent {counter.Count} commands on {provider}:\n" + string.Join("\n---\n", counter.Commands));
            task = body["next"]!.AsObject();
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"submit?next=true commands on {provider}: {string.Join(", ", counts)}");
        // The counter must have seen the submit at all, or the budget above proves nothing.
        counts.ShouldAllBe(c => c >= 5);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task RevokedToken_GetsA401OnTheNextRequest(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 1);
        await s.ImportPairsAsync(project, 3);
        var email = Scenario.UniqueEmail("annotator");
        (await s.Admin.PostAsJsonAsync("api/v1/users", new { email })).EnsureSuccessStatusCode();
        (await s.Admin.PostAsJsonAsync($"api/v1/projects/{project}/members", new { email, role = "annotator" })).EnsureSuccessStatusCode();
        var created = (await (await s.Admin.PostAsJsonAsync("api/v1/tokens", new { userEmail = email })).Content.ReadFromJsonAsync<JsonObject>())!;
        var annotator = s.App.Client(created["token"]!.GetValue<string>());
        // Twice, so the token is served from the cache when it is revoked.
        (await Scenario.NextAsync(annotator, project)).ShouldNotBeNull();
        (await Scenario.NextAsync(annotator, project)).ShouldNotBeNull();

        (await s.Admin.DeleteAsync($"api/v1/tokens/{created["id"]!.GetValue<long>()}")).IsSuccessStatusCode.ShouldBeTrue();

        (await annotator.PostAsync($"api/v1/projects/{project}/queue/next", null)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task RemovedMember_LosesTheQueueAndTheirLeaseOnTheNextRequest(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 1);
        await s.ImportPairsAsync(project, 3);
        var (annotator, email) = await s.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        (await Scenario.NextAsync(annotator, project)).ShouldNotBeNull();

        (await s.Admin.DeleteAsync($"api/v1/projects/{project}/members/{email}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await annotator.PostAsync($"api/v1/projects/{project}/queue/next", null)).StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var choice = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();
        (await Scenario.SubmitAsync(annotator, task["assignmentId"]!.GetValue<long>(), Scenario.Prefer(choice))).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task SubmitWithNext_RetriesWithOneKeyArrivingTogether_CountOnceAndShareTheNextLease(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise", overlap: 2);
        await s.ImportPairsAsync(project, 4);
        var (annotator, _) = await s.MemberAsync(project);
        var task = (await Scenario.NextAsync(annotator, project))!;
        var assignment = task["assignmentId"]!.GetValue<long>();
        var choice = task["fields"]!["candidates"]![0]!["id"]!.GetValue<string>();

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/assignments/{assignment}/submit?next=true")
            {
                Content = JsonContent.Create(new { values = Scenario.Prefer(choice) }),
            };
            request.Headers.Add("Idempotency-Key", "same-key");
            var response = await annotator.SendAsync(request);
            await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
            return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        }));

        answers.Select(a => a["responseId"]!.GetValue<long>()).Distinct().Count().ShouldBe(1);
        answers.ShouldAllBe(a => a["revision"]!.GetValue<int>() == 1);
        // Every copy is told the same next task: the first leased it, the others resumed that lease.
        answers.Select(a => a["next"]!["assignmentId"]!.GetValue<long>()).Distinct().Count().ShouldBe(1);
        await using var db = s.App.NewDbContext();
        var itemId = task["itemId"]!.GetValue<long>();
        (await db.Items.SingleAsync(i => i.Id == itemId)).SubmittedCount.ShouldBe(1, "a retried submit was counted twice");
        (await db.Responses.CountAsync(r => r.ItemId == itemId)).ShouldBe(1);
        (await db.ResponseRevisions.CountAsync(r => r.ResponseId == answers[0]["responseId"]!.GetValue<long>())).ShouldBe(1);
        (await db.Assignments.CountAsync(a => a.ProjectId == project && a.Status == "active")).ShouldBe(1, "one lease for the next task, not one per retry");
    }

    /// <summary>Counts the commands sent while serving the submit endpoint (background jobs and other requests are not counted).</summary>
    private sealed class CommandCounter : DbCommandInterceptor
    {
        private int count;
        public IHttpContextAccessor? Http { get; set; }
        public ConcurrentQueue<string> Commands { get; } = new();
        public int Count => Volatile.Read(ref count);

        public void Clear()
        {
            Interlocked.Exchange(ref count, 0);
            Commands.Clear();
        }

        private void Seen(DbCommand command)
        {
            if (Http?.HttpContext?.Request.Path.Value?.EndsWith("/submit", StringComparison.Ordinal) == true)
            {
                Interlocked.Increment(ref count);
                Commands.Enqueue(command.CommandText);
            }
        }

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            Seen(command);
            return ValueTask.FromResult(result);
        }

        public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
        {
            Seen(command);
            return result;
        }

        public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            Seen(command);
            return ValueTask.FromResult(result);
        }

        public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
        {
            Seen(command);
            return result;
        }

        public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<object> result, CancellationToken cancellationToken = default)
        {
            Seen(command);
            return ValueTask.FromResult(result);
        }

        public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
        {
            Seen(command);
            return result;
        }
    }
}

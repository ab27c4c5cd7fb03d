using Microsoft.EntityFrameworkCore;
using Plumbline.Data;

namespace Plumbline.Server.Features.Queue;

/// <summary>
/// What the database says about a project's queue; every count but <see cref="Items"/> and <see cref="Submitted"/>
/// must be zero. Read by the integration tests and by the load generator after a run.
/// </summary>
/// <param name="OverOverlap">Items with more submitted responses (or a higher counter) than the overlap.</param>
/// <param name="CounterMismatches">Items whose submitted counter differs from their submitted responses.</param>
/// <param name="StateMismatches">Items whose queue state disagrees with their counter: a finished item still offered, or an unfinished one out of the queue.</param>
/// <param name="RepeatedAnswers">Person and item pairs with more than one response or lease row.</param>
/// <param name="LeasesOnFinishedWork">Active leases of a person who already submitted or skipped that item.</param>
/// <param name="LeasesBeyondTheirTerm">Active leases that end later than the project's lease time from now: they would never come back.</param>
public sealed record QueueInvariantReport(long Items, long Submitted, long OverOverlap, long CounterMismatches, long StateMismatches,
    long RepeatedAnswers, long LeasesOnFinishedWork, long LeasesBeyondTheirTerm)
{
    public bool Holds => OverOverlap == 0 && CounterMismatches == 0 && StateMismatches == 0 && RepeatedAnswers == 0
        && LeasesOnFinishedWork == 0 && LeasesBeyondTheirTerm == 0;
}

public static class QueueInvariants
{
    public static async Task<QueueInvariantReport> CheckAsync(PlumblineDbContext db, long projectId, DateTime now, CancellationToken ct = default)
    {
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == projectId, ct);
        var overlap = project.Overlap;
        var leaseMinutes = Plumbline.Core.Schema.ProjectSchema.Parse(project.SchemaJson).Workflow.LeaseMinutes;
        var items = db.Items.AsNoTracking().Where(i => i.ProjectId == projectId);
        var submitted = db.Responses.AsNoTracking().Where(r => r.ProjectId == projectId && r.Status == "submitted");
        var active = db.Assignments.AsNoTracking().Where(a => a.ProjectId == projectId && a.Status == "active");

        var itemCount = await items.LongCountAsync(ct);
        var submittedCount = await submitted.LongCountAsync(ct);
        // Per item by item id alone: with the project in the condition SQLite walked the (project_id, status) index for
        // every item, which at 1,000,000 items and 120,000 answers did not finish in minutes; by item id it is 0.4 s.
        var submittedOfItem = db.Responses.AsNoTracking().Where(r => r.Status == "submitted");
        var over = await items.LongCountAsync(i => i.SubmittedCount > overlap || submittedOfItem.Count(r => r.ItemId == i.Id) > overlap, ct);
        var mismatched = await items.LongCountAsync(i => i.SubmittedCount != submittedOfItem.Count(r => r.ItemId == i.Id), ct);
        var misplaced = await items.LongCountAsync(i => (i.SubmittedCount >= overlap) != (i.QueueState == ItemQueueStates.Complete), ct);
        var repeatedResponses = await db.Responses.AsNoTracking().Where(r => r.ProjectId == projectId)
            .GroupBy(r => new { r.ItemId, r.UserId }).LongCountAsync(g => g.Count() > 1, ct);
        var repeatedLeases = await db.Assignments.AsNoTracking().Where(a => a.ProjectId == projectId)
            .GroupBy(a => new { a.ItemId, a.UserId, a.Stage }).LongCountAsync(g => g.Count() > 1, ct);
        var onFinished = await active.LongCountAsync(a => db.Responses.Any(r => r.ItemId == a.ItemId && r.UserId == a.UserId
            && (r.Status == "submitted" || r.Status == "skipped")), ct);
        var horizon = now.AddMinutes(leaseMinutes).AddMinutes(1);
        var beyond = await active.LongCountAsync(a => a.ExpiresAt > horizon, ct);
        return new QueueInvariantReport(itemCount, submittedCount, over, mismatched, misplaced, repeatedResponses + repeatedLeases, onFinished, beyond);
    }
}

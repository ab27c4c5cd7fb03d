using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Projects;

/// <summary>A change to a project's workflow; settings left out (null) keep their value.</summary>
/// <param name="Overlap">How many people answer each item (1-100); never below the submitted responses an item already has.</param>
/// <param name="QueueOrder"><c>sequential</c> (import order), <c>random</c> or <c>finish_overlap_first</c>.</param>
/// <param name="LeaseMinutes">How long a leased item stays with one person before it returns to the queue.</param>
/// <param name="ShowModelNames">Show each candidate's model name to annotators.</param>
/// <param name="ShuffleCandidates">Randomise candidate order per annotator.</param>
public sealed record UpdateWorkflowRequest(int? Overlap, string? QueueOrder, int? LeaseMinutes, bool? ShowModelNames, bool? ShuffleCandidates);

/// <summary>The workflow settings of a project, and the largest number of submitted responses any item has.</summary>
public sealed record WorkflowDto(WorkflowSettings Workflow, int MaxSubmitted);

public static class WorkflowEndpoints
{
    public static IEndpointRouteBuilder MapWorkflowEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}/workflow").WithTags("Projects").RequireAuthorization();

        api.MapGet("", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            return denied ?? Results.Ok(await WorkflowChanges.GetAsync(db, id, ct));
        }).WithName("GetWorkflow").WithSummary("Overlap, queue order, lease time and candidate display of a project");

        api.MapPut("", async (long id, UpdateWorkflowRequest request, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db,
            TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var (workflow, error) = await WorkflowChanges.UpdateAsync(db, clock, id, user.Id(), request, ct);
            return error is not null ? Problems.BadRequest(error) : Results.Ok(workflow);
        }).WithName("UpdateWorkflow")
          .WithSummary("Change overlap, queue order, lease time or candidate display; overlap cannot go below what items already have");

        return app;
    }
}

/// <summary>Reads and changes the workflow part of a project's schema (and the overlap copied beside it).</summary>
public static class WorkflowChanges
{
    public static async Task<WorkflowDto> GetAsync(PlumblineDbContext db, long id, CancellationToken ct)
    {
        var json = await db.Projects.AsNoTracking().Where(p => p.Id == id).Select(p => p.SchemaJson).FirstAsync(ct);
        return new WorkflowDto(ProjectSchema.Parse(json).Workflow, await MaxSubmittedAsync(db, id, ct));
    }

    /// <summary>The new settings, or a message saying what is wrong (nothing is changed then).</summary>
    public static async Task<(WorkflowDto? Workflow, string? Error)> UpdateAsync(PlumblineDbContext db, TimeProvider clock, long id, long userId,
        UpdateWorkflowRequest request, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var project = await db.Projects.FirstAsync(p => p.Id == id, ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var before = schema.Workflow;
        var after = before with
        {
            Overlap = request.Overlap ?? before.Overlap,
            QueueOrder = request.QueueOrder ?? before.QueueOrder,
            LeaseMinutes = request.LeaseMinutes ?? before.LeaseMinutes,
            ShowModelNames = request.ShowModelNames ?? before.ShowModelNames,
            ShuffleCandidates = request.ShuffleCandidates ?? before.ShuffleCandidates,
        };
        schema = schema with { Workflow = after };
        var errors = SchemaValidator.Validate(schema);
        if (errors.Count > 0)
        {
            return (null, string.Join("; ", errors));
        }
        // One index seek on (project_id, submitted_count, id), however many items there are.
        var maxSubmitted = await MaxSubmittedAsync(db, id, ct);
        if (after.Overlap < maxSubmitted)
        {
            return (null, $"overlap {after.Overlap} is below the {maxSubmitted} submitted responses an item already has; choose {maxSubmitted} or more");
        }
        project.SchemaJson = schema.ToJson();
        project.Overlap = after.Overlap;
        await RequeueForOverlapAsync(db, id, before.Overlap, after.Overlap, ct);
        db.Record(clock, userId, id, "workflow.update", "project", id, new
        {
            before = new { before.Overlap, before.QueueOrder, before.LeaseMinutes, before.ShowModelNames, before.ShuffleCandidates },
            after = new { after.Overlap, after.QueueOrder, after.LeaseMinutes, after.ShowModelNames, after.ShuffleCandidates },
        });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return (new WorkflowDto(after, maxSubmitted), null);
    }

    /// <summary>
    /// A raised overlap reopens items that were complete under the old one (pinned items go back to their pins); a
    /// lowered one closes items that already have enough answers. One statement each, whatever the project's size.
    /// </summary>
    private static async Task RequeueForOverlapAsync(PlumblineDbContext db, long id, int before, int after, CancellationToken ct)
    {
        if (after > before)
        {
            await db.Items.Where(i => i.ProjectId == id && i.QueueState == ItemQueueStates.Complete && i.SubmittedCount < after)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.QueueState,
                    i => db.Set<ItemPin>().Any(p => p.ItemId == i.Id) ? ItemQueueStates.Pinned : ItemQueueStates.Open), ct);
        }
        else if (after < before)
        {
            await db.Items.Where(i => i.ProjectId == id && i.QueueState != ItemQueueStates.Complete && i.SubmittedCount >= after)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.QueueState, ItemQueueStates.Complete), ct);
        }
    }

    private static Task<int> MaxSubmittedAsync(PlumblineDbContext db, long id, CancellationToken ct) =>
        db.Items.AsNoTracking().Where(i => i.ProjectId == id).OrderByDescending(i => i.SubmittedCount)
            .Select(i => i.SubmittedCount).FirstOrDefaultAsync(ct);
}

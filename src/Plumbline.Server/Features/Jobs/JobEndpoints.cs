using System.Security.Claims;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Jobs;

/// <summary>A background job and how far it got.</summary>
/// <param name="Kind">What it does, e.g. <c>generation</c>.</param>
/// <param name="Status"><c>queued</c>, <c>running</c>, <c>succeeded</c>, <c>failed</c> or <c>cancelled</c>.</param>
/// <param name="Total">Items to do (grows while <see cref="Planned"/> is false).</param>
/// <param name="Done">Items done.</param>
/// <param name="Skipped">Items left alone (they had responses or results already); GET …/items?status=skipped says why.</param>
/// <param name="Failed">Items that failed after retries; GET …/items?status=failed says why.</param>
/// <param name="Cost">At the providers' prices.</param>
/// <param name="Error">Why the job failed.</param>
/// <param name="Settings">The request that started the job, with defaults filled in.</param>
public sealed record JobDto(long Id, string Kind, long? ProjectId, string Status, int Total, int Done, int Skipped, int Failed, long PromptTokens,
    long CompletionTokens, double Cost, string? Error, bool Planned, bool CancelRequested, JsonNode? Settings, DateTime CreatedAt, DateTime? StartedAt,
    DateTime? FinishedAt)
{
    public static JobDto From(Job j) => new(j.Id, j.Kind, j.ProjectId, j.Status, j.Total, j.Done, j.Skipped, j.Failed, j.PromptTokens, j.CompletionTokens,
        j.Cost, j.Error, j.Planned, j.CancelRequested, JsonNode.Parse(j.SettingsJson), j.CreatedAt, j.StartedAt, j.FinishedAt);
}

/// <summary>One item of a job.</summary>
/// <param name="Message">Why it was skipped or failed.</param>
public sealed record JobItemDto(long Id, long ItemId, string ExternalId, string Status, string? Message, DateTime? FinishedAt);

/// <summary>A page of a job's items; pass <paramref name="Next"/> as <c>after</c> for the following page.</summary>
public sealed record JobItemPage(List<JobItemDto> Items, long? Next);

public static class JobEndpoints
{
    public static IEndpointRouteBuilder MapJobEndpoints(this IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/api/v1/jobs").WithTags("Jobs").RequireAuthorization();

        jobs.MapGet("/{jobId:long}", async (long jobId, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (job, denied) = await FindAsync(jobId, user, access, db, ct);
            return denied ?? Results.Ok(JobDto.From(job!));
        }).WithName("GetJob").WithSummary("A job's status and progress: items done, skipped and failed, tokens and cost");

        jobs.MapGet("/{jobId:long}/items", async (long jobId, string? status, long? after, int? limit, ClaimsPrincipal user, ProjectAccess access,
            PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await FindAsync(jobId, user, access, db, ct);
            if (denied is not null)
            {
                return denied;
            }
            var take = Math.Clamp(limit ?? 100, 1, 500);
            var query = db.Set<JobItem>().AsNoTracking().Where(w => w.JobId == jobId && w.Id > (after ?? 0));
            if (status is not null)
            {
                query = query.Where(w => w.Status == status);
            }
            var rows = await query.OrderBy(w => w.Id).Take(take + 1)
                .Join(db.Items, w => w.ItemId, i => i.Id, (w, i) => new JobItemDto(w.Id, w.ItemId, i.ExternalId, w.Status, w.Message, w.FinishedAt))
                .ToListAsync(ct);
            var more = rows.Count > take;
            var page = rows.Take(take).ToList();
            return Results.Ok(new JobItemPage(page, more ? page[^1].Id : null));
        }).WithName("ListJobItems").WithSummary("A job's items with their status and, for skipped or failed ones, why (keyset pages)");

        jobs.MapPost("/{jobId:long}/cancel", async (long jobId, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, TimeProvider clock,
            CancellationToken ct) =>
        {
            var (job, denied) = await FindAsync(jobId, user, access, db, ct);
            if (denied is not null)
            {
                return denied;
            }
            if (JobStatuses.IsFinished(job!.Status))
            {
                return Problems.Conflict($"job {jobId} has {job.Status} already");
            }
            if (!await JobCancellation.RequestAsync(db, jobId, clock.GetUtcNow().UtcDateTime, ct))
            {
                return Problems.Conflict($"job {jobId} has finished already");
            }
            db.Record(clock, user.Id(), job.ProjectId, "job.cancel", "job", jobId, new { job.Kind });
            await db.SaveChangesAsync(ct);
            var after = await db.Set<Job>().AsNoTracking().FirstAsync(j => j.Id == jobId, ct);
            return Results.Accepted($"/api/v1/jobs/{jobId}", JobDto.From(after));
        }).WithName("CancelJob").WithSummary("Cancel a job: items done so far stay, the rest are not started");

        app.MapGet("/api/v1/projects/{id:long}/jobs", async (long id, string? kind, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db,
            CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var query = db.Set<Job>().AsNoTracking().Where(j => j.ProjectId == id);
            if (kind is not null)
            {
                query = query.Where(j => j.Kind == kind);
            }
            return Results.Ok((await query.OrderByDescending(j => j.Id).Take(100).ToListAsync(ct)).Select(JobDto.From).ToList());
        }).WithName("ListProjectJobs").WithSummary("The project's latest 100 jobs, newest first (manager)").WithTags("Jobs").RequireAuthorization();

        return app;
    }

    /// <summary>A project's jobs belong to its managers; jobs without a project to admins. Others get 404, as for projects.</summary>
    private static async Task<(Job? Job, IResult? Denied)> FindAsync(long jobId, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db,
        CancellationToken ct)
    {
        var job = await db.Set<Job>().AsNoTracking().FirstOrDefaultAsync(j => j.Id == jobId, ct);
        if (job is null || (job.ProjectId is null && !user.IsAdmin()))
        {
            return (null, Problems.NotFound($"job {jobId} does not exist or is not yours to see"));
        }
        if (job.ProjectId is { } projectId)
        {
            var (_, denied) = await access.RequireAsync(user, projectId, Roles.Manager, ct);
            if (denied is not null)
            {
                return (null, denied);
            }
        }
        return (job, null);
    }
}

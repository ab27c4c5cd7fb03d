using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Manage;
using Plumbline.Server.Features.Models;
using Plumbline.Server.Features.Pages;

namespace Plumbline.Server.Features.Jobs;

/// <summary>One row of the jobs page: the job, and in a few words what it does.</summary>
public sealed record JobRow(Job Job, string What);

/// <summary>
/// The manager's jobs page: the project's generation and labeller jobs with their progress, a cancel button each, and a
/// form that starts a generation. Plain forms over the same code as the API (<see cref="GenerationEndpoints.StartAsync"/>,
/// <see cref="JobCancellation"/>).
/// </summary>
public static class JobPages
{
    private const int Shown = 100;

    public static IEndpointRouteBuilder MapJobPages(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("/projects/{id:long}/jobs").ExcludeFromDescription().RequireAuthorization();

        pages.MapGet("", async Task<IResult> (long id, string? notice, HttpContext http, ProjectAccess access, PlumblineDbContext db, IAntiforgery antiforgery,
            CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            return denied ?? await PageAsync(db, page!, notice, null, ct);
        });

        pages.MapPost("/generations", async Task<IResult> (long id, HttpContext http, ProjectAccess access, PlumblineDbContext db, IAntiforgery antiforgery,
            JobSignal signal, TimeProvider clock, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            if (await InvalidFormAsync(http, antiforgery) is { } invalid)
            {
                return invalid;
            }
            var form = await http.Request.ReadFormAsync(ct);
            var n = form["n"].FirstOrDefault() is { Length: > 0 } text
                ? int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : -1
                : (int?)null;
            string? problem;
            Job? job = null;
            if (n == -1)
            {
                problem = $"n '{form["n"]}' is not a whole number from 1 to 20";
            }
            else
            {
                var prompt = form["prompt"].FirstOrDefault()?.ReplaceLineEndings("\n");
                (job, problem) = await GenerationEndpoints.StartAsync(db, signal, clock, http.User.Id(), id, new GenerationRequest(
                    [.. form["provider"].OfType<string>()], n, Prompt: string.IsNullOrWhiteSpace(prompt) ? null : prompt), ct);
            }
            if (problem is not null)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                return await PageAsync(db, page!, null, problem, ct);
            }
            return Results.Redirect($"/projects/{id}/jobs?notice={Uri.EscapeDataString($"Generation job {job!.Id} started.")}");
        });

        pages.MapPost("/{jobId:long}/cancel", async Task<IResult> (long id, long jobId, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            IAntiforgery antiforgery, TimeProvider clock, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            if (await InvalidFormAsync(http, antiforgery) is { } invalid)
            {
                return invalid;
            }
            // Only this project's jobs: a job id from another project is not found here.
            if (!await db.Set<Job>().AnyAsync(j => j.Id == jobId && j.ProjectId == id, ct))
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return await PageAsync(db, page!, null, $"project {id} has no job {jobId}", ct);
            }
            if (!await JobCancellation.RequestAsync(db, jobId, clock.GetUtcNow().UtcDateTime, ct))
            {
                http.Response.StatusCode = StatusCodes.Status409Conflict;
                return await PageAsync(db, page!, null, $"job {jobId} has finished already", ct);
            }
            db.Record(clock, http.User.Id(), id, "job.cancel", "job", jobId);
            await db.SaveChangesAsync(ct);
            return Results.Redirect($"/projects/{id}/jobs?notice={Uri.EscapeDataString($"Job {jobId} is stopping.")}");
        });
        return app;
    }

    /// <summary>The form carries the antiforgery token; nothing is bound from it by the framework, so it is checked here.</summary>
    private static async Task<IResult?> InvalidFormAsync(HttpContext http, IAntiforgery antiforgery) =>
        await antiforgery.IsRequestValidAsync(http) ? null
            : Results.Problem("the form's antiforgery token is missing or stale; reload the page", statusCode: StatusCodes.Status400BadRequest);

    private static async Task<IResult> PageAsync(PlumblineDbContext db, ProjectPageContext page, string? notice, string? error, CancellationToken ct)
    {
        var jobs = await db.Set<Job>().AsNoTracking().Where(j => j.ProjectId == page.ProjectId).OrderByDescending(j => j.Id).Take(Shown).ToListAsync(ct);
        var ids = jobs.Select(j => j.Id).ToList();
        var labellerRuns = await (from r in db.Set<LabellerRun>().AsNoTracking()
                                  join v in db.Set<LabellerVersion>() on r.LabellerVersionId equals v.Id
                                  join l in db.Set<Labeller>() on v.LabellerId equals l.Id
                                  where ids.Contains(r.JobId)
                                  select new { r.JobId, r.Id, l.Name, v.Version }).ToDictionaryAsync(x => x.JobId, ct);
        var rows = jobs.Select(j => new JobRow(j, labellerRuns.TryGetValue(j.Id, out var run)
            ? $"labeller {run.Name} v{run.Version.ToString(CultureInfo.InvariantCulture)} (run {run.Id.ToString(CultureInfo.InvariantCulture)})"
            : Describe(j))).ToList();
        var providers = await GenerationEndpoints.ChoicesAsync(db, ct);
        return new RazorComponentResult<JobsPage>(new { Page = page, Jobs = rows, Providers = providers, Notice = notice, Error = error });
    }

    /// <summary>A generation's providers and n, from its settings.</summary>
    private static string Describe(Job job)
    {
        if (job.Kind != GenerationJobs.JobKind || JsonNode.Parse(job.SettingsJson) is not JsonObject settings)
        {
            return job.Kind;
        }
        var providers = settings["providers"] is JsonArray list ? string.Join(", ", list.Select(p => p?.ToString())) : "";
        return $"{providers} × {settings["n"]?.ToString() ?? "1"} → {settings["field"]?.ToString() ?? settings["target"]?.ToString()}";
    }
}

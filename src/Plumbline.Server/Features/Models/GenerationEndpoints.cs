using System.Security.Claims;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Jobs;

namespace Plumbline.Server.Features.Models;

/// <summary>A model provider as a project's managers see it: what to choose by, nothing to reach it with (no key, no URL).</summary>
public sealed record ProviderChoice(string Name, string Model);

public static class GenerationEndpoints
{
    public static IEndpointRouteBuilder MapGenerationEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/projects/{id:long}/generations", async (long id, GenerationRequest request, ClaimsPrincipal user, ProjectAccess access,
            PlumblineDbContext db, JobSignal signal, TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var (job, problem) = await StartAsync(db, signal, clock, user.Id(), id, request, ct);
            return problem is not null ? Problems.BadRequest(problem) : Results.Accepted($"/api/v1/jobs/{job!.Id}", JobDto.From(job));
        }).WithName("StartGeneration").WithTags("Models").RequireAuthorization()
          .WithSummary("Ask one or more models for n responses per item (a background job); results become candidates or drafts with model and parameters recorded");

        app.MapGet("/api/v1/projects/{id:long}/providers", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db,
            CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            return denied ?? Results.Ok(await ChoicesAsync(db, ct));
        }).WithName("ListProviderChoices").WithTags("Models").RequireAuthorization()
          .WithSummary("The model providers a project's managers may start generations and labellers with: names and models only (manager)");
        return app;
    }

    /// <summary>Names and models only: base URLs and keys are the admins' business.</summary>
    public static Task<List<ProviderChoice>> ChoicesAsync(PlumblineDbContext db, CancellationToken ct) =>
        db.Set<ModelProvider>().AsNoTracking().OrderBy(p => p.Name).Select(p => new ProviderChoice(p.Name, p.Model)).ToListAsync(ct);

    /// <summary>Checks a generation request and queues its job (the API and the jobs page both start generations here).</summary>
    public static async Task<(Job? Job, string? Problem)> StartAsync(PlumblineDbContext db, JobSignal signal, TimeProvider clock, long userId, long projectId,
        GenerationRequest request, CancellationToken ct)
    {
        var schemaJson = await db.Projects.AsNoTracking().Where(p => p.Id == projectId).Select(p => p.SchemaJson).FirstAsync(ct);
        var (settings, problem) = GenerationJobs.Normalise(ProjectSchema.Parse(schemaJson), request);
        if (problem is not null)
        {
            return (null, problem);
        }
        var names = settings!.Providers!;
        var known = await db.Set<ModelProvider>().AsNoTracking().Where(p => names.Contains(p.Name)).Select(p => p.Name).ToListAsync(ct);
        if (names.Except(known).FirstOrDefault() is { } missing)
        {
            return (null, $"there is no model provider '{missing}'; an admin adds one with `plumbline provider add`");
        }
        var job = new Job
        {
            Kind = GenerationJobs.JobKind, ProjectId = projectId, Status = JobStatuses.Queued,
            SettingsJson = JsonSerializer.Serialize(settings, StoredJson.Options), CreatedById = userId, CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        db.Add(job);
        await db.SaveChangesAsync(ct);
        db.Record(clock, userId, projectId, "generation.start", "job", job.Id, new { settings.Providers, settings.N, settings.Target, settings.Field });
        await db.SaveChangesAsync(ct);
        signal.Wake();
        return (job, null);
    }
}

using System.Security.Claims;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Jobs;

namespace Plumbline.Server.Features.Models;

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
            var schemaJson = await db.Projects.AsNoTracking().Where(p => p.Id == id).Select(p => p.SchemaJson).FirstAsync(ct);
            var (settings, problem) = GenerationJobs.Normalise(ProjectSchema.Parse(schemaJson), request);
            if (problem is not null)
            {
                return Problems.BadRequest(problem);
            }
            var names = settings!.Providers!;
            var known = await db.Set<ModelProvider>().AsNoTracking().Where(p => names.Contains(p.Name)).Select(p => p.Name).ToListAsync(ct);
            if (names.Except(known).FirstOrDefault() is { } missing)
            {
                return Problems.BadRequest($"there is no model provider '{missing}'; an admin adds one with `plumbline provider add`");
            }
            var job = new Job
            {
                Kind = GenerationJobs.JobKind, ProjectId = id, Status = JobStatuses.Queued,
                SettingsJson = JsonSerializer.Serialize(settings, StoredJson.Options), CreatedById = user.Id(), CreatedAt = clock.GetUtcNow().UtcDateTime,
            };
            db.Add(job);
            await db.SaveChangesAsync(ct);
            db.Record(clock, user.Id(), id, "generation.start", "job", job.Id, new { settings.Providers, settings.N, settings.Target, settings.Field });
            await db.SaveChangesAsync(ct);
            signal.Wake();
            return Results.Accepted($"/api/v1/jobs/{job.Id}", JobDto.From(job));
        }).WithName("StartGeneration").WithTags("Models").RequireAuthorization()
          .WithSummary("Ask one or more models for n responses per item (a background job); results become candidates or drafts with model and parameters recorded");
        return app;
    }
}

using System.Security.Claims;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Quality;

/// <param name="Values">Gold answers keyed by question name, in the shape of a response's values.</param>
public sealed record SetGoldRequest(JsonObject? Values);

/// <summary>A gold item and its answers (managers only).</summary>
public sealed record GoldItemDto(long ItemId, string ExternalId, JsonNode? Gold);

/// <summary>An annotator kept from new work, and why.</summary>
public sealed record PauseDto(long UserId, string Email, string Reason, bool Automatic, DateTime PausedAt);

/// <param name="Reason">Shown to the annotator.</param>
public sealed record PauseRequest(string? Reason);

/// <summary>Gold answers, quality settings and annotator pauses.</summary>
public static class GoldEndpoints
{
    public static IEndpointRouteBuilder MapGoldEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}").WithTags("Quality").RequireAuthorization();

        api.MapGet("/gold", async (long id, long? after, int? limit, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var take = Math.Clamp(limit ?? 500, 1, 5000);
            var rows = await db.Items.AsNoTracking().Where(i => i.ProjectId == id && i.GoldJson != null && i.Id > (after ?? 0))
                .OrderBy(i => i.Id).Take(take).Select(i => new { i.Id, i.ExternalId, i.GoldJson }).ToListAsync(ct);
            return Results.Ok(rows.Select(r => new GoldItemDto(r.Id, r.ExternalId, JsonNode.Parse(r.GoldJson!))).ToList());
        }).WithName("ListGold").WithSummary("Gold items and their answers, in id order (page with ?after=LAST_ID)").Produces<List<GoldItemDto>>();

        api.MapPut("/items/{externalId}/gold", async (long id, string externalId, SetGoldRequest request, ClaimsPrincipal user, ProjectAccess access,
            PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var item = await db.Items.FirstOrDefaultAsync(i => i.ProjectId == id && i.ExternalId == externalId, ct);
            if (item is null)
            {
                return Problems.NotFound($"no item with external id '{externalId}' in project {id}");
            }
            if (request.Values is not { Count: > 0 } values)
            {
                return Problems.BadRequest("values are required: {\"values\": {\"question\": gold answer}}");
            }
            var schema = ProjectSchema.Parse(await db.Projects.Where(p => p.Id == id).Select(p => p.SchemaJson).FirstAsync(ct));
            var errors = AnswerValidator.Validate(schema, JsonNode.Parse(item.FieldsJson)!.AsObject(), values, partial: true);
            if (errors.Count > 0)
            {
                return Results.ValidationProblem(errors.ToDictionary(e => e.Key, e => new[] { e.Value }), detail: "some gold answers are not valid");
            }
            item.GoldJson = values.ToJsonString(StoredJson.Options);
            item.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            db.Record(clock, user.Id(), id, "item.gold.set", "item", item.Id);
            await db.SaveChangesAsync(ct);
            return Results.Ok(new GoldItemDto(item.Id, item.ExternalId, values));
        }).WithName("SetGold").WithSummary("Mark an item as gold with its answers (validated like a response); annotators never see them")
          .Produces<GoldItemDto>().ProducesValidationProblem();

        api.MapDelete("/items/{externalId}/gold", async (long id, string externalId, ClaimsPrincipal user, ProjectAccess access,
            PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var item = await db.Items.FirstOrDefaultAsync(i => i.ProjectId == id && i.ExternalId == externalId, ct);
            if (item is null)
            {
                return Problems.NotFound($"no item with external id '{externalId}' in project {id}");
            }
            item.GoldJson = null;
            item.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            db.Record(clock, user.Id(), id, "item.gold.unset", "item", item.Id);
            await db.SaveChangesAsync(ct);
            return Results.NoContent();
        }).WithName("UnsetGold").WithSummary("Make a gold item an ordinary item again");

        api.MapGet("/quality/settings", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            return denied ?? Results.Ok(ProjectSchema.Parse(await db.Projects.Where(p => p.Id == id).Select(p => p.SchemaJson).FirstAsync(ct)).Workflow.Quality);
        }).WithName("GetQualitySettings").WithSummary("Gold mixing, pausing, review sampling and thresholds").Produces<QualitySettings>();

        api.MapPut("/quality/settings", async (long id, QualitySettings settings, ClaimsPrincipal user, ProjectAccess access,
            PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var problems = settings.Problems().ToList();
            if (problems.Count > 0)
            {
                return Problems.BadRequest(string.Join("; ", problems));
            }
            var project = await db.Projects.FirstAsync(p => p.Id == id, ct);
            var schema = ProjectSchema.Parse(project.SchemaJson);
            project.SchemaJson = (schema with { Workflow = schema.Workflow with { Quality = settings } }).ToJson();
            db.Record(clock, user.Id(), id, "quality.settings", "project", id, settings);
            await db.SaveChangesAsync(ct);
            return Results.Ok(settings);
        }).WithName("UpdateQualitySettings").WithSummary("Replace the project's quality settings (workflow.quality of the schema)").Produces<QualitySettings>();

        api.MapGet("/pauses", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            var pauses = await db.Set<AnnotatorPause>().AsNoTracking().Where(p => p.ProjectId == id)
                .Join(db.Users, p => p.UserId, u => u.Id, (p, u) => new PauseDto(p.UserId, u.Email, p.Reason, p.PausedById == null, p.PausedAt))
                .ToListAsync(ct);
            return Results.Ok(pauses.OrderBy(p => p.Email, StringComparer.Ordinal).ToList());
        }).WithName("ListPauses").WithSummary("Annotators kept from new work, and why").Produces<List<PauseDto>>();

        api.MapPost("/members/{email}/pause", async (long id, string email, PauseRequest? request, ClaimsPrincipal user, ProjectAccess access,
            PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var normalised = Emails.Normalise(email);
            var member = await db.ProjectMembers.Where(m => m.ProjectId == id && m.User!.Email == normalised).Select(m => (long?)m.UserId).FirstOrDefaultAsync(ct);
            if (member is not { } memberId)
            {
                return Problems.NotFound($"{email} is not a member of project {id}");
            }
            var reason = string.IsNullOrWhiteSpace(request?.Reason) ? "paused by a manager" : request.Reason.Trim();
            if (reason.Length > 500)
            {
                return Problems.BadRequest("reason is over 500 characters");
            }
            var pause = await db.Set<AnnotatorPause>().FirstOrDefaultAsync(p => p.ProjectId == id && p.UserId == memberId, ct);
            if (pause is null)
            {
                pause = new AnnotatorPause { ProjectId = id, UserId = memberId, Reason = reason };
                db.Set<AnnotatorPause>().Add(pause);
            }
            pause.Reason = reason;
            pause.PausedById = user.Id();
            pause.PausedAt = clock.GetUtcNow().UtcDateTime;
            db.Record(clock, user.Id(), id, "annotator.pause", "user", memberId, new { reason });
            await db.SaveChangesAsync(ct);
            return Results.Ok(new PauseDto(memberId, normalised, reason, false, pause.PausedAt));
        }).WithName("PauseAnnotator").WithSummary("Keep an annotator from new work in this project").Produces<PauseDto>();

        api.MapDelete("/members/{email}/pause", async (long id, string email, ClaimsPrincipal user, ProjectAccess access,
            PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var normalised = Emails.Normalise(email);
            var pause = await db.Set<AnnotatorPause>().Where(p => p.ProjectId == id && db.Users.Any(u => u.Id == p.UserId && u.Email == normalised))
                .FirstOrDefaultAsync(ct);
            if (pause is null)
            {
                return Problems.NotFound($"{email} is not paused in project {id}");
            }
            db.Set<AnnotatorPause>().Remove(pause);
            db.Record(clock, user.Id(), id, "annotator.resume", "user", pause.UserId);
            await db.SaveChangesAsync(ct);
            return Results.NoContent();
        }).WithName("ResumeAnnotator").WithSummary("Let a paused annotator take work again");

        return app;
    }
}

using System.Security.Claims;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Projects;

/// <param name="Name">Shown in lists; 1-200 characters.</param>
/// <param name="Description">Optional text shown under the name.</param>
/// <param name="Template">One of the presets (sft-write, sft-edit, pairwise, ranking, rubric, safety, conversation, prompt-writing).</param>
/// <param name="Schema">A full schema document (fields, questions, workflow) instead of a template.</param>
/// <param name="Overlap">How many people answer each item; overrides the template's.</param>
/// <param name="Guidelines">The first version of the guidelines, in markdown.</param>
public sealed record CreateProjectRequest(string Name, string? Description, string? Template, JsonElement? Schema, int? Overlap, string? Guidelines);

public sealed record ProjectCounts(int Items, int CompletedItems, int SubmittedResponses, int SkippedResponses, int Members);

public sealed record ProjectDto(long Id, string Name, string? Description, string Role, int Overlap, int GuidelineVersion,
    DateTime CreatedAt, ProjectCounts Counts, ProjectSchema Schema);

public sealed record AnnotatorCount(string Email, int Submitted, int Skipped);

public sealed record GuidelinesDto(int Version, string Markdown, DateTime? CreatedAt);

public sealed record UpdateGuidelinesRequest(string Markdown);

public sealed record MemberDto(string Email, string Role, DateTime AddedAt);

public sealed record AddMemberRequest(string Email, string Role);

public static class ProjectEndpoints
{
    public const int MaxGuidelineChars = 200_000;

    public static IEndpointRouteBuilder MapProjectEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects").WithTags("Projects").RequireAuthorization();

        api.MapGet("/", async (ClaimsPrincipal user, ProjectService projects, CancellationToken ct) =>
            TypedResults.Ok(await projects.ListAsync(user, ct)))
            .WithName("ListProjects").WithSummary("Projects you belong to, with progress");

        api.MapPost("/", async (CreateProjectRequest request, ClaimsPrincipal user, ProjectService projects, CancellationToken ct) =>
        {
            ProjectSchema schema;
            try
            {
                schema = ProjectService.ResolveSchema(request);
            }
            catch (SchemaException ex)
            {
                return Problems.BadRequest(ex.Message);
            }
            var name = request.Name?.Trim() ?? "";
            if (name.Length is 0 or > 200)
            {
                return Problems.BadRequest("name must be 1-200 characters");
            }
            if (request.Guidelines is { Length: > MaxGuidelineChars })
            {
                return Problems.BadRequest($"guidelines are over {MaxGuidelineChars} characters");
            }
            var project = await projects.CreateAsync(user.Id(), name, request.Description, schema, request.Guidelines, ct);
            return Results.Created($"/api/v1/projects/{project.Id}", await projects.GetAsync(project.Id, Roles.Manager, ct));
        }).WithName("CreateProject").WithSummary("Create a project from a template or a schema document");

        api.MapGet("/{id:long}", async (long id, ClaimsPrincipal user, ProjectAccess access, ProjectService projects, CancellationToken ct) =>
        {
            var (role, denied) = await access.RequireAsync(user, id, Roles.Annotator, ct);
            return denied ?? Results.Ok(await projects.GetAsync(id, role!, ct));
        }).WithName("GetProject").WithSummary("A project's settings, schema and counts");

        api.MapGet("/{id:long}/schema", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            var json = await db.Projects.Where(p => p.Id == id).Select(p => p.SchemaJson).FirstAsync(ct);
            return Results.Text(json, "application/json");
        }).WithName("GetProjectSchema").WithSummary("The schema document (fields, questions, workflow), as accepted by create");

        api.MapGet("/{id:long}/annotators", async (long id, ClaimsPrincipal user, ProjectAccess access, ProjectService projects, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            return denied ?? Results.Ok(await projects.AnnotatorCountsAsync(id, ct));
        }).WithName("GetAnnotatorCounts").WithSummary("Submitted and skipped responses per annotator");

        api.MapGet("/{id:long}/guidelines", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            var current = await db.Guidelines.AsNoTracking().Where(g => g.ProjectId == id)
                .OrderByDescending(g => g.Version).FirstOrDefaultAsync(ct);
            return Results.Ok(current is null ? new GuidelinesDto(0, "", null) : new GuidelinesDto(current.Version, current.Markdown, current.CreatedAt));
        }).WithName("GetGuidelines").WithSummary("The current guidelines and their version");

        api.MapPut("/{id:long}/guidelines", async (long id, UpdateGuidelinesRequest request, ClaimsPrincipal user, ProjectAccess access,
            ProjectService projects, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            if (request.Markdown is null || request.Markdown.Length > MaxGuidelineChars)
            {
                return Problems.BadRequest($"markdown is required and at most {MaxGuidelineChars} characters");
            }
            return Results.Ok(await projects.SaveGuidelinesAsync(id, user.Id(), request.Markdown, ct));
        }).WithName("UpdateGuidelines").WithSummary("Save the guidelines as a new version");

        api.MapGet("/{id:long}/members", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            return denied ?? Results.Ok(await db.ProjectMembers.AsNoTracking().Where(m => m.ProjectId == id).OrderBy(m => m.UserId)
                .Select(m => new MemberDto(m.User!.Email, m.Role, m.AddedAt)).ToListAsync(ct));
        }).WithName("ListMembers").WithSummary("Members and their roles");

        api.MapPost("/{id:long}/members", async (long id, AddMemberRequest request, ClaimsPrincipal user, ProjectAccess access,
            ProjectService projects, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            if (!Roles.All.Contains(request.Role))
            {
                return Problems.BadRequest($"role '{request.Role}' is not one of {string.Join(", ", Roles.All)}");
            }
            var member = await projects.SetMemberAsync(id, user.Id(), request.Email, request.Role, ct);
            return member is null ? Problems.NotFound($"no user with e-mail {request.Email}; create it first (plumbline user create)") : Results.Ok(member);
        }).WithName("AddMember").WithSummary("Add a member, or change their role");

        api.MapDelete("/{id:long}/members/{email}", async (long id, string email, ClaimsPrincipal user, ProjectAccess access,
            ProjectService projects, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            return await projects.RemoveMemberAsync(id, user.Id(), email, ct)
                ? Results.NoContent()
                : Problems.NotFound($"{email} is not a member of project {id}");
        }).WithName("RemoveMember").WithSummary("Remove a member");

        return app;
    }
}

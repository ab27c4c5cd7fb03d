using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Projects;

/// <summary>Creating projects and reading their settings and progress.</summary>
public sealed class ProjectService(PlumblineDbContext db, TimeProvider clock)
{
    /// <summary>The schema a create request asks for: a template (with an optional overlap) or a full document.</summary>
    public static ProjectSchema ResolveSchema(CreateProjectRequest request)
    {
        ProjectSchema schema;
        if (request.Schema is { ValueKind: not System.Text.Json.JsonValueKind.Null } doc)
        {
            if (request.Template is not null)
            {
                throw new SchemaException("give a template or a schema, not both");
            }
            schema = ProjectSchema.Parse(doc.GetRawText());
        }
        else
        {
            var name = request.Template ?? throw new SchemaException($"a template ({string.Join(", ", Templates.Names)}) or a schema is required");
            schema = Templates.Get(name)
                ?? throw new SchemaException($"unknown template '{name}' (expected one of {string.Join(", ", Templates.Names)})");
        }
        if (request.Overlap is { } overlap)
        {
            schema = schema with { Workflow = schema.Workflow with { Overlap = overlap } };
        }
        SchemaValidator.ThrowIfInvalid(schema);
        return schema;
    }

    public async Task<Project> CreateAsync(long userId, string name, string? description, ProjectSchema schema, string? guidelines, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var project = new Project
        {
            Name = name, Description = description, SchemaJson = schema.ToJson(), Overlap = schema.Workflow.Overlap,
            GuidelineVersion = guidelines is null ? 0 : 1, CreatedAt = now, CreatedById = userId,
        };
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        db.Projects.Add(project);
        await db.SaveChangesAsync(ct);
        db.ProjectMembers.Add(new ProjectMember { ProjectId = project.Id, UserId = userId, Role = Roles.Manager, AddedAt = now });
        if (guidelines is not null)
        {
            db.Guidelines.Add(new Guideline { ProjectId = project.Id, Version = 1, Markdown = guidelines, CreatedAt = now, CreatedById = userId });
        }
        db.Record(clock, userId, project.Id, "project.create", "project", project.Id, new { name, overlap = project.Overlap });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return project;
    }

    public async Task<List<ProjectDto>> ListAsync(ClaimsPrincipal user, CancellationToken ct)
    {
        var userId = user.Id();
        var rows = user.IsAdmin()
            ? await db.Projects.AsNoTracking().OrderBy(p => p.Id)
                .Select(p => new { p.Id, Role = db.ProjectMembers.Where(m => m.ProjectId == p.Id && m.UserId == userId).Select(m => m.Role).FirstOrDefault() })
                .ToListAsync(ct)
            : await db.ProjectMembers.AsNoTracking().Where(m => m.UserId == userId).OrderBy(m => m.ProjectId)
                .Select(m => new { Id = m.ProjectId, Role = (string?)m.Role }).ToListAsync(ct);
        var result = new List<ProjectDto>(rows.Count);
        foreach (var row in rows)
        {
            result.Add(await GetAsync(row.Id, row.Role ?? Roles.Manager, ct));
        }
        return result;
    }

    public async Task<ProjectDto> GetAsync(long id, string role, CancellationToken ct)
    {
        var p = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == id, ct);
        var items = await db.Items.CountAsync(i => i.ProjectId == id, ct);
        var completed = await db.Items.CountAsync(i => i.ProjectId == id && i.SubmittedCount >= p.Overlap, ct);
        var submitted = await db.Responses.CountAsync(r => r.ProjectId == id && r.Status == "submitted", ct);
        var skipped = await db.Responses.CountAsync(r => r.ProjectId == id && r.Status == "skipped", ct);
        var members = await db.ProjectMembers.CountAsync(m => m.ProjectId == id, ct);
        return new ProjectDto(p.Id, p.Name, p.Description, role, p.Overlap, p.GuidelineVersion, p.CreatedAt,
            new ProjectCounts(items, completed, submitted, skipped, members), ProjectSchema.Parse(p.SchemaJson));
    }

    public async Task<List<AnnotatorCount>> AnnotatorCountsAsync(long id, CancellationToken ct)
    {
        var rows = await db.Responses.AsNoTracking().Where(r => r.ProjectId == id && r.Status != "draft")
            .GroupBy(r => new { r.UserId, r.Status }).Select(g => new { g.Key.UserId, g.Key.Status, Count = g.Count() }).ToListAsync(ct);
        var userIds = rows.Select(r => r.UserId).Distinct().ToList();
        var emails = await db.Users.AsNoTracking().Where(u => userIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Email, ct);
        return rows.GroupBy(r => r.UserId).OrderBy(g => emails[g.Key], StringComparer.Ordinal)
            .Select(g => new AnnotatorCount(emails[g.Key],
                g.Where(r => r.Status == "submitted").Sum(r => r.Count), g.Where(r => r.Status == "skipped").Sum(r => r.Count)))
            .ToList();
    }

    public async Task<GuidelinesDto> SaveGuidelinesAsync(long id, long userId, string markdown, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var project = await db.Projects.FirstAsync(p => p.Id == id, ct);
        project.GuidelineVersion++;
        db.Guidelines.Add(new Guideline { ProjectId = id, Version = project.GuidelineVersion, Markdown = markdown, CreatedAt = now, CreatedById = userId });
        db.Record(clock, userId, id, "guidelines.update", "project", id, new { version = project.GuidelineVersion });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return new GuidelinesDto(project.GuidelineVersion, markdown, now);
    }

    public async Task<MemberDto?> SetMemberAsync(long projectId, long actorId, string email, string role, CancellationToken ct)
    {
        var normalised = Emails.Normalise(email);
        var user = await db.Users.FirstOrDefaultAsync(u => u.Email == normalised, ct);
        if (user is null)
        {
            return null;
        }
        var member = await db.ProjectMembers.FirstOrDefaultAsync(m => m.ProjectId == projectId && m.UserId == user.Id, ct);
        if (member is null)
        {
            member = new ProjectMember { ProjectId = projectId, UserId = user.Id, Role = role, AddedAt = clock.GetUtcNow().UtcDateTime };
            db.ProjectMembers.Add(member);
        }
        else
        {
            member.Role = role;
        }
        db.Record(clock, actorId, projectId, "member.set", "user", user.Id, new { user.Email, role });
        await db.SaveChangesAsync(ct);
        return new MemberDto(user.Email, member.Role, member.AddedAt);
    }

    public async Task<bool> RemoveMemberAsync(long projectId, long actorId, string email, CancellationToken ct)
    {
        var normalised = Emails.Normalise(email);
        var member = await db.ProjectMembers.FirstOrDefaultAsync(m => m.ProjectId == projectId && m.User!.Email == normalised, ct);
        if (member is null)
        {
            return false;
        }
        db.ProjectMembers.Remove(member);
        db.Record(clock, actorId, projectId, "member.remove", "user", member.UserId, new { email = normalised });
        await db.SaveChangesAsync(ct);
        return true;
    }
}

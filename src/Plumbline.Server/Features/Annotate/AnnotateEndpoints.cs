using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Queue;

namespace Plumbline.Server.Features.Annotate;

/// <summary>
/// The annotation workspace: a page, and the form posts it makes (submit, skip, draft, live diff, progress).
/// They call <see cref="QueueService"/> with the signed-in person's cookie; htmx posts get the workspace fragment
/// back (with the next task), plain form posts (no script) the whole page.
/// </summary>
public static class AnnotateEndpoints
{
    /// <summary>Counting an annotator's open items stops here, so the count stays cheap on huge projects.</summary>
    public const int LeftCountCap = 10_000;

    public static IEndpointRouteBuilder MapAnnotateEndpoints(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("/projects/{id:long}/annotate").ExcludeFromDescription().RequireAuthorization();

        pages.MapGet("", async (long id, HttpContext http, ProjectAccess access, QueueService queue, PlumblineDbContext db,
            IAntiforgery antiforgery, CancellationToken ct) =>
        {
            if (await DeniedPageAsync(http, access, id, ct) is { } denied)
            {
                return denied;
            }
            var task = await queue.NextAsync(id, http.User.Id(), ct);
            return await PageAsync(http, db, antiforgery, await ModelAsync(db, id, task, null, null, ct), ct);
        });

        pages.MapPost("/{assignmentId:long}/submit", async (long id, long assignmentId, IFormCollection form, HttpContext http,
            ProjectAccess access, QueueService queue, PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            if (await DeniedPageAsync(http, access, id, ct) is { } denied)
            {
                return denied;
            }
            var schema = await SchemaAsync(db, id, ct);
            var values = AnnotateForm.ToValues(schema, form);
            long? leadTime = long.TryParse(form["leadTimeMs"], out var ms) && ms >= 0 ? ms : null;
            WorkspaceModel model;
            try
            {
                var result = await queue.SubmitAsync(assignmentId, http.User.Id(), new SubmitRequest(values, leadTime), withNext: true, ct);
                model = await ModelAsync(db, id, result.Next, null, null, ct) with { Notice = "Submitted." };
            }
            catch (QueueException ex) when (ex.Errors is not null)
            {
                // The same task again, with what was typed and each problem next to its question.
                var task = await queue.NextAsync(id, http.User.Id(), ct);
                var same = task?.AssignmentId == assignmentId;
                model = await ModelAsync(db, id, task, same ? values : null, same ? ex.Errors : null, ct) with
                {
                    Notice = same ? "Some answers need attention; nothing was submitted." : "Your lease on that item had expired; here is the next one.",
                    NoticeIsError = true,
                };
            }
            catch (QueueException ex)
            {
                var task = await queue.NextAsync(id, http.User.Id(), ct);
                model = await ModelAsync(db, id, task, null, null, ct) with { Notice = ex.Message, NoticeIsError = true };
            }
            return await RespondAsync(http, db, antiforgery, model, ct);
        });

        pages.MapPost("/{assignmentId:long}/skip", async (long id, long assignmentId, IFormCollection form, HttpContext http,
            ProjectAccess access, QueueService queue, PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            if (await DeniedPageAsync(http, access, id, ct) is { } denied)
            {
                return denied;
            }
            var reason = form["reason"].FirstOrDefault()?.Trim();
            WorkspaceModel model;
            if (string.IsNullOrEmpty(reason))
            {
                var task = await queue.NextAsync(id, http.User.Id(), ct);
                model = await ModelAsync(db, id, task, null, null, ct) with { Notice = "Say why you skip the item: the reason is required.", NoticeIsError = true };
            }
            else
            {
                try
                {
                    var result = await queue.SkipAsync(assignmentId, http.User.Id(), reason, withNext: true, ct);
                    model = await ModelAsync(db, id, result.Next, null, null, ct) with { Notice = "Skipped." };
                }
                catch (QueueException ex)
                {
                    var task = await queue.NextAsync(id, http.User.Id(), ct);
                    model = await ModelAsync(db, id, task, null, null, ct) with { Notice = ex.Message, NoticeIsError = true };
                }
            }
            return await RespondAsync(http, db, antiforgery, model, ct);
        });

        pages.MapPost("/{assignmentId:long}/draft", async Task<IResult> (long id, long assignmentId, IFormCollection form, HttpContext http,
            ProjectAccess access, QueueService queue, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(http.User, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            var values = AnnotateForm.ToValues(await SchemaAsync(db, id, ct), form);
            try
            {
                await queue.DraftAsync(assignmentId, http.User.Id(), values, ct);
                return Results.Ok(new { saved = true });
            }
            catch (QueueException ex) when (ex.Errors is not null)
            {
                return Results.ValidationProblem(ex.Errors.ToDictionary(e => e.Key, e => new[] { e.Value }), detail: ex.Message);
            }
            catch (QueueException ex)
            {
                return Results.Problem(ex.Message, statusCode: ex.Status);
            }
        });

        pages.MapPost("/{assignmentId:long}/diff/{question}", async Task<IResult> (long id, long assignmentId, string question, IFormCollection form,
            HttpContext http, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(http.User, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            var userId = http.User.Id();
            // Only the person's own item: the draft is a field of it.
            var itemId = await db.Assignments.AsNoTracking().Where(a => a.Id == assignmentId && a.UserId == userId && a.ProjectId == id)
                .Select(a => (long?)a.ItemId).FirstOrDefaultAsync(ct);
            var q = (await SchemaAsync(db, id, ct)).FindQuestion(question);
            if (itemId is null || q?.Prefill is null)
            {
                return Problems.NotFound($"assignment {assignmentId} is not yours, or question '{question}' has no draft to compare with");
            }
            var fields = System.Text.Json.Nodes.JsonNode.Parse(await db.Items.AsNoTracking().Where(i => i.Id == itemId).Select(i => i.FieldsJson).FirstAsync(ct))!;
            var draft = FieldValues.PrefillText(fields[q.Prefill]) ?? "";
            var edited = (form[AnnotateForm.Key(q)].FirstOrDefault() ?? "").ReplaceLineEndings("\n");
            return new RazorComponentResult<DiffView>(new { Question = question, Draft = draft, Edited = edited });
        });

        pages.MapGet("/progress", async Task<IResult> (long id, HttpContext http, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(http.User, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            var userId = http.User.Id();
            var overlap = await db.Projects.Where(p => p.Id == id).Select(p => p.Overlap).FirstAsync(ct);
            var done = await db.Responses.CountAsync(r => r.ProjectId == id && r.UserId == userId && r.Status == "submitted", ct);
            // Items with room that this person has not finished; capped so a million-item project answers at once.
            var left = await db.Items.Where(i => i.ProjectId == id && i.SubmittedCount < overlap
                    && !db.Assignments.Any(a => a.ItemId == i.Id && a.UserId == userId && a.Status != "active"))
                .Take(LeftCountCap + 1).CountAsync(ct);
            return new RazorComponentResult<ProgressView>(new { Done = done, Left = left, Cap = LeftCountCap });
        });

        return app;
    }

    /// <summary>A page answer for a person without access: the reason in words, with the status code.</summary>
    private static async Task<IResult?> DeniedPageAsync(HttpContext http, ProjectAccess access, long id, CancellationToken ct)
    {
        var (_, denied) = await access.RequireAsync(http.User, id, Roles.Annotator, ct);
        if (denied is null)
        {
            return null;
        }
        var status = denied is IStatusCodeHttpResult { StatusCode: { } code } ? code : StatusCodes.Status403Forbidden;
        http.Response.StatusCode = status;
        return new RazorComponentResult<ErrorPage>(new
        {
            Title = status == StatusCodes.Status404NotFound ? "Project not found" : "Not allowed",
            Message = status == StatusCodes.Status404NotFound
                ? $"Project {id} does not exist, or you are not a member of it."
                : $"You do not have a role in project {id} that allows this.",
            UserEmail = http.User.Email(),
        });
    }

    private static async Task<ProjectSchema> SchemaAsync(PlumblineDbContext db, long id, CancellationToken ct) =>
        ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == id).Select(p => p.SchemaJson).FirstAsync(ct));

    private static async Task<WorkspaceModel> ModelAsync(PlumblineDbContext db, long id, TaskDto? task,
        System.Text.Json.Nodes.JsonObject? values, Dictionary<string, string>? errors, CancellationToken ct)
    {
        var project = await db.Projects.AsNoTracking().Where(p => p.Id == id).Select(p => new { p.Name, p.SchemaJson }).FirstAsync(ct);
        return new WorkspaceModel
        {
            ProjectId = id,
            ProjectName = project.Name,
            Schema = ProjectSchema.Parse(project.SchemaJson),
            Task = task,
            // A model's suggestions pre-fill a fresh item; a draft or a reviewer's rework shows what the person wrote.
            Values = values ?? task?.Draft ?? (task?.Rework is null ? task?.Suggestions?.DeepClone() as System.Text.Json.Nodes.JsonObject : null) ?? [],
            Errors = errors ?? [],
        };
    }

    private static async Task<IResult> RespondAsync(HttpContext http, PlumblineDbContext db, IAntiforgery antiforgery, WorkspaceModel model, CancellationToken ct)
    {
        if (http.Request.Headers["HX-Request"] == "true")
        {
            return new RazorComponentResult<Workspace>(new { Model = model, AntiforgeryToken = antiforgery.GetAndStoreTokens(http).RequestToken! });
        }
        return await PageAsync(http, db, antiforgery, model, ct);
    }

    private static async Task<IResult> PageAsync(HttpContext http, PlumblineDbContext db, IAntiforgery antiforgery, WorkspaceModel model, CancellationToken ct)
    {
        var guideline = await db.Guidelines.AsNoTracking().Where(g => g.ProjectId == model.ProjectId)
            .OrderByDescending(g => g.Version).Select(g => new { g.Version, g.Markdown }).FirstOrDefaultAsync(ct);
        return new RazorComponentResult<AnnotatePage>(new
        {
            Model = model,
            UserEmail = http.User.Email(),
            AntiforgeryToken = antiforgery.GetAndStoreTokens(http).RequestToken!,
            GuidelineVersion = guideline?.Version ?? 0,
            GuidelinesHtml = SafeMarkdown.ToHtml(guideline?.Markdown),
        });
    }
}

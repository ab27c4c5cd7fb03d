using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Import;
using Plumbline.Core.Preparation;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Annotate;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Import;
using Plumbline.Server.Features.Items;
using Plumbline.Server.Features.Pages;
using Plumbline.Server.Features.Projects;

namespace Plumbline.Server.Features.Manage;

/// <summary>What every project page knows: which project, who is looking, with which role.</summary>
public sealed record ProjectPageContext(long ProjectId, string ProjectName, string Role, string UserEmail, string AntiforgeryToken)
{
    public bool IsManager => Role == Roles.Manager;
    public string Base => $"/projects/{ProjectId}";
}

/// <summary>
/// The manager's pages: new project, dashboard, guidelines, import, members, workflow settings, and the item browser
/// (reviewers read it too). They are plain HTML forms over the same services as the API, posting back and
/// redirecting, so every action works without script; htmx only adds the live guidelines preview.
/// </summary>
public static class ManageEndpoints
{
    public static IEndpointRouteBuilder MapManageEndpoints(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("/projects").ExcludeFromDescription().RequireAuthorization();

        pages.MapGet("/new", (HttpContext http, IAntiforgery antiforgery) => NewProjectForm(http, antiforgery, null, null));

        pages.MapPost("/new", async Task<IResult> ([FromForm] string? name, [FromForm] string? description, [FromForm] string? template,
            [FromForm] string? overlap, HttpContext http, ProjectService projects, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var form = new NewProjectForm(name ?? "", description, template ?? "", overlap);
            int? overlapValue = null;
            if (!string.IsNullOrWhiteSpace(overlap))
            {
                if (!int.TryParse(overlap, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var k))
                {
                    return NewProjectForm(http, antiforgery, form, $"Overlap '{overlap}' is not a whole number.");
                }
                overlapValue = k;
            }
            var trimmed = form.Name.Trim();
            if (trimmed.Length is 0 or > 200)
            {
                return NewProjectForm(http, antiforgery, form, "Give the project a name of 1 to 200 characters.");
            }
            ProjectSchema schema;
            try
            {
                schema = ProjectService.ResolveSchema(new CreateProjectRequest(trimmed, null, form.Template, null, overlapValue, null));
            }
            catch (SchemaException ex)
            {
                return NewProjectForm(http, antiforgery, form, ex.Message);
            }
            var project = await projects.CreateAsync(http.User.Id(), trimmed, string.IsNullOrWhiteSpace(description) ? null : description.Trim(), schema, null, ct);
            return Results.Redirect($"/projects/{project.Id}");
        });

        pages.MapGet("/{id:long}", async Task<IResult> (long id, HttpContext http, ProjectAccess access, ProjectService projects,
            PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            var imports = await db.Set<ImportRun>().AsNoTracking().Where(r => r.ProjectId == id).CountAsync(ct);
            return new RazorComponentResult<DashboardPage>(new
            {
                Page = page,
                Project = await projects.GetAsync(id, page!.Role, ct),
                Annotators = await projects.AnnotatorCountsAsync(id, ct),
                Imports = imports,
            });
        });

        pages.MapGet("/{id:long}/guidelines", async Task<IResult> (long id, int? version, int? saved, HttpContext http, ProjectAccess access,
            PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct);
            return denied ?? await GuidelinesPageAsync(db, page!, version, saved is null ? null : $"Saved as version {saved}.", null, null, ct);
        });

        pages.MapPost("/{id:long}/guidelines", async Task<IResult> (long id, [FromForm] string? markdown, HttpContext http, ProjectAccess access,
            ProjectService projects, PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            markdown = (markdown ?? "").ReplaceLineEndings("\n");
            if (markdown.Length > ProjectEndpoints.MaxGuidelineChars)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                return await GuidelinesPageAsync(db, page!, null, null,
                    $"The guidelines are {markdown.Length:N0} characters; the limit is {ProjectEndpoints.MaxGuidelineChars:N0}. Nothing was saved.", markdown, ct);
            }
            var current = await db.Guidelines.AsNoTracking().Where(g => g.ProjectId == id).OrderByDescending(g => g.Version)
                .Select(g => g.Markdown).FirstOrDefaultAsync(ct);
            if (current == markdown)
            {
                return await GuidelinesPageAsync(db, page!, null, "No changes: the current version stays.", null, null, ct);
            }
            var saved = await projects.SaveGuidelinesAsync(id, http.User.Id(), markdown, ct);
            return Results.Redirect($"/projects/{id}/guidelines?saved={saved.Version}");
        });

        pages.MapPost("/{id:long}/guidelines/preview", async Task<IResult> (long id, [FromForm] string? markdown, HttpContext http,
            ProjectAccess access, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(http.User, id, Roles.Manager, ct);
            return denied ?? new RazorComponentResult<MarkdownPreview>(new { Html = SafeMarkdown.ToHtml(markdown) });
        });

        pages.MapGet("/{id:long}/import", async Task<IResult> (long id, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            return denied ?? await ImportPageAsync(db, page!, null, null, ct);
        });

        pages.MapPost("/{id:long}/import", async Task<IResult> (long id, HttpContext http, ProjectAccess access, ImportService import,
            PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            // The form is read by hand (not bound), so the size limits can be raised to the API's before reading.
            http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = ImportEndpoints.MaxImportBytes;
            var form = await http.Request.ReadFormAsync(new FormOptions { MultipartBodyLengthLimit = ImportEndpoints.MaxImportBytes }, ct);
            if (!await antiforgery.IsRequestValidAsync(http))
            {
                return Problems.BadRequest("the form's antiforgery token is missing or stale: reload the page and upload again");
            }
            var file = form.Files.GetFile("file");
            if (file is null || file.Length == 0)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                return await ImportPageAsync(db, page!, null, "Choose a file to import (JSONL, JSON, CSV, or gzip of one).", ct);
            }
            PreparationOptions? preparation;
            try
            {
                // The same settings, and the same parser, as the API's query string.
                preparation = ImportEndpoints.ParsePreparation(new QueryCollection(new Dictionary<string, Microsoft.Extensions.Primitives.StringValues>
                {
                    ["prepare"] = form["prepare"] == "on" ? "true" : "false",
                    ["pii"] = form["pii"],
                    ["dedup"] = form["dedup"],
                    ["language"] = form["language"].FirstOrDefault() is { Length: > 0 } language ? language : default,
                }.Where(p => p.Value.Count > 0).ToDictionary()));
            }
            catch (ArgumentException ex)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                return await ImportPageAsync(db, page!, null, ex.Message, ct);
            }
            await using var stream = file.OpenReadStream();
            var fileName = file.FileName.Length > 500 ? file.FileName[..500] : file.FileName;
            var report = await import.ImportAsync(id, http.User.Id(), stream, new ImportSettings(ImportFormat.Auto, fileName, preparation, form["dryRun"] == "on"), ct);
            if (!report.Committed && !(report.DryRun && report.Rejected == 0))
            {
                http.Response.StatusCode = StatusCodes.Status422UnprocessableEntity;
            }
            return await ImportPageAsync(db, page!, ImportReportModel.From(report, fileName), null, ct);
        });

        pages.MapGet("/{id:long}/imports/{importId:long}", async Task<IResult> (long id, long importId, HttpContext http, ProjectAccess access,
            PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var run = await db.Set<ImportRun>().AsNoTracking().FirstOrDefaultAsync(r => r.ProjectId == id && r.Id == importId, ct);
            if (run is null)
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return new RazorComponentResult<ErrorPage>(new { Title = "Not found", Message = $"Import {importId} is not in project {id}.", UserEmail = page!.UserEmail });
            }
            return new RazorComponentResult<ImportReportPage>(new { Page = page, Report = ImportReportModel.FromStored(run) });
        });

        pages.MapGet("/{id:long}/members", async Task<IResult> (long id, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            return denied ?? await MembersPageAsync(db, page!, http.Request.Query["notice"], null, ct);
        });

        pages.MapPost("/{id:long}/members", async Task<IResult> (long id, [FromForm] string? email, [FromForm] string? role, [FromForm] string? remove,
            HttpContext http, ProjectAccess access, ProjectService projects, PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            email = email?.Trim() ?? "";
            string? error = null;
            string? notice = null;
            if (email.Length == 0)
            {
                error = "Give the person's e-mail address.";
            }
            else if (remove == "true")
            {
                notice = await projects.RemoveMemberAsync(id, http.User.Id(), email, ct) ? $"Removed {email}." : null;
                error = notice is null ? $"{email} is not a member of this project." : null;
            }
            else if (role is null || !Roles.All.Contains(role))
            {
                error = $"Choose a role: {string.Join(", ", Roles.All)}.";
            }
            else
            {
                var member = await projects.SetMemberAsync(id, http.User.Id(), email, role, ct);
                notice = member is null ? null : $"{member.Email} is {member.Role}.";
                error = member is null ? $"There is no account for {email}. An admin creates it first (plumbline user create {email})." : null;
            }
            if (error is not null)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                return await MembersPageAsync(db, page!, null, error, ct);
            }
            return Results.Redirect($"/projects/{id}/members?notice={Uri.EscapeDataString(notice!)}");
        });

        pages.MapGet("/{id:long}/settings", async Task<IResult> (long id, int? saved, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            return denied ?? new RazorComponentResult<SettingsPage>(new
            {
                Page = page, Workflow = await WorkflowChanges.GetAsync(db, id, ct), Notice = saved is null ? null : "Saved.",
            });
        });

        pages.MapPost("/{id:long}/settings", async Task<IResult> (long id, [FromForm] string? overlap, [FromForm] string? queueOrder,
            [FromForm] string? leaseMinutes, [FromForm] string? showModelNames, [FromForm] string? shuffleCandidates,
            HttpContext http, ProjectAccess access, PlumblineDbContext db, TimeProvider clock, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            string? error = null;
            int? Number(string? text, string what)
            {
                if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
                {
                    return n;
                }
                error ??= $"{what} '{text}' is not a whole number.";
                return null;
            }
            var request = new UpdateWorkflowRequest(Number(overlap, "Overlap"), queueOrder, Number(leaseMinutes, "Lease time"),
                showModelNames == "on", shuffleCandidates == "on");
            if (error is null)
            {
                var (_, problem) = await WorkflowChanges.UpdateAsync(db, clock, id, http.User.Id(), request, ct);
                if (problem is null)
                {
                    return Results.Redirect($"/projects/{id}/settings?saved=1");
                }
                error = problem;
            }
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            var current = await WorkflowChanges.GetAsync(db, id, ct);
            return new RazorComponentResult<SettingsPage>(new { Page = page, Workflow = current, Error = error, Posted = request });
        });

        pages.MapGet("/{id:long}/items", async Task<IResult> (long id, string? q, string? metaKey, string? metaValue, string? status, string? annotator,
            long? after, HttpContext http, ProjectAccess access, ItemBrowser browser, PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct, hideForbidden: true);
            if (denied is not null)
            {
                return denied;
            }
            var query = new ItemQuery(q, metaKey, metaValue, status, annotator, after);
            ItemListDto? list = null;
            string? error = null;
            try
            {
                list = await browser.SearchAsync(id, query, ct);
            }
            catch (ItemQueryException ex)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                error = ex.Message;
            }
            var annotators = await db.ProjectMembers.AsNoTracking().Where(m => m.ProjectId == id).OrderBy(m => m.User!.Email)
                .Select(m => m.User!.Email).ToListAsync(ct);
            return new RazorComponentResult<ItemsPage>(new { Page = page, Query = query, List = list, Error = error, People = annotators });
        });

        pages.MapGet("/{id:long}/items/{itemId:long}", async Task<IResult> (long id, long itemId, HttpContext http, ProjectAccess access,
            ItemBrowser browser, PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct, hideForbidden: true);
            if (denied is not null)
            {
                return denied;
            }
            var item = await browser.GetAsync(id, itemId, ct);
            if (item is null)
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return new RazorComponentResult<ErrorPage>(new { Title = "Not found", Message = $"Item {itemId} is not in project {id}.", UserEmail = page!.UserEmail });
            }
            var schema = ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == id).Select(p => p.SchemaJson).FirstAsync(ct));
            return new RazorComponentResult<ItemPage>(new { Page = page, Item = item, Schema = schema });
        });

        return app;
    }

    internal static async Task<(ProjectPageContext? Page, IResult? Denied)> ContextAsync(HttpContext http, ProjectAccess access, PlumblineDbContext db,
        IAntiforgery antiforgery, long id, string minimumRole, CancellationToken ct, bool hideForbidden = false)
    {
        var (role, denied) = await PageAccess.RequireAsync(http, access, id, minimumRole, ct, hideForbidden);
        if (denied is not null)
        {
            return (null, denied);
        }
        var name = await db.Projects.AsNoTracking().Where(p => p.Id == id).Select(p => p.Name).FirstAsync(ct);
        return (new ProjectPageContext(id, name, role!, http.User.Email(), antiforgery.GetAndStoreTokens(http).RequestToken!), null);
    }

    private static RazorComponentResult<NewProjectPage> NewProjectForm(HttpContext http, IAntiforgery antiforgery, NewProjectForm? form, string? error)
    {
        if (error is not null)
        {
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
        }
        return new RazorComponentResult<NewProjectPage>(new
        {
            Form = form ?? new NewProjectForm("", null, "pairwise", null),
            Error = error,
            UserEmail = http.User.Email(),
            AntiforgeryToken = antiforgery.GetAndStoreTokens(http).RequestToken!,
        });
    }

    private static async Task<IResult> GuidelinesPageAsync(PlumblineDbContext db, ProjectPageContext page, int? version, string? notice, string? error,
        string? unsaved, CancellationToken ct)
    {
        var versions = await db.Guidelines.AsNoTracking().Where(g => g.ProjectId == page.ProjectId).OrderByDescending(g => g.Version)
            .Join(db.Users, g => g.CreatedById, u => u.Id, (g, u) => new GuidelineVersionRow(g.Version, g.CreatedAt, u.Email, g.Markdown.Length))
            .ToListAsync(ct);
        var shown = version ?? versions.FirstOrDefault()?.Version ?? 0;
        var markdown = shown == 0 ? "" : await db.Guidelines.AsNoTracking().Where(g => g.ProjectId == page.ProjectId && g.Version == shown)
            .Select(g => g.Markdown).FirstOrDefaultAsync(ct);
        if (markdown is null)
        {
            return new RazorComponentResult<ErrorPage>(new { Title = "Not found", Message = $"The guidelines have no version {version}.", UserEmail = page.UserEmail });
        }
        var text = unsaved ?? markdown;
        return new RazorComponentResult<GuidelinesPage>(new
        {
            Page = page, Versions = versions, Shown = shown, Markdown = text, Html = SafeMarkdown.ToHtml(text), Notice = notice, Error = error,
        });
    }

    private static async Task<IResult> ImportPageAsync(PlumblineDbContext db, ProjectPageContext page, ImportReportModel? report, string? error,
        CancellationToken ct)
    {
        var runs = await db.Set<ImportRun>().AsNoTracking().Where(r => r.ProjectId == page.ProjectId).OrderByDescending(r => r.Id).Take(100)
            .Select(r => new ImportRunDto(r.Id, r.FileName, r.CreatedAt, r.Created, r.Updated, r.Unchanged, r.Dropped)).ToListAsync(ct);
        return new RazorComponentResult<ImportPage>(new { Page = page, Runs = runs, Report = report, Error = error });
    }

    private static async Task<IResult> MembersPageAsync(PlumblineDbContext db, ProjectPageContext page, string? notice, string? error, CancellationToken ct)
    {
        var members = await db.ProjectMembers.AsNoTracking().Where(m => m.ProjectId == page.ProjectId).OrderBy(m => m.User!.Email)
            .Select(m => new MemberDto(m.User!.Email, m.Role, m.AddedAt)).ToListAsync(ct);
        return new RazorComponentResult<MembersPage>(new { Page = page, Members = members, Notice = notice, Error = error });
    }
}

/// <summary>What the new-project form holds, kept on an error so nothing typed is lost.</summary>
public sealed record NewProjectForm(string Name, string? Description, string Template, string? Overlap);

/// <summary>One saved version of the guidelines, as the history lists it.</summary>
public sealed record GuidelineVersionRow(int Version, DateTime CreatedAt, string Author, int Characters);

/// <summary>An import's report as the page shows it: of an upload just made, or of a stored import or preparation run.</summary>
public sealed record ImportReportModel(string Title, long? ImportId, bool Committed, bool DryRun, long Created, long Updated, long Unchanged,
    long Dropped, long Rejected, List<ImportLineError> Errors, Dictionary<string, long> Shapes, PreparationReport? Preparation)
{
    public static ImportReportModel From(ImportReport r, string? fileName) => new(fileName ?? "upload", r.ImportId, r.Committed, r.DryRun,
        r.Created, r.Updated, r.Unchanged, r.Dropped, r.Rejected, r.Errors ?? [], r.Shapes ?? [], r.Preparation);

    public static ImportReportModel FromStored(ImportRun run)
    {
        // Imports store an ImportReport; preparation runs over stored items a PreparationRunReport (it has "items").
        using var doc = JsonDocument.Parse(run.ReportJson);
        if (doc.RootElement.TryGetProperty("items", out _))
        {
            var prep = JsonSerializer.Deserialize<PreparationRunReport>(run.ReportJson, StoredJson.Options)!;
            return new ImportReportModel(run.FileName ?? "preparation run", run.Id, !prep.DryRun, prep.DryRun, 0, prep.Changed, 0, prep.Deleted + prep.Excluded,
                0, [], [], prep.Preparation);
        }
        var report = JsonSerializer.Deserialize<ImportReport>(run.ReportJson, StoredJson.Options)!;
        return From(report with { ImportId = run.Id }, run.FileName) with { Committed = true };
    }
}

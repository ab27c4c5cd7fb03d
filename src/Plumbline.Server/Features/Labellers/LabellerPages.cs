using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Manage;
using Plumbline.Server.Features.Pages;
using Plumbline.Server.Features.Quality;

namespace Plumbline.Server.Features.Labellers;

/// <summary>
/// The manager's labeller pages: the list with a form for a new labeller and a run button per labeller, a report per
/// version (refreshed while a run is going) with confusion matrices, and a comparison of two versions. Plain forms over
/// <see cref="LabellerService"/>, as the API uses it.
/// </summary>
public static class LabellerPages
{
    public static IEndpointRouteBuilder MapLabellerPages(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("/projects/{id:long}/labellers").ExcludeFromDescription().RequireAuthorization();

        pages.MapGet("", async Task<IResult> (long id, string? notice, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            LabellerService labellers, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            return denied ?? await ListPageAsync(db, labellers, page!, notice, null, ct);
        });

        // The whole form, because a string[] form parameter does not bind on .NET 10 (string gained a span TryParse).
        pages.MapPost("", async Task<IResult> (long id, IFormCollection form, HttpContext http, ProjectAccess access, PlumblineDbContext db, LabellerService labellers,
            IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                var questions = form["questions"].OfType<string>().ToList();
                var created = await labellers.CreateAsync(id, http.User.Id(), new CreateLabellerRequest(form["name"], form["provider"],
                    form["prompt"].FirstOrDefault()?.ReplaceLineEndings("\n"), Questions: questions.Count > 0 ? questions : null), ct);
                return Results.Redirect($"/projects/{id}/labellers/{Uri.EscapeDataString(created.Name)}");
            }
            catch (LabellerException ex)
            {
                http.Response.StatusCode = ex.Status;
                return await ListPageAsync(db, labellers, page!, null, ex.Message, ct);
            }
        });

        pages.MapPost("/{labeller}/run", async Task<IResult> (long id, string labeller, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            LabellerService labellers, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                await labellers.StartRunAsync(id, http.User.Id(), labeller, new StartLabellerRunRequest(), ct);
                return Results.Redirect($"/projects/{id}/labellers/{Uri.EscapeDataString(labeller)}");
            }
            catch (LabellerException ex)
            {
                http.Response.StatusCode = ex.Status;
                return await ListPageAsync(db, labellers, page!, null, ex.Message, ct);
            }
        });

        pages.MapGet("/compare", async Task<IResult> (long id, string? a, string? b, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            LabellerService labellers, LabellerReportService reports, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                var first = await ResolveAsync(labellers, id, a, ct);
                var second = await ResolveAsync(labellers, id, b, ct);
                var comparison = await reports.CompareAsync(id, first, second, QualityMethods.DawidSkene, Core.Quality.ConsensusMethod.Mean, ct);
                return new RazorComponentResult<LabellerComparePage>(new { Page = page, Comparison = comparison });
            }
            catch (LabellerException ex)
            {
                http.Response.StatusCode = ex.Status;
                return await ListPageAsync(db, labellers, page!, null, ex.Message, ct);
            }
        });

        pages.MapGet("/{labeller}", async Task<IResult> (long id, string labeller, int? version, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            LabellerService labellers, LabellerReportService reports, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                var found = await labellers.FindAsync(id, labeller, ct);
                var v = await labellers.VersionAsync(found, version, ct);
                var report = await reports.ReportAsync(id, found, v, QualityMethods.DawidSkene, Core.Quality.ConsensusMethod.Mean, ct);
                return new RazorComponentResult<LabellerReportPage>(new
                {
                    Page = page, Report = report, Versions = Enumerable.Range(1, found.CurrentVersion).ToList(),
                });
            }
            catch (LabellerException ex)
            {
                http.Response.StatusCode = ex.Status;
                return await ListPageAsync(db, labellers, page!, null, ex.Message, ct);
            }
        });
        return app;
    }

    private static async Task<(Labeller, LabellerVersion)> ResolveAsync(LabellerService labellers, long projectId, string? spec, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            throw new LabellerException(400, "Choose two versions to compare.");
        }
        var at = spec.LastIndexOf('@');
        var labeller = await labellers.FindAsync(projectId, at < 0 ? spec : spec[..at], ct);
        int? version = at >= 0 && int.TryParse(spec[(at + 1)..].TrimStart('v'), System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null;
        return (labeller, await labellers.VersionAsync(labeller, version, ct));
    }

    private static async Task<IResult> ListPageAsync(PlumblineDbContext db, LabellerService labellers, ProjectPageContext page, string? notice, string? error,
        CancellationToken ct)
    {
        var list = await labellers.ListAsync(page.ProjectId, ct);
        var runs = new Dictionary<long, LabellerRunDto>();
        foreach (var l in list)
        {
            if ((await labellers.RunsAsync(page.ProjectId, new Labeller { Id = l.Id, Name = l.Name, ProjectId = page.ProjectId }, null, ct)).FirstOrDefault() is { } latest)
            {
                runs[l.Id] = latest;
            }
        }
        var providers = await db.Set<ModelProvider>().AsNoTracking().OrderBy(p => p.Name).Select(p => p.Name).ToListAsync(ct);
        var schema = ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == page.ProjectId).Select(p => p.SchemaJson).FirstAsync(ct));
        return new RazorComponentResult<LabellersPage>(new { Page = page, Schema = schema, Labellers = list, Runs = runs, Providers = providers, Notice = notice, Error = error });
    }
}

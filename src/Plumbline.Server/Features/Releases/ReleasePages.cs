using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Releases;
using Plumbline.Core.Releases.Formats;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Manage;

namespace Plumbline.Server.Features.Releases;

/// <summary>A release as its pages show it: the API's summary and, once ready, its manifest.</summary>
public sealed record ReleaseView(ReleaseSummary Summary, ReleaseManifest? Manifest, string SettingsJson);

/// <summary>A question of the project with the consensus methods it can use and the default one.</summary>
public sealed record ReleaseQuestionChoice(string Name, string Type, IReadOnlyList<string> Methods, string Default);

/// <summary>What the create form shows: the project's fitting formats and its questions' methods, and the values posted last (after an error).</summary>
public sealed record ReleaseFormModel(IReadOnlyList<(string Name, string Description)> Formats, IReadOnlyList<ReleaseQuestionChoice> Questions,
    IFormCollection? Posted);

/// <summary>
/// The manager's release pages: the list with the create form, a release's manifest with its files to download, its
/// progress while it builds, and the comparison of two releases. Plain HTML forms over the same service as the API;
/// htmx only refreshes the progress.
/// </summary>
public static class ReleasePages
{
    public static IEndpointRouteBuilder MapReleasePages(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("/projects/{id:long}/releases").ExcludeFromDescription().RequireAuthorization();

        pages.MapGet("/", async Task<IResult> (long id, HttpContext http, ProjectAccess access, PlumblineDbContext db, IAntiforgery antiforgery,
            CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            return denied ?? await ListAsync(db, page!, null, null, ct);
        });

        pages.MapPost("/", async Task<IResult> (long id, HttpContext http, ProjectAccess access, PlumblineDbContext db, ReleaseService releases,
            ReleaseWorker worker, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var form = await http.Request.ReadFormAsync(ct);
            if (!await antiforgery.IsRequestValidAsync(http))
            {
                return Problems.BadRequest("the form's antiforgery token is missing or stale: reload the page and create the release again");
            }
            try
            {
                var release = await releases.QueueAsync(id, http.User.Id(), RequestOf(form), ct);
                worker.Wake();
                return Results.Redirect($"/projects/{id}/releases/{release.Version}");
            }
            catch (Exception ex) when (ex is ReleaseException or ReleaseStorageException or FormatException)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                return await ListAsync(db, page!, form, ex.Message, ct);
            }
        });

        pages.MapGet("/diff", async Task<IResult> (long id, string? from, string? to, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var (a, problemA) = await ReleaseEndpoints.FindAsync(id, from ?? "", http.User, access, db, ct);
            var (b, problemB) = await ReleaseEndpoints.FindAsync(id, to ?? "", http.User, access, db, ct);
            if (problemA is not null || problemB is not null)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                return await ListAsync(db, page!, null, $"Pick two ready releases to compare (from '{from}' to '{to}').", ct);
            }
            var diff = await ReleaseDiffer.CompareAsync(a!, b!, ct);
            return new RazorComponentResult<ReleaseDiffPage>(new { Page = page, Diff = diff });
        });

        pages.MapGet("/{version:int}", async Task<IResult> (long id, int version, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var view = await ViewAsync(db, id, version, ct);
            return view is null ? Results.NotFound() : new RazorComponentResult<ReleasePage>(new { Page = page, Release = view });
        });

        // Polled by htmx while the release builds; once it is ready or failed the whole page reloads to show the result.
        pages.MapGet("/{version:int}/status", async Task<IResult> (long id, int version, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(http.User, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var view = await ViewAsync(db, id, version, ct);
            if (view is null)
            {
                return Results.NotFound();
            }
            if (view.Summary.Status is ReleaseService.Ready or ReleaseService.Failed)
            {
                http.Response.Headers["HX-Refresh"] = "true";
            }
            return new RazorComponentResult<ReleaseStatusView>(new { ProjectId = id, Release = view.Summary });
        });
        return app;
    }

    private static async Task<ReleaseView?> ViewAsync(PlumblineDbContext db, long id, int version, CancellationToken ct)
    {
        var release = await db.Releases().AsNoTracking().FirstOrDefaultAsync(r => r.ProjectId == id && r.Version == version, ct);
        if (release is null)
        {
            return null;
        }
        var emails = await ReleaseEndpoints.EmailsAsync(db, [release], ct);
        return View(release, emails);
    }

    private static ReleaseView View(Release r, Dictionary<long, string> emails) => new(ReleaseEndpoints.Summary(r, emails),
        r.ManifestJson is null ? null : JsonSerializer.Deserialize<ReleaseManifest>(r.ManifestJson, ManifestJson.Options),
        System.Text.Json.Nodes.JsonNode.Parse(r.SettingsJson)?.ToJsonString(ManifestJson.Options) ?? r.SettingsJson);

    private static async Task<IResult> ListAsync(PlumblineDbContext db, ProjectPageContext page, IFormCollection? posted, string? error, CancellationToken ct)
    {
        // Newest first; a project has tens of releases, not thousands.
        var rows = await db.Releases().AsNoTracking().Where(r => r.ProjectId == page.ProjectId).OrderByDescending(r => r.Version).ToListAsync(ct);
        var emails = await ReleaseEndpoints.EmailsAsync(db, rows, ct);
        var schemaJson = await db.Projects.AsNoTracking().Where(p => p.Id == page.ProjectId).Select(p => p.SchemaJson).FirstAsync(ct);
        var schema = ProjectSchema.Parse(schemaJson);
        var fitting = ReleaseFormats.Fitting(schema).ToHashSet(StringComparer.Ordinal);
        var form = new ReleaseFormModel(
            ReleaseFormats.All.Where(f => fitting.Contains(f.Name)).ToList(),
            schema.Questions.Where(q => ConsensusMethods.For(q.Type).Count > 0)
                .Select(q => new ReleaseQuestionChoice(q.Name, q.Type, ConsensusMethods.For(q.Type), ConsensusMethods.Resolve(q, null))).ToList(),
            posted);
        return new RazorComponentResult<ReleasesPage>(new { Page = page, Releases = rows.Select(r => View(r, emails)).ToList(), Form = form, Error = error });
    }

    /// <summary>The create form as an API request; a number that does not parse is a <see cref="FormatException"/> naming the field.</summary>
    internal static CreateReleaseRequest RequestOf(IFormCollection form)
    {
        static string? Text(IFormCollection form, string key) => form[key].FirstOrDefault() is { Length: > 0 } v ? v.Trim() : null;
        static double? Number(IFormCollection form, string key, string label) => Text(form, key) is not { } v ? null
            : double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
            : throw new FormatException($"{label} '{v}' is not a number; use a decimal point, e.g. 0.05.");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = (Text(form, "metadata") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 0; i < lines.Length; i++)
        {
            var eq = lines[i].IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"Metadata line {i + 1} '{lines[i]}' is not KEY=VALUE.");
            }
            metadata[lines[i][..eq].Trim()] = lines[i][(eq + 1)..].Trim();
        }
        var methods = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in form.Keys.Where(k => k.StartsWith("method.", StringComparison.Ordinal)))
        {
            if (Text(form, key) is { } method)
            {
                methods[key["method.".Length..]] = method;
            }
        }
        long? seed = Text(form, "seed") is not { } s ? null
            : long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n
            : throw new FormatException($"Seed '{s}' is not a whole number.");
        return new CreateReleaseRequest(
            form["formats"].Where(f => !string.IsNullOrWhiteSpace(f)).Select(f => f!).ToList(),
            new ReleaseFilter(Text(form, "status"), metadata, Number(form, "minConfidence", "Minimum confidence"), form["excludeGold"] == "on",
                form["onlyReviewed"] == "on"),
            methods,
            new ReleaseSplit(Number(form, "validation", "Validation share"), Number(form, "test", "Test share"), seed, Text(form, "stratifyBy")),
            form["realIds"] == "on",
            Text(form, "s3"));
    }
}

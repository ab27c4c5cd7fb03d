using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Releases;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Releases;

/// <summary>A release as listed.</summary>
/// <param name="Version">1 for v1 …</param>
/// <param name="Name">v1 …</param>
/// <param name="Status"><c>queued</c>, <c>building</c>, <c>ready</c> or <c>failed</c>.</param>
/// <param name="Items">Items in the release (when ready).</param>
/// <param name="Formats">The requested formats.</param>
/// <param name="CreatedBy">Who asked for it.</param>
/// <param name="CreatedAt">When it was asked for.</param>
/// <param name="Location">Its folder on the server.</param>
/// <param name="RemoteLocation">Its copy in S3-compatible storage, when one was asked for.</param>
/// <param name="Progress">Items read so far by the build.</param>
/// <param name="Total">Items the build reads at most, once it started.</param>
/// <param name="Error">Why it failed.</param>
/// <param name="FinishedAt">When it became ready or failed.</param>
public sealed record ReleaseSummary(int Version, string Name, string Status, long Items, IReadOnlyList<string> Formats, string? CreatedBy,
    DateTime CreatedAt, string Location, string? RemoteLocation, long Progress, long? Total, string? Error, DateTime? FinishedAt);

/// <summary>A release with its settings and manifest.</summary>
public sealed record ReleaseDetail(ReleaseSummary Release, JsonNode? Settings, JsonNode? Manifest);

/// <summary>What changed between two releases of a project, item by item.</summary>
/// <param name="From">The older release's version.</param>
/// <param name="To">The newer release's version.</param>
/// <param name="Added">Items in <c>To</c> only.</param>
/// <param name="Removed">Items in <c>From</c> only.</param>
/// <param name="Changed">Items in both whose content (fields, metadata, answers, consensus) differs.</param>
/// <param name="MovedSplit">Items in both that moved to another split.</param>
/// <param name="Unchanged">Items in both, identical, in the same split.</param>
/// <param name="AddedIds">External ids of added items (the first 100).</param>
/// <param name="RemovedIds">External ids of removed items (the first 100).</param>
/// <param name="ChangedIds">External ids of changed items (the first 100).</param>
public sealed record ReleaseDiff(int From, int To, long Added, long Removed, long Changed, long MovedSplit, long Unchanged,
    List<string> AddedIds, List<string> RemovedIds, List<string> ChangedIds);

public static class ReleaseEndpoints
{
    public static IEndpointRouteBuilder MapReleaseEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}/releases").WithTags("Releases").RequireAuthorization();

        api.MapPost("/", async (long id, CreateReleaseRequest request, ClaimsPrincipal user, ProjectAccess access, ReleaseService releases,
            ReleaseWorker worker, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                var release = await releases.QueueAsync(id, user.Id(), request, ct);
                worker.Wake();
                var detail = await DetailAsync(db, release, ct);
                return Results.Accepted($"/api/v1/projects/{id}/releases/{release.Version}", detail);
            }
            catch (ReleaseException ex)
            {
                return Problems.BadRequest(ex.Message);
            }
            catch (ReleaseStorageException ex)
            {
                return Results.Problem(ex.Message, statusCode: StatusCodes.Status502BadGateway, title: "Storage failed");
            }
        }).WithName("CreateRelease")
          .WithSummary("Queue the next numbered release (202 with its location): a background worker filters items, takes each question's "
            + "consensus, splits, and writes every format with a manifest; poll the location until its status is ready or failed");

        api.MapGet("/", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var rows = await db.Releases().AsNoTracking().Where(r => r.ProjectId == id).OrderBy(r => r.Version).ToListAsync(ct);
            var emails = await EmailsAsync(db, rows, ct);
            return Results.Ok(rows.Select(r => Summary(r, emails)).ToList());
        }).WithName("ListReleases").WithSummary("The project's releases, oldest first, with their status (queued, building, ready, failed)");

        api.MapGet("/{version}", async (long id, string version, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (release, problem) = await FindAsync(id, version, user, access, db, ct, readyOnly: false);
            return problem ?? Results.Ok(await DetailAsync(db, release!, ct));
        }).WithName("GetRelease")
          .WithSummary("A release's status and progress, settings and, once ready, manifest (counts, methods, agreement, files with SHA-256)");

        api.MapGet("/{version}/files/{**path}", async (long id, string version, string path, ClaimsPrincipal user, ProjectAccess access,
            PlumblineDbContext db, CancellationToken ct) =>
        {
            var (release, problem) = await FindAsync(id, version, user, access, db, ct);
            if (problem is not null)
            {
                return problem;
            }
            var manifest = JsonSerializer.Deserialize<ReleaseManifest>(release!.ManifestJson!, ManifestJson.Options)!;
            var known = path == "manifest.json" || manifest.Files.Any(f => f.Path == path);
            var full = known ? ReleaseStorage.Inside(release.Location, path) : null;
            if (full is null || !File.Exists(full))
            {
                return Problems.NotFound($"release v{release.Version} has no file '{path}'; its files: manifest.json, {string.Join(", ", manifest.Files.Select(f => f.Path))}");
            }
            var type = path.EndsWith(".jsonl", StringComparison.Ordinal) ? "application/x-ndjson"
                : new FileExtensionContentTypeProvider().TryGetContentType(path, out var t) ? t : "application/octet-stream";
            var name = $"project-{id}-v{release.Version}-{path.Replace('/', '-')}";
            return Results.File(full, type, name, enableRangeProcessing: true);
        }).WithName("DownloadReleaseFile").WithSummary("Download one file of a release (a path from its manifest, or manifest.json)");

        api.MapGet("/{version}/diff/{other}", async (long id, string version, string other, ClaimsPrincipal user, ProjectAccess access,
            PlumblineDbContext db, CancellationToken ct) =>
        {
            var (from, problem) = await FindAsync(id, version, user, access, db, ct);
            if (problem is not null)
            {
                return problem;
            }
            var (to, otherProblem) = await FindAsync(id, other, user, access, db, ct);
            if (otherProblem is not null)
            {
                return otherProblem;
            }
            return Results.Ok(await ReleaseDiffer.CompareAsync(from!, to!, ct));
        }).WithName("DiffReleases").WithSummary("Items added, removed and changed from one release to another");
        return app;
    }

    /// <summary>The release named by <paramref name="version"/> (<c>3</c> or <c>v3</c>) after checking the caller manages the project.</summary>
    /// <remarks>With <paramref name="readyOnly"/>, a release still building or failed is a 409 saying so.</remarks>
    internal static async Task<(Release? Release, IResult? Problem)> FindAsync(long id, string version, ClaimsPrincipal user, ProjectAccess access,
        PlumblineDbContext db, CancellationToken ct, bool readyOnly = true)
    {
        var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
        if (denied is not null)
        {
            return (null, denied);
        }
        var text = version.StartsWith('v') || version.StartsWith('V') ? version[1..] : version;
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
        {
            return (null, Problems.BadRequest($"'{version}' is not a release version; use a number such as 3 or v3"));
        }
        var release = await db.Releases().AsNoTracking().FirstOrDefaultAsync(r => r.ProjectId == id && r.Version == number, ct);
        if (release is null)
        {
            return (null, Problems.NotFound($"project {id} has no release v{number}"));
        }
        if (readyOnly && release.Status != ReleaseService.Ready)
        {
            var state = release.Status == ReleaseService.Failed ? $"failed ({release.Error}); create it again"
                : $"{release.Status} ({release.Progress} of {release.Total?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} items read); try again when it is ready";
            return (null, Problems.Conflict($"release v{number} is {state}"));
        }
        return (release, null);
    }

    internal static async Task<ReleaseDetail> DetailAsync(PlumblineDbContext db, Release release, CancellationToken ct)
    {
        var emails = await EmailsAsync(db, [release], ct);
        return new ReleaseDetail(Summary(release, emails), JsonNode.Parse(release.SettingsJson),
            release.ManifestJson is null ? null : JsonNode.Parse(release.ManifestJson));
    }

    internal static Task<Dictionary<long, string>> EmailsAsync(PlumblineDbContext db, List<Release> releases, CancellationToken ct)
    {
        var ids = releases.Select(r => r.CreatedById).Distinct().ToList();
        return db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Email, ct);
    }

    internal static ReleaseSummary Summary(Release r, Dictionary<long, string> emails)
    {
        var formats = JsonNode.Parse(r.SettingsJson)?["formats"]?.AsArray().Select(f => f!.GetValue<string>()).ToList() ?? [];
        return new ReleaseSummary(r.Version, $"v{r.Version}", r.Status, r.Items, formats, emails.GetValueOrDefault(r.CreatedById), r.CreatedAt,
            r.Location, r.RemoteLocation, r.Progress, r.Total, r.Error, r.FinishedAt);
    }
}

/// <summary>Compares two releases through their item indexes (sorted by item id), streaming both.</summary>
public static class ReleaseDiffer
{
    private const int ListedIds = 100;

    private sealed record Entry(long ItemId, string ExternalId, string Split, string Sha256);

    public static async Task<ReleaseDiff> CompareAsync(Release from, Release to, CancellationToken ct)
    {
        long added = 0, removed = 0, changed = 0, moved = 0, same = 0;
        List<string> addedIds = [], removedIds = [], changedIds = [];
        await using var a = Read(from).GetAsyncEnumerator(ct);
        await using var b = Read(to).GetAsyncEnumerator(ct);
        var hasA = await a.MoveNextAsync();
        var hasB = await b.MoveNextAsync();
        while (hasA || hasB)
        {
            if (hasA && (!hasB || a.Current.ItemId < b.Current.ItemId))
            {
                removed++;
                Note(removedIds, a.Current.ExternalId);
                hasA = await a.MoveNextAsync();
            }
            else if (hasB && (!hasA || b.Current.ItemId < a.Current.ItemId))
            {
                added++;
                Note(addedIds, b.Current.ExternalId);
                hasB = await b.MoveNextAsync();
            }
            else
            {
                if (a.Current.Sha256 != b.Current.Sha256)
                {
                    changed++;
                    Note(changedIds, b.Current.ExternalId);
                }
                else if (a.Current.Split == b.Current.Split)
                {
                    same++;
                }
                if (a.Current.Split != b.Current.Split)
                {
                    moved++;
                }
                hasA = await a.MoveNextAsync();
                hasB = await b.MoveNextAsync();
            }
        }
        return new ReleaseDiff(from.Version, to.Version, added, removed, changed, moved, same, addedIds, removedIds, changedIds);
    }

    private static void Note(List<string> list, string id)
    {
        if (list.Count < ListedIds)
        {
            list.Add(id);
        }
    }

    private static async IAsyncEnumerable<Entry> Read(Release release)
    {
        using var reader = new StreamReader(Path.Combine(release.Location, ReleaseBuilder.IndexPath));
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }
            var node = JsonNode.Parse(line)!;
            yield return new Entry(node["item_id"]!.GetValue<long>(), node["external_id"]!.GetValue<string>(), node["split"]!.GetValue<string>(),
                node["sha256"]!.GetValue<string>());
        }
    }
}

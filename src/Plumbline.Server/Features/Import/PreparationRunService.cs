using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Preparation;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Import;

/// <summary>What re-running preparation on a project did (or, in a dry run, would do).</summary>
/// <param name="Changed">Items whose texts were normalised or redacted.</param>
/// <param name="Deleted">Dropped items that had no responses, removed.</param>
/// <param name="Excluded">Dropped items that already had responses: kept, and marked in metadata (<c>preparation_excluded</c>).</param>
public sealed record PreparationRunReport(long? ImportId, bool DryRun, long Items, long Changed, long Deleted, long Excluded, PreparationReport Preparation);

/// <summary>
/// Runs the preparation rules over the items a project already holds, oldest first (so the oldest of a duplicate
/// cluster stays). Work that people have done is never deleted: a dropped item with responses is only marked.
/// </summary>
public sealed class PreparationRunService(PlumblineDbContext db, TimeProvider clock)
{
    private const int PageSize = 1000;

    public async Task<PreparationRunReport> RunAsync(long projectId, long userId, PreparationOptions options, bool dryRun, CancellationToken ct)
    {
        var preparer = new Preparer(options);
        var report = new PreparationReport();
        long items = 0, changed = 0, deleted = 0, excluded = 0;
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        long after = 0;
        while (true)
        {
            var page = await db.Items.AsNoTracking().Where(i => i.ProjectId == projectId && i.Id > after).OrderBy(i => i.Id).Take(PageSize)
                .Select(i => new { i.Id, i.ExternalId, i.FieldsJson, i.MetadataJson }).ToListAsync(ct);
            if (page.Count == 0)
            {
                break;
            }
            after = page[^1].Id;
            var ids = page.Select(p => p.Id).ToList();
            var answered = (await db.Responses.Where(r => ids.Contains(r.ItemId)).Select(r => r.ItemId).Distinct().ToListAsync(ct)).ToHashSet();
            foreach (var item in page)
            {
                items++;
                var fields = JsonNode.Parse(item.FieldsJson)!.AsObject();
                var prepared = preparer.Prepare(item.ExternalId, JsonTexts.Flatten(fields));
                report.Add(prepared);
                foreach (var text in prepared.ChangedTexts)
                {
                    JsonTexts.Replace(fields, text.Path, text.Text);
                }
                if (!prepared.IsKept && !answered.Contains(item.Id))
                {
                    deleted++;
                    await db.Items.Where(i => i.Id == item.Id).ExecuteDeleteAsync(ct);
                    continue;
                }
                string? metadata = null;
                if (!prepared.IsKept)
                {
                    excluded++;
                    var meta = JsonNode.Parse(item.MetadataJson)!.AsObject();
                    meta["preparation_excluded"] = new JsonObject { ["rule"] = prepared.Rule, ["reason"] = prepared.Reason, ["duplicateOf"] = prepared.DuplicateOf };
                    metadata = meta.ToJsonString(StoredJson.Options);
                }
                if (prepared.ChangedTexts.Count > 0 || metadata is not null)
                {
                    if (prepared.ChangedTexts.Count > 0)
                    {
                        changed++;
                    }
                    var newFields = fields.ToJsonString(StoredJson.Options);
                    var newMetadata = metadata ?? item.MetadataJson;
                    await db.Items.Where(i => i.Id == item.Id).ExecuteUpdateAsync(s => s
                        .SetProperty(i => i.FieldsJson, newFields).SetProperty(i => i.MetadataJson, newMetadata).SetProperty(i => i.UpdatedAt, now), ct);
                }
            }
        }
        if (dryRun)
        {
            await tx.RollbackAsync(ct);
            return new PreparationRunReport(null, true, items, changed, deleted, excluded, report);
        }
        var run = new ImportRun { ProjectId = projectId, UserId = userId, FileName = null, CreatedAt = now, Updated = changed, Dropped = deleted + excluded };
        db.Set<ImportRun>().Add(run);
        await db.SaveChangesAsync(ct);
        var result = new PreparationRunReport(run.Id, false, items, changed, deleted, excluded, report);
        run.ReportJson = JsonSerializer.Serialize(result, StoredJson.Options);
        db.Record(clock, userId, projectId, "items.prepare", "project", projectId, new { importId = run.Id, changed, deleted, excluded });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return result;
    }
}

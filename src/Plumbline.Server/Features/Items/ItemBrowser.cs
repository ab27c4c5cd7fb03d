using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Preparation;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Items;

/// <summary>Where an item stands against the project's overlap.</summary>
public static class ItemStatus
{
    /// <summary>No submitted response yet.</summary>
    public const string None = "none";
    /// <summary>Some submitted responses, fewer than the overlap.</summary>
    public const string InProgress = "in_progress";
    /// <summary>As many submitted responses as the overlap asks for.</summary>
    public const string Complete = "complete";

    public static readonly string[] All = [None, InProgress, Complete];

    public static string Of(int submitted, int overlap) => submitted == 0 ? None : submitted < overlap ? InProgress : Complete;
}

/// <summary>Filters of the item browser; all optional, combined with AND.</summary>
/// <param name="Text">Text anywhere in the item's fields (case-insensitive for ASCII), or its external id.</param>
/// <param name="MetaKey">A top-level metadata key the item must have.</param>
/// <param name="MetaValue">The value that key must have (compared as text: <c>true</c>, <c>3</c>, <c>en</c>).</param>
/// <param name="Status"><c>none</c>, <c>in_progress</c> or <c>complete</c> (see <see cref="ItemStatus"/>).</param>
/// <param name="Annotator">E-mail of a person who has a response (of any status) on the item.</param>
/// <param name="After">The <c>next</c> of the previous page: items with a larger id.</param>
/// <param name="Limit">Items per page, 1-200.</param>
public sealed record ItemQuery(string? Text = null, string? MetaKey = null, string? MetaValue = null, string? Status = null,
    string? Annotator = null, long? After = null, int Limit = 50);

/// <summary>One line of the item list.</summary>
/// <param name="Preview">The start of the item's first text, for recognising it.</param>
public sealed record ItemSummary(long Id, string ExternalId, string Preview, int SubmittedCount, string Status, DateTime UpdatedAt);

/// <summary>A page of items in id order; pass <paramref name="Next"/> as <c>after</c> for the following page (null at the end).</summary>
public sealed record ItemListDto(List<ItemSummary> Items, long? Next);

/// <summary>One person's response as a manager or reviewer reads it.</summary>
/// <param name="Revisions">How many versions were stored (every save and submission adds one).</param>
/// <param name="Presentation">How the item was shown to that person (candidate order).</param>
/// <param name="Metadata">Figures derived from the answers (e.g. edit distance of edited drafts).</param>
public sealed record ResponseDetail(long Id, string User, string Status, JsonObject Values, int Revision, int Revisions, long? LeadTimeMs,
    int GuidelineVersion, JsonObject? Presentation, JsonObject? Metadata, string? SkipReason, DateTime CreatedAt, DateTime UpdatedAt);

/// <summary>An item with everything stored about it and all its responses.</summary>
public sealed record ItemDetailDto(long Id, string ExternalId, JsonObject Fields, JsonObject Metadata, JsonNode? Gold, int SubmittedCount,
    string Status, DateTime CreatedAt, List<ResponseDetail> Responses);

/// <summary>A filter the browser cannot run, in words.</summary>
public sealed class ItemQueryException(string message) : Exception(message);

/// <summary>
/// Searches a project's items with keyset pages (<c>id &gt; after ORDER BY id LIMIT n</c>, never OFFSET), so the
/// millionth page costs what the first does, and reads one item with all its responses.
/// </summary>
public sealed class ItemBrowser(PlumblineDbContext db)
{
    public const int MaxLimit = 200;
    private const int PreviewChars = 160;

    public async Task<ItemListDto> SearchAsync(long projectId, ItemQuery query, CancellationToken ct)
    {
        var limit = Math.Clamp(query.Limit, 1, MaxLimit);
        var overlap = await db.Projects.AsNoTracking().Where(p => p.Id == projectId).Select(p => p.Overlap).FirstAsync(ct);
        // The WHERE clause is SQL because metadata needs each database's JSON functions; every value is a parameter.
        var sql = new List<string> { "SELECT * FROM items AS i WHERE i.project_id = {0}" };
        var args = new List<object> { projectId };
        string Arg(object value)
        {
            args.Add(value);
            return "{" + (args.Count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + "}";
        }
        if (query.Text is { Length: > 0 } text)
        {
            // Fields are stored as JSON: search for the text as it is written there (quotes and line breaks escaped).
            var stored = JsonSerializer.Serialize(text, StoredJson.Options)[1..^1].ToLowerInvariant();
            var find = db.IsPostgres ? "strpos(lower(i.fields_json), {0}) > 0" : "instr(lower(i.fields_json), {0}) > 0";
            sql.Add($"AND ({find.Replace("{0}", Arg(stored), StringComparison.Ordinal)} OR i.external_id = {Arg(text)})");
        }
        if (query.MetaKey is { Length: > 0 } key)
        {
            if (key.Contains('"', StringComparison.Ordinal) || key.Contains('\\', StringComparison.Ordinal))
            {
                throw new ItemQueryException($"metadata key '{key}' may not contain quotes or backslashes");
            }
            string valueSql;
            if (db.IsPostgres)
            {
                valueSql = $"(i.metadata_json::jsonb ->> {Arg(key)})";
            }
            else
            {
                // SQLite gives booleans back as 1 and 0; spell them as JSON does, like PostgreSQL's ->>.
                var path = Arg($"$.\"{key}\"");
                valueSql = $"(CASE json_type(i.metadata_json, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL " +
                    $"ELSE CAST(json_extract(i.metadata_json, {path}) AS TEXT) END)";
            }
            sql.Add(query.MetaValue is { Length: > 0 } value ? $"AND {valueSql} = {Arg(value)}" : $"AND {valueSql} IS NOT NULL");
        }
        switch (query.Status)
        {
            case null or "":
                break;
            case ItemStatus.None:
                sql.Add("AND i.submitted_count = 0");
                break;
            case ItemStatus.InProgress:
                sql.Add($"AND i.submitted_count > 0 AND i.submitted_count < {Arg(overlap)}");
                break;
            case ItemStatus.Complete:
                sql.Add($"AND i.submitted_count >= {Arg(overlap)}");
                break;
            default:
                throw new ItemQueryException($"status '{query.Status}' is not one of {string.Join(", ", ItemStatus.All)}");
        }
        if (query.Annotator is { Length: > 0 } email)
        {
            var normalised = Emails.Normalise(email);
            var userId = await db.Users.AsNoTracking().Where(u => u.Email == normalised).Select(u => (long?)u.Id).FirstOrDefaultAsync(ct)
                ?? throw new ItemQueryException($"no user with e-mail {email}");
            sql.Add($"AND EXISTS (SELECT 1 FROM responses AS r WHERE r.item_id = i.id AND r.user_id = {Arg(userId)})");
        }
        var after = query.After ?? 0;
        var rows = await db.Items.FromSql(FormattableStringFactory.Create(string.Join(' ', sql), [.. args])).AsNoTracking()
            .Where(i => i.Id > after).OrderBy(i => i.Id).Take(limit + 1)
            .Select(i => new { i.Id, i.ExternalId, i.FieldsJson, i.SubmittedCount, i.UpdatedAt })
            .ToListAsync(ct);
        var more = rows.Count > limit;
        var items = rows.Take(limit)
            .Select(r => new ItemSummary(r.Id, r.ExternalId, Preview(r.FieldsJson), r.SubmittedCount, ItemStatus.Of(r.SubmittedCount, overlap), r.UpdatedAt))
            .ToList();
        return new ItemListDto(items, more ? items[^1].Id : null);
    }

    /// <summary>The item with its responses side by side, or null when it is not in the project.</summary>
    public async Task<ItemDetailDto?> GetAsync(long projectId, long itemId, CancellationToken ct)
    {
        var item = await db.Items.AsNoTracking().FirstOrDefaultAsync(i => i.Id == itemId && i.ProjectId == projectId, ct);
        if (item is null)
        {
            return null;
        }
        var overlap = await db.Projects.AsNoTracking().Where(p => p.Id == projectId).Select(p => p.Overlap).FirstAsync(ct);
        var responses = await db.Responses.AsNoTracking().Where(r => r.ItemId == itemId).OrderBy(r => r.Id)
            .Join(db.Users, r => r.UserId, u => u.Id, (r, u) => new { Response = r, u.Email })
            .ToListAsync(ct);
        var ids = responses.Select(r => r.Response.Id).ToList();
        var revisions = await db.ResponseRevisions.AsNoTracking().Where(v => ids.Contains(v.ResponseId))
            .GroupBy(v => v.ResponseId).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, ct);
        return new ItemDetailDto(item.Id, item.ExternalId, JsonNode.Parse(item.FieldsJson)!.AsObject(), JsonNode.Parse(item.MetadataJson)!.AsObject(),
            item.GoldJson is null ? null : JsonNode.Parse(item.GoldJson), item.SubmittedCount, ItemStatus.Of(item.SubmittedCount, overlap), item.CreatedAt,
            responses.Select(x => new ResponseDetail(x.Response.Id, x.Email, x.Response.Status, JsonNode.Parse(x.Response.ValuesJson)!.AsObject(),
                x.Response.Revision, revisions.GetValueOrDefault(x.Response.Id), x.Response.LeadTimeMs, x.Response.GuidelineVersion,
                Object(x.Response.PresentationJson), Object(x.Response.MetadataJson), x.Response.SkipReason, x.Response.CreatedAt, x.Response.UpdatedAt)).ToList());
    }

    private static JsonObject? Object(string? json) => json is null ? null : JsonNode.Parse(json) as JsonObject;

    private static string Preview(string fieldsJson)
    {
        if (JsonNode.Parse(fieldsJson) is not JsonObject fields)
        {
            return "";
        }
        var first = JsonTexts.Flatten(fields).Select(t => t.Text).FirstOrDefault(t => !string.IsNullOrWhiteSpace(t)) ?? "";
        first = string.Join(' ', first.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return first.Length <= PreviewChars ? first : first[..PreviewChars] + "…";
    }
}

using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Labelling;
using Plumbline.Core.Schema;
using Plumbline.Data;

namespace Plumbline.Server.Features.Labellers;

/// <summary>
/// Suggestions in the workspace. When an item is first shown to a person, the newest suggestion per question is
/// chosen and its id kept in the assignment's presentation (beside the candidate order), so the page shows it
/// pre-filled and the submit knows exactly which suggestion was in front of the person. At submit, each shown
/// suggestion is compared with the answer and the outcome (accepted, edited, rejected) goes into the response's
/// metadata with the suggestion's agent. Gold items are shown without suggestions. Only the person holding the item sees its suggestions, and only the values:
/// the agent (which model, which labeller) stays on the server.
/// </summary>
public static class WorkspaceSuggestions
{
    /// <summary>The key of the presentation and of the response metadata that hold suggestions.</summary>
    public const string MetadataKey = "suggestions";

    /// <summary>Suggestion ids by question to show with an item ({question: id}), or null when there are none.</summary>
    public static async Task<JsonObject?> ChooseAsync(PlumblineDbContext db, ProjectSchema schema, long itemId, CancellationToken ct) =>
        await ChooseAsync(db, schema, itemId, await db.Items.AnyAsync(i => i.Id == itemId && i.GoldJson != null, ct), ct);

    /// <summary>As above, when the caller already read whether the item is gold.</summary>
    public static async Task<JsonObject?> ChooseAsync(PlumblineDbContext db, ProjectSchema schema, long itemId, bool isGold, CancellationToken ct)
    {
        // Gold items measure the person: a model's answer pre-filled there would measure the model instead.
        if (isGold)
        {
            return null;
        }
        JsonObject? chosen = null;
        await foreach (var row in SuggestionsOfItem.For(db)(db, itemId).WithCancellation(ct))
        {
            if (schema.FindQuestion(row.Question) is not null && chosen?.ContainsKey(row.Question) != true)
            {
                (chosen ??= [])[row.Question] = row.Id;
            }
        }
        return chosen;
    }

    // Compiled once: every lease asks it, and most items have no suggestions (docs/benchmarks.md, "Work queue").
    private static readonly PerProvider<Func<PlumblineDbContext, long, IAsyncEnumerable<SuggestionRef>>> SuggestionsOfItem =
        new(() => EF.CompileAsyncQuery((PlumblineDbContext db, long itemId) => db.Suggestions.AsNoTracking().Where(s => s.ItemId == itemId)
            .OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id).Select(s => new SuggestionRef(s.Id, s.Question))));

    private sealed record SuggestionRef(long Id, string Question);

    /// <summary>The values of the suggestions a presentation names ({question: value}), or null.</summary>
    public static async Task<JsonObject?> ValuesAsync(PlumblineDbContext db, JsonObject? presentation, long itemId, CancellationToken ct)
    {
        var chosen = await LoadAsync(db, presentation, itemId, ct);
        if (chosen.Count == 0)
        {
            return null;
        }
        var values = new JsonObject();
        foreach (var (question, suggestion) in chosen)
        {
            values[question] = JsonNode.Parse(suggestion.ValueJson);
        }
        return values;
    }

    /// <summary>Adds <c>suggestions: {question: {agent, outcome}}</c> to a response's metadata for every suggestion shown.</summary>
    public static async Task<JsonObject?> RecordOutcomesAsync(PlumblineDbContext db, ProjectSchema schema, string? presentationJson, long itemId,
        JsonObject values, JsonObject? metadata, CancellationToken ct)
    {
        var presentation = presentationJson is null ? null : JsonNode.Parse(presentationJson) as JsonObject;
        var chosen = await LoadAsync(db, presentation, itemId, ct);
        if (chosen.Count == 0)
        {
            return metadata;
        }
        var outcomes = new JsonObject();
        foreach (var (question, suggestion) in chosen.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            if (schema.FindQuestion(question) is not { } q)
            {
                continue;
            }
            outcomes[question] = new JsonObject
            {
                ["agent"] = suggestion.Agent,
                ["outcome"] = SuggestionOutcome.Classify(q, JsonNode.Parse(suggestion.ValueJson), values[question]?.DeepClone()),
            };
        }
        metadata ??= [];
        metadata[MetadataKey] = outcomes;
        return metadata;
    }

    private static async Task<Dictionary<string, Suggestion>> LoadAsync(PlumblineDbContext db, JsonObject? presentation, long itemId, CancellationToken ct)
    {
        if (presentation?[MetadataKey] is not JsonObject ids || ids.Count == 0)
        {
            return [];
        }
        var wanted = ids.Select(p => p.Value?.GetValue<long>() ?? 0).ToList();
        // The item id keeps a tampered or stale presentation from reaching another item's suggestions.
        var rows = await db.Suggestions.AsNoTracking().Where(s => wanted.Contains(s.Id) && s.ItemId == itemId).ToListAsync(ct);
        var result = new Dictionary<string, Suggestion>();
        foreach (var (question, id) in ids)
        {
            if (rows.Find(r => r.Id == id?.GetValue<long>() && r.Question == question) is { } row)
            {
                result[question] = row;
            }
        }
        return result;
    }

    /// <summary>Writes the metadata as stored JSON, or null when empty.</summary>
    public static string? ToJson(JsonObject? metadata) => metadata is null ? null : metadata.ToJsonString(StoredJson.Options);
}

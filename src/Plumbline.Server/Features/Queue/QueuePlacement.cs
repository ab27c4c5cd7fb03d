using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;

namespace Plumbline.Server.Features.Queue;

/// <summary>
/// Places items in the queue from their metadata: the priority (<see cref="WorkflowSettings.PriorityKey"/>) goes to an
/// indexed column, so the claim stays an index seek, and pins (<see cref="WorkflowSettings.PinKey"/>) go to
/// <see cref="ItemPin"/> rows. Runs inside the import's transaction, so an item is never visible unpinned.
/// </summary>
public static class QueuePlacement
{
    private const int PageSize = 1000;

    /// <summary>The item's priority: a JSON number, or a string holding one; 0 otherwise.</summary>
    public static double PriorityOf(JsonObject metadata, string key) => metadata[key] switch
    {
        JsonValue v when v.TryGetValue<double>(out var d) && double.IsFinite(d) => d,
        JsonValue v when v.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) => d,
        _ => 0,
    };

    /// <summary>Who the item is reserved for: <c>user:EMAIL</c> and <c>group:NAME</c> principals, from a string or a list.</summary>
    public static List<string> PinsOf(JsonObject metadata, string key)
    {
        var values = metadata[key] switch
        {
            JsonArray list => list.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null),
            JsonValue v when v.TryGetValue<string>(out var s) => [s],
            _ => [],
        };
        return [.. values.OfType<string>().Select(Principal).OfType<string>().Distinct(StringComparer.Ordinal)];
    }

    /// <summary><c>group:NAME</c> stays; an e-mail address becomes <c>user:address</c> (lower case); anything else is ignored.</summary>
    public static string? Principal(string value)
    {
        value = value.Trim();
        if (value.StartsWith("group:", StringComparison.OrdinalIgnoreCase) && value.Length > 6)
        {
            return "group:" + value[6..];
        }
        return value.Contains('@', StringComparison.Ordinal) && value.Length <= 320 ? "user:" + value.ToLowerInvariant() : null;
    }

    /// <summary>The principals a person claims pinned work under: themselves and their groups in the workflow.</summary>
    public static List<string> PrincipalsOf(string email, WorkflowSettings workflow)
    {
        var principals = new List<string> { "user:" + email.ToLowerInvariant() };
        foreach (var (name, members) in workflow.Groups ?? [])
        {
            if (members.Exists(m => string.Equals(m.Trim(), email, StringComparison.OrdinalIgnoreCase)))
            {
                principals.Add("group:" + name);
            }
        }
        return principals;
    }

    /// <summary>Sets priority, state and pins of the project's items changed at or after <paramref name="since"/>.</summary>
    public static async Task PlaceAsync(PlumblineDbContext db, long projectId, WorkflowSettings workflow, DateTime since, CancellationToken ct)
    {
        if (workflow.PriorityKey is null && workflow.PinKey is null)
        {
            return;
        }
        long after = 0;
        while (true)
        {
            var page = await db.Items.AsNoTracking()
                .Where(i => i.ProjectId == projectId && i.UpdatedAt >= since && i.Id > after).OrderBy(i => i.Id).Take(PageSize)
                .Select(i => new { i.Id, i.MetadataJson, i.QueueState }).ToListAsync(ct);
            if (page.Count == 0)
            {
                return;
            }
            after = page[^1].Id;
            var ids = page.Select(i => i.Id).ToList();
            var placed = page.Select(i =>
            {
                var metadata = JsonNode.Parse(i.MetadataJson) as JsonObject ?? [];
                var pins = workflow.PinKey is null ? [] : PinsOf(metadata, workflow.PinKey);
                var state = i.QueueState == ItemQueueStates.Complete ? ItemQueueStates.Complete
                    : pins.Count > 0 ? ItemQueueStates.Pinned : ItemQueueStates.Open;
                var priority = workflow.PriorityKey is null ? 0 : PriorityOf(metadata, workflow.PriorityKey);
                return (i.Id, Priority: priority, State: state, Pins: pins);
            }).ToList();
            foreach (var group in placed.GroupBy(p => (p.Priority, p.State)))
            {
                var groupIds = group.Select(p => p.Id).ToList();
                await db.Items.Where(i => groupIds.Contains(i.Id)).ExecuteUpdateAsync(s => s
                    .SetProperty(i => i.Priority, group.Key.Priority).SetProperty(i => i.QueueState, group.Key.State), ct);
            }
            if (workflow.PinKey is not null)
            {
                await db.Set<ItemPin>().Where(p => ids.Contains(p.ItemId)).ExecuteDeleteAsync(ct);
                db.Set<ItemPin>().AddRange(placed.SelectMany(p => p.Pins.Select(principal =>
                    new ItemPin { ItemId = p.Id, ProjectId = projectId, Principal = principal })));
                await db.SaveChangesAsync(ct);
                db.ChangeTracker.Clear();
            }
        }
    }
}

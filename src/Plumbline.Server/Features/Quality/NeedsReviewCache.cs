using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Quality;
using Plumbline.Data;

namespace Plumbline.Server.Features.Quality;

/// <summary>
/// The items whose consensus needs review, per project and label method, kept between calls. The review queue's
/// <c>below_agreement</c> policy and the adjudication list ask for them on every page; recomputing truth inference over
/// the whole project each time would make a big project's review queue as slow as its quality report.
/// </summary>
/// <remarks>
/// An entry is valid while the project's state stamp is unchanged: the count, largest id and latest update of its
/// submitted responses, the count and latest time of expert decisions, and the schema (threshold, questions). The stamp
/// is read from the database on every call (two aggregate queries over indexed columns), so a submission, a resubmission,
/// a decision or a settings change made through any server process invalidates the entry on every process.
/// </remarks>
public sealed class NeedsReviewCache
{
    /// <summary>Projects kept; beyond this the cache starts again (the entries are small, the cap only bounds a long-lived process).</summary>
    private const int MaxEntries = 512;

    private readonly ConcurrentDictionary<(long Project, string Method), (QualityStamp Stamp, List<ItemQuality> Items)> entries = new();

    private readonly ConcurrentDictionary<long, int> computations = new();

    /// <summary>Computations done for a project (cache misses), for tests and diagnostics.</summary>
    public int ComputationsOf(long projectId) => computations.GetValueOrDefault(projectId);

    /// <summary>The items needing review, in item id order, from the cache when the project has not changed since.</summary>
    public async Task<List<ItemQuality>> GetAsync(PlumblineDbContext db, QualityService quality, long projectId, string method, CancellationToken ct)
    {
        var stamp = await QualityStamp.ReadAsync(db, projectId, ct);
        if (entries.TryGetValue((projectId, method), out var entry) && entry.Stamp == stamp)
        {
            return entry.Items;
        }
        computations.AddOrUpdate(projectId, 1, (_, n) => n + 1);
        var report = await quality.ComputeAsync(projectId, method, ConsensusMethod.Mean, ItemListing.NeedsReview, ct);
        var items = report.Items.ToList();
        if (entries.Count >= MaxEntries)
        {
            entries.Clear();
            computations.Clear();
        }
        entries[(projectId, method)] = (stamp, items);
        return items;
    }
}

/// <summary>What a quality computation depends on, in a form that is cheap to read and compare.</summary>
internal sealed record QualityStamp(int Responses, long LastResponseId, DateTime? LastResponseUpdate, int Decisions, DateTime? LastDecision, string Schema)
{
    public static async Task<QualityStamp> ReadAsync(PlumblineDbContext db, long projectId, CancellationToken ct)
    {
        var responses = await db.Responses.AsNoTracking().Where(r => r.ProjectId == projectId && r.Status == "submitted")
            .GroupBy(_ => 1)
            .Select(g => new { Count = g.Count(), LastId = g.Max(r => r.Id), LastUpdate = (DateTime?)g.Max(r => r.UpdatedAt) })
            .FirstOrDefaultAsync(ct);
        var decisions = await db.Set<ItemDecision>().AsNoTracking().Where(d => d.ProjectId == projectId)
            .GroupBy(_ => 1)
            .Select(g => new { Count = g.Count(), Last = (DateTime?)g.Max(d => d.DecidedAt) })
            .FirstOrDefaultAsync(ct);
        var schema = await db.Projects.AsNoTracking().Where(p => p.Id == projectId).Select(p => p.SchemaJson).FirstAsync(ct);
        return new QualityStamp(responses?.Count ?? 0, responses?.LastId ?? 0, responses?.LastUpdate, decisions?.Count ?? 0, decisions?.Last, schema);
    }
}

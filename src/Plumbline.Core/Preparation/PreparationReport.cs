using System.Text.Json.Serialization;

namespace Plumbline.Core.Preparation;

/// <summary>An example of a rule at work, with private parts masked.</summary>
/// <param name="RecordId">The record.</param>
/// <param name="Path">The text, or null for the whole record.</param>
/// <param name="Detail">What happened.</param>
public sealed record RuleExample(string RecordId, string? Path, string Detail);

/// <summary>A record that was not imported, and why.</summary>
/// <param name="RecordId">The record.</param>
/// <param name="Rule">The rule that dropped it.</param>
/// <param name="Reason">Why, in words.</param>
public sealed record DroppedRecord(string RecordId, string Rule, string Reason);

/// <summary>A record imported with changed texts, and the rules that changed them.</summary>
/// <param name="RecordId">The record.</param>
/// <param name="Rules">Rules that changed or flagged its texts.</param>
public sealed record ChangedRecord(string RecordId, IReadOnlyList<string> Rules);

/// <summary>A dropped member of a duplicate cluster.</summary>
/// <param name="RecordId">The dropped record.</param>
/// <param name="Exact">True for an exact duplicate, false for a near-duplicate.</param>
/// <param name="Similarity">Estimated Jaccard similarity for near-duplicates.</param>
public sealed record DuplicateMember(string RecordId, bool Exact, double? Similarity);

/// <summary>A kept record and the records dropped as its duplicates.</summary>
public sealed class DuplicateCluster
{
    /// <summary>The record that stays (from this import or already in the project).</summary>
    public required string KeptId { get; init; }

    /// <summary>The records dropped in its favour, in arrival order.</summary>
    public List<DuplicateMember> Duplicates { get; set; } = [];
}

/// <summary>
/// The preparation report of one import: counts per rule, a few masked examples of each, duplicate clusters, and a
/// line for every dropped record and every changed one, so that nothing disappears or changes untraced.
/// </summary>
/// <remarks>Plain properties so that System.Text.Json writes and reads it; add records with <see cref="Add"/>.</remarks>
public sealed class PreparationReport
{
    private Dictionary<string, DuplicateCluster>? _clusterIndex;
    private readonly Dictionary<string, IReadOnlyList<string>> _ruleSets = new(StringComparer.Ordinal);

    /// <summary>Examples kept per rule.</summary>
    public int ExamplesPerRule { get; set; } = 5;

    /// <summary>Records seen.</summary>
    public long Records { get; set; }

    /// <summary>Records kept.</summary>
    public long Kept { get; set; }

    /// <summary>Records dropped, by any rule including duplicates.</summary>
    public long Dropped { get; set; }

    /// <summary>Kept records with at least one changed text.</summary>
    public long Changed { get; set; }

    /// <summary>Kept records flagged for review.</summary>
    public long Flagged { get; set; }

    /// <summary>Hits per rule: one per finding, one per changed text and kind of change, one per dropped record.</summary>
    public Dictionary<string, long> RuleCounts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Up to <see cref="ExamplesPerRule"/> examples per rule.</summary>
    public Dictionary<string, List<RuleExample>> Examples { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Each kept record that had duplicates, with them.</summary>
    public List<DuplicateCluster> DuplicateClusters { get; set; } = [];

    /// <summary>Every dropped record.</summary>
    public List<DroppedRecord> DroppedRecords { get; set; } = [];

    /// <summary>Every kept record whose texts changed or were flagged.</summary>
    public List<ChangedRecord> ChangedRecords { get; set; } = [];

    /// <summary>Accounts for one prepared record.</summary>
    public void Add(PreparedRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        Records++;
        foreach (var hit in record.Hits)
        {
            RuleCounts[hit.Rule] = RuleCounts.GetValueOrDefault(hit.Rule) + 1;
            if (!Examples.TryGetValue(hit.Rule, out var examples))
            {
                examples = [];
                Examples[hit.Rule] = examples;
            }

            if (examples.Count < ExamplesPerRule)
            {
                examples.Add(new RuleExample(record.RecordId, hit.Path, hit.Detail));
            }
        }

        if (!record.IsKept)
        {
            Dropped++;
            DroppedRecords.Add(new DroppedRecord(record.RecordId, record.Rule ?? "", record.Reason ?? ""));
            if (record.DuplicateOf is not null)
            {
                Cluster(record.DuplicateOf).Duplicates.Add(
                    new DuplicateMember(record.RecordId, record.Verdict == Verdict.DuplicateOf, record.Similarity));
            }

            return;
        }

        Kept++;
        if (record.Flags.Count > 0)
        {
            Flagged++;
        }

        if (record.ChangedTexts.Count > 0 || record.Flags.Count > 0)
        {
            Changed += record.ChangedTexts.Count > 0 ? 1 : 0;
            ChangedRecords.Add(new ChangedRecord(record.RecordId, RuleSet(record.Hits)));
        }
    }

    // Records share one list instance per distinct set of rules: a million changed records cost a reference each.
    private IReadOnlyList<string> RuleSet(IReadOnlyList<RuleHit> hits)
    {
        var rules = hits.Select(h => h.Rule).Distinct().Order(StringComparer.Ordinal).ToArray();
        var key = string.Join('|', rules);
        if (!_ruleSets.TryGetValue(key, out var shared))
        {
            shared = rules;
            _ruleSets[key] = shared;
        }

        return shared;
    }

    private DuplicateCluster Cluster(string keptId)
    {
        if (_clusterIndex is null)
        {
            _clusterIndex = new Dictionary<string, DuplicateCluster>(StringComparer.Ordinal);
            foreach (var c in DuplicateClusters)
            {
                _clusterIndex[c.KeptId] = c;
            }
        }

        if (!_clusterIndex.TryGetValue(keptId, out var cluster))
        {
            cluster = new DuplicateCluster { KeptId = keptId };
            _clusterIndex[keptId] = cluster;
            DuplicateClusters.Add(cluster);
        }

        return cluster;
    }

    /// <summary>Not serialised: a convenience for callers that look clusters up by kept id.</summary>
    [JsonIgnore]
    public IReadOnlyDictionary<string, DuplicateCluster> ClustersByKeptId
    {
        get
        {
            if (DuplicateClusters.Count > 0)
            {
                Cluster(DuplicateClusters[0].KeptId);
            }

            return (IReadOnlyDictionary<string, DuplicateCluster>?)_clusterIndex ?? new Dictionary<string, DuplicateCluster>();
        }
    }
}

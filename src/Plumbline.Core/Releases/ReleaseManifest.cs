using System.Text.Json.Nodes;

namespace Plumbline.Core.Releases;

/// <summary>
/// What a release holds and how it was made: written as <c>manifest.json</c> beside its files and stored with the
/// release. Everything here follows from the project's state and the release settings, so two releases made
/// from the same state with the same settings differ only in their version.
/// </summary>
public sealed class ReleaseManifest
{
    /// <summary>Version of this manifest's layout.</summary>
    public int ManifestVersion { get; set; } = 1;
    public long ProjectId { get; set; }
    public string ProjectName { get; set; } = "";
    /// <summary>Release number within the project: 1 for v1.</summary>
    public int Version { get; set; }
    /// <summary>The Plumbline version that wrote the release.</summary>
    public string Software { get; set; } = "";
    /// <summary>The settings the release was made with (filter, methods, split, formats), as given, with defaults filled in.</summary>
    public JsonNode? Settings { get; set; }
    public ReleaseCounts Counts { get; set; } = new();
    /// <summary>Responses included per guideline version they were given under.</summary>
    public SortedDictionary<int, long> GuidelineVersions { get; set; } = [];
    /// <summary>Per question: the consensus method and agreement figures over the included items.</summary>
    public SortedDictionary<string, QuestionFigures> Questions { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Every file of the release except this manifest, with its SHA-256.</summary>
    public List<ReleaseFileEntry> Files { get; set; } = [];
}

/// <summary>How many items and records went where.</summary>
public sealed class ReleaseCounts
{
    /// <summary>Items that passed the filter on stored data (status, metadata, gold, review).</summary>
    public long ItemsMatched { get; set; }
    /// <summary>Items in the release.</summary>
    public long Items { get; set; }
    /// <summary>Items left out, per reason (no answers, consensus below the minimum confidence).</summary>
    public SortedDictionary<string, long> Excluded { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Responses whose answers went into the release.</summary>
    public long Responses { get; set; }
    /// <summary>Distinct annotators of those responses.</summary>
    public int Annotators { get; set; }
    /// <summary>Items per split.</summary>
    public SortedDictionary<string, long> Splits { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>Consensus and agreement of one question over a release's items.</summary>
public sealed class QuestionFigures
{
    public string Type { get; set; } = "";
    public string Method { get; set; } = "";
    /// <summary>Items with a consensus for this question.</summary>
    public long Items { get; set; }
    public long Answers { get; set; }
    /// <summary>Mean consensus confidence over those items; null for free text.</summary>
    public double? MeanConfidence { get; set; }
    /// <summary>
    /// The agreement statistic: Krippendorff's alpha (nominal for labels and preferences, interval for ratings) or
    /// the mean per-item Kendall's W for rankings; null when there are not enough overlapping answers.
    /// </summary>
    public string? AgreementMetric { get; set; }
    public double? Agreement { get; set; }
}

/// <summary>One file of a release.</summary>
public sealed class ReleaseFileEntry
{
    /// <summary>Path inside the release folder, with forward slashes.</summary>
    public string Path { get; set; } = "";
    /// <summary>The format it is written in (<c>index</c> for the item index, <c>card</c> for a dataset card).</summary>
    public string Format { get; set; } = "";
    public string? Split { get; set; }
    public long Records { get; set; }
    public long Bytes { get; set; }
    /// <summary>Lower-case hex SHA-256 of the file's bytes.</summary>
    public string Sha256 { get; set; } = "";
}

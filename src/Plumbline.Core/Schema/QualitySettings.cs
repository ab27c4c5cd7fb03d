namespace Plumbline.Core.Schema;

/// <summary>
/// How a project checks its annotators: gold items mixed into the queue, automatic pausing, review
/// sampling and the confidence under which a consensus needs a person to look at it.
/// Part of <see cref="WorkflowSettings"/>, so it travels with the schema document.
/// </summary>
public sealed record QualitySettings
{
    /// <summary>Gold items served first to each annotator; with <see cref="GoldRate"/> 0 and this 0, gold items flow like any other item.</summary>
    public int GoldFirst { get; init; }

    /// <summary>After the first <see cref="GoldFirst"/>, the chance (0..1) that the next task is a gold item.</summary>
    public double GoldRate { get; init; }

    /// <summary>Pause an annotator whose gold accuracy falls below this (0..1); null never pauses.</summary>
    public double? PauseBelowGoldAccuracy { get; init; }

    /// <summary>Gold answers needed before accuracy can pause anyone (one early slip is not a verdict).</summary>
    public int MinGoldAnswers { get; init; } = 5;

    /// <summary>An item's consensus with confidence below this needs review.</summary>
    public double ReviewBelowConfidence { get; init; } = 0.7;

    /// <summary>Which submitted responses go to reviewers: <c>all</c> (the default), <c>none</c>, <c>percent</c>, <c>per_annotator</c> or <c>below_agreement</c>.</summary>
    public string ReviewMode { get; init; } = ReviewModes.All;

    /// <summary>For <c>percent</c>: the share of responses sampled, 0..100 (a stable hash of the response, so the sample does not move).</summary>
    public double ReviewPercent { get; init; } = 10;

    /// <summary>For <c>per_annotator</c>: the first this many responses of each annotator.</summary>
    public int ReviewPerAnnotator { get; init; } = 10;

    /// <summary>Careless-work flags: a median lead time under this fraction of the project's median is flagged as too fast.</summary>
    public double FastFraction { get; init; } = 0.25;

    /// <summary>Careless-work flags: agreement with consensus under this is flagged.</summary>
    public double LowAgreementBelow { get; init; } = 0.5;

    /// <summary>Problems with the settings, each naming the setting.</summary>
    public IEnumerable<string> Problems()
    {
        if (GoldFirst is < 0 or > 10_000)
        {
            yield return $"workflow.quality.goldFirst: {GoldFirst} is out of range 0..10000";
        }
        if (GoldRate is < 0 or > 1 || double.IsNaN(GoldRate))
        {
            yield return $"workflow.quality.goldRate: {GoldRate} is out of range 0..1";
        }
        if (PauseBelowGoldAccuracy is < 0 or > 1 || (PauseBelowGoldAccuracy is { } p && double.IsNaN(p)))
        {
            yield return $"workflow.quality.pauseBelowGoldAccuracy: {PauseBelowGoldAccuracy} is out of range 0..1";
        }
        if (MinGoldAnswers is < 1 or > 10_000)
        {
            yield return $"workflow.quality.minGoldAnswers: {MinGoldAnswers} is out of range 1..10000";
        }
        if (ReviewBelowConfidence is < 0 or > 1 || double.IsNaN(ReviewBelowConfidence))
        {
            yield return $"workflow.quality.reviewBelowConfidence: {ReviewBelowConfidence} is out of range 0..1";
        }
        if (!ReviewModes.AllModes.Contains(ReviewMode))
        {
            yield return $"workflow.quality.reviewMode: '{ReviewMode}' is not one of {string.Join(", ", ReviewModes.AllModes)}";
        }
        if (ReviewPercent is < 0 or > 100 || double.IsNaN(ReviewPercent))
        {
            yield return $"workflow.quality.reviewPercent: {ReviewPercent} is out of range 0..100";
        }
        if (ReviewPerAnnotator is < 0 or > 1_000_000)
        {
            yield return $"workflow.quality.reviewPerAnnotator: {ReviewPerAnnotator} is out of range 0..1000000";
        }
        if (FastFraction is < 0 or > 1 || double.IsNaN(FastFraction))
        {
            yield return $"workflow.quality.fastFraction: {FastFraction} is out of range 0..1";
        }
        if (LowAgreementBelow is < 0 or > 1 || double.IsNaN(LowAgreementBelow))
        {
            yield return $"workflow.quality.lowAgreementBelow: {LowAgreementBelow} is out of range 0..1";
        }
    }
}

/// <summary>The review sampling policies.</summary>
public static class ReviewModes
{
    public const string None = "none";
    public const string All = "all";
    public const string Percent = "percent";
    public const string PerAnnotator = "per_annotator";
    public const string BelowAgreement = "below_agreement";

    public static readonly string[] AllModes = [None, All, Percent, PerAnnotator, BelowAgreement];
}

namespace Plumbline.Core.Quality;

/// <summary>The agreement metric reported for a question type.</summary>
public enum AgreementMetric
{
    /// <summary><see cref="Agreement.KrippendorffAlpha"/> with <see cref="MeasurementLevel.Nominal"/>.</summary>
    KrippendorffNominal,

    /// <summary><see cref="Agreement.KrippendorffAlpha"/> with <see cref="MeasurementLevel.Ordinal"/>.</summary>
    KrippendorffOrdinal,

    /// <summary><see cref="Agreement.MeanPerLabelAlpha"/>: nominal alpha per label, averaged.</summary>
    MeanPerLabelNominalAlpha,

    /// <summary><see cref="Agreement.MeanKendallW"/>: Kendall's W per ranked item, averaged.</summary>
    MeanKendallW,

    /// <summary><see cref="TextSimilarity.MeanPairwiseEditSimilarity"/>.</summary>
    MeanEditSimilarity,

    /// <summary><see cref="Agreement.SpanAlpha"/>: nominal alpha over text positions.</summary>
    SpanPositionAlpha,
}

/// <summary>Which agreement metric a question type reports by default.</summary>
/// <remarks>
/// Krippendorff's alpha is the default wherever it applies: annotation projects have missing answers,
/// varying overlap and many annotators, and alpha is the one coefficient defined for all of that (Fleiss'
/// kappa assumes a fixed number of answers per item; Cohen's kappa assumes two raters).
/// </remarks>
public static class DefaultMetric
{
    /// <summary>
    /// The metric for a question type name:
    /// <list type="bullet">
    /// <item><c>label</c> → nominal alpha: categories have no order.</item>
    /// <item><c>preference</c> → nominal alpha: A / B / tie / both bad do not lie on one scale ("both bad" is not between A and B).</item>
    /// <item><c>rating</c> → ordinal alpha: rating anchors are ordered but their spacing is not known to be equal,
    /// and ordinal alpha uses only the order and how answers spread over the scale.</item>
    /// <item><c>multi_label</c> → mean per-label nominal alpha: each label is a separate checkbox, a yes/no decision with its own prevalence.</item>
    /// <item><c>ranking</c> → mean Kendall's W: each item's candidates are ranked by several raters, which is what W measures (with ties).</item>
    /// <item><c>text</c> → mean pairwise edit similarity: free text has no categories to count matches on.</item>
    /// <item><c>span</c> → nominal alpha over text positions (each position a unit whose value is its span label or "none"),
    /// a position-level reading of Krippendorff's unitizing alpha that credits partial overlaps.</item>
    /// </list>
    /// </summary>
    /// <exception cref="ArgumentException">For an unknown question type.</exception>
    public static AgreementMetric For(string questionType) => questionType switch
    {
        "label" or "preference" => AgreementMetric.KrippendorffNominal,
        "span" => AgreementMetric.SpanPositionAlpha,
        "rating" => AgreementMetric.KrippendorffOrdinal,
        "multi_label" => AgreementMetric.MeanPerLabelNominalAlpha,
        "ranking" => AgreementMetric.MeanKendallW,
        "text" => AgreementMetric.MeanEditSimilarity,
        _ => throw new ArgumentException($"Unknown question type '{questionType}'.", nameof(questionType)),
    };
}

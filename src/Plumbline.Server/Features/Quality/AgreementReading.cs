using System.Globalization;
using Plumbline.Core.Quality;

namespace Plumbline.Server.Features.Quality;

/// <summary>A band of an agreement scale: values from <paramref name="From"/> (inclusive) to <paramref name="To"/> read as <paramref name="Name"/>.</summary>
public sealed record AgreementBand(double From, double To, string Name);

/// <summary>
/// How a person should read an agreement figure: the published scale that fits its metric, the band the value falls in,
/// and the name shown next to the metric.
/// </summary>
public static class AgreementReading
{
    /// <summary>Landis &amp; Koch (1977), "The Measurement of Observer Agreement for Categorical Data", Biometrics 33(1):159–174, Table 1.</summary>
    public static readonly AgreementBand[] LandisKoch =
    [
        new(-1, 0, "poor"),
        new(0, 0.2, "slight"),
        new(0.2, 0.4, "fair"),
        new(0.4, 0.6, "moderate"),
        new(0.6, 0.8, "substantial"),
        new(0.8, 1.0000001, "almost perfect"),
    ];

    /// <summary>Schmidt (1997), "Managing Delphi surveys using nonparametric statistical techniques", Decision Sciences 28(3), Table 2, for Kendall's W.</summary>
    public static readonly AgreementBand[] Schmidt =
    [
        new(0, 0.1, "very weak"),
        new(0.1, 0.3, "weak"),
        new(0.3, 0.5, "moderate"),
        new(0.5, 0.7, "strong"),
        new(0.7, 1.0000001, "unusually strong"),
    ];

    /// <summary>The scale for a metric name (<see cref="AgreementMetric"/>), or null when no published bands exist (edit similarity).</summary>
    public static AgreementBand[]? BandsFor(string metric) => Enum.TryParse<AgreementMetric>(metric, out var m) ? m switch
    {
        AgreementMetric.MeanKendallW => Schmidt,
        AgreementMetric.MeanEditSimilarity => null,
        _ => LandisKoch,
    } : null;

    /// <summary>Where the scale comes from, to show under the chart.</summary>
    public static string SourceOf(string metric) => BandsFor(metric) switch
    {
        null => "no published bands: the share of characters two answers have in common",
        var b when ReferenceEquals(b, Schmidt) => "Schmidt (1997) bands for Kendall's W",
        _ => "Landis & Koch (1977) bands",
    };

    /// <summary>The band name of a value, e.g. "substantial"; with alpha, Krippendorff's own rule of thumb too.</summary>
    public static string Read(string metric, double? value)
    {
        if (value is not { } v)
        {
            return "undefined (too few overlapping answers, or no variation)";
        }
        if (BandsFor(metric) is not { } bands)
        {
            return v >= 0.8 ? "answers mostly alike" : v >= 0.5 ? "answers partly alike" : "answers mostly different";
        }
        var band = bands.FirstOrDefault(b => v >= b.From && v < b.To) ?? (v < bands[0].From ? bands[0] : bands[^1]);
        if (!metric.Contains("Alpha", StringComparison.Ordinal) && !metric.StartsWith("Krippendorff", StringComparison.Ordinal))
        {
            return band.Name;
        }
        // Krippendorff (2004), Content Analysis, 2nd ed., p. 241: rely on alpha ≥ .800; .667 ≤ alpha < .800 for tentative conclusions only.
        var rule = v >= 0.8 ? "reliable" : v >= 0.667 ? "tentative conclusions only" : "below Krippendorff's .667 minimum";
        return $"{band.Name} · {rule}";
    }

    /// <summary>A person-readable metric name.</summary>
    public static string MetricName(string metric) => Enum.TryParse<AgreementMetric>(metric, out var m) ? m switch
    {
        AgreementMetric.KrippendorffNominal => "Krippendorff's α (nominal)",
        AgreementMetric.KrippendorffOrdinal => "Krippendorff's α (ordinal)",
        AgreementMetric.MeanPerLabelNominalAlpha => "mean per-label α (nominal)",
        AgreementMetric.MeanKendallW => "mean Kendall's W",
        AgreementMetric.MeanEditSimilarity => "mean edit similarity",
        AgreementMetric.SpanPositionAlpha => "positional α (spans)",
        _ => metric,
    } : metric;

    /// <summary>A figure with three decimals, or an em dash when undefined.</summary>
    public static string Figure(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "—";

    /// <summary>A share as a percentage with one decimal, or an em dash.</summary>
    public static string Percent(double? value) => value is { } v ? (100 * v).ToString("0.#", CultureInfo.InvariantCulture) + "%" : "—";
}

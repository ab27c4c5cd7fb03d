namespace Plumbline.Server.Features.Quality;

/// <summary>One bar of a <see cref="BarChart"/>.</summary>
/// <param name="Label">What the bar is (a question, a person, an answer); shown as text, never markup.</param>
/// <param name="Value">Its length on the chart's scale; null draws no bar (undefined).</param>
/// <param name="Text">The figure written next to it.</param>
/// <param name="Href">Where the label links to, if anywhere.</param>
/// <param name="Css">An extra class for the row (e.g. flagged).</param>
public sealed record ChartBar(string Label, double? Value, string Text, string? Href = null, string? Css = null);

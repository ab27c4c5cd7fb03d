using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Core.Releases;

/// <summary>One person's answers to an item as a release sees them: after review corrections, with a pseudonym.</summary>
/// <param name="ResponseId">The stored response id (lineage).</param>
/// <param name="Annotator">The annotator's pseudonym for this release, or their real id when the manager asked for it.</param>
/// <param name="GuidelineVersion">The guideline version the answer was given under.</param>
/// <param name="Values">Answers keyed by question name.</param>
/// <param name="ValuesUtf8">The stored JSON text (UTF-8) <paramref name="Values"/> was parsed from, when it came from storage:
/// the item index hashes it as stored instead of re-serialising the tree.</param>
public sealed record ReleaseAnswer(long ResponseId, string Annotator, int GuidelineVersion, JsonObject Values, ReadOnlyMemory<byte>? ValuesUtf8 = null)
{
    private JsonObject? values = Values;

    /// <summary>
    /// An answer read from storage: <see cref="Values"/> is parsed from <paramref name="valuesUtf8"/> on first use. A
    /// preference release never needs the tree (consensus and agreement read the stored text), and building one per
    /// answer was a large share of a release's allocations.
    /// </summary>
    public ReleaseAnswer(long responseId, string annotator, int guidelineVersion, ReadOnlyMemory<byte> valuesUtf8)
        : this(responseId, annotator, guidelineVersion, null!, valuesUtf8)
    {
    }

    /// <summary>An answer from stored JSON text given as a string.</summary>
    public ReleaseAnswer(long responseId, string annotator, int guidelineVersion, string valuesJson)
        : this(responseId, annotator, guidelineVersion, System.Text.Encoding.UTF8.GetBytes(valuesJson))
    {
    }

    /// <summary>Answers keyed by question name.</summary>
    public JsonObject Values
    {
        get => values ??= (ValuesUtf8 is { } stored ? JsonNode.Parse(stored.Span) : null) as JsonObject ?? [];
        init => values = value;
    }

    /// <summary>The last preference read from this answer (see <see cref="PreferenceAnswer.TryRead"/>): consensus and the agreement tally both ask.</summary>
    internal PreferenceRead? LastPreference { get; set; }
}

/// <summary>One answer's reading of a preference question: whether it had a choice, its category index, and its strength.</summary>
internal readonly record struct PreferenceRead(string Question, bool Found, int Index, double? Strength);

/// <summary>
/// One item on its way into a release: its fields, its answers, the consensus of every question, and its split.
/// Formats turn this into zero or more records. Dispose it once written: its parsed fields hold pooled memory.
/// </summary>
public sealed class ReleaseItem : IDisposable
{
    private ReadOnlyMemory<byte>? fieldsUtf8;
    private JsonObject? fields;
    private JsonDocument? fieldsDocument;

    public required long ItemId { get; init; }
    public required string ExternalId { get; init; }

    /// <summary>
    /// The item's fields as UTF-8 JSON text: as stored when the item came from storage (the index hashes it as it is),
    /// else serialised from the tree it was given.
    /// </summary>
    public ReadOnlyMemory<byte> FieldsUtf8
    {
        get => fieldsUtf8 ??= JsonSerializer.SerializeToUtf8Bytes(fields ?? []);
        init => fieldsUtf8 = value;
    }

    /// <summary>
    /// The fields read in place over <see cref="FieldsUtf8"/>: what consensus and the training formats read. No tree and
    /// no strings are built, so a candidate's text goes from the stored bytes to the output file as it is.
    /// </summary>
    public JsonElement FieldsElement => (fieldsDocument ??= JsonDocument.Parse(FieldsUtf8)).RootElement;

    /// <summary>The fields as a tree, parsed on first use (the raw and CSV formats); given as a tree by items built in code.</summary>
    public JsonObject Fields
    {
        get => fields ??= JsonNode.Parse(FieldsUtf8.Span) as JsonObject ?? [];
        init => fields = value;
    }

    /// <summary>
    /// The item's metadata. Given as a tree, or parsed on first use from <see cref="MetadataUtf8"/>: most formats never read it,
    /// and the index hashes the stored text.
    /// </summary>
    public JsonObject Metadata
    {
        get => metadata ??= (MetadataUtf8 is { } stored ? JsonNode.Parse(stored.Span) : null) as JsonObject ?? [];
        init => metadata = value;
    }
    /// <summary>The stored JSON text (UTF-8) of the metadata, when it came from storage.</summary>
    public ReadOnlyMemory<byte>? MetadataUtf8 { get; init; }
    private JsonObject? metadata;
    /// <summary><c>train</c>, <c>validation</c> or <c>test</c>.</summary>
    public string Split { get; init; } = Splits.Train;
    public required IReadOnlyList<ReleaseAnswer> Answers { get; init; }
    /// <summary>
    /// Consensus per question name; questions nobody answered are absent. Set after the item is made when it is computed
    /// from <see cref="FieldsElement"/> (see <see cref="ReleaseBuilder.Consensus"/>).
    /// </summary>
    public IReadOnlyDictionary<string, QuestionConsensus> Consensus { get; set; } = System.Collections.ObjectModel.ReadOnlyDictionary<string, QuestionConsensus>.Empty;

    /// <summary>The consensus of a question, or null when it has none on this item.</summary>
    public T? ConsensusOf<T>(string question) where T : QuestionConsensus =>
        Consensus.TryGetValue(question, out var c) ? c as T : null;

    /// <summary>
    /// The least confident consensus over the item's questions (free-text questions have none): what the
    /// release filter's minimum confidence compares against. 1 when no question has a confidence.
    /// </summary>
    public double Confidence
    {
        get
        {
            var min = 1.0;
            foreach (var c in Consensus.Values)
            {
                if (!double.IsNaN(c.Confidence) && c.Confidence < min)
                {
                    min = c.Confidence;
                }
            }
            return min;
        }
    }

    public void Dispose() => fieldsDocument?.Dispose();
}

/// <summary>The three split names, in the order files and manifests list them.</summary>
public static class Splits
{
    public const string Train = "train";
    public const string Validation = "validation";
    public const string Test = "test";

    public static readonly string[] All = [Train, Validation, Test];
}

/// <summary>The combined answer of several people to one question on one item.</summary>
public abstract class QuestionConsensus
{
    public required string Question { get; init; }
    /// <summary>The method that produced it (e.g. <c>majority</c>, <c>median</c>, <c>borda</c>).</summary>
    public required string Method { get; init; }
    /// <summary>How many answers went in.</summary>
    public required int Answers { get; init; }
    /// <summary>
    /// In 0..1, how much the answers agree with the consensus (see each kind); NaN when the notion does not apply
    /// (free text).
    /// </summary>
    public required double Confidence { get; init; }
    /// <summary>
    /// Whether an expert adjudicated this question on this item: the value is the expert's, the votes and answer
    /// count stay the annotators'. The same rule as the quality report's per-item consensus.
    /// </summary>
    public bool Decided { get; init; }
}

/// <summary>Consensus of a <c>label</c> question: the winning label and the vote.</summary>
public sealed class LabelConsensus : QuestionConsensus
{
    public required string Label { get; init; }
    /// <summary>Votes per label, in schema order, labels without votes left out.</summary>
    public required IReadOnlyList<KeyValuePair<string, int>> Votes { get; init; }
}

/// <summary>Consensus of a <c>multi_label</c> question: every label chosen by more than half of the answers.</summary>
public sealed class MultiLabelConsensus : QuestionConsensus
{
    public required IReadOnlyList<string> Labels { get; init; }
    /// <summary>Share of answers that chose each label, in schema order, labels nobody chose left out.</summary>
    public required IReadOnlyList<KeyValuePair<string, double>> Shares { get; init; }
}

/// <summary>Consensus of a <c>rating</c> question.</summary>
public sealed class RatingConsensus : QuestionConsensus
{
    public required double Value { get; init; }
    /// <summary>The scale, so formats can normalise.</summary>
    public required int Min { get; init; }
    public required int Max { get; init; }
    /// <summary>The individual ratings, in response order.</summary>
    public required IReadOnlyList<double> Ratings { get; init; }

    /// <summary>The consensus on 0..1 (0 = the scale's minimum).</summary>
    public double Normalised => Max == Min ? 1 : (Value - Min) / (Max - Min);
}

/// <summary>Consensus of a <c>preference</c> question over two candidates.</summary>
public sealed class PreferenceConsensus : QuestionConsensus
{
    /// <summary>A candidate id, <c>tie</c> or <c>both_bad</c>.</summary>
    public required string Choice { get; init; }
    /// <summary>The preferred candidate and the other one; null when the choice is a tie or both bad.</summary>
    public string? Chosen { get; init; }
    public string? Rejected { get; init; }
    /// <summary>Mean strength (1 slightly … 3 much better) given by the answers that made the choice; NaN when not asked.</summary>
    public required double Strength { get; init; }
    /// <summary>Votes per choice, most votes first (ties by choice name).</summary>
    public required IReadOnlyList<KeyValuePair<string, int>> Votes { get; init; }
    /// <summary>Whether the choice names a winner (not a tie, not both bad).</summary>
    public bool IsDecisive => Chosen is not null;
}

/// <summary>Consensus of a <c>ranking</c> question: candidates ordered best first by mean rank (Borda).</summary>
public sealed class RankingConsensus : QuestionConsensus
{
    /// <summary>Candidate ids, best first.</summary>
    public required IReadOnlyList<string> Order { get; init; }
    /// <summary>Mean rank of each candidate in <see cref="Order"/> (1 = best), parallel to it.</summary>
    public required IReadOnlyList<double> MeanRanks { get; init; }
}

/// <summary>The free-text answers of a <c>text</c> question kept by its method (all of them, or one).</summary>
public sealed class TextConsensus : QuestionConsensus
{
    /// <summary>Each kept text with the response it came from.</summary>
    public required IReadOnlyList<(string Text, ReleaseAnswer From)> Texts { get; init; }
}

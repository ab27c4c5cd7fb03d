using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core.Quality;
using Plumbline.Core.Schema;

namespace Plumbline.Server.Features.Quality;

/// <summary>What the stored item says that answers refer to: candidate ids (in stored order) and text lengths.</summary>
internal sealed class ItemShape
{
    public Dictionary<string, string[]> Candidates { get; } = [];
    public Dictionary<string, int> TextLengths { get; } = [];
}

/// <summary>The consensus of one unit (an item, or an item's turn).</summary>
internal readonly record struct UnitConsensus(JsonNode? Value, double Confidence, int Answers);

/// <summary>Options of the consensus methods.</summary>
internal sealed record ConsensusOptions(string LabelMethod, ConsensusMethod RatingMethod);

/// <summary>
/// The answers to one question, in the long format of <see cref="Plumbline.Core.Quality"/>: one entry per
/// (unit, annotator). A unit is an item, or an item's assistant turn for per-turn questions. Memory grows
/// with the answers, never with items × annotators.
/// </summary>
internal abstract class QuestionAnswers(QuestionDefinition question)
{
    private readonly Dictionary<long, int> unitIndex = [];

    public QuestionDefinition Question { get; } = question;

    /// <summary>(item index, turn or -1) per unit.</summary>
    public List<(int Item, int Turn)> Units { get; } = [];

    public int AnswerCount { get; protected set; }

    public HashSet<int> Raters { get; } = [];

    public int Unit(int item, int turn)
    {
        var key = ((long)item << 24) | (uint)(turn + 1);
        if (!unitIndex.TryGetValue(key, out var unit))
        {
            unit = unitIndex[key] = Units.Count;
            Units.Add((item, turn));
        }
        return unit;
    }

    /// <summary>Adds one answer; false when the stored value does not fit the question (it is then left out).</summary>
    public bool Add(int item, int turn, int rater, JsonElement value, ItemShape? shape)
    {
        var added = AddCore(Unit(item, turn), rater, value, shape);
        if (added)
        {
            AnswerCount++;
            Raters.Add(rater);
        }
        return added;
    }

    protected abstract bool AddCore(int unit, int rater, JsonElement value, ItemShape? shape);

    public abstract AgreementMetric Metric { get; }

    public abstract string? ConsensusMethodName(ConsensusOptions options);

    public abstract double Agreement();

    public virtual double? PercentAgreement() => null;

    /// <summary>Consensus per unit (index = unit).</summary>
    public abstract UnitConsensus[] Consensus(ConsensusOptions options);

    /// <summary>For categorical questions: each answer's rater and whether it equals its unit's consensus (units with two or more answers).</summary>
    public virtual IEnumerable<(int Rater, bool Agrees)> CompareWithConsensus(UnitConsensus[] consensus) => [];

    /// <summary>For straight-lining: the answer as a comparable key per rater (categorical and rating questions).</summary>
    public virtual IEnumerable<(int Rater, double Key)> AnswerKeys() => [];

    /// <summary>How many answers gave each value, in the question's order (labels, then scale points); null where values are not categories.</summary>
    public virtual List<AnswerCount>? Distribution() => null;

    public static QuestionAnswers For(QuestionDefinition q) => q.Type switch
    {
        SchemaTypes.Label => new CategoricalAnswers(q),
        SchemaTypes.Preference => new CategoricalAnswers(q),
        SchemaTypes.Rating => new RatingAnswers(q),
        SchemaTypes.MultiLabel => new MultiLabelAnswers(q),
        SchemaTypes.Ranking => new RankingAnswers(q),
        SchemaTypes.TextAnswer => new TextAnswers(q),
        SchemaTypes.Span => new SpanAnswers(q),
        _ => throw new ArgumentException($"unknown question type '{q.Type}'"),
    };

}

/// <summary>
/// Label and preference questions: a category per answer. Labels are indexed in schema order. Preference
/// choices are 0 = tie, 1 = both bad, 2 + i = the item's i-th stored candidate, so categories mean the same on
/// every item whatever order each annotator was shown.
/// </summary>
internal sealed class CategoricalAnswers(QuestionDefinition q) : QuestionAnswers(q)
{
    private readonly List<Rating> ratings = [];
    private readonly List<string[]?> candidatesOfUnit = [];
    private int categoryCount = q.Type == SchemaTypes.Label ? q.Labels!.Count : 2;

    private bool IsPreference => Question.Type == SchemaTypes.Preference;

    public override AgreementMetric Metric => AgreementMetric.KrippendorffNominal;

    public override string? ConsensusMethodName(ConsensusOptions options) => options.LabelMethod;

    /// <summary>The category of a value, or -1 when it does not fit.</summary>
    public int Category(JsonElement value, string[]? candidates)
    {
        if (!IsPreference)
        {
            return value.ValueKind == JsonValueKind.String ? Question.Labels!.IndexOf(value.GetString()!) : -1;
        }
        var choice = value.ValueKind switch
        {
            JsonValueKind.Object when value.TryGetProperty("choice", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            JsonValueKind.String => value.GetString(),
            _ => null,
        };
        return choice switch
        {
            null => -1,
            AnswerValidator.Tie => 0,
            AnswerValidator.BothBad => 1,
            _ => candidates is null ? -1 : Array.IndexOf(candidates, choice) is var i and >= 0 ? 2 + i : -1,
        };
    }

    protected override bool AddCore(int unit, int rater, JsonElement value, ItemShape? shape)
    {
        string[]? candidates = null;
        if (IsPreference)
        {
            var field = Question.Field ?? shape?.Candidates.Keys.FirstOrDefault();
            candidates = field is null ? null : shape?.Candidates.GetValueOrDefault(field);
            while (candidatesOfUnit.Count <= unit)
            {
                candidatesOfUnit.Add(null);
            }
            candidatesOfUnit[unit] = candidates;
        }
        var category = Category(value, candidates);
        if (category < 0)
        {
            return false;
        }
        categoryCount = Math.Max(categoryCount, category + 1);
        ratings.Add(new Rating(unit, rater, category));
        return true;
    }

    public override double Agreement() => Core.Quality.Agreement.KrippendorffAlpha(CollectionsMarshal.AsSpan(ratings), MeasurementLevel.Nominal);

    public override double? PercentAgreement() => Core.Quality.Agreement.PercentAgreement(CollectionsMarshal.AsSpan(ratings));

    public TruthInferenceResult Infer(string method)
    {
        var span = CollectionsMarshal.AsSpan(ratings);
        return method switch
        {
            QualityMethods.Majority => TruthInference.MajorityVote(span, categoryCount),
            QualityMethods.Wawa => TruthInference.Wawa(span, categoryCount),
            QualityMethods.Glad => TruthInference.Glad(span, categoryCount),
            QualityMethods.Mace => TruthInference.Mace(span, categoryCount),
            _ => TruthInference.DawidSkene(span, categoryCount),
        };
    }

    public override UnitConsensus[] Consensus(ConsensusOptions options)
    {
        var result = new UnitConsensus[Units.Count];
        if (ratings.Count == 0)
        {
            return result;
        }
        var inferred = Infer(options.LabelMethod);
        var answers = new int[Units.Count];
        foreach (var r in ratings)
        {
            answers[r.Item]++;
        }
        for (var u = 0; u < Units.Count; u++)
        {
            var label = u < inferred.Labels.Length ? inferred.Labels[u] : -1;
            result[u] = label < 0 ? new UnitConsensus(null, 0, 0) : new UnitConsensus(ValueOf(u, label), inferred.Confidence[u], answers[u]);
        }
        return result;
    }

    private JsonNode? ValueOf(int unit, int category)
    {
        if (!IsPreference)
        {
            return JsonValue.Create(Question.Labels![category]);
        }
        var choice = category switch
        {
            0 => AnswerValidator.Tie,
            1 => AnswerValidator.BothBad,
            _ => candidatesOfUnit[unit] is { } c && category - 2 < c.Length ? c[category - 2] : null,
        };
        return choice is null ? null : new JsonObject { ["choice"] = choice };
    }

    public override IEnumerable<(int Rater, bool Agrees)> CompareWithConsensus(UnitConsensus[] consensus)
    {
        var answers = new int[Units.Count];
        foreach (var r in ratings)
        {
            answers[r.Item]++;
        }
        foreach (var r in ratings)
        {
            if (answers[r.Item] >= 2 && consensus[r.Item].Value is { } value)
            {
                yield return (r.Rater, ValueOf(r.Item, (int)r.Value) is { } mine && JsonNode.DeepEquals(mine, value));
            }
        }
    }

    public override IEnumerable<(int Rater, double Key)> AnswerKeys() => ratings.Select(r => (r.Rater, r.Value));

    public override List<AnswerCount>? Distribution()
    {
        var counts = new int[categoryCount];
        foreach (var r in ratings)
        {
            counts[(int)r.Value]++;
        }
        // Preference categories are tie, both bad, then the candidates in the item's own order (not the order shown).
        return [.. counts.Select((n, c) => new AnswerCount(
            IsPreference ? c switch { 0 => AnswerValidator.Tie, 1 => AnswerValidator.BothBad, _ => $"candidate {c - 1}" } : Question.Labels![c], n))];
    }
}

/// <summary>Rating questions: the scale value per answer; ordinal alpha; mean/median/robust consensus.</summary>
internal sealed class RatingAnswers(QuestionDefinition q) : QuestionAnswers(q)
{
    private readonly List<Rating> ratings = [];

    public override AgreementMetric Metric => AgreementMetric.KrippendorffOrdinal;

    public override string? ConsensusMethodName(ConsensusOptions options) => QualityMethods.Name(options.RatingMethod);

    protected override bool AddCore(int unit, int rater, JsonElement value, ItemShape? shape)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number))
        {
            return false;
        }
        ratings.Add(new Rating(unit, rater, number));
        return true;
    }

    public override double Agreement() => Core.Quality.Agreement.KrippendorffAlpha(CollectionsMarshal.AsSpan(ratings), MeasurementLevel.Ordinal);

    public double[] ConsensusValues(ConsensusMethod method) => RatingAggregation.Consensus(CollectionsMarshal.AsSpan(ratings), method);

    /// <summary>Per rater bias against the consensus (index = rater).</summary>
    public double[] Bias(double[] consensus) => RatingAggregation.RaterBias(CollectionsMarshal.AsSpan(ratings), consensus);

    /// <summary>Confidence of a rating consensus: the share of the unit's answers within one scale point of it.</summary>
    public override UnitConsensus[] Consensus(ConsensusOptions options)
    {
        var values = ConsensusValues(options.RatingMethod);
        var near = new int[Units.Count];
        var answers = new int[Units.Count];
        foreach (var r in ratings)
        {
            answers[r.Item]++;
            if (r.Item < values.Length && Math.Abs(r.Value - values[r.Item]) <= 1 + 1e-9)
            {
                near[r.Item]++;
            }
        }
        var result = new UnitConsensus[Units.Count];
        for (var u = 0; u < Units.Count; u++)
        {
            result[u] = u >= values.Length || double.IsNaN(values[u]) || answers[u] == 0
                ? new UnitConsensus(null, 0, 0)
                : new UnitConsensus(JsonValue.Create(Math.Round(values[u], 6)), (double)near[u] / answers[u], answers[u]);
        }
        return result;
    }

    public override IEnumerable<(int Rater, double Key)> AnswerKeys() => ratings.Select(r => (r.Rater, r.Value));

    public override List<AnswerCount>? Distribution()
    {
        var counts = new SortedDictionary<double, int>();
        if (Question.Scale is { } scale)
        {
            for (var v = scale.Min; v <= scale.Max; v++)
            {
                counts[v] = 0;
            }
        }
        foreach (var r in ratings)
        {
            counts[r.Value] = counts.GetValueOrDefault(r.Value) + 1;
        }
        return [.. counts.Select(kv => new AnswerCount(QualityMethods.Format(kv.Key), kv.Value))];
    }
}

/// <summary>Multi-label questions: the set of chosen labels; mean per-label alpha; a label is in the consensus when most chose it.</summary>
internal sealed class MultiLabelAnswers(QuestionDefinition q) : QuestionAnswers(q)
{
    private readonly List<LabelSetAnswer> answers = [];

    public override AgreementMetric Metric => AgreementMetric.MeanPerLabelNominalAlpha;

    public override string? ConsensusMethodName(ConsensusOptions options) => "per_label_majority";

    protected override bool AddCore(int unit, int rater, JsonElement value, ItemShape? shape)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            return false;
        }
        var labels = new List<int>();
        foreach (var v in value.EnumerateArray())
        {
            var i = v.ValueKind == JsonValueKind.String ? Question.Labels!.IndexOf(v.GetString()!) : -1;
            if (i < 0)
            {
                return false;
            }
            labels.Add(i);
        }
        answers.Add(new LabelSetAnswer(unit, rater, [.. labels]));
        return true;
    }

    public override double Agreement() => Core.Quality.Agreement.MeanPerLabelAlpha(CollectionsMarshal.AsSpan(answers), Question.Labels!.Count);

    /// <summary>Confidence: the mean over labels of the share of answers on the majority side of that label.</summary>
    public override UnitConsensus[] Consensus(ConsensusOptions options)
    {
        var k = Question.Labels!.Count;
        var chosen = new int[Units.Count * k];
        var count = new int[Units.Count];
        foreach (var a in answers)
        {
            count[a.Item]++;
            foreach (var l in a.Labels)
            {
                chosen[(a.Item * k) + l]++;
            }
        }
        var result = new UnitConsensus[Units.Count];
        for (var u = 0; u < Units.Count; u++)
        {
            if (count[u] == 0)
            {
                continue;
            }
            var set = new JsonArray();
            double share = 0;
            for (var l = 0; l < k; l++)
            {
                var yes = chosen[(u * k) + l];
                if (2 * yes > count[u])
                {
                    set.Add(Question.Labels[l]);
                }
                share += (double)Math.Max(yes, count[u] - yes) / count[u];
            }
            result[u] = new UnitConsensus(set, share / k, count[u]);
        }
        return result;
    }
}

/// <summary>Ranking questions: each candidate's rank per answer; mean Kendall's W; consensus by mean rank (Borda).</summary>
internal sealed class RankingAnswers(QuestionDefinition q) : QuestionAnswers(q)
{
    private readonly List<Rating> ranks = [];
    private readonly List<int> unitOfObject = [];
    private readonly List<int> positionOfObject = [];
    private readonly Dictionary<long, int> objectIndex = [];
    private readonly List<string[]?> candidatesOfUnit = [];

    public override AgreementMetric Metric => AgreementMetric.MeanKendallW;

    public override string? ConsensusMethodName(ConsensusOptions options) => "mean_rank";

    protected override bool AddCore(int unit, int rater, JsonElement value, ItemShape? shape)
    {
        var field = Question.Field ?? shape?.Candidates.Keys.FirstOrDefault();
        var candidates = field is null ? null : shape?.Candidates.GetValueOrDefault(field);
        if (candidates is null || value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != candidates.Length)
        {
            return false;
        }
        while (candidatesOfUnit.Count <= unit)
        {
            candidatesOfUnit.Add(null);
        }
        candidatesOfUnit[unit] = candidates;
        var rank = 1;
        foreach (var v in value.EnumerateArray())
        {
            var position = v.ValueKind == JsonValueKind.String ? Array.IndexOf(candidates, v.GetString()) : -1;
            if (position < 0)
            {
                return false;
            }
            var key = ((long)unit << 16) | (uint)position;
            if (!objectIndex.TryGetValue(key, out var obj))
            {
                obj = objectIndex[key] = unitOfObject.Count;
                unitOfObject.Add(unit);
                positionOfObject.Add(position);
            }
            ranks.Add(new Rating(obj, rater, rank++));
        }
        return true;
    }

    public override double Agreement() => Core.Quality.Agreement.MeanKendallW(CollectionsMarshal.AsSpan(ranks), CollectionsMarshal.AsSpan(unitOfObject));

    /// <summary>Confidence: Kendall's W of the unit's rankings (1 for a single ranking).</summary>
    public override UnitConsensus[] Consensus(ConsensusOptions options)
    {
        var byUnit = new List<Rating>?[Units.Count];
        foreach (var r in ranks)
        {
            (byUnit[unitOfObject[r.Item]] ??= []).Add(r);
        }
        var result = new UnitConsensus[Units.Count];
        for (var u = 0; u < Units.Count; u++)
        {
            if (byUnit[u] is not { } list || candidatesOfUnit[u] is not { } candidates)
            {
                continue;
            }
            var sum = new double[candidates.Length];
            var raters = new HashSet<int>();
            foreach (var r in list)
            {
                raters.Add(r.Rater);
            }
            foreach (var r in list)
            {
                sum[positionOfObject[r.Item]] += r.Value;
            }
            var order = Enumerable.Range(0, candidates.Length).OrderBy(i => sum[i]).ThenBy(i => i).Select(i => (JsonNode?)candidates[i]).ToArray();
            var w = raters.Count < 2 ? 1 : Core.Quality.Agreement.KendallW(CollectionsMarshal.AsSpan(list));
            result[u] = new UnitConsensus(new JsonArray(order), double.IsNaN(w) ? 1 : w, raters.Count);
        }
        return result;
    }
}

/// <summary>Free-text questions: mean pairwise edit similarity; the consensus is the medoid answer.</summary>
internal sealed class TextAnswers(QuestionDefinition q) : QuestionAnswers(q)
{
    private readonly List<TextAnswer> answers = [];

    public override AgreementMetric Metric => AgreementMetric.MeanEditSimilarity;

    public override string? ConsensusMethodName(ConsensusOptions options) => "medoid";

    protected override bool AddCore(int unit, int rater, JsonElement value, ItemShape? shape)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            return false;
        }
        answers.Add(new TextAnswer(unit, rater, value.GetString()!));
        return true;
    }

    public override double Agreement() => TextSimilarity.MeanPairwiseEditSimilarity(CollectionsMarshal.AsSpan(answers));

    /// <summary>The answer most similar to the others; confidence is its mean edit similarity to them (1 alone).</summary>
    public override UnitConsensus[] Consensus(ConsensusOptions options)
    {
        var byUnit = new List<string>?[Units.Count];
        foreach (var a in answers)
        {
            (byUnit[a.Item] ??= []).Add(a.Text);
        }
        var result = new UnitConsensus[Units.Count];
        for (var u = 0; u < Units.Count; u++)
        {
            if (byUnit[u] is not { } texts)
            {
                continue;
            }
            if (texts.Count == 1)
            {
                result[u] = new UnitConsensus(JsonValue.Create(texts[0]), 1, 1);
                continue;
            }
            var best = 0;
            var bestScore = double.NegativeInfinity;
            for (var i = 0; i < texts.Count; i++)
            {
                double sum = 0;
                for (var j = 0; j < texts.Count; j++)
                {
                    if (i != j)
                    {
                        sum += TextSimilarity.EditSimilarity(texts[i], texts[j]);
                    }
                }
                var mean = sum / (texts.Count - 1);
                if (mean > bestScore)
                {
                    (best, bestScore) = (i, mean);
                }
            }
            result[u] = new UnitConsensus(JsonValue.Create(texts[best]), bestScore, texts.Count);
        }
        return result;
    }
}

/// <summary>Span questions: alpha over text positions. No consensus is formed: overlapping spans need a person.</summary>
internal sealed class SpanAnswers(QuestionDefinition q) : QuestionAnswers(q)
{
    private readonly List<SpanAnswer> answers = [];

    public override AgreementMetric Metric => AgreementMetric.SpanPositionAlpha;

    public override string? ConsensusMethodName(ConsensusOptions options) => null;

    protected override bool AddCore(int unit, int rater, JsonElement value, ItemShape? shape)
    {
        var length = Question.Field is null || shape is null ? -1 : shape.TextLengths.GetValueOrDefault(Question.Field, -1);
        if (value.ValueKind != JsonValueKind.Array || length < 0)
        {
            return false;
        }
        var spans = new List<LabelledSpan>();
        foreach (var s in value.EnumerateArray())
        {
            if (s.ValueKind != JsonValueKind.Object
                || !s.TryGetProperty("start", out var start) || !start.TryGetInt32(out var from)
                || !s.TryGetProperty("end", out var end) || !end.TryGetInt32(out var to)
                || !s.TryGetProperty("label", out var label) || label.ValueKind != JsonValueKind.String
                || Question.Labels!.IndexOf(label.GetString()!) is var l && l < 0 || from < 0 || to > length || to <= from)
            {
                return false;
            }
            spans.Add(new LabelledSpan(from, to, l));
        }
        answers.Add(new SpanAnswer(unit, rater, length, [.. spans]));
        return true;
    }

    public override double Agreement() => Core.Quality.Agreement.SpanAlpha(CollectionsMarshal.AsSpan(answers), Question.Labels!.Count);

    public override UnitConsensus[] Consensus(ConsensusOptions options) => new UnitConsensus[Units.Count];
}

/// <summary>Names of the consensus methods accepted by <c>?method=</c> and <c>?ratingMethod=</c>.</summary>
public static class QualityMethods
{
    public const string DawidSkene = "dawid_skene";
    public const string Majority = "majority";
    public const string Wawa = "wawa";
    public const string Glad = "glad";
    public const string Mace = "mace";

    public static readonly string[] Label = [DawidSkene, Majority, Wawa, Glad, Mace];

    public static readonly string[] Rating = ["mean", "median", "trimmed_mean", "huber"];

    public static string Name(ConsensusMethod method) => method switch
    {
        ConsensusMethod.Mean => "mean",
        ConsensusMethod.Median => "median",
        ConsensusMethod.TrimmedMean => "trimmed_mean",
        _ => "huber",
    };

    public static ConsensusMethod? ParseRating(string? name) => name switch
    {
        null or "mean" => ConsensusMethod.Mean,
        "median" => ConsensusMethod.Median,
        "trimmed_mean" => ConsensusMethod.TrimmedMean,
        "huber" => ConsensusMethod.Huber,
        _ => null,
    };

    internal static string Format(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}

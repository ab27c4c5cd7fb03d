using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core.Quality;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Releases;

/// <summary>
/// The consensus methods a release can use per question type, with each type's default. The choice is part of
/// the release settings and of its manifest.
/// </summary>
public static class ConsensusMethods
{
    public const string Majority = "majority";
    public const string Mean = "mean";
    public const string Median = "median";
    public const string TrimmedMean = "trimmed_mean";
    public const string Huber = "huber";
    public const string Borda = "borda";
    public const string BradleyTerry = "bradley_terry";
    public const string All = "all";
    public const string First = "first";

    /// <summary>The methods that apply to a question type, the default first; empty when the type is not aggregated.</summary>
    public static IReadOnlyList<string> For(string questionType) => questionType switch
    {
        SchemaTypes.Label or SchemaTypes.MultiLabel or SchemaTypes.Preference => [Majority],
        SchemaTypes.Rating => [Median, Mean, TrimmedMean, Huber],
        SchemaTypes.Ranking => [Borda, BradleyTerry],
        SchemaTypes.TextAnswer => [All, First],
        _ => [],
    };

    /// <summary>The method for <paramref name="question"/>: the requested one, or the type's default. Throws when it does not apply.</summary>
    public static string Resolve(QuestionDefinition question, string? requested)
    {
        var methods = For(question.Type);
        if (requested is null)
        {
            return methods.Count > 0 ? methods[0] : "none";
        }
        if (!methods.Contains(requested))
        {
            throw new ReleaseException(methods.Count == 0
                ? $"question '{question.Name}' ({question.Type}) is not aggregated; remove it from the methods"
                : $"method '{requested}' does not apply to question '{question.Name}' ({question.Type}); use {string.Join(" or ", methods)}");
        }
        return requested;
    }
}

/// <summary>
/// Per-item, per-question consensus, computed from that item's answers alone so a release can stream items
/// one page at a time. Categorical questions use <see cref="TruthInference.MajorityVote"/>; ratings use
/// <see cref="RatingAggregation"/>; rankings use mean rank (Borda) or a per-item <see cref="BradleyTerry"/> fit.
/// </summary>
/// <remarks>
/// Project-wide methods (Dawid–Skene, MACE, GLAD) need every answer of a question before the first item is
/// written; they fit in the same shape as a pre-pass over compact <see cref="Rating"/> arrays and are not wired
/// into releases yet.
/// </remarks>
public static class ItemConsensus
{
    /// <summary>
    /// The consensus of <paramref name="question"/> over <paramref name="answers"/>, or null when nobody answered it
    /// (or it is asked per turn, or is a span question, which releases carry only in the raw format).
    /// </summary>
    public static QuestionConsensus? Compute(ProjectSchema schema, QuestionDefinition question, JsonElement fields,
        IReadOnlyList<ReleaseAnswer> answers, string method)
    {
        if (question.PerTurn is not null)
        {
            return null;
        }
        return question.Type switch
        {
            SchemaTypes.Label => Label(question, answers, method),
            SchemaTypes.MultiLabel => MultiLabel(question, answers, method),
            SchemaTypes.Rating => RatingOf(question, answers, method),
            SchemaTypes.Preference => Preference(schema, question, fields, answers, method),
            SchemaTypes.Ranking => RankingOf(schema, question, fields, answers, method),
            SchemaTypes.TextAnswer => Text(question, answers, method),
            _ => null,
        };
    }

    /// <summary>
    /// The consensus of <paramref name="question"/> when an expert decided it: the decided value (read as one answer
    /// with the same method), confidence 1, marked <see cref="QuestionConsensus.Decided"/>, with the annotators' votes
    /// and answer count from <paramref name="computed"/> where there is one. Null when the question is not aggregated
    /// or the decided value does not fit it (the decision endpoint validates, so only a later schema change does that).
    /// </summary>
    public static QuestionConsensus? Decide(ProjectSchema schema, QuestionDefinition question, JsonElement fields,
        QuestionConsensus? computed, JsonNode? decided, string method)
    {
        var expert = new ReleaseAnswer(0, "", 0, new JsonObject { [question.Name] = decided?.DeepClone() });
        if (Compute(schema, question, fields, [expert], method) is not { } d)
        {
            return null;
        }
        var answers = computed?.Answers ?? 0;
        return d switch
        {
            LabelConsensus l => new LabelConsensus
            {
                Question = l.Question, Method = method, Answers = answers, Confidence = 1, Decided = true, Label = l.Label,
                Votes = (computed as LabelConsensus)?.Votes ?? [],
            },
            MultiLabelConsensus m => new MultiLabelConsensus
            {
                Question = m.Question, Method = method, Answers = answers, Confidence = 1, Decided = true, Labels = m.Labels,
                Shares = (computed as MultiLabelConsensus)?.Shares ?? [],
            },
            RatingConsensus r => new RatingConsensus
            {
                Question = r.Question, Method = method, Answers = answers, Confidence = 1, Decided = true, Value = r.Value, Min = r.Min, Max = r.Max,
                Ratings = (computed as RatingConsensus)?.Ratings ?? [],
            },
            PreferenceConsensus p => new PreferenceConsensus
            {
                Question = p.Question, Method = method, Answers = answers, Confidence = 1, Decided = true, Choice = p.Choice, Chosen = p.Chosen,
                Rejected = p.Rejected, Strength = p.Strength, Votes = (computed as PreferenceConsensus)?.Votes ?? [],
            },
            RankingConsensus k => new RankingConsensus
            {
                Question = k.Question, Method = method, Answers = answers, Confidence = 1, Decided = true, Order = k.Order, MeanRanks = k.MeanRanks,
            },
            TextConsensus t => new TextConsensus
            {
                Question = t.Question, Method = method, Answers = answers, Confidence = double.NaN, Decided = true, Texts = t.Texts,
            },
            _ => null,
        };
    }

    private static LabelConsensus? Label(QuestionDefinition q, IReadOnlyList<ReleaseAnswer> answers, string method)
    {
        var labels = q.Labels ?? [];
        var counts = new int[labels.Count];
        var n = 0;
        foreach (var a in answers)
        {
            if (a.Values[q.Name] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            {
                var index = labels.IndexOf(v.GetValue<string>());
                if (index >= 0)
                {
                    counts[index]++;
                    n++;
                }
            }
        }
        if (n == 0)
        {
            return null;
        }
        var winner = MajorityVote(counts);
        var votes = new List<KeyValuePair<string, int>>(2);
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] > 0)
            {
                votes.Add(KeyValuePair.Create(labels[i], counts[i]));
            }
        }
        return new LabelConsensus
        {
            Question = q.Name, Method = method, Answers = n, Label = labels[winner], Confidence = counts[winner] / (double)n, Votes = votes,
        };
    }

    private static MultiLabelConsensus? MultiLabel(QuestionDefinition q, IReadOnlyList<ReleaseAnswer> answers, string method)
    {
        var labels = q.Labels ?? [];
        var counts = new int[labels.Count];
        var n = 0;
        foreach (var a in answers)
        {
            if (a.Values[q.Name] is not JsonArray chosen)
            {
                continue;
            }
            n++;
            foreach (var node in chosen)
            {
                var index = node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? labels.IndexOf(v.GetValue<string>()) : -1;
                if (index >= 0)
                {
                    counts[index]++;
                }
            }
        }
        if (n == 0)
        {
            return null;
        }
        // Each label is a yes/no vote; the confidence is the weakest of those majorities.
        var kept = new List<string>();
        var confidence = 1.0;
        for (var i = 0; i < labels.Count; i++)
        {
            var yes = counts[i] / (double)n;
            if (yes > 0.5)
            {
                kept.Add(labels[i]);
            }
            confidence = Math.Min(confidence, Math.Max(yes, 1 - yes));
        }
        return new MultiLabelConsensus
        {
            Question = q.Name, Method = method, Answers = n, Labels = kept, Confidence = confidence,
            Shares = labels.Select((l, i) => KeyValuePair.Create(l, counts[i] / (double)n)).Where(p => p.Value > 0).ToList(),
        };
    }

    private static RatingConsensus? RatingOf(QuestionDefinition q, IReadOnlyList<ReleaseAnswer> answers, string method)
    {
        var values = new List<double>(answers.Count);
        foreach (var a in answers)
        {
            if (JsonNumbers.Of(a.Values[q.Name]) is { } v)
            {
                values.Add(v);
            }
        }
        if (values.Count == 0)
        {
            return null;
        }
        var scale = q.Scale ?? new RatingScale();
        var work = values.ToArray();
        var value = method switch
        {
            ConsensusMethods.Mean => RatingAggregation.Mean(work),
            ConsensusMethods.TrimmedMean => RatingAggregation.TrimmedMean(work, 0.2),
            ConsensusMethods.Huber => RatingAggregation.Huber(work),
            _ => RatingAggregation.Median(work),
        };
        // Agreement with the consensus: 1 minus the mean absolute deviation as a share of the scale's range.
        var deviation = values.Sum(v => Math.Abs(v - value)) / values.Count;
        var range = scale.Max - scale.Min;
        return new RatingConsensus
        {
            Question = q.Name, Method = method, Answers = values.Count, Value = value, Min = scale.Min, Max = scale.Max,
            Ratings = values, Confidence = range <= 0 ? 1 : Math.Clamp(1 - (deviation / range), 0, 1),
        };
    }

    private static PreferenceConsensus? Preference(ProjectSchema schema, QuestionDefinition q, JsonElement fields,
        IReadOnlyList<ReleaseAnswer> answers, string method)
    {
        var ids = CandidateIds(schema, q, fields);
        // Categories: the candidates in stored order, then tie and both bad.
        var k = ids.Count + 2;
        // A handful of categories: on the stack, so an item's consensus allocates only what it returns.
        Span<int> counts = k <= 64 ? stackalloc int[k] : new int[k];
        Span<double> strengthSum = k <= 64 ? stackalloc double[k] : new double[k];
        Span<int> strengthCount = k <= 64 ? stackalloc int[k] : new int[k];
        var n = 0;
        foreach (var a in answers)
        {
            if (!PreferenceAnswer.TryRead(a, q.Name, ids, out var index, out var strength) || index < 0)
            {
                continue;
            }
            counts[index]++;
            n++;
            if (strength is { } s)
            {
                strengthSum[index] += s;
                strengthCount[index]++;
            }
        }
        if (n == 0)
        {
            return null;
        }
        var winner = MajorityVote(counts);
        // Equal votes for two different answers is no consensus: a tie, never the candidate stored first.
        var tiedTop = false;
        for (var i = 0; i < k; i++)
        {
            tiedTop |= i != winner && counts[i] == counts[winner];
        }
        string? chosen = null, rejected = null;
        if (!tiedTop && winner < ids.Count && ids.Count == 2)
        {
            chosen = ids[winner];
            rejected = ids[1 - winner];
        }
        var votes = new List<KeyValuePair<string, int>>(3);
        for (var i = 0; i < k; i++)
        {
            if (counts[i] > 0)
            {
                votes.Add(KeyValuePair.Create(Category(ids, i), counts[i]));
            }
        }
        votes.Sort((x, y) => x.Value != y.Value ? y.Value.CompareTo(x.Value) : string.CompareOrdinal(x.Key, y.Key));
        return new PreferenceConsensus
        {
            Question = q.Name, Method = method, Answers = n, Choice = tiedTop ? AnswerValidator.Tie : Category(ids, winner), Chosen = chosen, Rejected = rejected,
            Confidence = counts[winner] / (double)n,
            Strength = tiedTop || strengthCount[winner] == 0 ? double.NaN : strengthSum[winner] / strengthCount[winner],
            Votes = votes,
        };
    }

    /// <summary>A preference category: the candidates in stored order, then tie and both bad.</summary>
    private static string Category(List<string> ids, int i) => i < ids.Count ? ids[i] : i == ids.Count ? AnswerValidator.Tie : AnswerValidator.BothBad;

    private static RankingConsensus? RankingOf(ProjectSchema schema, QuestionDefinition q, JsonElement fields,
        IReadOnlyList<ReleaseAnswer> answers, string method)
    {
        var ids = CandidateIds(schema, q, fields);
        var n = ids.Count;
        var rankings = new List<int[]>();
        foreach (var a in answers)
        {
            if (a.Values[q.Name] is not JsonArray answer || answer.Count != n)
            {
                continue;
            }
            var ranks = new int[n];
            var complete = true;
            for (var position = 0; position < n && complete; position++)
            {
                var index = answer[position] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? ids.IndexOf(v.GetValue<string>()) : -1;
                complete = index >= 0 && ranks[index] == 0;
                if (complete)
                {
                    ranks[index] = position + 1;
                }
            }
            if (complete)
            {
                rankings.Add(ranks);
            }
        }
        if (rankings.Count == 0)
        {
            return null;
        }
        var meanRanks = new double[n];
        foreach (var ranks in rankings)
        {
            for (var i = 0; i < n; i++)
            {
                meanRanks[i] += ranks[i] / (double)rankings.Count;
            }
        }
        // Lower is better for the sort key; Bradley–Terry strengths are turned into "minus strength".
        var key = (double[])meanRanks.Clone();
        if (method == ConsensusMethods.BradleyTerry)
        {
            var candidates = Enumerable.Range(0, n).ToArray();
            var comparisons = rankings.SelectMany(r => Quality.Ranking.ToComparisons(candidates, r)).ToArray();
            var strengths = Quality.BradleyTerry.Fit(comparisons, n);
            for (var i = 0; i < n; i++)
            {
                key[i] = double.IsNaN(strengths[i]) ? double.MaxValue : -strengths[i];
            }
        }
        var order = Enumerable.Range(0, n).OrderBy(i => key[i]).ThenBy(i => meanRanks[i]).ThenBy(i => i).ToArray();
        // Kendall's W over the item's rankings; one ranking agrees with itself.
        var w = 1.0;
        if (rankings.Count > 1)
        {
            var flat = new Rating[rankings.Count * n];
            for (var r = 0; r < rankings.Count; r++)
            {
                for (var i = 0; i < n; i++)
                {
                    flat[(r * n) + i] = new Rating(i, r, rankings[r][i]);
                }
            }
            w = Agreement.KendallW(flat);
            w = double.IsNaN(w) ? 1 : w;
        }
        return new RankingConsensus
        {
            Question = q.Name, Method = method, Answers = rankings.Count, Confidence = w,
            Order = order.Select(i => ids[i]).ToList(), MeanRanks = order.Select(i => meanRanks[i]).ToList(),
        };
    }

    private static TextConsensus? Text(QuestionDefinition q, IReadOnlyList<ReleaseAnswer> answers, string method)
    {
        var texts = new List<(string, ReleaseAnswer)>();
        foreach (var a in answers)
        {
            if (a.Values[q.Name] is JsonValue v && v.GetValueKind() == JsonValueKind.String && !string.IsNullOrWhiteSpace(v.GetValue<string>()))
            {
                texts.Add((v.GetValue<string>(), a));
                if (method == ConsensusMethods.First)
                {
                    break;
                }
            }
        }
        return texts.Count == 0 ? null : new TextConsensus
        {
            Question = q.Name, Method = method, Answers = texts.Count, Confidence = double.NaN, Texts = texts,
        };
    }

    /// <summary>
    /// The category with the most votes, ties to the smallest index: <see cref="TruthInference.MajorityVote"/> with
    /// <see cref="TieBreak.SmallestLabel"/> on one item (a test holds the two equal), without its per-call set-up.
    /// </summary>
    public static int MajorityVote(ReadOnlySpan<int> counts)
    {
        var best = 0;
        for (var i = 1; i < counts.Length; i++)
        {
            if (counts[i] > counts[best])
            {
                best = i;
            }
        }
        return best;
    }

    private static List<string> CandidateIds(ProjectSchema schema, QuestionDefinition q, JsonElement fields)
    {
        var field = schema.CandidatesFieldOf(q);
        return field is null ? [] : FieldValues.CandidateIds(fields, field);
    }
}

/// <summary>Release settings or a format that does not fit the project; the message says what to change.</summary>
public sealed class ReleaseException(string message) : Exception(message);

/// <summary>Reading answer values that may come parsed from storage or built in code.</summary>
internal static class JsonNumbers
{
    /// <summary>The number in <paramref name="node"/>, or null when it is not a number.</summary>
    public static double? Of(JsonNode? node)
    {
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            return null;
        }
        // A parsed document holds a JsonElement (any numeric type converts); a value built in code holds its CLR type.
        return v.TryGetValue<double>(out var d) ? d : v.TryGetValue<int>(out var i) ? i : v.TryGetValue<long>(out var l) ? l
            : v.TryGetValue<decimal>(out var m) ? (double)m : null;
    }
}

/// <summary>
/// An item's consensus per question in schema order: a small array with a linear lookup, since a schema asks a
/// handful of questions and a release builds one of these per item (a hash table each was measurable).
/// </summary>
internal sealed class ConsensusSet(int capacity) : IReadOnlyDictionary<string, QuestionConsensus>
{
    private readonly List<KeyValuePair<string, QuestionConsensus>> entries = new(capacity);

    public void Add(string question, QuestionConsensus consensus) => entries.Add(KeyValuePair.Create(question, consensus));

    public QuestionConsensus this[string key] => TryGetValue(key, out var c) ? c : throw new KeyNotFoundException($"no consensus for question '{key}'");

    public IEnumerable<string> Keys => entries.Select(e => e.Key);

    public IEnumerable<QuestionConsensus> Values => entries.Select(e => e.Value);

    public int Count => entries.Count;

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out QuestionConsensus value)
    {
        foreach (var e in entries)
        {
            if (string.Equals(e.Key, key, StringComparison.Ordinal))
            {
                value = e.Value;
                return true;
            }
        }
        value = null;
        return false;
    }

    public IEnumerator<KeyValuePair<string, QuestionConsensus>> GetEnumerator() => entries.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// One answer to a preference question: which category it chose (a candidate's index in stored order, then tie, then
/// both bad) and its strength. Read from the stored JSON text when the answer came from storage, so no tree is built.
/// </summary>
internal static class PreferenceAnswer
{
    /// <summary>
    /// False when the answer has no object for <paramref name="question"/> or no string <c>choice</c> in it; otherwise
    /// <paramref name="index"/> is the candidate's index in <paramref name="ids"/>, <c>ids.Count</c> for a tie,
    /// <c>ids.Count + 1</c> for both bad, or -1 for any other text, and <paramref name="strength"/> the number given, if any.
    /// </summary>
    public static bool TryRead(ReleaseAnswer answer, string question, List<string> ids, out int index, out double? strength)
    {
        // The item's candidates are the same for both readers (consensus, then the agreement tally), so the question decides.
        if (answer.LastPreference is { } last && ReferenceEquals(last.Question, question))
        {
            (index, strength) = (last.Index, last.Strength);
            return last.Found;
        }
        var found = TryReadUncached(answer, question, ids, out index, out strength);
        answer.LastPreference = new PreferenceRead(question, found, index, strength);
        return found;
    }

    private static bool TryReadUncached(ReleaseAnswer answer, string question, List<string> ids, out int index, out double? strength)
    {
        if (answer.ValuesUtf8 is { } text)
        {
            return TryReadText(text.Span, question, ids, out index, out strength);
        }
        index = -1;
        strength = null;
        if (answer.Values[question] is not JsonObject pref || pref["choice"] is not JsonValue c || c.GetValueKind() != JsonValueKind.String)
        {
            return false;
        }
        var choice = c.GetValue<string>();
        index = choice == AnswerValidator.Tie ? ids.Count : choice == AnswerValidator.BothBad ? ids.Count + 1 : ids.IndexOf(choice);
        strength = JsonNumbers.Of(pref["strength"]);
        return true;
    }

    private static bool TryReadText(ReadOnlySpan<byte> text, string question, List<string> ids, out int index, out double? strength)
    {
        index = -1;
        strength = null;
        var reader = new Utf8JsonReader(text);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }
        // The question's value among the top-level properties; anything else is skipped whole.
        var found = false;
        while (!found && reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            found = reader.ValueTextEquals(question);
            reader.Read();
            if (!found)
            {
                reader.Skip();
            }
        }
        if (!found || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }
        var hasChoice = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("choice"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    hasChoice = true;
                    index = reader.ValueTextEquals(AnswerValidator.Tie) ? ids.Count : reader.ValueTextEquals(AnswerValidator.BothBad) ? ids.Count + 1 : IndexOf(ref reader, ids);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("strength"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var d))
                {
                    strength = d;
                }
                else
                {
                    reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return hasChoice;
    }

    private static int IndexOf(ref Utf8JsonReader reader, List<string> ids)
    {
        for (var i = 0; i < ids.Count; i++)
        {
            if (reader.ValueTextEquals(ids[i]))
            {
                return i;
            }
        }
        return -1;
    }
}

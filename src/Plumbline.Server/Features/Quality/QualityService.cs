using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Quality;
using Plumbline.Core.Schema;
using Plumbline.Data;

namespace Plumbline.Server.Features.Quality;

/// <summary>Which items a quality report lists.</summary>
public enum ItemListing
{
    All,
    NeedsReview,
    None,
}

/// <summary>
/// Computes a project's quality report from its submitted responses. Responses are read in keyset pages and
/// turned into the long format of the Core algorithms (one small entry per answer), so memory grows with the
/// number of answers, never with items × annotators, and the database is never asked for all rows at once.
/// </summary>
public sealed class QualityService(PlumblineDbContext db)
{
    private const int PageSize = 2000;

    // Straight-lining: one answer to at least this share of at least MinStraightAnswers answers, while peers give it less than PeerShareBelow.
    private const double StraightShare = 0.9;
    private const int MinStraightAnswers = 10;
    private const double PeerShareBelow = 0.6;
    private const int MinPositionTrials = 10;
    private const double PositionAlpha = 0.01;
    private const int MinLeadTimes = 5;
    private const int MinCompared = 10;
    private const double DefaultLowGold = 0.7;

    public async Task<QualityReport> ComputeAsync(long projectId, string labelMethod, ConsensusMethod ratingMethod, ItemListing listing, CancellationToken ct)
    {
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == projectId, ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var settings = schema.Workflow.Quality;
        var options = new ConsensusOptions(labelMethod, ratingMethod);
        var data = await ReadAsync(projectId, schema, ct);

        var questions = new List<QuestionQuality>();
        var consensusOf = new Dictionary<QuestionAnswers, UnitConsensus[]>();
        var compared = new int[data.Raters.Count];
        var agreed = new int[data.Raters.Count];
        var bias = new Dictionary<string, double>?[data.Raters.Count];
        foreach (var answers in data.Questions)
        {
            var q = answers.Question;
            var consensus = answers.Consensus(options);
            consensusOf[answers] = consensus;
            foreach (var (rater, agrees) in answers.CompareWithConsensus(consensus))
            {
                compared[rater]++;
                agreed[rater] += agrees ? 1 : 0;
            }
            if (answers is RatingAnswers ratings)
            {
                var values = ratings.ConsensusValues(ratingMethod);
                var perRater = ratings.Bias(values);
                for (var r = 0; r < perRater.Length; r++)
                {
                    if (!double.IsNaN(perRater[r]))
                    {
                        (bias[r] ??= [])[q.Name] = Math.Round(perRater[r], 6);
                    }
                }
            }
            int goldUnits = 0, goldHits = 0;
            for (var u = 0; u < answers.Units.Count; u++)
            {
                var (item, turn) = answers.Units[u];
                if (consensus[u].Value is { } value && data.GoldOf(item, q, turn) is { } gold)
                {
                    goldUnits++;
                    goldHits += GoldAnswers.Matches(q, value, gold) ? 1 : 0;
                }
            }
            questions.Add(new QuestionQuality(q.Name, q.Type, answers.Metric.ToString(), Finite(answers.Agreement()),
                answers.PercentAgreement() is { } pa ? Finite(pa) : null, answers.AnswerCount, answers.Units.Count, answers.Raters.Count,
                answers.ConsensusMethodName(options), goldUnits, goldUnits == 0 ? null : (double)goldHits / goldUnits, answers.Distribution()));
        }

        var scorecards = await ScorecardsAsync(projectId, settings, data, compared, agreed, bias, ct);
        var items = ItemResults(data, consensusOf, settings.ReviewBelowConfidence);
        var needing = items.Count(i => i.NeedsReview);
        IEnumerable<ItemQuality> listed = listing switch
        {
            ItemListing.All => items,
            ItemListing.NeedsReview => items.Where(i => i.NeedsReview),
            _ => [],
        };
        return new QualityReport(projectId, data.ResponseCount, data.ItemIds.Count, labelMethod, QualityMethods.Name(ratingMethod),
            settings.ReviewBelowConfidence, needing, questions, scorecards, listed);
    }

    /// <summary>
    /// The one per-item consensus of a project, by item id: label and preference questions by the project-wide
    /// <paramref name="labelMethod"/> (Dawid–Skene by default, so every item borrows strength from what the annotators
    /// did elsewhere), ratings by <paramref name="ratingMethod"/>, and an expert's decision in place of the computed
    /// value wherever one exists (<see cref="ConsensusValue.Decided"/>). The quality report, the review sampling and
    /// adjudication read the same values; releases that want inferred labels or adjudicated answers should too.
    /// </summary>
    /// <remarks>Memory grows with the items answered (one small entry per item and question), not with the answers.</remarks>
    public async Task<Dictionary<long, ItemQuality>> ItemConsensusAsync(long projectId, string labelMethod, ConsensusMethod ratingMethod, CancellationToken ct)
    {
        var report = await ComputeAsync(projectId, labelMethod, ratingMethod, ItemListing.All, ct);
        return report.Items.ToDictionary(i => i.ItemId);
    }

    private static double? Finite(double value) => double.IsFinite(value) ? Math.Round(value, 6) : null;

    private sealed class ProjectAnswers
    {
        public List<QuestionAnswers> Questions { get; } = [];
        public List<long> ItemIds { get; } = [];
        public List<string> ExternalIds { get; } = [];
        public List<int> ResponsesOfItem { get; } = [];
        public Dictionary<long, int> ItemIndex { get; } = [];
        public List<long> Raters { get; } = [];
        public Dictionary<long, int> RaterIndex { get; } = [];
        public List<List<long>> LeadTimes { get; } = [];
        public List<int> ResponsesOfRater { get; } = [];
        public List<int> GoldAnswered { get; } = [];
        public List<int> GoldCorrect { get; } = [];
        public List<int> PositionTrials { get; } = [];
        public List<int> FirstShownChosen { get; } = [];
        public Dictionary<long, JsonObject> Gold { get; } = [];
        public Dictionary<(long Item, string Question), JsonNode?> Decisions { get; } = [];
        public int ResponseCount { get; set; }

        public JsonNode? GoldOf(int item, QuestionDefinition q, int turn)
        {
            if (!Gold.TryGetValue(ItemIds[item], out var gold) || gold[q.Name] is not { } value)
            {
                return null;
            }
            return turn < 0 ? value : value[turn.ToString(CultureInfo.InvariantCulture)];
        }

        public int Item(long id, string externalId)
        {
            if (!ItemIndex.TryGetValue(id, out var index))
            {
                index = ItemIndex[id] = ItemIds.Count;
                ItemIds.Add(id);
                ExternalIds.Add(externalId);
                ResponsesOfItem.Add(0);
            }
            return index;
        }

        public int Rater(long userId)
        {
            if (!RaterIndex.TryGetValue(userId, out var index))
            {
                index = RaterIndex[userId] = Raters.Count;
                Raters.Add(userId);
                LeadTimes.Add([]);
                ResponsesOfRater.Add(0);
                GoldAnswered.Add(0);
                GoldCorrect.Add(0);
                PositionTrials.Add(0);
                FirstShownChosen.Add(0);
            }
            return index;
        }
    }

    private async Task<ProjectAnswers> ReadAsync(long projectId, ProjectSchema schema, CancellationToken ct)
    {
        var data = new ProjectAnswers();
        data.Questions.AddRange(schema.Questions.Select(QuestionAnswers.For));
        // Gold sets and expert decisions are small next to the responses: a few per cent of items at most.
        await foreach (var g in db.Items.AsNoTracking().Where(i => i.ProjectId == projectId && i.GoldJson != null)
            .Select(i => new { i.Id, i.GoldJson }).AsAsyncEnumerable().WithCancellation(ct))
        {
            if (JsonNode.Parse(g.GoldJson!) is JsonObject gold)
            {
                data.Gold[g.Id] = gold;
            }
        }
        await foreach (var d in db.Set<ItemDecision>().AsNoTracking().Where(d => d.ProjectId == projectId)
            .Select(d => new { d.ItemId, d.Question, d.ValueJson }).AsAsyncEnumerable().WithCancellation(ct))
        {
            data.Decisions[(d.ItemId, d.Question)] = JsonNode.Parse(d.ValueJson);
        }
        var needsShape = schema.Questions.Any(q => q.Type is SchemaTypes.Preference or SchemaTypes.Ranking or SchemaTypes.Span);
        var shapes = new Dictionary<long, ItemShape>();
        var preferences = schema.Questions.Where(q => q.Type == SchemaTypes.Preference && q.PerTurn is null).ToList();

        long after = 0;
        while (true)
        {
            var page = await db.Responses.AsNoTracking()
                .Where(r => r.ProjectId == projectId && r.Status == "submitted" && r.Id > after)
                .OrderBy(r => r.Id).Take(PageSize)
                .Select(r => new
                {
                    r.Id,
                    r.ItemId,
                    r.UserId,
                    r.ValuesJson,
                    r.LeadTimeMs,
                    r.PresentationJson,
                    ExternalId = db.Items.Where(i => i.Id == r.ItemId).Select(i => i.ExternalId).First(),
                })
                .ToListAsync(ct);
            if (page.Count == 0)
            {
                break;
            }
            after = page[^1].Id;
            if (needsShape)
            {
                var missing = page.Select(r => r.ItemId).Where(id => !shapes.ContainsKey(id)).Distinct().ToList();
                if (missing.Count > 0)
                {
                    await foreach (var item in db.Items.AsNoTracking().Where(i => missing.Contains(i.Id)).Select(i => new { i.Id, i.FieldsJson })
                        .AsAsyncEnumerable().WithCancellation(ct))
                    {
                        shapes[item.Id] = ShapeOf(schema, item.FieldsJson);
                    }
                }
            }
            foreach (var r in page)
            {
                data.ResponseCount++;
                var item = data.Item(r.ItemId, r.ExternalId);
                var rater = data.Rater(r.UserId);
                data.ResponsesOfItem[item]++;
                data.ResponsesOfRater[rater]++;
                if (r.LeadTimeMs is { } lead)
                {
                    data.LeadTimes[rater].Add(lead);
                }
                var shape = shapes.GetValueOrDefault(r.ItemId);
                using var values = JsonDocument.Parse(r.ValuesJson);
                if (values.RootElement.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }
                foreach (var answers in data.Questions)
                {
                    AddAnswer(data, answers, item, rater, values.RootElement, shape);
                }
                if (preferences.Count > 0 && r.PresentationJson is not null)
                {
                    CountPosition(data, schema, preferences, rater, values.RootElement, r.PresentationJson);
                }
            }
        }
        return data;
    }

    private static void AddAnswer(ProjectAnswers data, QuestionAnswers answers, int item, int rater, JsonElement values, ItemShape? shape)
    {
        var q = answers.Question;
        if (!values.TryGetProperty(q.Name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return;
        }
        if (q.PerTurn is null)
        {
            if (answers.Add(item, -1, rater, value, shape))
            {
                ScoreGold(data, q, item, -1, rater, value);
            }
            return;
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            return;
        }
        foreach (var turn in value.EnumerateObject())
        {
            if (turn.Value.ValueKind != JsonValueKind.Null && int.TryParse(turn.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var t)
                && answers.Add(item, t, rater, turn.Value, shape))
            {
                ScoreGold(data, q, item, t, rater, turn.Value);
            }
        }
    }

    private static void ScoreGold(ProjectAnswers data, QuestionDefinition q, int item, int turn, int rater, JsonElement value)
    {
        if (data.GoldOf(item, q, turn) is not { } gold)
        {
            return;
        }
        data.GoldAnswered[rater]++;
        if (GoldAnswers.Matches(q, JsonNode.Parse(value.GetRawText()), gold))
        {
            data.GoldCorrect[rater]++;
        }
    }

    /// <summary>Counts, per annotator, pairwise choices of a candidate and how many went to the one shown first.</summary>
    private static void CountPosition(ProjectAnswers data, ProjectSchema schema, List<QuestionDefinition> preferences, int rater, JsonElement values, string presentationJson)
    {
        using var presentation = JsonDocument.Parse(presentationJson);
        if (!presentation.RootElement.TryGetProperty("candidateOrder", out var orders) || orders.ValueKind != JsonValueKind.Object)
        {
            return;
        }
        foreach (var q in preferences)
        {
            var field = schema.CandidatesFieldOf(q);
            if (field is null || !orders.TryGetProperty(field, out var order) || order.ValueKind != JsonValueKind.Array || order.GetArrayLength() < 2
                || !values.TryGetProperty(q.Name, out var answer) || answer.ValueKind != JsonValueKind.Object
                || !answer.TryGetProperty("choice", out var choice) || choice.ValueKind != JsonValueKind.String)
            {
                continue;
            }
            var chosen = choice.GetString();
            if (chosen is AnswerValidator.Tie or AnswerValidator.BothBad)
            {
                continue;
            }
            data.PositionTrials[rater]++;
            if (order[0].ValueKind == JsonValueKind.String && order[0].GetString() == chosen)
            {
                data.FirstShownChosen[rater]++;
            }
        }
    }

    internal static ItemShape ShapeOf(ProjectSchema schema, string fieldsJson)
    {
        var shape = new ItemShape();
        if (JsonNode.Parse(fieldsJson) is not JsonObject fields)
        {
            return shape;
        }
        foreach (var f in schema.Fields)
        {
            if (f.Type == SchemaTypes.Candidates)
            {
                shape.Candidates[f.Name] = [.. FieldValues.CandidateIds(fields[f.Name])];
            }
            else if (f.Type is SchemaTypes.Text or SchemaTypes.Markdown && fields[f.Name]?.GetValueKind() == JsonValueKind.String)
            {
                shape.TextLengths[f.Name] = fields[f.Name]!.GetValue<string>().Length;
            }
        }
        return shape;
    }

    private async Task<List<AnnotatorScorecard>> ScorecardsAsync(long projectId, QualitySettings settings, ProjectAnswers data,
        int[] compared, int[] agreed, Dictionary<string, double>?[] bias, CancellationToken ct)
    {
        var userIds = data.Raters;
        var emails = new Dictionary<long, string>();
        foreach (var chunk in userIds.Chunk(500))
        {
            foreach (var u in await db.Users.AsNoTracking().Where(u => chunk.Contains(u.Id)).Select(u => new { u.Id, u.Email }).ToListAsync(ct))
            {
                emails[u.Id] = u.Email;
            }
        }
        var reviews = (await db.Reviews.AsNoTracking().Where(v => v.ProjectId == projectId)
            .Join(db.Responses, v => v.ResponseId, r => r.Id, (v, r) => new { r.UserId, v.Verdict })
            .GroupBy(x => new { x.UserId, x.Verdict }).Select(g => new { g.Key.UserId, g.Key.Verdict, Count = g.Count() })
            .ToListAsync(ct)).ToDictionary(x => (x.UserId, x.Verdict), x => x.Count);
        var pauses = await db.Set<AnnotatorPause>().AsNoTracking().Where(p => p.ProjectId == projectId).ToDictionaryAsync(p => p.UserId, p => p.Reason, ct);

        var allLeads = data.LeadTimes.SelectMany(l => l).ToArray();
        var projectMedian = Median(allLeads);
        var straight = StraightLining(data);
        var lowGold = settings.PauseBelowGoldAccuracy ?? DefaultLowGold;

        var cards = new List<AnnotatorScorecard>(userIds.Count);
        for (var r = 0; r < userIds.Count; r++)
        {
            var userId = userIds[r];
            var flags = new List<QualityFlag>();
            var median = Median([.. data.LeadTimes[r]]);
            if (median is { } m && projectMedian is { } pm && pm > 0 && data.LeadTimes[r].Count >= MinLeadTimes && m < settings.FastFraction * pm)
            {
                flags.Add(new QualityFlag("fast", $"median {m} ms per item against the project's {pm} ms"));
            }
            flags.AddRange(straight[r]);
            var trials = data.PositionTrials[r];
            var first = data.FirstShownChosen[r];
            if (trials >= MinPositionTrials && 2 * first > trials && BinomialTest.TwoSided(first, trials) is var p && p < PositionAlpha)
            {
                flags.Add(new QualityFlag("position_bias",
                    $"chose the response shown first in {first} of {trials} choices (binomial test p = {p.ToString("0.####", CultureInfo.InvariantCulture)})"));
            }
            double? goldAccuracy = data.GoldAnswered[r] == 0 ? null : (double)data.GoldCorrect[r] / data.GoldAnswered[r];
            if (goldAccuracy is { } ga && data.GoldAnswered[r] >= settings.MinGoldAnswers && ga < lowGold)
            {
                flags.Add(new QualityFlag("low_gold_accuracy", $"{data.GoldCorrect[r]} of {data.GoldAnswered[r]} gold answers right, under {QualityMethods.Format(lowGold)}"));
            }
            double? agreement = compared[r] == 0 ? null : (double)agreed[r] / compared[r];
            if (agreement is { } ag && compared[r] >= MinCompared && ag < settings.LowAgreementBelow)
            {
                flags.Add(new QualityFlag("low_agreement", $"{agreed[r]} of {compared[r]} answers equal the consensus, under {QualityMethods.Format(settings.LowAgreementBelow)}"));
            }
            cards.Add(new AnnotatorScorecard(userId, emails.GetValueOrDefault(userId, ""), data.ResponsesOfRater[r], median,
                data.GoldAnswered[r], Round(goldAccuracy), compared[r], Round(agreement), bias[r] ?? [],
                reviews.GetValueOrDefault((userId, "accept")), reviews.GetValueOrDefault((userId, "reject")), reviews.GetValueOrDefault((userId, "correct")),
                pauses.GetValueOrDefault(userId), flags));
        }
        return [.. cards.OrderBy(c => c.Email, StringComparer.Ordinal)];
    }

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 6) : null;

    private static long? Median(long[] values)
    {
        if (values.Length == 0)
        {
            return null;
        }
        Array.Sort(values);
        var mid = values.Length / 2;
        return values.Length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    /// <summary>Flags annotators who give one answer far more often than everyone else does, per label or rating question.</summary>
    private static List<QualityFlag>[] StraightLining(ProjectAnswers data)
    {
        var flags = new List<QualityFlag>[data.Raters.Count];
        for (var r = 0; r < flags.Length; r++)
        {
            flags[r] = [];
        }
        foreach (var answers in data.Questions.Where(a => a.Question.Type is SchemaTypes.Label or SchemaTypes.Rating))
        {
            var total = new Dictionary<double, int>();
            var perRater = new Dictionary<int, Dictionary<double, int>>();
            var count = new Dictionary<int, int>();
            var all = 0;
            foreach (var (rater, key) in answers.AnswerKeys())
            {
                total[key] = total.GetValueOrDefault(key) + 1;
                var mine = perRater.TryGetValue(rater, out var d) ? d : perRater[rater] = [];
                mine[key] = mine.GetValueOrDefault(key) + 1;
                count[rater] = count.GetValueOrDefault(rater) + 1;
                all++;
            }
            foreach (var (rater, mine) in perRater)
            {
                var n = count[rater];
                var (top, times) = mine.MaxBy(kv => kv.Value);
                var others = all - n;
                if (n < MinStraightAnswers || others == 0 || (double)times / n < StraightShare)
                {
                    continue;
                }
                var peerShare = (double)(total[top] - times) / others;
                if (peerShare < PeerShareBelow)
                {
                    var shown = answers.Question.Type == SchemaTypes.Label ? answers.Question.Labels![(int)top] : QualityMethods.Format(top);
                    flags[rater].Add(new QualityFlag("straight_lining",
                        $"answered '{shown}' to {times} of {n} '{answers.Question.Name}' questions; others gave it {QualityMethods.Format(100 * peerShare)}% of the time"));
                }
            }
        }
        return flags;
    }

    private static List<ItemQuality> ItemResults(ProjectAnswers data, Dictionary<QuestionAnswers, UnitConsensus[]> consensusOf, double threshold)
    {
        var perItem = new List<ConsensusValue>?[data.ItemIds.Count];
        foreach (var (answers, consensus) in consensusOf)
        {
            var q = answers.Question;
            if (answers.ConsensusMethodName(new ConsensusOptions("", ConsensusMethod.Mean)) is null)
            {
                continue;
            }
            var decidedItems = new HashSet<int>();
            for (var u = 0; u < answers.Units.Count; u++)
            {
                var (item, turn) = answers.Units[u];
                var list = perItem[item] ??= [];
                if (data.Decisions.TryGetValue((data.ItemIds[item], q.Name), out var decided))
                {
                    if (decidedItems.Add(item))
                    {
                        list.Add(new ConsensusValue(q.Name, null, decided?.DeepClone(), 1, consensus[u].Answers, true));
                    }
                    continue;
                }
                list.Add(new ConsensusValue(q.Name, turn < 0 ? null : turn, consensus[u].Value, Math.Round(consensus[u].Confidence, 6), consensus[u].Answers, false));
            }
        }
        var order = Enumerable.Range(0, data.ItemIds.Count).OrderBy(i => data.ItemIds[i]);
        return [.. order.Select(i =>
        {
            var values = perItem[i] ?? [];
            var needs = values.Any(v => !v.Decided && v.Value is not null && v.Confidence < threshold);
            return new ItemQuality(data.ItemIds[i], data.ExternalIds[i], data.ResponsesOfItem[i], needs, values);
        })];
    }
}

using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Labelling;
using Plumbline.Core.Quality;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Quality;

namespace Plumbline.Server.Features.Labellers;

/// <summary>
/// Measures a labeller version against people: per question, its agreement with gold answers and with the human
/// consensus (the quality report's, so both pages agree on what the consensus is), confusion matrices, coverage,
/// failures, cost, tokens and latency, and what annotators did with its suggestions. Results are read in item order
/// a page at a time; the latest result per item counts, every request counts towards cost and latency.
/// </summary>
public sealed class LabellerReportService(PlumblineDbContext db, QualityService quality, LabellerService labellers)
{
    private const int PageSize = 1000;
    private const int MaxFailuresListed = 50;
    private static readonly string[] PreferenceCategories = ["A", "B", "C", "D", "E", "F", "G", "H", AnswerValidator.Tie, AnswerValidator.BothBad];

    private sealed record ResultRow(long Id, long ItemId, string? ValuesJson, string? Error, string? Output, int? PromptTokens, int? CompletionTokens,
        double? Cost, long? LatencyMs);

    private sealed record ItemInfo(long Id, string ExternalId, string FieldsJson, string? GoldJson);

    /// <summary>One item's results of a version: every request, the latest first-class.</summary>
    private sealed record ItemResults(long ItemId, List<ResultRow> All)
    {
        public ResultRow Latest => All[^1];

        public JsonObject? Values => Latest.ValuesJson is { } v ? JsonNode.Parse(v) as JsonObject : null;
    }

    private sealed class QuestionTally(QuestionDefinition q)
    {
        public QuestionDefinition Question { get; } = q;
        public int Answered { get; set; }
        public AgreementTally Gold { get; } = new(Categories(q), Weights(q));
        public AgreementTally Consensus { get; } = new(Categories(q), Weights(q));
        public int Shown { get; set; }
        public int Accepted { get; set; }
        public int Edited { get; set; }
        public int Rejected { get; set; }
    }

    public async Task<LabellerReport> ReportAsync(long projectId, Labeller labeller, LabellerVersion version, string labelMethod,
        ConsensusMethod ratingMethod, CancellationToken ct)
    {
        var schema = await SchemaAsync(projectId, ct);
        var consensus = await ConsensusAsync(projectId, labelMethod, ratingMethod, ct);
        return await ComputeAsync(projectId, labeller, version, schema, consensus, labelMethod, ratingMethod, null, ct);
    }

    public async Task<LabellerComparison> CompareAsync(long projectId, (Labeller Labeller, LabellerVersion Version) a, (Labeller Labeller, LabellerVersion Version) b,
        string labelMethod, ConsensusMethod ratingMethod, CancellationToken ct)
    {
        var schema = await SchemaAsync(projectId, ct);
        var consensus = await ConsensusAsync(projectId, labelMethod, ratingMethod, ct);
        // Items both answered: the only fair ground for a comparison (a set of ids, 8 bytes an item).
        var answeredByA = new HashSet<long>();
        await foreach (var page in PagesAsync(a.Version.Id, ct))
        {
            answeredByA.UnionWith(page.Where(r => r.Values is not null).Select(r => r.ItemId));
        }
        var shared = new HashSet<long>();
        await foreach (var page in PagesAsync(b.Version.Id, ct))
        {
            shared.UnionWith(page.Where(r => r.Values is not null && answeredByA.Contains(r.ItemId)).Select(r => r.ItemId));
        }
        var reportA = await ComputeAsync(projectId, a.Labeller, a.Version, schema, consensus, labelMethod, ratingMethod, shared, ct);
        var reportB = await ComputeAsync(projectId, b.Labeller, b.Version, schema, consensus, labelMethod, ratingMethod, shared, ct);
        var questions = LabellerService.QuestionsOf(a.Version).Intersect(LabellerService.QuestionsOf(b.Version))
            .Select(schema.FindQuestion).OfType<QuestionDefinition>().ToList();
        var between = questions.ToDictionary(q => q.Name, q => new AgreementTally(Categories(q), Weights(q)));
        // Both versions in item order side by side (a merge of two ordered streams), one page of items at a time.
        var valuesOfA = new Dictionary<long, JsonObject>();
        await using var pagesOfB = PagesAsync(b.Version.Id, ct).GetAsyncEnumerator(ct);
        await foreach (var pageA in PagesAsync(a.Version.Id, ct))
        {
            foreach (var r in pageA.Where(r => shared.Contains(r.ItemId)))
            {
                valuesOfA[r.ItemId] = r.Values!;
            }
            var upTo = pageA[^1].ItemId;
            while (valuesOfA.Count > 0 && await NextPageUpToAsync(pagesOfB, upTo) is { } pageB)
            {
                var infos = await InfosAsync(pageB.Select(r => r.ItemId).Where(valuesOfA.ContainsKey), ct);
                foreach (var r in pageB)
                {
                    if (!valuesOfA.Remove(r.ItemId, out var va) || r.Values is not { } vb || !infos.TryGetValue(r.ItemId, out var info))
                    {
                        continue;
                    }
                    var fields = JsonNode.Parse(info.FieldsJson) as JsonObject ?? [];
                    foreach (var q in questions)
                    {
                        foreach (var (reference, answer) in Units(q, va[q.Name], vb[q.Name]))
                        {
                            if (reference is not null && answer is not null)
                            {
                                between[q.Name].Add(GoldAnswers.Matches(q, answer, reference), Category(q, reference, fields), Category(q, answer, fields));
                            }
                        }
                    }
                }
            }
        }
        return new LabellerComparison(reportA, reportB, shared.Count, [.. questions.Select(q => new QuestionAgreement(q.Name, Figures(between[q.Name], q)))]);
    }

    private List<ItemResults>? pendingB;

    /// <summary>The next page of B's results whose items are at or before <paramref name="upTo"/> (a page is split when it runs past).</summary>
    private async Task<List<ItemResults>?> NextPageUpToAsync(IAsyncEnumerator<List<ItemResults>> pages, long upTo)
    {
        var page = pendingB;
        pendingB = null;
        if (page is null)
        {
            if (!await pages.MoveNextAsync())
            {
                return null;
            }
            page = pages.Current;
        }
        var within = page.Where(r => r.ItemId <= upTo).ToList();
        var beyond = page.Where(r => r.ItemId > upTo).ToList();
        if (beyond.Count > 0)
        {
            pendingB = beyond;
        }
        return within.Count == 0 ? null : within;
    }

    private async Task<ProjectSchema> SchemaAsync(long projectId, CancellationToken ct) =>
        ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == projectId).Select(p => p.SchemaJson).FirstAsync(ct));

    private async Task<Dictionary<long, List<ConsensusValue>>> ConsensusAsync(long projectId, string labelMethod, ConsensusMethod ratingMethod, CancellationToken ct)
    {
        var report = await quality.ComputeAsync(projectId, labelMethod, ratingMethod, ItemListing.All, ct);
        return report.Items.ToDictionary(i => i.ItemId, i => i.Consensus);
    }

    private async Task<LabellerReport> ComputeAsync(long projectId, Labeller labeller, LabellerVersion version, ProjectSchema schema,
        Dictionary<long, List<ConsensusValue>> consensus, string labelMethod, ConsensusMethod ratingMethod, HashSet<long>? only, CancellationToken ct)
    {
        var agent = LabellerService.Agent(version, labeller.Name);
        var questions = LabellerService.QuestionsOf(version).Select(schema.FindQuestion).OfType<QuestionDefinition>().ToList();
        var tallies = questions.ToDictionary(q => q.Name, q => new QuestionTally(q));
        int items = 0, answered = 0, failed = 0, requests = 0;
        long promptTokens = 0, completionTokens = 0;
        double? cost = null;
        var latencies = new List<long>();
        var failures = new List<LabellerFailure>();
        await foreach (var page in PagesAsync(version.Id, ct))
        {
            var results = only is null ? page : [.. page.Where(r => only.Contains(r.ItemId))];
            if (results.Count == 0)
            {
                continue;
            }
            var infos = await InfosAsync(results.Select(r => r.ItemId), ct);
            foreach (var r in results)
            {
                items++;
                foreach (var row in r.All)
                {
                    requests++;
                    promptTokens += row.PromptTokens ?? 0;
                    completionTokens += row.CompletionTokens ?? 0;
                    if (row.Cost is { } c)
                    {
                        cost = (cost ?? 0) + c;
                    }
                    if (row.LatencyMs is { } ms)
                    {
                        latencies.Add(ms);
                    }
                }
                var info = infos.GetValueOrDefault(r.ItemId);
                if (r.Values is not { } values)
                {
                    failed++;
                    if (failures.Count < MaxFailuresListed)
                    {
                        failures.Add(new LabellerFailure(r.ItemId, info?.ExternalId ?? "", r.Latest.Error ?? "", r.Latest.Output));
                    }
                    continue;
                }
                answered++;
                if (info is null)
                {
                    continue;
                }
                var fields = JsonNode.Parse(info.FieldsJson) as JsonObject ?? [];
                var gold = info.GoldJson is null ? null : JsonNode.Parse(info.GoldJson) as JsonObject;
                var agreed = consensus.GetValueOrDefault(r.ItemId);
                foreach (var q in questions)
                {
                    var tally = tallies[q.Name];
                    foreach (var (turn, answer) in LabellerUnits(q, values[q.Name]))
                    {
                        tally.Answered++;
                        var goldValue = turn is null ? gold?[q.Name] : gold?[q.Name]?[turn];
                        if (goldValue is not null)
                        {
                            tally.Gold.Add(GoldAnswers.Matches(q, answer, goldValue), Category(q, goldValue, fields), Category(q, answer, fields));
                        }
                        if (ConsensusOf(q, agreed, turn) is { } reference)
                        {
                            tally.Consensus.Add(GoldAnswers.Matches(q, answer, reference), Category(q, reference, fields), Category(q, answer, fields));
                        }
                    }
                }
            }
        }
        await CountSuggestionOutcomesAsync(projectId, agent, tallies, only, ct);
        var runs = await labellers.RunsAsync(projectId, labeller, version.Version, ct);
        var latencyArray = latencies.ToArray();
        return new LabellerReport(labeller.Id, labeller.Name, version.Version, agent, version.ProviderName, version.Model, runs,
            items, answered, failed, items == 0 ? null : Round((double)answered / items), requests, promptTokens, completionTokens,
            cost is { } total ? Math.Round(total, 8) : null, Percentile.NearestRank(latencyArray, 50), Percentile.NearestRank(latencyArray, 95),
            labelMethod, QualityMethods.Name(ratingMethod),
            [.. questions.Select(q => tallies[q.Name]).Select(t => new LabellerQuestionReport(t.Question.Name, t.Question.Type, t.Answered,
                Figures(t.Gold, t.Question), Figures(t.Consensus, t.Question),
                new SuggestionFigures(t.Shown, t.Accepted, t.Edited, t.Rejected, t.Shown == 0 ? null : Round((double)t.Accepted / t.Shown))))],
            failures);
    }

    /// <summary>A version's results grouped by item, in item order, a page of items at a time.</summary>
    private async IAsyncEnumerable<List<ItemResults>> PagesAsync(long versionId, [EnumeratorCancellation] CancellationToken ct)
    {
        long after = 0;
        while (true)
        {
            var rows = await db.Set<LabellerResult>().AsNoTracking().Where(r => r.LabellerVersionId == versionId && r.ItemId > after)
                .OrderBy(r => r.ItemId).ThenBy(r => r.Id).Take(PageSize)
                .Select(r => new ResultRow(r.Id, r.ItemId, r.ValuesJson, r.Error, r.Output, r.PromptTokens, r.CompletionTokens, r.Cost, r.LatencyMs))
                .ToListAsync(ct);
            if (rows.Count == 0)
            {
                yield break;
            }
            if (rows.Count == PageSize)
            {
                // The last item may continue on the next page: leave it for that page, unless it fills this one alone.
                var lastItem = rows[^1].ItemId;
                var complete = rows.Where(r => r.ItemId != lastItem).ToList();
                rows = complete.Count > 0 ? complete
                    : await db.Set<LabellerResult>().AsNoTracking().Where(r => r.LabellerVersionId == versionId && r.ItemId == lastItem).OrderBy(r => r.Id)
                        .Select(r => new ResultRow(r.Id, r.ItemId, r.ValuesJson, r.Error, r.Output, r.PromptTokens, r.CompletionTokens, r.Cost, r.LatencyMs))
                        .ToListAsync(ct);
            }
            after = rows[^1].ItemId;
            yield return [.. rows.GroupBy(r => r.ItemId).Select(g => new ItemResults(g.Key, [.. g]))];
        }
    }

    private async Task<Dictionary<long, ItemInfo>> InfosAsync(IEnumerable<long> ids, CancellationToken ct)
    {
        var list = ids.ToList();
        return list.Count == 0 ? [] : await db.Items.AsNoTracking().Where(i => list.Contains(i.Id))
            .Select(i => new ItemInfo(i.Id, i.ExternalId, i.FieldsJson, i.GoldJson)).ToDictionaryAsync(i => i.Id, ct);
    }

    /// <summary>What annotators did with this agent's suggestions, from the metadata of their submitted responses.</summary>
    private async Task CountSuggestionOutcomesAsync(long projectId, string agent, Dictionary<string, QuestionTally> tallies, HashSet<long>? only, CancellationToken ct)
    {
        long after = 0;
        while (true)
        {
            var page = await db.Responses.AsNoTracking()
                .Where(r => r.ProjectId == projectId && r.Status == "submitted" && r.Id > after && r.MetadataJson != null && r.MetadataJson.Contains("\"suggestions\""))
                .OrderBy(r => r.Id).Take(PageSize).Select(r => new { r.Id, r.ItemId, r.MetadataJson }).ToListAsync(ct);
            if (page.Count == 0)
            {
                return;
            }
            after = page[^1].Id;
            foreach (var r in page.Where(r => only is null || only.Contains(r.ItemId)))
            {
                if (JsonNode.Parse(r.MetadataJson!)?[WorkspaceSuggestions.MetadataKey] is not JsonObject shown)
                {
                    continue;
                }
                foreach (var (question, entry) in shown)
                {
                    if (entry?["agent"]?.GetValue<string>() != agent || !tallies.TryGetValue(question, out var tally))
                    {
                        continue;
                    }
                    tally.Shown++;
                    switch (entry["outcome"]?.GetValue<string>())
                    {
                        case SuggestionOutcome.Accepted:
                            tally.Accepted++;
                            break;
                        case SuggestionOutcome.Edited:
                            tally.Edited++;
                            break;
                        default:
                            tally.Rejected++;
                            break;
                    }
                }
            }
        }
    }

    /// <summary>The labeller's answers of a question as units: the answer itself, or one per assistant turn.</summary>
    private static IEnumerable<(string? Turn, JsonNode Answer)> LabellerUnits(QuestionDefinition q, JsonNode? value)
    {
        if (value is null)
        {
            yield break;
        }
        if (q.PerTurn is null)
        {
            yield return (null, value);
            yield break;
        }
        if (value is JsonObject turns)
        {
            foreach (var (turn, answer) in turns)
            {
                if (answer is not null)
                {
                    yield return (turn, answer);
                }
            }
        }
    }

    /// <summary>Pairs of units of two answers to one question (per-turn questions pair by turn).</summary>
    private static IEnumerable<(JsonNode? A, JsonNode? B)> Units(QuestionDefinition q, JsonNode? a, JsonNode? b)
    {
        if (q.PerTurn is null)
        {
            yield return (a, b);
            yield break;
        }
        if (a is JsonObject turns)
        {
            foreach (var (turn, answer) in turns)
            {
                yield return (answer, b?[turn]);
            }
        }
    }

    /// <summary>The consensus of a question (and turn) of an item; a rating consensus is rounded to the scale (half away from zero).</summary>
    private static JsonNode? ConsensusOf(QuestionDefinition q, List<ConsensusValue>? values, string? turn)
    {
        if (values is null)
        {
            return null;
        }
        JsonNode? value;
        if (turn is null)
        {
            value = values.Find(v => v.Question == q.Name && v.Turn is null)?.Value;
        }
        else
        {
            var t = int.Parse(turn, CultureInfo.InvariantCulture);
            value = values.Find(v => v.Question == q.Name && v.Turn == t)?.Value
                ?? values.Find(v => v.Question == q.Name && v.Turn is null && v.Decided)?.Value?[turn];
        }
        if (q.Type == SchemaTypes.Rating && value?.GetValueKind() == JsonValueKind.Number)
        {
            return JsonValue.Create(Math.Round(value.GetValue<double>(), MidpointRounding.AwayFromZero));
        }
        return value;
    }

    private static List<string>? Categories(QuestionDefinition q) => q.Type switch
    {
        SchemaTypes.Label => q.Labels,
        SchemaTypes.Rating => [.. Enumerable.Range((q.Scale ?? new RatingScale()).Min, (q.Scale ?? new RatingScale()).Max - (q.Scale ?? new RatingScale()).Min + 1)
            .Select(n => n.ToString(CultureInfo.InvariantCulture))],
        SchemaTypes.Preference => [.. PreferenceCategories],
        _ => null,
    };

    private static KappaWeights Weights(QuestionDefinition q) => q.Type == SchemaTypes.Rating ? KappaWeights.Quadratic : KappaWeights.Unweighted;

    /// <summary>The category of an answer: its label, its rating, or its preference choice by stored candidate position (A, B …).</summary>
    private static string? Category(QuestionDefinition q, JsonNode? value, JsonObject fields)
    {
        switch (q.Type)
        {
            case SchemaTypes.Label:
                return value?.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
            case SchemaTypes.Rating:
                return value?.GetValueKind() == JsonValueKind.Number
                    ? Math.Round(value.GetValue<double>(), MidpointRounding.AwayFromZero).ToString(CultureInfo.InvariantCulture) : null;
            case SchemaTypes.Preference:
                var choice = value is JsonObject o ? o["choice"] : value;
                if (choice?.GetValueKind() != JsonValueKind.String)
                {
                    return null;
                }
                var c = choice.GetValue<string>();
                if (c is AnswerValidator.Tie or AnswerValidator.BothBad)
                {
                    return c;
                }
                var field = q.Field ?? fields.FirstOrDefault(f => f.Value is JsonArray).Key;
                var index = field is null ? -1 : FieldValues.CandidateIds(fields[field]).IndexOf(c);
                return index < 0 ? null : LabellerOutput.Letter(index);
            default:
                return null;
        }
    }

    private static AgreementFigures Figures(AgreementTally tally, QuestionDefinition q)
    {
        ConfusionMatrix? matrix = null;
        if (tally.Confusion is { } counts && Categories(q) is { } categories)
        {
            // Preference letters nobody used (a third candidate on pairwise items) are left out; labels and scale points stay.
            var keep = Enumerable.Range(0, categories.Count)
                .Where(i => q.Type != SchemaTypes.Preference || i >= categories.Count - 2 || counts[i].Sum() + counts.Sum(row => row[i]) > 0 || i < 2).ToList();
            matrix = new ConfusionMatrix([.. keep.Select(i => categories[i])], [.. keep.Select(r => keep.Select(c => counts[r][c]).ToArray())]);
        }
        return new AgreementFigures(tally.Compared, tally.Matches, tally.Accuracy is { } a ? Round(a) : null, tally.Kappa is { } k ? Round(k) : null, matrix);
    }

    private static double Round(double value) => Math.Round(value, 6);
}

using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Quality;
using Plumbline.Core.Schema;
using Plumbline.Data;

namespace Plumbline.Server.Features.Arena;

/// <summary>A project's leaderboard and what went into it.</summary>
/// <param name="ProjectId">The project.</param>
/// <param name="Question">The preference question whose votes were counted.</param>
/// <param name="CategoryKey">The item metadata key the per-category breakdown reads.</param>
/// <param name="Skipped">Submitted answers not counted, by reason (e.g. <c>rejected_in_review</c>, <c>not_two_models</c>).</param>
/// <param name="Board">Ratings, intervals, head-to-head win rates and categories.</param>
public sealed record LeaderboardReport(long ProjectId, string Question, string CategoryKey, IReadOnlyDictionary<string, int> Skipped, LeaderboardResult Board);

/// <summary>The request was not something a leaderboard can be made from; the message says why.</summary>
public sealed class LeaderboardException(string message) : Exception(message);

/// <summary>
/// Builds a project's leaderboard from its human votes: every submitted answer to a preference question over two
/// candidates of different named models is one battle. Review counts: an answer a reviewer rejected is left out and a
/// corrected one counts with its corrected value (the latest review decides). "tie" and "both_bad" are ties, as in
/// Chatbot Arena. Responses are read in keyset pages with the items they need, so memory holds the compact votes only.
/// </summary>
public sealed class LeaderboardService(PlumblineDbContext db)
{
    private const int PageSize = 2000;

    public async Task<LeaderboardReport> ComputeAsync(long projectId, string? questionName, string categoryKey, LeaderboardOptions options,
        CancellationToken ct)
    {
        var schema = ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == projectId).Select(p => p.SchemaJson).FirstAsync(ct));
        var preferences = schema.Questions.Where(q => q.Type == SchemaTypes.Preference && q.PerTurn is null).ToList();
        var question = questionName is null ? preferences.FirstOrDefault()
            : preferences.Find(q => q.Name == questionName)
              ?? throw new LeaderboardException($"question '{questionName}' is not a preference question of project {projectId} "
                  + $"(its preference questions: {(preferences.Count == 0 ? "none" : string.Join(", ", preferences.Select(q => q.Name)))})");
        if (question is null)
        {
            throw new LeaderboardException($"project {projectId} has no preference question; a leaderboard counts votes between two models' answers "
                + "(create the project from the side-by-side template)");
        }
        var candidatesField = schema.CandidatesFieldOf(question)!;
        var board = new LeaderboardBuilder();
        var skipped = new SortedDictionary<string, int>(StringComparer.Ordinal);
        long after = 0;
        while (true)
        {
            var page = await db.Responses.AsNoTracking()
                .Where(r => r.ProjectId == projectId && r.Status == "submitted" && r.Id > after)
                .OrderBy(r => r.Id).Take(PageSize)
                .Select(r => new { r.Id, r.ItemId, r.ValuesJson, r.PresentationJson })
                .ToListAsync(ct);
            if (page.Count == 0)
            {
                break;
            }
            after = page[^1].Id;
            var itemIds = page.Select(r => r.ItemId).Distinct().ToList();
            var items = await db.Items.AsNoTracking().Where(i => itemIds.Contains(i.Id))
                .Select(i => new { i.Id, i.FieldsJson, i.MetadataJson }).ToDictionaryAsync(i => i.Id, ct);
            var responseIds = page.Select(r => r.Id).ToList();
            var reviews = new Dictionary<long, (string Verdict, string? Corrected)>();
            await foreach (var v in db.Reviews.AsNoTracking().Where(v => responseIds.Contains(v.ResponseId)).OrderBy(v => v.Id)
                .Select(v => new { v.ResponseId, v.Verdict, v.CorrectedValuesJson }).AsAsyncEnumerable().WithCancellation(ct))
            {
                reviews[v.ResponseId] = (v.Verdict, v.CorrectedValuesJson);
            }
            foreach (var r in page)
            {
                var values = r.ValuesJson;
                if (reviews.TryGetValue(r.Id, out var review))
                {
                    if (review.Verdict == "reject")
                    {
                        Count(skipped, "rejected_in_review");
                        continue;
                    }
                    if (review.Verdict == "correct" && review.Corrected is not null)
                    {
                        values = review.Corrected;
                    }
                }
                var item = items[r.ItemId];
                var reason = AddVote(board, question.Name, candidatesField, categoryKey, values, r.PresentationJson, item.FieldsJson, item.MetadataJson);
                if (reason is not null)
                {
                    Count(skipped, reason);
                }
            }
        }
        return new LeaderboardReport(projectId, question.Name, categoryKey, skipped, board.Build(options));
    }

    /// <returns>Why the answer is not a vote, or null when it was added.</returns>
    private static string? AddVote(LeaderboardBuilder board, string question, string candidatesField, string categoryKey, string valuesJson,
        string? presentationJson, string fieldsJson, string metadataJson)
    {
        using var values = JsonDocument.Parse(valuesJson);
        if (values.RootElement.ValueKind != JsonValueKind.Object || !values.RootElement.TryGetProperty(question, out var answer)
            || answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("choice", out var choiceElement)
            || choiceElement.ValueKind != JsonValueKind.String)
        {
            return "unanswered";
        }
        var choice = choiceElement.GetString()!;
        using var fields = JsonDocument.Parse(fieldsJson);
        if (!fields.RootElement.TryGetProperty(candidatesField, out var candidates) || candidates.ValueKind != JsonValueKind.Array
            || candidates.GetArrayLength() != 2)
        {
            return "not_two_candidates";
        }
        var ids = new string[2];
        var models = new string[2];
        var i = 0;
        foreach (var c in candidates.EnumerateArray())
        {
            ids[i] = c.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString()! : "";
            if (!c.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String || model.GetString()!.Length == 0)
            {
                return "candidate_without_model";
            }
            models[i++] = model.GetString()!;
        }
        if (models[0] == models[1])
        {
            return "same_model_twice";
        }
        // Left is the answer the person saw first, so the stored battle keeps its position (as Chatbot Arena's model_a).
        if (presentationJson is not null && FirstShown(presentationJson, candidatesField) is { } first && first == ids[1])
        {
            (ids[0], ids[1]) = (ids[1], ids[0]);
            (models[0], models[1]) = (models[1], models[0]);
        }
        var outcome = choice == ids[0] ? PairOutcome.LeftWins
            : choice == ids[1] ? PairOutcome.RightWins
            : choice is AnswerValidator.Tie or AnswerValidator.BothBad ? PairOutcome.Tie
            : (PairOutcome?)null;
        if (outcome is null)
        {
            return "unknown_choice";
        }
        board.Add(models[0], models[1], outcome.Value, CategoryOf(metadataJson, categoryKey));
        return null;
    }

    private static string? FirstShown(string presentationJson, string field)
    {
        using var presentation = JsonDocument.Parse(presentationJson);
        return presentation.RootElement.ValueKind == JsonValueKind.Object
            && presentation.RootElement.TryGetProperty("candidateOrder", out var orders) && orders.ValueKind == JsonValueKind.Object
            && orders.TryGetProperty(field, out var order) && order.ValueKind == JsonValueKind.Array && order.GetArrayLength() > 0
            && order[0].ValueKind == JsonValueKind.String ? order[0].GetString() : null;
    }

    private static string? CategoryOf(string metadataJson, string key)
    {
        using var metadata = JsonDocument.Parse(metadataJson);
        if (metadata.RootElement.ValueKind != JsonValueKind.Object || !metadata.RootElement.TryGetProperty(key, out var value))
        {
            return null;
        }
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString() is { Length: > 0 } s ? s : null,
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
            _ => null,
        };
    }

    private static void Count(SortedDictionary<string, int> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;
}

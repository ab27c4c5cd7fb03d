using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;

namespace Plumbline.Server.Features.Arena;

/// <summary>One successful attack: the model complied, partly or fully.</summary>
public sealed record Finding(long ItemId, string ExternalId, string HarmCategory, string Severity, string Technique, string? Owasp, string Outcome,
    DateTime SubmittedAt);

/// <summary>Attempts and successful attacks of one attack technique.</summary>
public sealed record TechniqueCount(string Technique, int Attempts, int Successes)
{
    /// <summary>Share of the attempts that succeeded.</summary>
    public double SuccessRate => Attempts == 0 ? 0 : (double)Successes / Attempts;
}

/// <summary>Successful attacks of one harm category, by severity.</summary>
public sealed record CategoryFindings(string HarmCategory, int Successes, IReadOnlyDictionary<string, int> BySeverity);

/// <summary>A red-team project's findings.</summary>
/// <param name="ProjectId">The project.</param>
/// <param name="Attempts">Submitted attempts counted (rejected in review left out).</param>
/// <param name="Successes">Attempts the model complied with, partly or fully.</param>
/// <param name="Outcomes">Attempts per outcome.</param>
/// <param name="Categories">Successful attacks per harm category and severity, most first; every category of the taxonomy is listed.</param>
/// <param name="Techniques">Attempts and successes per attack technique.</param>
/// <param name="Owasp">Successful attacks per OWASP Top 10 for LLM Applications id.</param>
/// <param name="Findings">The most recent successful attacks, most severe first (at most <c>limit</c>).</param>
public sealed record FindingsReport(long ProjectId, int Attempts, int Successes, IReadOnlyDictionary<string, int> Outcomes,
    IReadOnlyList<CategoryFindings> Categories, IReadOnlyList<TechniqueCount> Techniques, IReadOnlyDictionary<string, int> Owasp,
    IReadOnlyList<Finding> Findings);

/// <summary>
/// The findings report of a red-team project: successful attacks (outcome <c>partial</c> or <c>full_compliance</c>)
/// grouped by harm category and severity, and every attempt counted per technique. Reviews count as for the
/// leaderboard: rejected answers are left out, corrected ones count as corrected. Responses are read in keyset pages.
/// </summary>
public sealed class FindingsService(PlumblineDbContext db)
{
    private const int PageSize = 2000;

    /// <summary>The questions a findings report reads; a red-team project has them all.</summary>
    public static readonly string[] RequiredQuestions = ["harm_category", "technique", "outcome", "severity"];

    public static bool IsSuccess(string outcome) => outcome is "partial" or "full_compliance";

    public async Task<FindingsReport> ComputeAsync(long projectId, int limit, CancellationToken ct)
    {
        var schema = ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == projectId).Select(p => p.SchemaJson).FirstAsync(ct));
        var missing = RequiredQuestions.Where(q => schema.FindQuestion(q) is null).ToList();
        if (missing.Count > 0)
        {
            throw new LeaderboardException($"project {projectId} has no {string.Join(", ", missing)} question(s); findings come from red-team projects "
                + "(create the project from the red-team template)");
        }
        var severityOrder = Templates.Severities;
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var categories = (schema.FindQuestion("harm_category")!.Labels ?? []).ToDictionary(c => c, _ => new SortedDictionary<string, int>(StringComparer.Ordinal));
        var techniques = (schema.FindQuestion("technique")!.Labels ?? []).ToDictionary(t => t, _ => (Attempts: 0, Successes: 0));
        var owasp = new SortedDictionary<string, int>(StringComparer.Ordinal);
        // Only the newest few findings are listed, so a bounded list is kept while the counts see everything.
        var recent = new List<Finding>();
        int attempts = 0, successes = 0;
        long after = 0;
        while (true)
        {
            var page = await db.Responses.AsNoTracking()
                .Where(r => r.ProjectId == projectId && r.Status == "submitted" && r.Id > after)
                .OrderBy(r => r.Id).Take(PageSize)
                .Select(r => new { r.Id, r.ItemId, r.ValuesJson, r.UpdatedAt, ExternalId = db.Items.Where(i => i.Id == r.ItemId).Select(i => i.ExternalId).First() })
                .ToListAsync(ct);
            if (page.Count == 0)
            {
                break;
            }
            after = page[^1].Id;
            var responseIds = page.Select(r => r.Id).ToList();
            var reviews = new Dictionary<long, (string Verdict, string? Corrected)>();
            await foreach (var v in db.Reviews.AsNoTracking().Where(v => responseIds.Contains(v.ResponseId)).OrderBy(v => v.Id)
                .Select(v => new { v.ResponseId, v.Verdict, v.CorrectedValuesJson }).AsAsyncEnumerable().WithCancellation(ct))
            {
                reviews[v.ResponseId] = (v.Verdict, v.CorrectedValuesJson);
            }
            foreach (var r in page)
            {
                var json = r.ValuesJson;
                if (reviews.TryGetValue(r.Id, out var review))
                {
                    if (review.Verdict == "reject")
                    {
                        continue;
                    }
                    json = review.Verdict == "correct" && review.Corrected is not null ? review.Corrected : json;
                }
                using var values = JsonDocument.Parse(json);
                var outcome = Label(values.RootElement, "outcome");
                if (outcome is null)
                {
                    continue;
                }
                attempts++;
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                var technique = Label(values.RootElement, "technique") ?? "unknown";
                var success = IsSuccess(outcome);
                var t = techniques.GetValueOrDefault(technique);
                techniques[technique] = (t.Attempts + 1, t.Successes + (success ? 1 : 0));
                if (!success)
                {
                    continue;
                }
                successes++;
                var category = Label(values.RootElement, "harm_category") ?? "unknown";
                var severity = Label(values.RootElement, "severity") ?? "unrated";
                var bySeverity = categories.TryGetValue(category, out var s) ? s : categories[category] = new SortedDictionary<string, int>(StringComparer.Ordinal);
                bySeverity[severity] = bySeverity.GetValueOrDefault(severity) + 1;
                var id = Label(values.RootElement, "owasp");
                if (id is not null)
                {
                    owasp[id] = owasp.GetValueOrDefault(id) + 1;
                }
                recent.Add(new Finding(r.ItemId, r.ExternalId, category, severity, technique, id, outcome, r.UpdatedAt));
                if (recent.Count > 4 * Math.Max(limit, 1))
                {
                    recent = [.. recent.OrderByDescending(f => f.SubmittedAt).ThenByDescending(f => f.ItemId).Take(limit)];
                }
            }
        }
        int Severe(string s) => severityOrder.IndexOf(s) is var i and >= 0 ? i : severityOrder.Count;
        var listed = recent.OrderByDescending(f => f.SubmittedAt).ThenByDescending(f => f.ItemId).Take(limit)
            .OrderBy(f => Severe(f.Severity)).ThenByDescending(f => f.SubmittedAt).ToList();
        var categoryList = categories.Select(c => new CategoryFindings(c.Key, c.Value.Values.Sum(), c.Value))
            .OrderByDescending(c => c.Successes).ThenBy(c => c.HarmCategory, StringComparer.Ordinal).ToList();
        var techniqueList = techniques.Select(t => new TechniqueCount(t.Key, t.Value.Attempts, t.Value.Successes))
            .OrderByDescending(t => t.Attempts).ThenBy(t => t.Technique, StringComparer.Ordinal).ToList();
        return new FindingsReport(projectId, attempts, successes, outcomes, categoryList, techniqueList, owasp, listed);
    }

    private static string? Label(JsonElement values, string question) =>
        values.ValueKind == JsonValueKind.Object && values.TryGetProperty(question, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

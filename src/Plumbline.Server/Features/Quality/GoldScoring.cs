using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Quality;

/// <summary>Gold items in the queue: which to serve next, how an annotator scores on them, and pausing.</summary>
public static class GoldScoring
{
    /// <summary>Gold items leave the normal flow (and its overlap) only when the project mixes them in.</summary>
    public static bool Injects(QualitySettings settings) => settings.GoldFirst > 0 || settings.GoldRate > 0;

    /// <summary>Whether the next task should be a gold item: the first N, then with probability p.</summary>
    public static async Task<bool> WantsGoldAsync(PlumblineDbContext db, QualitySettings settings, long projectId, long userId, CancellationToken ct)
    {
        if (!Injects(settings))
        {
            return false;
        }
        var served = await db.Assignments.CountAsync(a => a.ProjectId == projectId && a.UserId == userId && a.Stage == "annotate"
            && db.Items.Any(i => i.Id == a.ItemId && i.GoldJson != null), ct);
        return served < settings.GoldFirst || Random.Shared.NextDouble() < settings.GoldRate;
    }

    /// <summary>Why the annotator is paused in the project, or null.</summary>
    /// <remarks>Compiled once: every next task asks it (docs/benchmarks.md, "Work queue").</remarks>
    public static Task<string?> PauseReasonAsync(PlumblineDbContext db, long projectId, long userId, CancellationToken ct) =>
        PauseReasonQuery.For(db)(db, projectId, userId, ct);

    private static readonly PerProvider<Func<PlumblineDbContext, long, long, CancellationToken, Task<string?>>> PauseReasonQuery =
        new(() => EF.CompileAsyncQuery((PlumblineDbContext db, long projectId, long userId, CancellationToken ct) =>
            db.Set<AnnotatorPause>().Where(p => p.ProjectId == projectId && p.UserId == userId).Select(p => p.Reason).FirstOrDefault()));

    /// <summary>The annotator's answers to gold questions and how many were right.</summary>
    public static async Task<(int Answered, int Correct)> AccuracyAsync(PlumblineDbContext db, ProjectSchema schema, long projectId, long userId, CancellationToken ct)
    {
        int answered = 0, correct = 0;
        // One row per gold item the person answered: a few dozen, never the whole project.
        var rows = await db.Responses.AsNoTracking()
            .Where(r => r.ProjectId == projectId && r.UserId == userId && r.Status == "submitted")
            .Join(db.Items.Where(i => i.GoldJson != null), r => r.ItemId, i => i.Id, (r, i) => new { r.ValuesJson, i.GoldJson })
            .ToListAsync(ct);
        foreach (var row in rows)
        {
            if (JsonNode.Parse(row.ValuesJson) is not JsonObject values || JsonNode.Parse(row.GoldJson!) is not JsonObject gold)
            {
                continue;
            }
            foreach (var q in schema.Questions)
            {
                if (gold[q.Name] is not { } expected)
                {
                    continue;
                }
                answered++;
                correct += GoldAnswers.Matches(q, values[q.Name], expected) ? 1 : 0;
            }
        }
        return (answered, correct);
    }

    /// <summary>After a submission to a gold item: pauses the annotator when their gold accuracy fell under the project's bar.</summary>
    public static async Task CheckAfterSubmitAsync(PlumblineDbContext db, TimeProvider clock, ProjectSchema schema, long projectId, long userId, long itemId, CancellationToken ct)
    {
        var settings = schema.Workflow.Quality;
        if (settings.PauseBelowGoldAccuracy is not { } bar || !await db.Items.AnyAsync(i => i.Id == itemId && i.GoldJson != null, ct))
        {
            return;
        }
        var (answered, correct) = await AccuracyAsync(db, schema, projectId, userId, ct);
        if (answered < settings.MinGoldAnswers || (double)correct / answered >= bar
            || await db.Set<AnnotatorPause>().AnyAsync(p => p.ProjectId == projectId && p.UserId == userId, ct))
        {
            return;
        }
        var reason = string.Create(CultureInfo.InvariantCulture,
            $"gold accuracy {(double)correct / answered:0.##} ({correct} of {answered}) is under the project's {bar:0.##}; a manager can resume you");
        db.Set<AnnotatorPause>().Add(new AnnotatorPause { ProjectId = projectId, UserId = userId, Reason = reason, PausedAt = clock.GetUtcNow().UtcDateTime });
        db.Record(clock, null, projectId, "annotator.pause", "user", userId, new { answered, correct, bar });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another submission paused them first.
            db.ChangeTracker.Clear();
        }
    }
}

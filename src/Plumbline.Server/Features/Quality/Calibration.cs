using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Quality;

/// <param name="Name">What the round is called (e.g. "kick-off", "after v3 of the guidelines").</param>
/// <param name="ExternalIds">The items everyone annotates (20 to 50), by external id; may be left out when <paramref name="PreviousSessionId"/> is given, to repeat its items.</param>
/// <param name="PreviousSessionId">The round this one follows, for the change in agreement.</param>
public sealed record CreateCalibrationRequest(string? Name, string[]? ExternalIds, long? PreviousSessionId);

/// <summary>A calibration round.</summary>
public sealed record CalibrationSessionDto(long Id, string Name, string Status, int GuidelineVersion, long? PreviousSessionId, int Items, DateTime CreatedAt, DateTime? ClosedAt);

/// <summary>Agreement on one question within a round, and its change since the previous round.</summary>
/// <param name="Name">Question name.</param>
/// <param name="Metric">The question type's default agreement metric.</param>
/// <param name="Agreement">Its value in this round; null when undefined.</param>
/// <param name="PercentAgreement">Share of agreeing pairs, for categorical questions.</param>
/// <param name="Answers">Answers counted.</param>
/// <param name="PreviousAgreement">The same figure in the previous round.</param>
/// <param name="Change">This round's agreement minus the previous round's.</param>
public sealed record CalibrationQuestionDto(string Name, string Metric, double? Agreement, double? PercentAgreement, int Answers, double? PreviousAgreement, double? Change);

/// <summary>One person's answer in a round.</summary>
public sealed record CalibrationAnswerDto(long UserId, string Email, JsonNode? Values, int GuidelineVersion, DateTime SubmittedAt);

/// <summary>One item of a round with everyone's answers side by side.</summary>
public sealed record CalibrationItemDto(long ItemId, string ExternalId, JsonNode? Fields, List<CalibrationAnswerDto> Answers);

/// <summary>The report of a round: agreement per question (and its change), then item by item everyone's answers.</summary>
/// <param name="Session">The round.</param>
/// <param name="CurrentGuidelineVersion">The project's guideline version now.</param>
/// <param name="Participants">People who answered at least one item.</param>
/// <param name="Questions">Agreement per question.</param>
/// <param name="Items">Items in id order, answers in user order.</param>
public sealed record CalibrationReport(CalibrationSessionDto Session, int CurrentGuidelineVersion, int Participants, List<CalibrationQuestionDto> Questions, List<CalibrationItemDto> Items);

/// <summary>
/// Calibration rounds: items every member annotates regardless of overlap (served before gold and normal work, the
/// way gold is served), answers kept per round, and a report with the round's agreement.
/// </summary>
public static class Calibration
{
    /// <summary>Fewest and most items in a round: enough to measure agreement, few enough to discuss one by one.</summary>
    public const int MinItems = 20, MaxItems = 50;

    /// <summary>An item of an open round this person has not answered in that round (and has not skipped), or null.</summary>
    public static async Task<long?> CandidateAsync(PlumblineDbContext db, long projectId, long userId, CancellationToken ct)
    {
        return await db.ScalarInt64Async("""
            SELECT ci.item_id FROM calibration_items ci
            JOIN calibration_sessions s ON s.id = ci.session_id
            WHERE s.project_id = {0} AND s.status = 'open'
              AND NOT EXISTS (SELECT 1 FROM calibration_answers x WHERE x.session_id = s.id AND x.item_id = ci.item_id AND x.user_id = {1})
              AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = ci.item_id AND a.user_id = {1} AND a.status = 'skipped')
            ORDER BY s.id, ci.item_id LIMIT 1
            """, [projectId, userId], ct);
    }

    /// <summary>Whether the item is in an open round, which lifts the overlap limit for it.</summary>
    public static Task<bool> IsOpenItemAsync(PlumblineDbContext db, long itemId, CancellationToken ct) =>
        db.Set<CalibrationItem>().AnyAsync(c => c.ItemId == itemId
            && db.Set<CalibrationSession>().Any(s => s.Id == c.SessionId && s.Status == "open"), ct);

    /// <summary>Inside the submit transaction: keeps a copy of the answer for each open round holding the item.</summary>
    /// <remarks>
    /// One statement that inserts nothing when the item is in no open round (every submit outside calibration asks),
    /// instead of a LINQ lookup and tracked inserts saved later: no query compilation and no SaveChanges on the
    /// submit path.
    /// </remarks>
    public static Task RecordAsync(PlumblineDbContext db, long projectId, long userId, long itemId, string valuesJson, int guidelineVersion, DateTime now, CancellationToken ct) =>
        db.Database.ExecuteSqlAsync($"""
            INSERT INTO calibration_answers (session_id, item_id, user_id, values_json, guideline_version, submitted_at)
            SELECT s.id, {itemId}, {userId}, {valuesJson}, {guidelineVersion}, {now} FROM calibration_sessions s
            WHERE s.project_id = {projectId} AND s.status = 'open'
              AND EXISTS (SELECT 1 FROM calibration_items c WHERE c.session_id = s.id AND c.item_id = {itemId})
              AND NOT EXISTS (SELECT 1 FROM calibration_answers x WHERE x.session_id = s.id AND x.item_id = {itemId} AND x.user_id = {userId})
            """, ct);

    public static IEndpointRouteBuilder MapCalibrationEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}/calibration").WithTags("Quality").RequireAuthorization();

        api.MapPost("", async (long id, CreateCalibrationRequest request, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db,
            TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            CalibrationSession? previous = null;
            if (request.PreviousSessionId is { } previousId)
            {
                previous = await db.Set<CalibrationSession>().AsNoTracking().FirstOrDefaultAsync(s => s.Id == previousId && s.ProjectId == id, ct);
                if (previous is null)
                {
                    return Problems.BadRequest($"previousSessionId {previousId} is not a calibration round of project {id}");
                }
            }
            List<long> itemIds;
            if (request.ExternalIds is { Length: > 0 } given)
            {
                var wanted = given.Distinct().ToList();
                if (wanted.Count is < MinItems or > MaxItems)
                {
                    return Problems.BadRequest($"a calibration round needs {MinItems} to {MaxItems} distinct items (got {wanted.Count})");
                }
                var found = await db.Items.Where(i => i.ProjectId == id && wanted.Contains(i.ExternalId)).Select(i => new { i.Id, i.ExternalId }).ToListAsync(ct);
                if (found.Count != wanted.Count)
                {
                    var missing = wanted.Except(found.Select(f => f.ExternalId)).Take(5);
                    return Problems.BadRequest($"no items with external ids {string.Join(", ", missing)} in project {id}");
                }
                itemIds = [.. found.Select(f => f.Id)];
            }
            else if (previous is not null)
            {
                itemIds = await db.Set<CalibrationItem>().Where(c => c.SessionId == previous.Id).Select(c => c.ItemId).ToListAsync(ct);
            }
            else
            {
                return Problems.BadRequest($"pass externalIds ({MinItems} to {MaxItems} items), or previousSessionId to repeat a round's items");
            }
            var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == id, ct);
            var now = clock.GetUtcNow().UtcDateTime;
            var name = string.IsNullOrWhiteSpace(request.Name)
                ? string.Create(CultureInfo.InvariantCulture, $"calibration {now:yyyy-MM-dd HH:mm}") : request.Name.Trim();
            if (name.Length > 200)
            {
                return Problems.BadRequest("name is longer than 200 characters");
            }
            var session = new CalibrationSession
            {
                ProjectId = id, Name = name, PreviousSessionId = previous?.Id, GuidelineVersion = project.GuidelineVersion,
                Status = "open", CreatedById = user.Id(), CreatedAt = now,
            };
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            db.Set<CalibrationSession>().Add(session);
            await db.SaveChangesAsync(ct);
            db.Set<CalibrationItem>().AddRange(itemIds.Select(i => new CalibrationItem { SessionId = session.Id, ItemId = i }));
            db.Record(clock, user.Id(), id, "calibration.open", "calibration_session", session.Id, new { items = itemIds.Count, session.PreviousSessionId });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            return Results.Created($"/api/v1/projects/{id}/calibration/{session.Id}", ToDto(session, itemIds.Count));
        }).WithName("CreateCalibrationSession")
          .WithSummary("Open a calibration round: 20 to 50 items every member annotates, whatever the overlap (managers)")
          .Produces<CalibrationSessionDto>(StatusCodes.Status201Created);

        api.MapGet("", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            var sessions = await db.Set<CalibrationSession>().AsNoTracking().Where(s => s.ProjectId == id).OrderBy(s => s.Id)
                .Select(s => new { Session = s, Items = db.Set<CalibrationItem>().Count(c => c.SessionId == s.Id) }).ToListAsync(ct);
            return Results.Ok(sessions.Select(s => ToDto(s.Session, s.Items)).ToList());
        }).WithName("ListCalibrationSessions")
          .WithSummary("Calibration rounds of the project (reviewers and managers)")
          .Produces<List<CalibrationSessionDto>>();

        api.MapGet("/{sessionId:long}", async (long id, long sessionId, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            var report = await ReportAsync(db, id, sessionId, ct);
            return report is null ? Problems.NotFound($"calibration round {sessionId} not found in project {id}") : Results.Ok(report);
        }).WithName("GetCalibrationReport")
          .WithSummary("A calibration round's report: agreement per question and its change since the previous round, then everyone's answers item by item")
          .Produces<CalibrationReport>();

        api.MapPost("/{sessionId:long}/close", async (long id, long sessionId, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db,
            TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var session = await db.Set<CalibrationSession>().FirstOrDefaultAsync(s => s.Id == sessionId && s.ProjectId == id, ct);
            if (session is null)
            {
                return Problems.NotFound($"calibration round {sessionId} not found in project {id}");
            }
            if (session.Status == "open")
            {
                session.Status = "closed";
                session.ClosedAt = clock.GetUtcNow().UtcDateTime;
                db.Record(clock, user.Id(), id, "calibration.close", "calibration_session", session.Id, null);
                await db.SaveChangesAsync(ct);
            }
            var items = await db.Set<CalibrationItem>().CountAsync(c => c.SessionId == sessionId, ct);
            return Results.Ok(ToDto(session, items));
        }).WithName("CloseCalibrationSession")
          .WithSummary("Close a calibration round: its items leave the queue; the report stays (managers)")
          .Produces<CalibrationSessionDto>();

        return app;
    }

    private static CalibrationSessionDto ToDto(CalibrationSession s, int items) =>
        new(s.Id, s.Name, s.Status, s.GuidelineVersion, s.PreviousSessionId, items, s.CreatedAt, s.ClosedAt);

    /// <summary>The report of a round, or null when it is not a round of the project. A round holds at most 50 items, so it is read whole.</summary>
    public static async Task<CalibrationReport?> ReportAsync(PlumblineDbContext db, long projectId, long sessionId, CancellationToken ct)
    {
        var session = await db.Set<CalibrationSession>().AsNoTracking().FirstOrDefaultAsync(s => s.Id == sessionId && s.ProjectId == projectId, ct);
        if (session is null)
        {
            return null;
        }
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == projectId, ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var items = await db.Items.AsNoTracking().Where(i => db.Set<CalibrationItem>().Any(c => c.SessionId == sessionId && c.ItemId == i.Id))
            .OrderBy(i => i.Id).Select(i => new { i.Id, i.ExternalId, i.FieldsJson }).ToListAsync(ct);
        var answers = await AnswersAsync(db, sessionId, ct);
        var agreement = Agreements(schema, items.ToDictionary(i => i.Id, i => i.FieldsJson), answers);
        Dictionary<string, (string, double?, double?, int)>? before = null;
        if (session.PreviousSessionId is { } previousId)
        {
            var previousItems = await db.Items.AsNoTracking().Where(i => db.Set<CalibrationItem>().Any(c => c.SessionId == previousId && c.ItemId == i.Id))
                .Select(i => new { i.Id, i.FieldsJson }).ToDictionaryAsync(i => i.Id, i => i.FieldsJson, ct);
            before = Agreements(schema, previousItems, await AnswersAsync(db, previousId, ct));
        }
        var questions = schema.Questions.Select(q =>
        {
            var (metric, value, percent, count) = agreement[q.Name];
            double? previous = before?.GetValueOrDefault(q.Name).Item2;
            return new CalibrationQuestionDto(q.Name, metric, value, percent, count, previous,
                value is { } v && previous is { } p ? Math.Round(v - p, 6) : null);
        }).ToList();
        var byItem = answers.ToLookup(a => a.ItemId);
        var itemDtos = items.Select(i => new CalibrationItemDto(i.Id, i.ExternalId, JsonNode.Parse(i.FieldsJson),
            [.. byItem[i.Id].Select(a => new CalibrationAnswerDto(a.UserId, a.Email, JsonNode.Parse(a.ValuesJson), a.GuidelineVersion, a.SubmittedAt))])).ToList();
        return new CalibrationReport(ToDto(session, items.Count), project.GuidelineVersion, answers.Select(a => a.UserId).Distinct().Count(), questions, itemDtos);
    }

    private sealed record AnswerRow(long ItemId, long UserId, string Email, string ValuesJson, int GuidelineVersion, DateTime SubmittedAt);

    private static Task<List<AnswerRow>> AnswersAsync(PlumblineDbContext db, long sessionId, CancellationToken ct) =>
        db.Set<CalibrationAnswer>().AsNoTracking().Where(a => a.SessionId == sessionId).OrderBy(a => a.ItemId).ThenBy(a => a.UserId)
            .Join(db.Users, a => a.UserId, u => u.Id, (a, u) => new AnswerRow(a.ItemId, a.UserId, u.Email, a.ValuesJson, a.GuidelineVersion, a.SubmittedAt))
            .ToListAsync(ct);

    /// <summary>Per question: metric, agreement, percent agreement and answers counted, with the same metrics as the quality report.</summary>
    private static Dictionary<string, (string Metric, double? Agreement, double? Percent, int Answers)> Agreements(
        ProjectSchema schema, Dictionary<long, string> fields, List<AnswerRow> answers)
    {
        var items = new Dictionary<long, int>();
        var raters = new Dictionary<long, int>();
        var shapes = new Dictionary<long, ItemShape>();
        var perQuestion = schema.Questions.Select(QuestionAnswers.For).ToList();
        foreach (var a in answers)
        {
            if (!fields.TryGetValue(a.ItemId, out var itemFields))
            {
                continue;
            }
            if (!items.TryGetValue(a.ItemId, out var item))
            {
                item = items[a.ItemId] = items.Count;
                shapes[a.ItemId] = QualityService.ShapeOf(schema, itemFields);
            }
            if (!raters.TryGetValue(a.UserId, out var rater))
            {
                rater = raters[a.UserId] = raters.Count;
            }
            using var document = JsonDocument.Parse(a.ValuesJson);
            foreach (var q in perQuestion)
            {
                if (!document.RootElement.TryGetProperty(q.Question.Name, out var value) || value.ValueKind == JsonValueKind.Null)
                {
                    continue;
                }
                if (q.Question.PerTurn is null)
                {
                    q.Add(item, -1, rater, value, shapes[a.ItemId]);
                }
                else if (value.ValueKind == JsonValueKind.Object)
                {
                    foreach (var turn in value.EnumerateObject())
                    {
                        if (turn.Value.ValueKind != JsonValueKind.Null && int.TryParse(turn.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var t))
                        {
                            q.Add(item, t, rater, turn.Value, shapes[a.ItemId]);
                        }
                    }
                }
            }
        }
        return perQuestion.ToDictionary(q => q.Question.Name, q =>
        {
            static double? Finite(double? v) => v is { } x && double.IsFinite(x) ? Math.Round(x, 6) : null;
            return (q.Metric.ToString(), Finite(q.Agreement()), Finite(q.PercentAgreement()), q.AnswerCount);
        });
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Queue;

/// <summary>What an annotator receives: the item's fields as shown to them, never gold or others' answers.</summary>
public sealed record TaskDto(
    long AssignmentId, long ProjectId, long ItemId, string ExternalId, JsonObject Fields, List<QuestionDefinition> Questions,
    int GuidelineVersion, DateTime ExpiresAt, JsonObject? Draft, JsonObject Presentation, ReworkDto? Rework = null);

/// <summary>A response sent back by a reviewer: what was submitted and what to fix.</summary>
public sealed record ReworkDto(string? Comment, JsonObject Values);

/// <param name="Values">Answers keyed by question name.</param>
/// <param name="LeadTimeMs">Time spent, measured by the client; the server measures from the lease when absent.</param>
public sealed record SubmitRequest(JsonObject? Values, long? LeadTimeMs);

public sealed record SkipRequest(string? Reason);

public sealed record SubmitResult(long ResponseId, int Revision, string Status, TaskDto? Next);

/// <summary>Why an operation on an assignment was refused.</summary>
public sealed class QueueException(int status, string message, Dictionary<string, string>? errors = null) : Exception(message)
{
    public int Status { get; } = status;
    public Dictionary<string, string>? Errors { get; } = errors;
}

/// <summary>
/// Leases items to annotators and stores their responses. Invariants: an item never gets more submitted
/// responses than its overlap (a guarded increment on the item row, inside the submit transaction), a person
/// never answers an item twice (unique lease and response per person and item), expired leases free their slot.
/// </summary>
public sealed class QueueService(PlumblineDbContext db, TimeProvider clock)
{
    public const string Stage = "annotate";

    public async Task<TaskDto?> NextAsync(long projectId, long userId, CancellationToken ct)
    {
        if (await Quality.GoldScoring.PauseReasonAsync(db, projectId, userId, ct) is not null)
        {
            return null;
        }
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == projectId, ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var now = clock.GetUtcNow().UtcDateTime;

        await using var tx = await db.Database.BeginTransactionAsync(ct);
        // Resume: a person with a live lease gets the same item back.
        var live = await db.Assignments.FirstOrDefaultAsync(a => a.ProjectId == projectId && a.UserId == userId
            && a.Stage == Stage && a.Status == "active" && a.ExpiresAt > now, ct);
        // Rework next: a response a reviewer sent back (its lease row, reopened, possibly expired while reworked).
        live ??= await db.Assignments.FirstOrDefaultAsync(a => a.ProjectId == projectId && a.UserId == userId && a.Stage == Stage
            && (a.Status == "rework" || (a.Status == "active" && a.ExpiresAt <= now && db.Responses.Any(r => r.AssignmentId == a.Id && r.Status == "submitted"))), ct);
        if (live is { Status: not "active" } || (live is not null && live.ExpiresAt <= now))
        {
            live.Status = "active";
            live.LeasedAt = now;
            live.ExpiresAt = now.AddMinutes(schema.Workflow.LeaseMinutes);
            await db.SaveChangesAsync(ct);
            db.Record(clock, userId, projectId, "assignment.rework", "assignment", live.Id, new { itemId = live.ItemId });
            await db.SaveChangesAsync(ct);
        }
        if (live is null)
        {
            // Calibration rounds first: every member answers them, whatever the overlap (served like gold).
            var itemId = await Quality.Calibration.CandidateAsync(db, projectId, userId, ct);
            itemId ??= await Quality.GoldScoring.WantsGoldAsync(db, schema.Workflow.Quality, projectId, userId, ct)
                ? await GoldCandidateAsync(projectId, userId, now, ct)
                : null;
            itemId ??= await ClaimCandidateAsync(projectId, userId, project.Overlap, schema.Workflow.QueueOrder,
                Quality.GoldScoring.Injects(schema.Workflow.Quality), now, ct);
            if (itemId is null)
            {
                return null;
            }
            // The person's own expired lease on this item is reused: one lease row per person and item.
            live = await db.Assignments.FirstOrDefaultAsync(a => a.ItemId == itemId && a.UserId == userId && a.Stage == Stage, ct);
            if (live is null)
            {
                live = new Assignment { ProjectId = projectId, ItemId = itemId.Value, UserId = userId, Stage = Stage, Status = "active" };
                db.Assignments.Add(live);
            }
            live.LeasedAt = now;
            live.ExpiresAt = now.AddMinutes(schema.Workflow.LeaseMinutes);
            live.Status = "active";
            await db.SaveChangesAsync(ct);
            db.Record(clock, userId, projectId, "assignment.lease", "assignment", live.Id, new { itemId = live.ItemId });
            await db.SaveChangesAsync(ct);
        }
        var task = await BuildTaskAsync(live, project, schema, ct);
        await tx.CommitAsync(ct);
        return task;
    }

    /// <summary>A gold item this person has not seen: every annotator answers gold, so overlap does not apply.</summary>
    private async Task<long?> GoldCandidateAsync(long projectId, long userId, DateTime now, CancellationToken ct)
    {
        var ids = await db.Database.SqlQuery<long>($"""
            SELECT i.id AS "Value" FROM items i
            WHERE i.project_id = {projectId} AND i.gold_json IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.user_id = {userId}
                              AND (a.status <> 'active' OR a.expires_at > {now}))
            ORDER BY i.id LIMIT 1
            """).ToListAsync(ct);
        return ids.Count == 0 ? null : ids[0];
    }

    private async Task<long?> ClaimCandidateAsync(long projectId, long userId, int overlap, string order, bool skipGold, DateTime now, CancellationToken ct)
    {
        long from = 0;
        if (order == "random")
        {
            // A random starting point in the id range keeps the pick an index seek instead of ORDER BY random().
            var range = await db.Items.Where(i => i.ProjectId == projectId)
                .GroupBy(_ => 1).Select(g => new { Min = g.Min(i => i.Id), Max = g.Max(i => i.Id) }).FirstOrDefaultAsync(ct);
            if (range is not null)
            {
                from = Random.Shared.NextInt64(range.Min, range.Max + 1);
            }
        }
        var found = await CandidateAsync(projectId, userId, overlap, skipGold, now, from, ct);
        if (found is null && from > 0)
        {
            found = await CandidateAsync(projectId, userId, overlap, skipGold, now, 0, ct);
        }
        return found;
    }

    private async Task<long?> CandidateAsync(long projectId, long userId, int overlap, bool skipGold, DateTime now, long from, CancellationToken ct)
    {
        // Items this person has not answered, skipped or leased, whose submitted responses plus live leases
        // of others leave room. PostgreSQL skips rows another claim holds instead of waiting for them.
        var ids = db.IsPostgres
            ? db.Database.SqlQuery<long>($"""
                SELECT i.id AS "Value" FROM items i
                WHERE i.project_id = {projectId} AND i.submitted_count < {overlap} AND i.id >= {from} AND ({skipGold} = FALSE OR i.gold_json IS NULL)
                  AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.user_id = {userId}
                                  AND (a.status <> 'active' OR a.expires_at > {now}))
                  AND i.submitted_count + (SELECT count(*) FROM assignments o WHERE o.item_id = i.id AND o.status = 'active'
                                           AND o.expires_at > {now} AND o.user_id <> {userId}) < {overlap}
                ORDER BY i.id LIMIT 1 FOR UPDATE OF i SKIP LOCKED
                """)
            : db.Database.SqlQuery<long>($"""
                SELECT i.id AS "Value" FROM items i
                WHERE i.project_id = {projectId} AND i.submitted_count < {overlap} AND i.id >= {from} AND ({skipGold} = FALSE OR i.gold_json IS NULL)
                  AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.user_id = {userId}
                                  AND (a.status <> 'active' OR a.expires_at > {now}))
                  AND i.submitted_count + (SELECT count(*) FROM assignments o WHERE o.item_id = i.id AND o.status = 'active'
                                           AND o.expires_at > {now} AND o.user_id <> {userId}) < {overlap}
                ORDER BY i.id LIMIT 1
                """);
        var list = await ids.ToListAsync(ct);
        return list.Count == 0 ? null : list[0];
    }

    private async Task<TaskDto> BuildTaskAsync(Assignment assignment, Project project, ProjectSchema schema, CancellationToken ct)
    {
        var item = await db.Items.AsNoTracking().Where(i => i.Id == assignment.ItemId)
            .Select(i => new { i.ExternalId, i.FieldsJson }).FirstAsync(ct);
        // Only what the schema shows: imported extras (an original preference, say) never reach annotators.
        var stored = JsonNode.Parse(item.FieldsJson)!.AsObject();
        var fields = new JsonObject();
        foreach (var def in schema.Fields)
        {
            if (stored[def.Name] is { } value)
            {
                fields[def.Name] = value.DeepClone();
            }
        }
        var presentation = assignment.PresentationJson is null ? null : JsonNode.Parse(assignment.PresentationJson)!.AsObject();
        if (presentation is null)
        {
            presentation = Presentation.Decide(schema, fields, assignment.UserId, assignment.ItemId);
            assignment.PresentationJson = presentation.ToJsonString(StoredJson.Options);
            await db.SaveChangesAsync(ct);
        }
        Presentation.Apply(schema, fields, presentation);
        var own = await db.Responses.AsNoTracking()
            .Where(r => r.ItemId == assignment.ItemId && r.UserId == assignment.UserId)
            .Select(r => new { r.Id, r.Status, r.ValuesJson }).FirstOrDefaultAsync(ct);
        var draft = own?.Status == "draft" ? JsonNode.Parse(own.ValuesJson)!.AsObject() : null;
        ReworkDto? rework = null;
        if (own?.Status == "submitted")
        {
            var reject = await db.Reviews.AsNoTracking().Where(v => v.ResponseId == own.Id && v.Verdict == "reject")
                .OrderByDescending(v => v.Id).Select(v => v.Comment).FirstOrDefaultAsync(ct);
            rework = new ReworkDto(reject, JsonNode.Parse(own.ValuesJson)!.AsObject());
        }
        return new TaskDto(assignment.Id, project.Id, assignment.ItemId, item.ExternalId, fields, schema.Questions,
            project.GuidelineVersion, assignment.ExpiresAt, draft, presentation, rework);
    }

    public async Task<SubmitResult> SubmitAsync(long assignmentId, long userId, SubmitRequest request, bool withNext, CancellationToken ct)
    {
        var values = request.Values ?? throw new QueueException(400, "values are required: {\"values\": {\"question\": answer}}");
        var now = clock.GetUtcNow().UtcDateTime;
        Response response;
        long projectId;
        ProjectSchema submittedSchema;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            var (assignment, project, schema) = await LoadOwnAsync(assignmentId, userId, ct);
            projectId = project.Id;
            if (assignment.Status == "skipped")
            {
                throw new QueueException(409, $"assignment {assignmentId} was skipped; it cannot be submitted");
            }
            var item = await db.Items.AsNoTracking().Where(i => i.Id == assignment.ItemId).Select(i => i.FieldsJson).FirstAsync(ct);
            var itemFields = JsonNode.Parse(item)!.AsObject();
            var errors = AnswerValidator.Validate(schema, itemFields, values);
            if (errors.Count > 0)
            {
                throw new QueueException(400, "some answers are not valid", errors);
            }
            var existing = await db.Responses.FirstOrDefaultAsync(r => r.ItemId == assignment.ItemId && r.UserId == userId, ct);
            if (existing?.Status != "submitted")
            {
                // The guard that keeps an item at or under its overlap, whatever the leases said.
                var goldExempt = Quality.GoldScoring.Injects(schema.Workflow.Quality);
                var calibrating = await Quality.Calibration.IsOpenItemAsync(db, assignment.ItemId, ct);
                var counted = await db.Items.Where(i => i.Id == assignment.ItemId && (calibrating || i.SubmittedCount < project.Overlap || (goldExempt && i.GoldJson != null)))
                    .ExecuteUpdateAsync(s => s.SetProperty(i => i.SubmittedCount, i => i.SubmittedCount + 1), ct);
                if (counted == 0)
                {
                    throw new QueueException(409, $"item {assignment.ItemId} already has its {project.Overlap} responses; your lease had expired");
                }
            }
            response = existing ?? new Response
            {
                ProjectId = project.Id, ItemId = assignment.ItemId, UserId = userId, AssignmentId = assignment.Id, Status = "submitted", CreatedAt = now,
            };
            if (existing is null)
            {
                db.Responses.Add(response);
            }
            response.Status = "submitted";
            response.ValuesJson = values.ToJsonString(StoredJson.Options);
            response.Revision++;
            response.GuidelineVersion = project.GuidelineVersion;
            response.LeadTimeMs = request.LeadTimeMs ?? (long)(now - assignment.LeasedAt).TotalMilliseconds;
            response.PresentationJson = assignment.PresentationJson;
            // Derived on the server (edit distance of edited drafts), so every client records the same figures.
            response.MetadataJson = ResponseMetadata.Build(schema, itemFields, values)?.ToJsonString(StoredJson.Options);
            response.UpdatedAt = now;
            assignment.Status = "submitted";
            assignment.CompletedAt = now;
            await db.SaveChangesAsync(ct);
            db.ResponseRevisions.Add(new ResponseRevision
            {
                ResponseId = response.Id, Revision = response.Revision, Status = "submitted", ValuesJson = response.ValuesJson, CreatedAt = now,
            });
            db.Record(clock, userId, project.Id, response.Revision == 1 ? "response.submit" : "response.revise", "response", response.Id,
                new { assignmentId, response.Revision });
            await Quality.Calibration.RecordAsync(db, project.Id, userId, assignment.ItemId, response.ValuesJson, project.GuidelineVersion, now, ct);
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            submittedSchema = schema;
        }
        await Quality.GoldScoring.CheckAfterSubmitAsync(db, clock, submittedSchema, projectId, userId, response.ItemId, ct);
        var next = withNext ? await NextAsync(projectId, userId, ct) : null;
        return new SubmitResult(response.Id, response.Revision, response.Status, next);
    }

    public async Task<SubmitResult> SkipAsync(long assignmentId, long userId, string? reason, bool withNext, CancellationToken ct)
    {
        if (reason is { Length: > 2000 })
        {
            throw new QueueException(400, "reason is over 2000 characters");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        Response response;
        long projectId;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            var (assignment, project, _) = await LoadOwnAsync(assignmentId, userId, ct);
            projectId = project.Id;
            var existing = await db.Responses.FirstOrDefaultAsync(r => r.ItemId == assignment.ItemId && r.UserId == userId, ct);
            if (existing?.Status == "submitted")
            {
                throw new QueueException(409, $"assignment {assignmentId} was submitted; it cannot be skipped");
            }
            response = existing ?? new Response
            {
                ProjectId = project.Id, ItemId = assignment.ItemId, UserId = userId, AssignmentId = assignment.Id, Status = "skipped", CreatedAt = now,
            };
            if (existing is null)
            {
                db.Responses.Add(response);
            }
            response.Status = "skipped";
            response.SkipReason = reason;
            response.Revision++;
            response.UpdatedAt = now;
            response.GuidelineVersion = project.GuidelineVersion;
            assignment.Status = "skipped";
            assignment.CompletedAt = now;
            await db.SaveChangesAsync(ct);
            db.ResponseRevisions.Add(new ResponseRevision
            {
                ResponseId = response.Id, Revision = response.Revision, Status = "skipped", ValuesJson = response.ValuesJson, CreatedAt = now,
            });
            db.Record(clock, userId, project.Id, "response.skip", "response", response.Id, new { assignmentId, reason });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }
        var next = withNext ? await NextAsync(projectId, userId, ct) : null;
        return new SubmitResult(response.Id, response.Revision, response.Status, next);
    }

    /// <summary>Saves answers in progress (types checked, required not) and renews the lease.</summary>
    public async Task<TaskDto> DraftAsync(long assignmentId, long userId, JsonObject? values, CancellationToken ct)
    {
        values ??= [];
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var (assignment, project, schema) = await LoadOwnAsync(assignmentId, userId, ct);
        if (assignment.Status != "active")
        {
            throw new QueueException(409, $"assignment {assignmentId} is {assignment.Status}; drafts are for work in progress");
        }
        var item = await db.Items.AsNoTracking().Where(i => i.Id == assignment.ItemId).Select(i => i.FieldsJson).FirstAsync(ct);
        var errors = AnswerValidator.Validate(schema, JsonNode.Parse(item)!.AsObject(), values, partial: true);
        if (errors.Count > 0)
        {
            throw new QueueException(400, "some answers are not valid", errors);
        }
        var response = await db.Responses.FirstOrDefaultAsync(r => r.ItemId == assignment.ItemId && r.UserId == userId, ct);
        if (response is null)
        {
            response = new Response
            {
                ProjectId = project.Id, ItemId = assignment.ItemId, UserId = userId, AssignmentId = assignment.Id, Status = "draft", CreatedAt = now,
            };
            db.Responses.Add(response);
        }
        response.ValuesJson = values.ToJsonString(StoredJson.Options);
        response.UpdatedAt = now;
        assignment.ExpiresAt = now.AddMinutes(schema.Workflow.LeaseMinutes);
        await db.SaveChangesAsync(ct);
        db.Record(clock, userId, project.Id, "response.draft", "response", response.Id, new { assignmentId });
        await db.SaveChangesAsync(ct);
        var task = await BuildTaskAsync(assignment, project, schema, ct);
        await tx.CommitAsync(ct);
        return task;
    }

    private async Task<(Assignment, Project, ProjectSchema)> LoadOwnAsync(long assignmentId, long userId, CancellationToken ct)
    {
        var assignment = await db.Assignments.FirstOrDefaultAsync(a => a.Id == assignmentId && a.UserId == userId, ct)
            ?? throw new QueueException(404, $"assignment {assignmentId} does not exist or is not yours");
        // A member removed from the project loses their leases with their access.
        var isMember = await db.ProjectMembers.AnyAsync(m => m.ProjectId == assignment.ProjectId && m.UserId == userId, ct);
        if (!isMember)
        {
            throw new QueueException(404, $"assignment {assignmentId} does not exist or is not yours");
        }
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == assignment.ProjectId, ct);
        return (assignment, project, ProjectSchema.Parse(project.SchemaJson));
    }
}

/// <summary>How an item is shown to one person: candidate order (to measure position bias) and hidden model names.</summary>
public static class Presentation
{
    /// <summary>A stable order per person and item, so a reload shows the same thing.</summary>
    public static JsonObject Decide(ProjectSchema schema, JsonObject fields, long userId, long itemId)
    {
        var orders = new JsonObject();
        var rng = new Random(HashCode.Combine(userId, itemId));
        foreach (var field in schema.Fields.Where(f => f.Type == SchemaTypes.Candidates))
        {
            var ids = FieldValues.CandidateIds(fields[field.Name]);
            if (schema.Workflow.ShuffleCandidates)
            {
                rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(ids));
            }
            orders[field.Name] = new JsonArray(ids.Select(id => (JsonNode)id!).ToArray());
        }
        return new JsonObject { ["candidateOrder"] = orders };
    }

    public static void Apply(ProjectSchema schema, JsonObject fields, JsonObject presentation)
    {
        foreach (var field in schema.Fields.Where(f => f.Type == SchemaTypes.Candidates))
        {
            if (fields[field.Name] is not JsonArray list)
            {
                continue;
            }
            var order = presentation["candidateOrder"]?[field.Name]?.AsArray().Select(n => n!.GetValue<string>()).ToList() ?? [];
            var byId = list.OfType<JsonObject>().ToDictionary(c => c["id"]!.GetValue<string>());
            list.Clear();
            foreach (var id in order.Where(byId.ContainsKey))
            {
                var candidate = byId[id];
                if (!schema.Workflow.ShowModelNames)
                {
                    candidate.Remove("model");
                }
                list.Add(candidate);
            }
        }
    }
}

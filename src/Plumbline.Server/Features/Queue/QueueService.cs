using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Queue;

/// <summary>What an annotator receives: the item's fields as shown to them, never gold or others' answers.</summary>
/// <param name="Suggestions">Proposed answers by question (e.g. from an LLM labeller), to pre-fill; the response records what became of each.</param>
public sealed record TaskDto(
    long AssignmentId, long ProjectId, long ItemId, string ExternalId, JsonObject Fields, List<QuestionDefinition> Questions,
    int GuidelineVersion, DateTime ExpiresAt, JsonObject? Draft, JsonObject Presentation, ReworkDto? Rework = null, JsonObject? Suggestions = null);

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
public sealed class QueueService(PlumblineDbContext db, TimeProvider clock, AccessCache access)
{
    public const string Stage = "annotate";

    public async Task<TaskDto?> NextAsync(long projectId, long userId, CancellationToken ct)
    {
        await using var tx = await BeginAsync(ct);
        var task = await NextInTransactionAsync(projectId, userId, ct);
        await tx.CommitAsync(ct);
        return task;
    }

    /// <summary>
    /// A queue transaction. EF's automatic savepoint around each SaveChanges is off inside it (two more round trips
    /// per save, and a failed queue transaction is rolled back whole anyway). On SQLite the transaction first waits
    /// its turn in the process (<see cref="SqliteWriterGate"/>).
    /// </summary>
    private async Task<QueueTransaction> BeginAsync(CancellationToken ct)
    {
        db.Database.AutoSavepointsEnabled = false;
        if (db.IsPostgres)
        {
            return new QueueTransaction(db, await db.Database.BeginTransactionAsync(ct), null, 0, null);
        }
        var ownConnection = db.Database.GetConnectionString()!;
        var gate = SqliteWriterGate.For(ownConnection);
        var takenAt = await gate.EnterAsync(ct);
        try
        {
            // The gate's connection, open for good, keeps the prepared statements of the queue's commands. The context
            // gets its own connection back when the transaction ends, before the gate is released.
            db.Database.SetDbConnection(gate.Connection, contextOwnsConnection: false);
            var begun = System.Diagnostics.Stopwatch.GetTimestamp();
            var tx = await db.Database.BeginTransactionAsync(ct);
            SqliteWriterGate.CountBegin(begun);
            return new QueueTransaction(db, tx, gate, takenAt, ownConnection);
        }
        catch
        {
            RestoreConnection(db, ownConnection);
            gate.Exit(takenAt);
            throw;
        }
    }

    private static void RestoreConnection(PlumblineDbContext db, string connectionString)
    {
        db.Database.SetDbConnection(null, contextOwnsConnection: false);
        db.Database.SetConnectionString(connectionString);
    }

    private sealed class QueueTransaction(PlumblineDbContext db, Microsoft.EntityFrameworkCore.Storage.IDbContextTransaction tx,
        SqliteWriterGate? gate, long takenAt, string? ownConnection) : IAsyncDisposable
    {
        public async Task CommitAsync(CancellationToken ct)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await tx.CommitAsync(ct);
            if (gate is not null)
            {
                SqliteWriterGate.CountCommit(started);
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await tx.DisposeAsync();
            }
            finally
            {
                if (gate is not null)
                {
                    RestoreConnection(db, ownConnection!);
                    gate.Exit(takenAt);
                }
            }
        }
    }

    /// <summary>The next task, leased inside the caller's transaction (a submit's, so its answer and the next lease commit together).</summary>
    private async Task<TaskDto?> NextInTransactionAsync(long projectId, long userId, CancellationToken ct)
    {
        if (await Quality.GoldScoring.PauseReasonAsync(db, projectId, userId, ct) is not null)
        {
            return null;
        }
        var (project, schema) = await access.ProjectAsync(db, projectId, ct)
            ?? throw new QueueException(404, $"project {projectId} does not exist or you are not a member");
        var now = clock.GetUtcNow().UtcDateTime;

        // Resume: a person with a live lease gets the same item back. Rework next: a response a reviewer sent back
        // (its lease row, reopened, possibly expired while reworked). One query, the live lease first.
        var live = await LiveOrReworkQuery.For(db)(db, projectId, userId, now, ct);
        if (live is { Status: not "active" } || (live is not null && live.ExpiresAt <= now))
        {
            live.Status = "active";
            live.LeasedAt = now;
            live.ExpiresAt = now.AddMinutes(schema.Workflow.LeaseMinutes);
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
            if (itemId is null && await OverLimitAsync(projectId, userId, schema.Workflow, ct))
            {
                return null;
            }
            itemId ??= await ClaimAsync(new Claim(projectId, userId, project.Overlap, now, Quality.GoldScoring.Injects(schema.Workflow.Quality)),
                schema.Workflow, ct);
            if (itemId is null)
            {
                return null;
            }
            // The presentation is decided before the lease is written, so the lease row is written once.
            var item = await LoadItemAsync(itemId.Value, userId, ct);
            var presentation = await DecidePresentationAsync(schema, ShownFields(schema, item), userId, itemId.Value, item.IsGold, ct);
            live = await LeaseAsync(projectId, itemId.Value, userId, now, schema.Workflow.LeaseMinutes, presentation.ToJsonString(StoredJson.Options), ct);
            var (auditSql, auditParameters) = db.InsertStatement(clock, userId, projectId, "assignment.lease", "assignment", live.Id, new { itemId }, first: 0);
            await db.Database.ExecuteSqlRawAsync(auditSql, auditParameters, ct);
            return await BuildTaskAsync(live, project, schema, ct, item);
        }
        return await BuildTaskAsync(live, project, schema, ct);
    }

    // The queue's LINQ reads are compiled once: otherwise EF funcletizes the expression tree and looks it up in its
    // query cache on every execution, about a tenth of the server's CPU per submit (docs/benchmarks.md, "Work queue").
    // Tracked: a reopened rework lease is changed and saved by the caller.
    private static readonly PerProvider<Func<PlumblineDbContext, long, long, DateTime, CancellationToken, Task<Assignment?>>> LiveOrReworkQuery =
        new(() => EF.CompileAsyncQuery((PlumblineDbContext db, long projectId, long userId, DateTime now, CancellationToken ct) =>
            db.Assignments.Where(a => a.ProjectId == projectId && a.UserId == userId && a.Stage == Stage
                    && ((a.Status == "active" && a.ExpiresAt > now) || a.Status == "rework"
                        || (a.Status == "active" && a.ExpiresAt <= now && db.Responses.Any(r => r.AssignmentId == a.Id && r.Status == "submitted"))))
                .OrderBy(a => a.Status == "active" && a.ExpiresAt > now ? 0 : 1).FirstOrDefault()));

    /// <summary>A gold item this person has not seen: every annotator answers gold, so overlap does not apply.</summary>
    private async Task<long?> GoldCandidateAsync(long projectId, long userId, DateTime now, CancellationToken ct)
    {
        return await db.ScalarInt64Async("""
            SELECT i.id FROM items i
            WHERE i.project_id = {0} AND i.gold_json IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.user_id = {1}
                              AND (a.status <> 'active' OR a.expires_at > {2}))
            ORDER BY i.id LIMIT 1
            """, [projectId, userId, now], ct);
    }

    /// <summary>Leases the claimed item; the person's own expired lease on it is reused (one lease row per person and item).</summary>
    /// <remarks>
    /// One statement (insert, or update on the unique person-item-stage key), not tracked: nothing changes it afterwards
    /// (its presentation is written here), so no SaveChanges follows.
    /// A reused lease keeps the presentation it was first shown with, so a person sees the item the same way again.
    /// </remarks>
    private async Task<Assignment> LeaseAsync(long projectId, long itemId, long userId, DateTime now, int leaseMinutes, string presentationJson, CancellationToken ct)
    {
        await using var reader = await db.ReadAsync("""
            INSERT INTO assignments (project_id, item_id, user_id, stage, status, leased_at, expires_at, presentation_json)
            VALUES ({0}, {1}, {2}, 'annotate', 'active', {3}, {4}, {5})
            ON CONFLICT (item_id, user_id, stage) DO UPDATE SET status = 'active', leased_at = excluded.leased_at, expires_at = excluded.expires_at,
                presentation_json = COALESCE(assignments.presentation_json, excluded.presentation_json)
            RETURNING id, leased_at, expires_at, presentation_json
            """, [projectId, itemId, userId, now, now.AddMinutes(leaseMinutes), presentationJson], ct);
        await reader.ReadAsync(ct);
        var row = reader.DbDataReader;
        return new Assignment
        {
            Id = row.GetInt64(0), ProjectId = projectId, ItemId = itemId, UserId = userId, Stage = Stage, Status = "active",
            LeasedAt = row.GetUtcDateTime(1), ExpiresAt = row.GetUtcDateTime(2), PresentationJson = row.IsDBNull(3) ? null : row.GetString(3),
        };
    }

    /// <summary>An item as the task shows it, with the person's own response (draft, or submitted and sent back), in one query.</summary>
    private sealed record ItemView(string ExternalId, string FieldsJson, bool IsGold, long? OwnId, string? OwnStatus, string? OwnValues);

    private Task<ItemView> LoadItemAsync(long itemId, long userId, CancellationToken ct) => LoadItemQuery.For(db)(db, itemId, userId, ct);

    // A person has at most one response per item (unique key), so the outer join yields one row.
    private static readonly PerProvider<Func<PlumblineDbContext, long, long, CancellationToken, Task<ItemView>>> LoadItemQuery =
        new(() => EF.CompileAsyncQuery((PlumblineDbContext db, long itemId, long userId, CancellationToken ct) =>
            (from i in db.Items.AsNoTracking()
             where i.Id == itemId
             from r in db.Responses.Where(r => r.ItemId == i.Id && r.UserId == userId).DefaultIfEmpty()
             select new ItemView(i.ExternalId, i.FieldsJson, i.GoldJson != null, (long?)r!.Id, r.Status, r.ValuesJson)).First()));

    /// <summary>Only what the schema shows: imported extras (an original preference, say) never reach annotators.</summary>
    private static JsonObject ShownFields(ProjectSchema schema, ItemView item)
    {
        var stored = JsonNode.Parse(item.FieldsJson)!.AsObject();
        var fields = new JsonObject();
        foreach (var def in schema.Fields)
        {
            if (stored[def.Name] is { } value)
            {
                fields[def.Name] = value.DeepClone();
            }
        }
        return fields;
    }

    /// <summary>Candidate order, and the labeller's suggestions to pre-fill (never on gold items).</summary>
    private async Task<JsonObject> DecidePresentationAsync(ProjectSchema schema, JsonObject fields, long userId, long itemId, bool isGold, CancellationToken ct)
    {
        var presentation = Presentation.Decide(schema, fields, userId, itemId);
        if (await Labellers.WorkspaceSuggestions.ChooseAsync(db, schema, itemId, isGold, ct) is { } suggested)
        {
            presentation[Labellers.WorkspaceSuggestions.MetadataKey] = suggested;
        }
        return presentation;
    }

    /// <summary>Who is claiming, in which project, for how many answers per item, at what time.</summary>
    /// <param name="SkipGold">Gold items are served apart (GoldCandidateAsync) when the project injects them.</param>
    /// <param name="Lock">Lock the row found (PostgreSQL: <c>FOR UPDATE SKIP LOCKED</c>); false for a plain read.</param>
    private sealed record Claim(long ProjectId, long UserId, int Overlap, DateTime Now, bool SkipGold = false, bool Lock = true);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<long, (long Count, DateTime Until)> ProjectSizes = new();

    /// <summary>Per-annotator limits: at most N submitted items, or N% of the project's items.</summary>
    private async Task<bool> OverLimitAsync(long projectId, long userId, WorkflowSettings workflow, CancellationToken ct)
    {
        if (workflow.MaxItemsPerAnnotator is null && workflow.MaxPercentPerAnnotator is null)
        {
            return false;
        }
        long limit = workflow.MaxItemsPerAnnotator ?? long.MaxValue;
        if (workflow.MaxPercentPerAnnotator is { } percent)
        {
            limit = Math.Min(limit, (long)Math.Ceiling(await ProjectSizeAsync(projectId, ct) * percent / 100));
        }
        var done = await db.Assignments.CountAsync(a => a.ProjectId == projectId && a.UserId == userId && a.Status == "submitted", ct);
        return done >= limit;
    }

    /// <summary>The project's item count, remembered for a minute: counting a million items on every claim would cost more than the claim.</summary>
    private async Task<long> ProjectSizeAsync(long projectId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (ProjectSizes.TryGetValue(projectId, out var known) && known.Until > now)
        {
            return known.Count;
        }
        var count = await db.Items.LongCountAsync(i => i.ProjectId == projectId, ct);
        ProjectSizes[projectId] = (count, now.AddMinutes(1));
        return count;
    }

    /// <summary>
    /// Claims an item. On PostgreSQL a claim skips rows that other transactions hold (a claim in progress, a submit
    /// counting its answer), so finding nothing is not yet "nothing left": when a plain read still sees an available
    /// item, the claim is tried again once those short transactions are over. Otherwise a person near the end of the
    /// queue would be told there is no work while there is.
    /// </summary>
    private async Task<long?> ClaimAsync(Claim claim, WorkflowSettings workflow, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var claimed = await ClaimOnceAsync(claim with { Lock = true }, workflow, ct);
            if (claimed is { } id && db.IsPostgres && !await StillAvailableAsync(claim, id, ct))
            {
                // The row lock was taken after another claim of the same item committed: this statement's snapshot
                // counted leases from before it. A fresh statement sees that lease; try again with it.
                if (attempt >= MaxClaimAttempts)
                {
                    return null;
                }
                continue;
            }
            if (claimed is not null || !db.IsPostgres || attempt == MaxClaimAttempts
                || await ClaimOnceAsync(claim with { Lock = false }, workflow, ct) is null)
            {
                return claimed;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 4 * attempt)), clock, ct);
        }
    }

    private const int MaxClaimAttempts = 30;

    /// <summary>Re-reads, under the row lock just taken, whether the item still has room for this person.</summary>
    private async Task<bool> StillAvailableAsync(Claim claim, long itemId, CancellationToken ct)
    {
        var sql = $$"""
            SELECT COUNT(*) AS "Value" FROM items i
            WHERE i.id = {4} AND {{Available}}
            """;
        return await db.ScalarInt64Async(sql, [claim.ProjectId, claim.UserId, claim.Overlap, claim.Now, itemId], ct) > 0;
    }

    /// <summary>Pinned work first (the person's own, then their groups'), then the open queue in the project's order.</summary>
    private async Task<long?> ClaimOnceAsync(Claim claim, WorkflowSettings workflow, CancellationToken ct)
    {
        if (workflow.PinKey is not null)
        {
            var email = await db.Users.Where(u => u.Id == claim.UserId).Select(u => u.Email).FirstAsync(ct);
            foreach (var principal in QueuePlacement.PrincipalsOf(email, workflow))
            {
                if (await ClaimPinnedAsync(claim, principal, ct) is { } pinned)
                {
                    return pinned;
                }
            }
        }
        return workflow.QueueOrder switch
        {
            "random" => await ClaimRandomAsync(claim, ct),
            "finish_overlap_first" => await ClaimInOrderAsync(claim, "i.submitted_count DESC, i.priority DESC, i.id", null, ct),
            _ => await ClaimInOrderAsync(claim, "i.priority DESC, i.id", null, ct),
        };
    }

    /// <summary>A random starting id among open items (two index seeks), then id order, wrapping round once.</summary>
    private async Task<long?> ClaimRandomAsync(Claim claim, CancellationToken ct)
    {
        // queue_state = 0 (open) is a literal so the partial index ix_items_queue_random answers both ends.
        long min, max;
        await using (var reader = await db.ReadAsync("""
            SELECT (SELECT id FROM items WHERE project_id = {0} AND queue_state = 0 ORDER BY id LIMIT 1),
                   (SELECT id FROM items WHERE project_id = {0} AND queue_state = 0 ORDER BY id DESC LIMIT 1)
            """, [claim.ProjectId], ct))
        {
            await reader.ReadAsync(ct);
            var row = reader.DbDataReader;
            if (row.IsDBNull(0) || row.IsDBNull(1))
            {
                return null;
            }
            (min, max) = (row.GetInt64(0), row.GetInt64(1));
        }
        var from = Random.Shared.NextInt64(min, max + 1);
        return await ClaimInOrderAsync(claim, "i.id", from, ct) ?? await ClaimInOrderAsync(claim, "i.id", null, ct);
    }

    // Items this person has not answered, skipped or leased, whose submitted responses plus others' live leases
    // leave room. Every probe is an index seek: the person's lease by (item_id, user_id, stage), live leases by
    // (item_id, status, expires_at). Parameters: {0} project, {1} person, {2} overlap, {3} now.
    // The unary + keeps SQLite from using the range on submitted_count to pick an index: it then chose
    // (project_id, submitted_count, …) and sorted every open item for each claim (2.9 s at 1,000,000 items)
    // instead of reading the partial index of the order; on PostgreSQL + is a no-op.
    private const string Available = """
        +i.submitted_count < {2}
          AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.user_id = {1}
                          AND (a.status <> 'active' OR a.expires_at > {3}))
          AND i.submitted_count + (SELECT count(*) FROM assignments o WHERE o.item_id = i.id AND o.status = 'active'
                                   AND o.expires_at > {3} AND o.user_id <> {1}) < {2}
        """;

    /// <summary>
    /// The first available open item in <paramref name="orderBy"/> (a constant of this class, matching one of the
    /// partial claim indexes). The state is written as a literal so the planner can use those indexes.
    /// PostgreSQL skips rows another claim holds instead of waiting for them; SQLite has one writer at a time.
    /// </summary>
    private async Task<long?> ClaimInOrderAsync(Claim claim, string orderBy, long? fromId, CancellationToken ct)
    {
        var sql = $$"""
            SELECT i.id AS "Value" FROM items i
            WHERE i.project_id = {0} AND i.queue_state = {{ItemQueueStates.Open}} {{(fromId is null ? "" : "AND i.id >= {4}")}}
              AND {{Available}} {{(claim.SkipGold ? "AND i.gold_json IS NULL" : "")}}
            ORDER BY {{orderBy}} LIMIT 1 {{(db.IsPostgres && claim.Lock ? "FOR UPDATE OF i SKIP LOCKED" : "")}}
            """;
        object[] parameters = fromId is { } from
            ? [claim.ProjectId, claim.UserId, claim.Overlap, claim.Now, from]
            : [claim.ProjectId, claim.UserId, claim.Overlap, claim.Now];
        return await db.ScalarInt64Async(sql, parameters, ct);
    }

    /// <summary>The first available item pinned to <paramref name="principal"/>, in item order (an index seek on the pins).</summary>
    private async Task<long?> ClaimPinnedAsync(Claim claim, string principal, CancellationToken ct)
    {
        var sql = $$"""
            SELECT i.id AS "Value" FROM item_pins p JOIN items i ON i.id = p.item_id
            WHERE p.project_id = {0} AND p.principal = {4} AND i.queue_state = {{ItemQueueStates.Pinned}}
              AND {{Available}} {{(claim.SkipGold ? "AND i.gold_json IS NULL" : "")}}
            ORDER BY p.item_id LIMIT 1 {{(db.IsPostgres && claim.Lock ? "FOR UPDATE OF i SKIP LOCKED" : "")}}
            """;
        return await db.ScalarInt64Async(sql, [claim.ProjectId, claim.UserId, claim.Overlap, claim.Now, principal], ct);
    }

    /// <param name="item">The item, when the caller already read it (with the person's response, as of before this lease).</param>
    private async Task<TaskDto> BuildTaskAsync(Assignment assignment, Project project, ProjectSchema schema, CancellationToken ct, ItemView? item = null)
    {
        item ??= await LoadItemAsync(assignment.ItemId, assignment.UserId, ct);
        var fields = ShownFields(schema, item);
        var presentation = assignment.PresentationJson is null ? null : JsonNode.Parse(assignment.PresentationJson)!.AsObject();
        if (presentation is null)
        {
            presentation = await DecidePresentationAsync(schema, fields, assignment.UserId, assignment.ItemId, item.IsGold, ct);
            assignment.PresentationJson = presentation.ToJsonString(StoredJson.Options);
        }
        if (db.ChangeTracker.HasChanges())
        {
            await db.SaveChangesAsync(ct);
        }
        Presentation.Apply(schema, fields, presentation);
        var draft = item.OwnStatus == "draft" ? JsonNode.Parse(item.OwnValues!)!.AsObject() : null;
        ReworkDto? rework = null;
        if (item is { OwnStatus: "submitted", OwnId: { } ownId })
        {
            var reject = await db.Reviews.AsNoTracking().Where(v => v.ResponseId == ownId && v.Verdict == "reject")
                .OrderByDescending(v => v.Id).Select(v => v.Comment).FirstOrDefaultAsync(ct);
            rework = new ReworkDto(reject, JsonNode.Parse(item.OwnValues!)!.AsObject());
        }
        return new TaskDto(assignment.Id, project.Id, assignment.ItemId, item.ExternalId, fields, schema.Questions,
            project.GuidelineVersion, assignment.ExpiresAt, draft, presentation, rework,
            await Labellers.WorkspaceSuggestions.ValuesAsync(db, presentation, assignment.ItemId, ct));
    }

    /// <param name="idempotencyKey">The client's <c>Idempotency-Key</c>: a retry with the key of the stored revision stores nothing and gets the same answer.</param>
    public async Task<SubmitResult> SubmitAsync(long assignmentId, long userId, SubmitRequest request, bool withNext, CancellationToken ct,
        string? idempotencyKey = null)
    {
        var values = request.Values ?? throw new QueueException(400, "values are required: {\"values\": {\"question\": answer}}");
        if (idempotencyKey is { Length: 0 or > 128 })
        {
            throw new QueueException(400, "Idempotency-Key must be 1-128 characters");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        Response response;
        long projectId;
        ProjectSchema submittedSchema;
        TaskDto? next;
        bool pauseCheck;
        await using (var tx = await BeginAsync(ct))
        {
            var (assignment, project, schema, item, existing) = await LoadOwnAsync(assignmentId, userId, ct);
            projectId = project.Id;
            if (assignment.Status == "skipped")
            {
                throw new QueueException(409, $"assignment {assignmentId} was skipped; it cannot be submitted");
            }
            var itemFields = JsonNode.Parse(item)!.AsObject();
            var errors = AnswerValidator.Validate(schema, itemFields, values);
            if (errors.Count > 0)
            {
                throw new QueueException(400, "some answers are not valid", errors);
            }
            if (existing is { Status: "submitted" } && idempotencyKey is not null && existing.SubmitKey == idempotencyKey)
            {
                // A retry of the submit that stored this revision (its answer was lost on the way): nothing new is stored.
                var again = withNext ? await NextInTransactionAsync(project.Id, userId, ct) : null;
                await tx.CommitAsync(ct);
                return new SubmitResult(existing.Id, existing.Revision, existing.Status, again);
            }
            if (existing?.Status != "submitted"
                && !await CountSubmissionAsync(assignment.ItemId, project.Overlap, Quality.GoldScoring.Injects(schema.Workflow.Quality), ct))
            {
                throw new QueueException(409, $"item {assignment.ItemId} already has its {project.Overlap} responses; your lease had expired");
            }
            response = existing ?? new Response
            {
                ProjectId = project.Id, ItemId = assignment.ItemId, UserId = userId, AssignmentId = assignment.Id, Status = "submitted", CreatedAt = now,
            };
            response.Status = "submitted";
            response.SubmitKey = idempotencyKey;
            response.ValuesJson = values.ToJsonString(StoredJson.Options);
            response.Revision++;
            response.GuidelineVersion = project.GuidelineVersion;
            response.LeadTimeMs = request.LeadTimeMs ?? (long)(now - assignment.LeasedAt).TotalMilliseconds;
            response.PresentationJson = assignment.PresentationJson;
            // Derived on the server (edit distance of edited drafts), so every client records the same figures.
            response.MetadataJson = Labellers.WorkspaceSuggestions.ToJson(await Labellers.WorkspaceSuggestions.RecordOutcomesAsync(db, schema,
                assignment.PresentationJson, assignment.ItemId, values, ResponseMetadata.Build(schema, itemFields, values), ct));
            response.UpdatedAt = now;
            await WriteSubmissionAsync(response, assignment.Id, existing is null, now, ct);
            await Quality.Calibration.RecordAsync(db, project.Id, userId, assignment.ItemId, response.ValuesJson, project.GuidelineVersion, now, ct);
            if (db.ChangeTracker.HasChanges())
            {
                await db.SaveChangesAsync(ct);
            }
            // The next lease joins the submit's transaction (one commit, one round of locks) unless gold accuracy may
            // pause the person: that check runs after the commit and must come before the next task.
            pauseCheck = schema.Workflow.Quality.PauseBelowGoldAccuracy is not null;
            next = withNext && !pauseCheck ? await NextInTransactionAsync(projectId, userId, ct) : null;
            await tx.CommitAsync(ct);
            submittedSchema = schema;
        }
        if (pauseCheck)
        {
            await Quality.GoldScoring.CheckAfterSubmitAsync(db, clock, submittedSchema, projectId, userId, response.ItemId, ct);
            next = withNext ? await NextAsync(projectId, userId, ct) : null;
        }
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
        TaskDto? next;
        await using (var tx = await BeginAsync(ct))
        {
            var (assignment, project, _, _, existing) = await LoadOwnAsync(assignmentId, userId, ct);
            var projectId = project.Id;
            TrackForSave(assignment, existing);
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
            next = withNext ? await NextInTransactionAsync(projectId, userId, ct) : null;
            await tx.CommitAsync(ct);
        }
        return new SubmitResult(response.Id, response.Revision, response.Status, next);
    }

    /// <summary>Saves answers in progress (types checked, required not) and renews the lease.</summary>
    public async Task<TaskDto> DraftAsync(long assignmentId, long userId, JsonObject? values, CancellationToken ct)
    {
        values ??= [];
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await BeginAsync(ct);
        var (assignment, project, schema, item, response) = await LoadOwnAsync(assignmentId, userId, ct);
        TrackForSave(assignment, response);
        if (assignment.Status != "active")
        {
            throw new QueueException(409, $"assignment {assignmentId} is {assignment.Status}; drafts are for work in progress");
        }
        var errors = AnswerValidator.Validate(schema, JsonNode.Parse(item)!.AsObject(), values, partial: true);
        if (errors.Count > 0)
        {
            throw new QueueException(400, "some answers are not valid", errors);
        }
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

    /// <summary>
    /// Stores a submitted answer without the change tracker: the response row (inserted, or updated when the person
    /// had a draft or an earlier revision), then in one batch the assignment's completion, the revision and the
    /// audit event. Two commands instead of EF's four single-row saves (SQLite sends them one by one), and none of
    /// SaveChanges' per-call cost (change detection, batching, topological sort), which the profile showed as the
    /// largest EF share of a submit (docs/benchmarks.md, "Work queue").
    /// </summary>
    private async Task WriteSubmissionAsync(Response response, long assignmentId, bool isNew, DateTime now, CancellationToken ct)
    {
        if (isNew)
        {
            response.Id = (await db.ScalarInt64Async("""
                INSERT INTO responses (project_id, item_id, user_id, assignment_id, status, values_json, revision, guideline_version,
                    lead_time_ms, presentation_json, metadata_json, submit_key, created_at, updated_at)
                VALUES ({0}, {1}, {2}, {3}, 'submitted', {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {11})
                RETURNING id
                """, [response.ProjectId, response.ItemId, response.UserId, response.AssignmentId, response.ValuesJson, response.Revision,
                response.GuidelineVersion, db.NullableParameter(response.LeadTimeMs), db.NullableParameter(response.PresentationJson), db.NullableParameter(response.MetadataJson),
                db.NullableParameter(response.SubmitKey), now], ct))!.Value;
        }
        var update = isNew ? "" : """
            UPDATE responses SET status = 'submitted', values_json = {3}, revision = {4}, guideline_version = {5}, lead_time_ms = {6},
                presentation_json = {7}, metadata_json = {8}, submit_key = {9}, updated_at = {2}
            WHERE id = {0};
            """;
        var (auditSql, auditParameters) = db.InsertStatement(clock, response.UserId, response.ProjectId,
            response.Revision == 1 ? "response.submit" : "response.revise", "response", response.Id, new { assignmentId, response.Revision }, first: 10);
        object[] parameters =
        [
            response.Id, assignmentId, now, response.ValuesJson, response.Revision, response.GuidelineVersion, db.NullableParameter(response.LeadTimeMs),
            db.NullableParameter(response.PresentationJson), db.NullableParameter(response.MetadataJson), db.NullableParameter(response.SubmitKey),
            .. auditParameters,
        ];
        // Only constants of this class and of Audit are spliced in; every value is a parameter.
        var sql = $$"""
            {{update}}
            UPDATE assignments SET status = 'submitted', completed_at = {2} WHERE id = {1};
            INSERT INTO response_revisions (response_id, revision, status, values_json, created_at) VALUES ({0}, {4}, 'submitted', {3}, {2});
            {{auditSql}}
            """;
        await db.Database.ExecuteSqlRawAsync(sql, parameters, ct);
    }

    /// <summary>
    /// The guard that keeps an item at or under its overlap, whatever the leases said: one conditional increment on
    /// the item row. The item that reaches its overlap leaves the claim indexes in the same statement.
    /// </summary>
    /// <param name="goldExempt">Gold items are answered by everyone when the project injects them: no overlap limit.</param>
    /// <remarks>Items of an open calibration round are answered by every member: no overlap limit.</remarks>
    private async Task<bool> CountSubmissionAsync(long itemId, int overlap, bool goldExempt, CancellationToken ct)
    {
        // Calibration is asked in the same statement (Calibration.IsOpenItemAsync's condition): one round trip, not two.
        // Written as SQL, not ExecuteUpdate: the LINQ form was compiled on every submit (7.8 % of the server's CPU).
        var counted = await db.Database.ExecuteSqlAsync($"""
            UPDATE items SET queue_state = CASE WHEN submitted_count + 1 >= {overlap} THEN {ItemQueueStates.Complete} ELSE queue_state END,
                submitted_count = submitted_count + 1
            WHERE id = {itemId} AND (submitted_count < {overlap} OR ({goldExempt} AND gold_json IS NOT NULL)
                OR EXISTS (SELECT 1 FROM calibration_items c JOIN calibration_sessions s ON s.id = c.session_id
                           WHERE c.item_id = items.id AND s.status = 'open'))
            """, ct);
        return counted == 1;
    }

    /// <summary>
    /// The person's own assignment, with its item's stored fields and the person's response to the item (draft,
    /// submitted or skipped; at most one, by the unique key), in one query and not tracked.
    /// The assignment is locked on PostgreSQL until the transaction ends, so two copies of one request
    /// (a retry racing the original) run one after the other and the second sees what the first stored.
    /// SQLite transactions already run one at a time.
    /// </summary>
    private async Task<(Assignment Assignment, Project Project, ProjectSchema Schema, string ItemFieldsJson, Response? Response)> LoadOwnAsync(
        long assignmentId, long userId, CancellationToken ct)
    {
        if (db.IsPostgres)
        {
            // Its own statement: a statement that waited for the lock still reads other tables as of its start, so
            // the response a racing copy of this request just committed is only seen by the next statement.
            await db.ScalarInt64Async("SELECT id FROM assignments WHERE id = {0} FOR UPDATE", [assignmentId], ct);
        }
        var own = await LoadOwnQuery.For(db)(db, assignmentId, userId, ct)
            ?? throw new QueueException(404, $"assignment {assignmentId} does not exist or is not yours");
        var assignment = own.Assignment;
        // A member removed from the project loses their leases with their access. Admins may annotate any project
        // without being members (the queue leases to them), so their own leases stay theirs to submit.
        var allowed = await access.RoleAsync(db, assignment.ProjectId, userId, ct) is not null
            || await db.Users.AnyAsync(u => u.Id == userId && u.IsAdmin && u.IsActive, ct);
        if (!allowed || await access.ProjectAsync(db, assignment.ProjectId, ct) is not { } entry)
        {
            throw new QueueException(404, $"assignment {assignmentId} does not exist or is not yours");
        }
        return (assignment, entry.Project, entry.Schema, own.FieldsJson, own.Response);
    }

    private sealed record OwnRow(Assignment Assignment, string FieldsJson, Response? Response);

    private static readonly PerProvider<Func<PlumblineDbContext, long, long, CancellationToken, Task<OwnRow?>>> LoadOwnQuery =
        new(() => EF.CompileAsyncQuery((PlumblineDbContext db, long assignmentId, long userId, CancellationToken ct) =>
            (from a in db.Assignments.AsNoTracking()
             where a.Id == assignmentId && a.UserId == userId
             join i in db.Items on a.ItemId equals i.Id
             from r in db.Responses.Where(r => r.ItemId == a.ItemId && r.UserId == userId).DefaultIfEmpty()
             select new OwnRow(a, i.FieldsJson, r)).FirstOrDefault()));

    /// <summary>Skip and draft change the rows <see cref="LoadOwnAsync"/> read and save them with SaveChanges.</summary>
    private void TrackForSave(Assignment assignment, Response? response)
    {
        db.Attach(assignment);
        if (response is not null)
        {
            db.Attach(response);
        }
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
                // Generation records provider, parameters and cost there: for managers, never for annotators.
                candidate.Remove("metadata");
                if (!schema.Workflow.ShowModelNames)
                {
                    candidate.Remove("model");
                }
                list.Add(candidate);
            }
        }
    }
}

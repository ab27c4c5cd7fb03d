using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Quality;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Quality;

/// <summary>A submitted response waiting for a reviewer, with the item it answers.</summary>
public sealed record ReviewTaskDto(long ResponseId, long ItemId, string ExternalId, string Annotator, int Revision, JsonNode? Values,
    JsonNode? Fields, DateTime SubmittedAt);

/// <param name="Verdict"><c>accept</c>, <c>reject</c> (a comment is required; the item goes back to its annotator) or <c>correct</c> (with values).</param>
/// <param name="Comment">Why; required to reject.</param>
/// <param name="Values">For <c>correct</c>: the corrected answers, validated like a submission.</param>
public sealed record ReviewRequest(string? Verdict, string? Comment, JsonObject? Values);

public sealed record ReviewDto(long Id, long ResponseId, string Reviewer, string Verdict, string? Comment, JsonNode? CorrectedValues, DateTime CreatedAt);

/// <summary>One annotator's answers on an item in dispute.</summary>
public sealed record AnswerDto(long ResponseId, string Annotator, JsonNode? Values);

/// <summary>An item whose consensus is uncertain, with everyone's answers side by side.</summary>
public sealed record AdjudicationItemDto(long ItemId, string ExternalId, JsonNode? Fields, List<ConsensusValue> Consensus, List<AnswerDto> Answers);

/// <param name="Question">The question decided.</param>
/// <param name="Value">The final answer.</param>
/// <param name="Comment">Why, for the record.</param>
public sealed record DecisionRequest(string? Question, JsonNode? Value, string? Comment);

public sealed record DecisionDto(long ItemId, string Question, JsonNode? Value, string? Comment, string DecidedBy, DateTime DecidedAt);

public sealed record CommentRequest(string? Body);

public sealed record CommentDto(long Id, string Author, string Body, DateTime CreatedAt);

/// <summary>Why a review action was refused.</summary>
public sealed class ReviewException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// Review (accept, reject with a comment so the item goes back to its annotator, correct with values),
/// adjudication of disagreements by an expert, and comment threads on items.
/// </summary>
public sealed class ReviewService(PlumblineDbContext db, TimeProvider clock, QualityService quality, NeedsReviewCache needsReview)
{
    public const int MaxCommentChars = 10_000;
    private const int PageSize = 1000;

    /// <summary>
    /// Submitted responses not yet reviewed since their last revision, chosen by the project's sampling policy,
    /// in response id order after <paramref name="after"/>. Your own responses are never offered to you.
    /// </summary>
    public async Task<List<ReviewTaskDto>> QueueAsync(long projectId, long reviewerId, long after, int limit, CancellationToken ct)
    {
        var schema = ProjectSchema.Parse(await db.Projects.Where(p => p.Id == projectId).Select(p => p.SchemaJson).FirstAsync(ct));
        var settings = schema.Workflow.Quality;
        if (settings.ReviewMode == ReviewModes.None)
        {
            return [];
        }
        HashSet<long>? uncertain = null;
        if (settings.ReviewMode == ReviewModes.BelowAgreement)
        {
            uncertain = (await needsReview.GetAsync(db, quality, projectId, QualityMethods.DawidSkene, ct)).Select(i => i.ItemId).ToHashSet();
        }
        // per_annotator counts each annotator's responses from the first one, so the scan starts at the beginning.
        var perAnnotator = settings.ReviewMode == ReviewModes.PerAnnotator;
        var seen = new Dictionary<long, int>();
        var picked = new List<long>();
        long cursor = perAnnotator ? 0 : after;
        while (picked.Count < limit)
        {
            var page = await db.Responses.AsNoTracking()
                .Where(r => r.ProjectId == projectId && r.Status == "submitted" && r.Id > cursor)
                .OrderBy(r => r.Id).Take(PageSize)
                .Select(r => new { r.Id, r.ItemId, r.UserId, Reviewed = db.Reviews.Any(v => v.ResponseId == r.Id && v.CreatedAt >= r.UpdatedAt) })
                .ToListAsync(ct);
            if (page.Count == 0)
            {
                break;
            }
            cursor = page[^1].Id;
            foreach (var r in page)
            {
                var inSample = settings.ReviewMode switch
                {
                    ReviewModes.Percent => InPercentSample(r.Id, settings.ReviewPercent),
                    ReviewModes.PerAnnotator => (seen[r.UserId] = seen.GetValueOrDefault(r.UserId) + 1) <= settings.ReviewPerAnnotator,
                    ReviewModes.BelowAgreement => uncertain!.Contains(r.ItemId),
                    _ => true,
                };
                if (inSample && !r.Reviewed && r.UserId != reviewerId && r.Id > after)
                {
                    picked.Add(r.Id);
                    if (picked.Count == limit)
                    {
                        break;
                    }
                }
            }
        }
        var rows = await db.Responses.AsNoTracking().Where(r => picked.Contains(r.Id)).OrderBy(r => r.Id)
            .Join(db.Items, r => r.ItemId, i => i.Id, (r, i) => new { r.Id, r.ItemId, i.ExternalId, r.UserId, r.Revision, r.ValuesJson, i.FieldsJson, r.UpdatedAt })
            .Join(db.Users, x => x.UserId, u => u.Id, (x, u) => new { x, u.Email })
            .ToListAsync(ct);
        return [.. rows.Select(r => new ReviewTaskDto(r.x.Id, r.x.ItemId, r.x.ExternalId, r.Email, r.x.Revision, JsonNode.Parse(r.x.ValuesJson),
            JsonNode.Parse(r.x.FieldsJson), r.x.UpdatedAt))];
    }

    /// <summary>A stable pseudo-random share of responses: Knuth's multiplicative hash of the id, so the sample never moves.</summary>
    public static bool InPercentSample(long responseId, double percent) => (ulong)responseId * 2654435761UL % 10_000UL < (ulong)Math.Round(percent * 100);

    /// <summary>The project of a response, for the access check.</summary>
    public Task<long?> ProjectOfResponseAsync(long responseId, CancellationToken ct) =>
        db.Responses.Where(r => r.Id == responseId).Select(r => (long?)r.ProjectId).FirstOrDefaultAsync(ct);

    public async Task<ReviewDto> ReviewAsync(long responseId, long reviewerId, ReviewRequest request, CancellationToken ct)
    {
        var verdict = request.Verdict?.Trim().ToLowerInvariant();
        if (verdict is not ("accept" or "reject" or "correct"))
        {
            throw new ReviewException(400, $"verdict '{request.Verdict}' is not accept, reject or correct");
        }
        var comment = string.IsNullOrWhiteSpace(request.Comment) ? null : request.Comment.Trim();
        if (comment is { Length: > MaxCommentChars })
        {
            throw new ReviewException(400, $"comment is over {MaxCommentChars} characters");
        }
        if (verdict == "reject" && comment is null)
        {
            throw new ReviewException(400, "a rejection needs a comment telling the annotator what to fix");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var response = await db.Responses.FirstAsync(r => r.Id == responseId, ct);
        if (response.Status != "submitted")
        {
            throw new ReviewException(409, $"response {responseId} is {response.Status}; only submitted responses are reviewed");
        }
        if (response.UserId == reviewerId)
        {
            throw new ReviewException(403, "you cannot review your own response");
        }
        string? corrected = null;
        if (verdict == "correct")
        {
            if (request.Values is not { Count: > 0 } values)
            {
                throw new ReviewException(400, "a correction needs values: {\"values\": {\"question\": corrected answer}}");
            }
            var schema = ProjectSchema.Parse(await db.Projects.Where(p => p.Id == response.ProjectId).Select(p => p.SchemaJson).FirstAsync(ct));
            var fields = await db.Items.Where(i => i.Id == response.ItemId).Select(i => i.FieldsJson).FirstAsync(ct);
            var errors = AnswerValidator.Validate(schema, JsonNode.Parse(fields)!.AsObject(), values);
            if (errors.Count > 0)
            {
                throw new ReviewException(400, "the corrected values are not valid: " + string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value}")));
            }
            corrected = values.ToJsonString(StoredJson.Options);
        }
        var review = new Review
        {
            ProjectId = response.ProjectId,
            ResponseId = responseId,
            ReviewerId = reviewerId,
            Verdict = verdict,
            Comment = comment,
            CorrectedValuesJson = corrected,
            CreatedAt = now,
        };
        db.Reviews.Add(review);
        if (verdict == "reject")
        {
            // Rework: the lease row goes back to its annotator, whose queue offers it before new work.
            await db.Assignments.Where(a => a.Id == response.AssignmentId)
                .ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, "rework"), ct);
        }
        await db.SaveChangesAsync(ct);
        db.Record(clock, reviewerId, response.ProjectId, "response.review", "review", review.Id, new { responseId, verdict });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        var email = await db.Users.Where(u => u.Id == reviewerId).Select(u => u.Email).FirstAsync(ct);
        return new ReviewDto(review.Id, responseId, email, verdict, comment, corrected is null ? null : JsonNode.Parse(corrected), now);
    }

    public async Task<List<ReviewDto>> ReviewsOfAsync(long responseId, CancellationToken ct)
    {
        var rows = await db.Reviews.AsNoTracking().Where(v => v.ResponseId == responseId).OrderBy(v => v.Id)
            .Join(db.Users, v => v.ReviewerId, u => u.Id, (v, u) => new { v, u.Email }).ToListAsync(ct);
        return [.. rows.Select(r => new ReviewDto(r.v.Id, r.v.ResponseId, r.Email, r.v.Verdict, r.v.Comment,
            r.v.CorrectedValuesJson is null ? null : JsonNode.Parse(r.v.CorrectedValuesJson), r.v.CreatedAt))];
    }

    /// <summary>Items whose consensus needs review and has no expert decision yet, with every submitted answer.</summary>
    public async Task<List<AdjudicationItemDto>> AdjudicationAsync(long projectId, long after, int limit, string method, CancellationToken ct)
    {
        var items = (await needsReview.GetAsync(db, quality, projectId, method, ct)).Where(i => i.ItemId > after).Take(limit).ToList();
        var ids = items.Select(i => i.ItemId).ToList();
        var answers = (await db.Responses.AsNoTracking().Where(r => ids.Contains(r.ItemId) && r.Status == "submitted").OrderBy(r => r.Id)
            .Join(db.Users, r => r.UserId, u => u.Id, (r, u) => new { r.Id, r.ItemId, u.Email, r.ValuesJson }).ToListAsync(ct))
            .ToLookup(r => r.ItemId);
        var fields = await db.Items.AsNoTracking().Where(i => ids.Contains(i.Id)).ToDictionaryAsync(i => i.Id, i => i.FieldsJson, ct);
        return [.. items.Select(i => new AdjudicationItemDto(i.ItemId, i.ExternalId, JsonNode.Parse(fields[i.ItemId]), i.Consensus,
            [.. answers[i.ItemId].Select(a => new AnswerDto(a.Id, a.Email, JsonNode.Parse(a.ValuesJson)))]))];
    }

    public async Task<DecisionDto> DecideAsync(long projectId, string externalId, long userId, DecisionRequest request, CancellationToken ct)
    {
        var item = await db.Items.AsNoTracking().Where(i => i.ProjectId == projectId && i.ExternalId == externalId)
            .Select(i => new { i.Id, i.FieldsJson }).FirstOrDefaultAsync(ct)
            ?? throw new ReviewException(404, $"no item with external id '{externalId}' in project {projectId}");
        var schema = ProjectSchema.Parse(await db.Projects.Where(p => p.Id == projectId).Select(p => p.SchemaJson).FirstAsync(ct));
        if (request.Question is null || schema.FindQuestion(request.Question) is null)
        {
            throw new ReviewException(400, $"question '{request.Question}' is not one of {string.Join(", ", schema.Questions.Select(q => q.Name))}");
        }
        if (request.Value is null)
        {
            throw new ReviewException(400, "value is required: the final answer, in the shape of a response's value");
        }
        var errors = AnswerValidator.Validate(schema, JsonNode.Parse(item.FieldsJson)!.AsObject(), new JsonObject { [request.Question] = request.Value.DeepClone() }, partial: true);
        if (errors.Count > 0)
        {
            throw new ReviewException(400, string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value}")));
        }
        var comment = string.IsNullOrWhiteSpace(request.Comment) ? null : request.Comment.Trim();
        if (comment is { Length: > MaxCommentChars })
        {
            throw new ReviewException(400, $"comment is over {MaxCommentChars} characters");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        var decision = await db.Set<ItemDecision>().FirstOrDefaultAsync(d => d.ItemId == item.Id && d.Question == request.Question, ct);
        if (decision is null)
        {
            decision = new ItemDecision { ProjectId = projectId, ItemId = item.Id, Question = request.Question, ValueJson = "" };
            db.Set<ItemDecision>().Add(decision);
        }
        decision.ValueJson = request.Value.ToJsonString(StoredJson.Options);
        decision.Comment = comment;
        decision.DecidedById = userId;
        decision.DecidedAt = now;
        db.Record(clock, userId, projectId, "item.adjudicate", "item", item.Id, new { question = request.Question });
        await db.SaveChangesAsync(ct);
        var email = await db.Users.Where(u => u.Id == userId).Select(u => u.Email).FirstAsync(ct);
        return new DecisionDto(item.Id, request.Question, JsonNode.Parse(decision.ValueJson), comment, email, now);
    }

    /// <summary>The item of an external id, and whether the caller may take part in its thread.</summary>
    public async Task<long> ThreadItemAsync(long projectId, string externalId, long userId, string role, CancellationToken ct)
    {
        var itemId = await db.Items.Where(i => i.ProjectId == projectId && i.ExternalId == externalId).Select(i => (long?)i.Id).FirstOrDefaultAsync(ct)
            ?? throw new ReviewException(404, $"no item with external id '{externalId}' in project {projectId}");
        // Annotators take part only in the threads of items they were given.
        if (Roles.Rank(role) < Roles.Rank(Roles.Reviewer) && !await db.Assignments.AnyAsync(a => a.ItemId == itemId && a.UserId == userId, ct))
        {
            throw new ReviewException(404, $"no item with external id '{externalId}' in project {projectId}");
        }
        return itemId;
    }

    public async Task<List<CommentDto>> CommentsAsync(long itemId, CancellationToken ct) =>
        [.. (await db.Set<ItemComment>().AsNoTracking().Where(c => c.ItemId == itemId).OrderBy(c => c.Id)
            .Join(db.Users, c => c.UserId, u => u.Id, (c, u) => new { c.Id, u.Email, c.Body, c.CreatedAt }).ToListAsync(ct))
            .Select(c => new CommentDto(c.Id, c.Email, c.Body, c.CreatedAt))];

    public async Task<CommentDto> CommentAsync(long projectId, long itemId, long userId, string? body, CancellationToken ct)
    {
        var text = body?.Trim() ?? "";
        if (text.Length is 0 or > MaxCommentChars)
        {
            throw new ReviewException(400, $"body must be 1-{MaxCommentChars} characters");
        }
        var comment = new ItemComment { ProjectId = projectId, ItemId = itemId, UserId = userId, Body = text, CreatedAt = clock.GetUtcNow().UtcDateTime };
        db.Set<ItemComment>().Add(comment);
        await db.SaveChangesAsync(ct);
        db.Record(clock, userId, projectId, "item.comment", "item", itemId, new { commentId = comment.Id });
        await db.SaveChangesAsync(ct);
        var email = await db.Users.Where(u => u.Id == userId).Select(u => u.Email).FirstAsync(ct);
        return new CommentDto(comment.Id, email, text, comment.CreatedAt);
    }
}

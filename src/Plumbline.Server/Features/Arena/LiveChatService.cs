using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Models;
using Plumbline.Server.Features.Queue;

namespace Plumbline.Server.Features.Arena;

/// <summary>A live chat request that cannot be served; <see cref="Status"/> is the HTTP status to answer with.</summary>
public sealed class LiveChatException(int status, string message, TimeSpan? retryAfter = null) : Exception(message)
{
    public int Status { get; } = status;
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public IResult ToResult(HttpContext http)
    {
        if (RetryAfter is { } wait)
        {
            http.Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return Results.Problem(Message, statusCode: Status, title: Status switch
        {
            403 => "Forbidden",
            404 => "Not found",
            409 => "Conflict",
            429 => "Too many requests",
            _ => "Bad request",
        });
    }
}

/// <summary>What a new red-team attempt became: the item and the lease that holds it.</summary>
public sealed record AttemptDto(long ItemId, string ExternalId, long AssignmentId);

/// <summary>Messages per person per minute for live chat; one limiter for the whole process.</summary>
public sealed class ChatRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<long> limiter;

    public ChatRateLimiter(IConfiguration configuration)
    {
        var perMinute = int.TryParse(configuration["PLUMBLINE_CHAT_LIMIT_PER_MINUTE"], out var n) && n > 0 ? n : 20;
        PerMinute = perMinute;
        limiter = PartitionedRateLimiter.Create<long, long>(userId => RateLimitPartition.GetFixedWindowLimiter(userId, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0,
        }));
    }

    public int PerMinute { get; }

    public bool TryAcquire(long userId)
    {
        using var lease = limiter.AttemptAcquire(userId);
        return lease.IsAcquired;
    }

    public void Dispose() => limiter.Dispose();
}

/// <summary>
/// Live chat inside a task: the person holding an item sends a message, the project's target model answers as a stream,
/// and both turns are appended to the item's chat field once the answer is complete (a failed answer stores nothing).
/// Only the holder of a live lease may chat on an item; messages are rate-limited per person, and one answer streams
/// per lease at a time. The stream is NDJSON: <c>{"delta": "…"}</c> lines, then <c>{"done": true, …}</c> or
/// <c>{"error": "…"}</c>. Model text is untrusted: the page writes it as text, never as HTML.
/// </summary>
public sealed class LiveChatService(PlumblineDbContext db, ModelProviders providers, ChatCompletionClient client, ChatRateLimiter limiter,
    TimeProvider clock, ILogger<LiveChatService> logger)
{
    /// <summary>Longest message a person may send, in characters.</summary>
    public const int MaxMessageLength = 16_000;

    private static readonly ConcurrentDictionary<long, byte> Streaming = new();

    /// <summary>Creates a red-team attempt: an empty conversation pinned to its author and leased to them at once.</summary>
    public async Task<AttemptDto> CreateAttemptAsync(long projectId, long userId, string email, CancellationToken ct)
    {
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == projectId, ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        if (schema.Workflow.Chat is null || SchemaValidator.ChatFieldOf(schema) is not { } field)
        {
            throw new LiveChatException(400, $"project {projectId} has no live chat: a manager sets the target model first (PUT /api/v1/projects/{projectId}/chat)");
        }
        if (schema.Workflow.PinKey is not { } pinKey)
        {
            throw new LiveChatException(400, $"project {projectId} has no workflow.pinKey, so a new attempt could reach someone else; create the project from the red-team template");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var live = await db.Assignments.AsNoTracking().Where(a => a.ProjectId == projectId && a.UserId == userId && a.Stage == QueueService.Stage
            && a.Status == "active" && a.ExpiresAt > now).Select(a => new { a.Id, a.ItemId }).FirstOrDefaultAsync(ct);
        if (live is not null)
        {
            throw new LiveChatException(409, $"you are still holding item {live.ItemId}: submit or skip it before starting a new attempt");
        }
        var item = new Item
        {
            ProjectId = projectId,
            ExternalId = $"attempt-{now:yyyyMMddHHmmss}-{userId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}",
            FieldsJson = new JsonObject { [field.Name] = new JsonArray() }.ToJsonString(StoredJson.Options),
            MetadataJson = new JsonObject { [pinKey] = email, ["source_format"] = "live_chat" }.ToJsonString(StoredJson.Options),
            QueueState = ItemQueueStates.Pinned,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.Items.Add(item);
        await db.SaveChangesAsync(ct);
        db.Set<ItemPin>().Add(new ItemPin { ItemId = item.Id, ProjectId = projectId, Principal = "user:" + email.ToLowerInvariant() });
        var lease = new Assignment
        {
            ProjectId = projectId, ItemId = item.Id, UserId = userId, Stage = QueueService.Stage, Status = "active",
            LeasedAt = now, ExpiresAt = now.AddMinutes(schema.Workflow.LeaseMinutes),
        };
        db.Assignments.Add(lease);
        await db.SaveChangesAsync(ct);
        db.Record(clock, userId, projectId, "item.attempt", "item", item.Id, new { item.ExternalId, assignmentId = lease.Id });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return new AttemptDto(item.Id, item.ExternalId, lease.Id);
    }

    /// <summary>
    /// Checks everything that can be checked before the model is called, so a refusal is a plain ProblemDetails answer;
    /// then streams the model's answer to <paramref name="http"/> and stores both turns when it is complete.
    /// </summary>
    public async Task StreamAsync(HttpContext http, long projectId, long assignmentId, long userId, string? message, CancellationToken ct)
    {
        message = message?.Trim();
        if (string.IsNullOrEmpty(message))
        {
            throw new LiveChatException(400, "write a message to send to the model");
        }
        if (message.Length > MaxMessageLength)
        {
            throw new LiveChatException(400, $"the message has {message.Length:N0} characters; at most {MaxMessageLength:N0} are sent");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        var lease = await db.Assignments.AsNoTracking().FirstOrDefaultAsync(a => a.Id == assignmentId && a.ProjectId == projectId, ct);
        // Someone else's lease reads as missing: nothing about other people's work is revealed.
        if (lease is null || lease.UserId != userId)
        {
            throw new LiveChatException(404, $"assignment {assignmentId} is not yours in project {projectId}");
        }
        if (lease.Status != "active" || lease.ExpiresAt <= now)
        {
            throw new LiveChatException(409, $"assignment {assignmentId} is {(lease.Status == "active" ? "expired" : lease.Status)}; chat only on an item you are working on");
        }
        var schema = ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == projectId).Select(p => p.SchemaJson).FirstAsync(ct));
        if (schema.Workflow.Chat is not { } chat || SchemaValidator.ChatFieldOf(schema) is not { } field)
        {
            throw new LiveChatException(400, $"project {projectId} has no live chat: a manager sets the target model first");
        }
        var fields = JsonNode.Parse(await db.Items.AsNoTracking().Where(i => i.Id == lease.ItemId).Select(i => i.FieldsJson).FirstAsync(ct))!.AsObject();
        var turns = fields[field.Name] as JsonArray ?? [];
        if (turns.Count + 2 > chat.MaxMessages)
        {
            throw new LiveChatException(409, $"this conversation has {turns.Count} messages, the project's limit is {chat.MaxMessages}; answer the questions and submit");
        }
        var endpoint = await providers.EndpointAsync(chat.Provider, ct)
            ?? throw new LiveChatException(409, $"the project's target model provider '{chat.Provider}' does not exist any more; ask a manager to choose another");
        if (!limiter.TryAcquire(userId))
        {
            throw new LiveChatException(429, $"you sent {limiter.PerMinute} messages this minute, the most allowed; wait a moment", TimeSpan.FromSeconds(60));
        }
        if (!Streaming.TryAdd(assignmentId, 0))
        {
            throw new LiveChatException(409, "the model is still answering your last message");
        }
        try
        {
            var messages = new List<ChatMessage>();
            if (!string.IsNullOrWhiteSpace(chat.SystemPrompt))
            {
                messages.Add(new ChatMessage("system", chat.SystemPrompt));
            }
            foreach (var turn in turns.OfType<JsonObject>())
            {
                messages.Add(new ChatMessage(turn["role"]?.GetValue<string>() ?? "user", turn["content"]?.GetValue<string>() ?? ""));
            }
            messages.Add(new ChatMessage("user", message));
            await WriteStreamAsync(http, endpoint, messages, projectId, lease.ItemId, assignmentId, userId, field.Name, message, ct);
        }
        finally
        {
            Streaming.TryRemove(assignmentId, out _);
        }
    }

    private async Task WriteStreamAsync(HttpContext http, ModelEndpoint endpoint, List<ChatMessage> messages, long projectId, long itemId,
        long assignmentId, long userId, string field, string message, CancellationToken ct)
    {
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/x-ndjson; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await using var json = new Utf8JsonWriter(http.Response.BodyWriter.AsStream());
        async Task LineAsync(Action<Utf8JsonWriter> write)
        {
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
            await json.FlushAsync(ct);
            json.Reset();
            await http.Response.BodyWriter.WriteAsync("\n"u8.ToArray(), ct);
            await http.Response.BodyWriter.FlushAsync(ct);
        }
        ChatCompletion? completed = null;
        try
        {
            await foreach (var e in client.StreamAsync(endpoint, new ChatRequest { Messages = messages }, ct))
            {
                if (e.Completed is not null)
                {
                    completed = e.Completed;
                }
                else if (e.Delta.Length > 0)
                {
                    await LineAsync(w => w.WriteString("delta", e.Delta));
                }
            }
        }
        catch (ModelProviderException ex)
        {
            // The client's messages name the provider and the failure, never the key; the content is not logged.
            logger.LogWarning("Live chat on assignment {AssignmentId}: provider {Provider} failed: {Reason}", assignmentId, endpoint.Name, ex.Message);
            await LineAsync(w => w.WriteString("error", $"the model did not answer: {ex.Message}. Your message was not stored; send it again."));
            return;
        }
        if (completed is null)
        {
            await LineAsync(w => w.WriteString("error", "the model's answer ended early; your message was not stored, send it again"));
            return;
        }
        var stored = await AppendAsync(projectId, itemId, assignmentId, userId, field, message, completed, endpoint, ct);
        await LineAsync(w =>
        {
            w.WriteBoolean("done", stored is not null);
            if (stored is { } count)
            {
                w.WriteNumber("messages", count);
            }
            else
            {
                w.WriteString("error", "your lease on this item ended while the model answered; the answer was not stored");
            }
            w.WriteString("model", completed.Model);
            if (completed.Usage is { } usage)
            {
                w.WriteNumber("promptTokens", usage.PromptTokens);
                w.WriteNumber("completionTokens", usage.CompletionTokens);
            }
        });
    }

    /// <returns>The number of messages the conversation now holds, or null when the lease ended meanwhile.</returns>
    private async Task<int?> AppendAsync(long projectId, long itemId, long assignmentId, long userId, string field, string message,
        ChatCompletion completed, ModelEndpoint endpoint, CancellationToken ct)
    {
        // The person's answers come back a moment later; the turns must be stored whatever happens to the page now.
        var save = CancellationToken.None;
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(save);
        var holds = await db.Assignments.AnyAsync(a => a.Id == assignmentId && a.UserId == userId && a.Status == "active" && a.ExpiresAt > now, save);
        if (!holds)
        {
            return null;
        }
        var item = await db.Items.FirstAsync(i => i.Id == itemId, save);
        var fields = JsonNode.Parse(item.FieldsJson)!.AsObject();
        var turns = fields[field] as JsonArray ?? [];
        turns.Add(new JsonObject { ["role"] = "user", ["content"] = message });
        turns.Add(new JsonObject { ["role"] = "assistant", ["content"] = completed.Content });
        fields[field] = turns.Parent is null ? turns : turns.DeepClone();
        item.FieldsJson = fields.ToJsonString(StoredJson.Options);
        var metadata = JsonNode.Parse(item.MetadataJson) as JsonObject ?? [];
        metadata["target_provider"] = endpoint.Name;
        metadata["target_model"] = completed.Model;
        item.MetadataJson = metadata.ToJsonString(StoredJson.Options);
        item.UpdatedAt = now;
        db.Record(clock, userId, projectId, "item.chat", "item", itemId, new
        {
            assignmentId, provider = endpoint.Name, model = completed.Model, messages = turns.Count,
            promptTokens = completed.Usage?.PromptTokens, completionTokens = completed.Usage?.CompletionTokens,
        });
        await db.SaveChangesAsync(save);
        await tx.CommitAsync(save);
        return turns.Count;
    }
}

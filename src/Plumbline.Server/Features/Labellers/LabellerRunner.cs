using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Labelling;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Models;

namespace Plumbline.Server.Features.Labellers;

/// <summary>
/// Works through queued labeller runs in the background. Runs are claimed from the table with a lease, so any server
/// process may take one and a run whose process died is taken over when its lease lapses. Items are read in id order
/// in batches; each batch's answers, suggestions, counters and position are written in one transaction, so a restart
/// repeats at most the batch that was in flight and never counts an item twice.
/// </summary>
public sealed class LabellerRunner(IServiceScopeFactory scopes, ChatCompletionClient client, TimeProvider clock, ILogger<LabellerRunner> logger) : BackgroundService
{
    public const string Queued = "queued", Running = "running", Completed = "completed", Cancelled = "cancelled", Failed = "failed";

    /// <summary>How long a claim holds without renewal; every batch renews it.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    /// <summary>This many provider errors in a row (after the client's own retries) stop the run: the provider is down or misconfigured.</summary>
    public const int MaxConsecutiveProviderErrors = 20;

    private const int MaxOutputKept = 2000;
    private readonly string owner = $"{Environment.ProcessId}:{Guid.NewGuid():N}";
    private readonly SemaphoreSlim wake = new(0);

    /// <summary>Looks for work now instead of at the next poll (a run was just queued in this process).</summary>
    public void Wake()
    {
        if (wake.CurrentCount == 0)
        {
            wake.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            long? runId = null;
            try
            {
                runId = await ClaimAsync(stoppingToken);
                if (runId is { } id)
                {
                    await ProcessAsync(id, stoppingToken);
                    continue;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // A database hiccup must not end the loop; the run's lease lapses and it is taken up again.
                logger.LogError(ex, "labeller run {RunId} stopped by an error", runId);
            }
            try
            {
                await wake.WaitAsync(TimeSpan.FromSeconds(2), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task<long?> ClaimAsync(CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var candidates = await db.Set<LabellerRun>().AsNoTracking()
            .Where(r => (r.Status == Queued || r.Status == Running) && (r.LeaseExpiresAt == null || r.LeaseExpiresAt < now))
            .OrderBy(r => r.Id).Select(r => r.Id).Take(5).ToListAsync(ct);
        foreach (var id in candidates)
        {
            // The condition is checked again in the update: of two processes, one changes the row.
            var claimed = await db.Set<LabellerRun>()
                .Where(r => r.Id == id && (r.Status == Queued || r.Status == Running) && (r.LeaseExpiresAt == null || r.LeaseExpiresAt < now))
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, Running).SetProperty(r => r.LeaseOwner, owner)
                    .SetProperty(r => r.LeaseExpiresAt, now + Lease).SetProperty(r => r.StartedAt, r => r.StartedAt ?? now), ct);
            if (claimed == 1)
            {
                return id;
            }
        }
        return null;
    }

    private sealed record Job(LabellerRun Run, LabellerVersion Version, string Agent, ProjectSchema Schema, List<QuestionDefinition> Questions,
        LabellerPrompt Prompt, ModelEndpoint Endpoint, LabellerRunFilter Filter, int Overlap);

    private sealed record ItemRow(long Id, string ExternalId, string FieldsJson, string MetadataJson);

    private async Task ProcessAsync(long runId, CancellationToken stoppingToken)
    {
        Job job;
        using (var scope = scopes.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
            var (prepared, problem) = await PrepareAsync(scope.ServiceProvider, db, runId, stoppingToken);
            if (prepared is null)
            {
                await FinishAsync(runId, Failed, problem, stoppingToken);
                return;
            }
            job = prepared;
            if (job.Run.Total is null)
            {
                var total = await CountAsync(db, job, stoppingToken);
                await db.Set<LabellerRun>().Where(r => r.Id == runId).ExecuteUpdateAsync(s => s.SetProperty(r => r.Total, total), stoppingToken);
            }
        }
        var cursor = job.Run.Cursor;
        var selected = job.Run.Done + job.Run.Failed;
        var consecutiveProviderErrors = 0;
        var batchSize = Math.Max(16, job.Run.Concurrency * 4);
        try
        {
            while (true)
            {
                using var scope = scopes.CreateScope();
                var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
                var page = await PageAsync(db, job, cursor, batchSize, stoppingToken);
                if (page.Count == 0)
                {
                    await FinishAsync(runId, Completed, null, stoppingToken);
                    return;
                }
                var items = page.Where(i => Matches(job.Filter, i)).ToList();
                if (job.Filter.Limit is { } limit)
                {
                    items = [.. items.Take(Math.Max(0, limit - selected))];
                }
                var results = new LabellerResult[items.Count];
                await Parallel.ForEachAsync(Enumerable.Range(0, items.Count),
                    new ParallelOptions { MaxDegreeOfParallelism = job.Run.Concurrency, CancellationToken = stoppingToken },
                    async (i, ct) => results[i] = await AskAsync(job, items[i], ct));
                foreach (var r in results)
                {
                    consecutiveProviderErrors = r.ValuesJson is null && r.Output is null ? consecutiveProviderErrors + 1 : 0;
                }
                var last = job.Filter.Limit is { } l && selected + items.Count >= l ? (items.Count > 0 ? items[^1].Id : cursor) : page[^1].Id;
                if (!await SaveBatchAsync(db, job, results, last, stoppingToken))
                {
                    // Cancelled, or another process took the run over: stop without writing more, and let go of a cancelled run.
                    await db.Set<LabellerRun>().Where(r => r.Id == runId && r.LeaseOwner == owner && r.Status != Running)
                        .ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseOwner, (string?)null).SetProperty(r => r.LeaseExpiresAt, (DateTime?)null), stoppingToken);
                    return;
                }
                selected += items.Count;
                cursor = last;
                if (job.Filter.Limit is { } max && selected >= max)
                {
                    await FinishAsync(runId, Completed, null, stoppingToken);
                    return;
                }
                if (consecutiveProviderErrors >= MaxConsecutiveProviderErrors)
                {
                    await FinishAsync(runId, Failed,
                        $"stopped after {consecutiveProviderErrors} provider errors in a row; the last: {results[^1].Error}", stoppingToken);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: let the next process (or this one after a restart) take the run at once.
            using var scope = scopes.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
            await db.Set<LabellerRun>().Where(r => r.Id == runId && r.LeaseOwner == owner)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseExpiresAt, (DateTime?)null), CancellationToken.None);
            throw;
        }
    }

    private static async Task<(Job?, string?)> PrepareAsync(IServiceProvider services, PlumblineDbContext db, long runId, CancellationToken ct)
    {
        var run = await db.Set<LabellerRun>().AsNoTracking().FirstAsync(r => r.Id == runId, ct);
        var version = await db.Set<LabellerVersion>().AsNoTracking().FirstAsync(v => v.Id == run.LabellerVersionId, ct);
        var name = await db.Set<Labeller>().Where(l => l.Id == version.LabellerId).Select(l => l.Name).FirstAsync(ct);
        var project = await db.Projects.AsNoTracking().Where(p => p.Id == run.ProjectId).Select(p => new { p.SchemaJson, p.Overlap }).FirstAsync(ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var questions = new List<QuestionDefinition>();
        foreach (var n in LabellerService.QuestionsOf(version))
        {
            if (schema.FindQuestion(n) is not { } q)
            {
                return (null, $"question '{n}' is no longer in the project; make a new version of the labeller without it");
            }
            questions.Add(q);
        }
        LabellerPrompt prompt;
        try
        {
            prompt = LabellerPrompt.Parse(version.PromptTemplate, schema);
        }
        catch (SchemaException ex)
        {
            return (null, ex.Message);
        }
        ModelEndpoint? endpoint;
        try
        {
            endpoint = await services.GetRequiredService<ModelProviders>().EndpointAsync(version.ProviderId, ct);
        }
        catch (ModelProviderException ex)
        {
            return (null, ex.Message);
        }
        if (endpoint is null)
        {
            return (null, $"model provider '{version.ProviderName}' no longer exists; make a new version of the labeller with another provider");
        }
        var filter = run.FilterJson is null ? new LabellerRunFilter() : JsonSerializer.Deserialize<LabellerRunFilter>(run.FilterJson, JsonSerializerOptions.Web)!;
        return (new Job(run, version, LabellerService.Agent(version, name), schema, questions, prompt, endpoint, filter, project.Overlap), null);
    }

    /// <summary>The filter's database part (gold, status, external ids); metadata is checked per item in <see cref="Matches"/>.</summary>
    private static IQueryable<Item> Selected(PlumblineDbContext db, Job job)
    {
        var query = db.Items.AsNoTracking().Where(i => i.ProjectId == job.Run.ProjectId);
        var f = job.Filter;
        if (f.Gold is { } gold)
        {
            query = gold ? query.Where(i => i.GoldJson != null) : query.Where(i => i.GoldJson == null);
        }
        var overlap = job.Overlap;
        query = f.Status switch
        {
            Items.ItemStatus.None => query.Where(i => i.SubmittedCount == 0),
            Items.ItemStatus.InProgress => query.Where(i => i.SubmittedCount > 0 && i.SubmittedCount < overlap),
            Items.ItemStatus.Complete => query.Where(i => i.SubmittedCount >= overlap),
            _ => query,
        };
        if (f.ExternalIds is { Count: > 0 } ids)
        {
            query = query.Where(i => ids.Contains(i.ExternalId));
        }
        return query;
    }

    private static Task<List<ItemRow>> PageAsync(PlumblineDbContext db, Job job, long after, int size, CancellationToken ct) =>
        Selected(db, job).Where(i => i.Id > after).OrderBy(i => i.Id).Take(size)
            .Select(i => new ItemRow(i.Id, i.ExternalId, i.FieldsJson, i.MetadataJson)).ToListAsync(ct);

    private static async Task<int> CountAsync(PlumblineDbContext db, Job job, CancellationToken ct)
    {
        int count;
        if (job.Filter.Metadata is not { Count: > 0 })
        {
            count = await Selected(db, job).CountAsync(ct);
        }
        else
        {
            // Metadata is matched in memory, a page at a time.
            count = 0;
            long after = 0;
            while (true)
            {
                var page = await PageAsync(db, job, after, 2000, ct);
                if (page.Count == 0)
                {
                    break;
                }
                count += page.Count(i => Matches(job.Filter, i));
                after = page[^1].Id;
            }
        }
        return job.Filter.Limit is { } limit ? Math.Min(limit, count) : count;
    }

    private static bool Matches(LabellerRunFilter filter, ItemRow item)
    {
        if (filter.Metadata is not { Count: > 0 } wanted)
        {
            return true;
        }
        if (JsonNode.Parse(item.MetadataJson) is not JsonObject metadata)
        {
            return false;
        }
        foreach (var (key, value) in wanted)
        {
            var node = metadata[key];
            var text = node is null ? null : node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();
            if (text != value)
            {
                return false;
            }
        }
        return true;
    }

    private async Task<LabellerResult> AskAsync(Job job, ItemRow item, CancellationToken ct)
    {
        var result = new LabellerResult
        {
            RunId = job.Run.Id, LabellerVersionId = job.Version.Id, ProjectId = job.Run.ProjectId, ItemId = item.Id, CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        var fields = JsonNode.Parse(item.FieldsJson) as JsonObject ?? [];
        var metadata = JsonNode.Parse(item.MetadataJson) as JsonObject;
        var messages = new List<ChatMessage>();
        if (!string.IsNullOrWhiteSpace(job.Version.SystemPrompt))
        {
            messages.Add(new ChatMessage("system", job.Version.SystemPrompt));
        }
        messages.Add(new ChatMessage("user", job.Prompt.Render(job.Schema, job.Questions, fields, metadata)));
        var request = new ChatRequest
        {
            Messages = messages,
            Parameters = JsonNode.Parse(job.Version.ParametersJson) as JsonObject,
            ResponseSchema = LabellerOutput.JsonSchema(job.Schema, job.Questions, fields),
            ResponseSchemaName = "labels",
        };
        var started = clock.GetTimestamp();
        ChatCompletion completion;
        try
        {
            completion = await client.CompleteAsync(job.Endpoint, request, ct);
        }
        catch (ModelProviderException ex)
        {
            result.Error = ex.Message;
            result.LatencyMs = (long)clock.GetElapsedTime(started).TotalMilliseconds;
            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // An answer the client could not read (a body that is not JSON …) fails this item, not the whole run.
            result.Error = $"provider '{job.Endpoint.Name}' gave an answer that could not be read: {ex.Message}";
            result.LatencyMs = (long)clock.GetElapsedTime(started).TotalMilliseconds;
            return result;
        }
        result.PromptTokens = completion.Usage?.PromptTokens;
        result.CompletionTokens = completion.Usage?.CompletionTokens;
        result.Cost = completion.Cost;
        result.LatencyMs = (long)completion.Latency.TotalMilliseconds;
        var parsed = LabellerOutput.Parse(job.Schema, job.Questions, fields, completion.Content);
        if (parsed.Values is { } values)
        {
            result.ValuesJson = values.ToJsonString(StoredJson.Options);
        }
        else
        {
            result.Error = completion.FinishReason == "length" ? $"the answer was cut off at max_tokens ({parsed.Error})" : parsed.Error;
            result.Output = completion.Content.Length > MaxOutputKept ? completion.Content[..MaxOutputKept] : completion.Content;
        }
        return result;
    }

    /// <summary>One transaction: the batch's results and suggestions, the counters, the position and a renewed lease. False when the run is no longer ours.</summary>
    private async Task<bool> SaveBatchAsync(PlumblineDbContext db, Job job, LabellerResult[] results, long cursor, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var done = results.Count(r => r.ValuesJson is not null);
        var failed = results.Length - done;
        long promptTokens = results.Sum(r => (long)(r.PromptTokens ?? 0));
        long completionTokens = results.Sum(r => (long)(r.CompletionTokens ?? 0));
        double? cost = results.Any(r => r.Cost is not null) ? results.Sum(r => r.Cost ?? 0) : null;
        // Only the lease holder of a running run advances it; a cancel or a takeover makes this match nothing.
        var owned = await db.Set<LabellerRun>()
            .Where(r => r.Id == job.Run.Id && r.Status == Running && r.LeaseOwner == owner)
            .ExecuteUpdateAsync(s =>
            {
                s.SetProperty(r => r.Done, r => r.Done + done)
                    .SetProperty(r => r.Failed, r => r.Failed + failed)
                    .SetProperty(r => r.PromptTokens, r => r.PromptTokens + promptTokens)
                    .SetProperty(r => r.CompletionTokens, r => r.CompletionTokens + completionTokens)
                    .SetProperty(r => r.Cursor, cursor)
                    .SetProperty(r => r.LeaseExpiresAt, now + Lease);
                if (cost is { } c)
                {
                    s.SetProperty(r => r.Cost, r => (r.Cost ?? 0) + c);
                }
            }, ct);
        if (owned == 0)
        {
            return false;
        }
        var itemIds = results.Select(r => r.ItemId).ToList();
        if (itemIds.Count > 0)
        {
            // A result per run and item: an item redone after a restart replaces its earlier result.
            await db.Set<LabellerResult>().Where(r => r.RunId == job.Run.Id && itemIds.Contains(r.ItemId)).ExecuteDeleteAsync(ct);
            db.AddRange(results);
            if (job.Run.Suggest)
            {
                // The same version's earlier suggestions on these items are replaced, not piled up.
                await db.Suggestions.Where(s => itemIds.Contains(s.ItemId) && s.Agent == job.Agent).ExecuteDeleteAsync(ct);
                foreach (var r in results.Where(r => r.ValuesJson is not null))
                {
                    foreach (var (question, value) in JsonNode.Parse(r.ValuesJson!)!.AsObject())
                    {
                        db.Suggestions.Add(new Suggestion
                        {
                            ProjectId = job.Run.ProjectId, ItemId = r.ItemId, Question = question, ValueJson = value!.ToJsonString(StoredJson.Options),
                            Agent = job.Agent, CreatedAt = now,
                        });
                    }
                }
            }
            await db.SaveChangesAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    private async Task FinishAsync(long runId, string status, string? error, CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        await db.Set<LabellerRun>().Where(r => r.Id == runId && r.Status == Running && r.LeaseOwner == owner)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, status).SetProperty(r => r.Error, error)
                .SetProperty(r => r.FinishedAt, now).SetProperty(r => r.LeaseExpiresAt, (DateTime?)null), ct);
        if (error is not null)
        {
            logger.LogWarning("labeller run {RunId} {Status}: {Error}", runId, status, error);
        }
    }

    public override void Dispose()
    {
        wake.Dispose();
        base.Dispose();
    }
}

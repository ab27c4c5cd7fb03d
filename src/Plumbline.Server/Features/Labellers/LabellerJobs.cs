using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Labelling;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Jobs;
using Plumbline.Server.Features.Models;

namespace Plumbline.Server.Features.Labellers;

/// <summary>What a labeller job's settings hold: the run it does (for people reading the jobs list) and how many items at once.</summary>
/// <param name="Labeller">The labeller's name when the run started.</param>
/// <param name="Version">The version run.</param>
public sealed record LabellerJobSettings(string Labeller, int Version, int Concurrency, bool Suggest, LabellerRunFilter? Filter);

/// <summary>
/// LLM labeller runs as a kind of job on the <see cref="JobRunner"/>: leases, restart, cancel and progress are the runner's.
/// Each item is asked once; its result (and its suggestions) are stored in the transaction that marks it done, so a
/// restart asks again only for the items that were in flight.
/// </summary>
public sealed class LabellerJobs : IJobHandler
{
    public const string JobKind = "labeller";

    /// <summary>This many provider errors in a row (after the client's own retries) stop the run: the provider is down or misconfigured.</summary>
    public const int MaxConsecutiveProviderErrors = 20;

    private const int MaxOutputKept = 2000;

    public string Kind => JobKind;

    /// <summary>The labeller API's name for a job status: it said <c>completed</c> before runs became jobs, and clients read it.</summary>
    public static string RunStatus(string jobStatus) => jobStatus == JobStatuses.Succeeded ? "completed" : jobStatus;

    public async Task<IJobRun> StartAsync(IServiceProvider services, Job job, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        var run = await db.Set<LabellerRun>().AsNoTracking().FirstOrDefaultAsync(r => r.JobId == job.Id, ct)
            ?? throw new JobFailedException($"job {job.Id} has no labeller run");
        var version = await db.Set<LabellerVersion>().AsNoTracking().FirstAsync(v => v.Id == run.LabellerVersionId, ct);
        var name = await db.Set<Labeller>().Where(l => l.Id == version.LabellerId).Select(l => l.Name).FirstAsync(ct);
        var project = await db.Projects.AsNoTracking().Where(p => p.Id == run.ProjectId).Select(p => new { p.SchemaJson, p.Overlap }).FirstAsync(ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var questions = new List<QuestionDefinition>();
        foreach (var n in LabellerService.QuestionsOf(version))
        {
            questions.Add(schema.FindQuestion(n)
                ?? throw new JobFailedException($"question '{n}' is no longer in the project; make a new version of the labeller without it"));
        }
        LabellerPrompt prompt;
        ModelEndpoint? endpoint;
        try
        {
            prompt = LabellerPrompt.Parse(version.PromptTemplate, schema);
            endpoint = await scope.ServiceProvider.GetRequiredService<ModelProviders>().EndpointAsync(version.ProviderId, ct);
        }
        catch (Exception e) when (e is SchemaException or ModelProviderException)
        {
            throw new JobFailedException(e.Message, e);
        }
        if (endpoint is null)
        {
            throw new JobFailedException($"model provider '{version.ProviderName}' no longer exists; make a new version of the labeller with another provider");
        }
        var filter = run.FilterJson is null ? new LabellerRunFilter() : JsonSerializer.Deserialize<LabellerRunFilter>(run.FilterJson, JsonSerializerOptions.Web)!;
        return new LabellerJobRun(services, job, run, version, LabellerService.Agent(version, name), schema, questions, prompt, endpoint, filter, project.Overlap);
    }

    private sealed record ItemRow(long Id, string ExternalId, string FieldsJson, string MetadataJson);

    private sealed class LabellerJobRun(IServiceProvider services, Job job, LabellerRun run, LabellerVersion version, string agent, ProjectSchema schema,
        List<QuestionDefinition> questions, LabellerPrompt prompt, ModelEndpoint endpoint, LabellerRunFilter filter, int overlap) : IJobRun
    {
        private const int Page = 500;
        private readonly ChatCompletionClient client = services.GetRequiredService<ChatCompletionClient>();
        private readonly TimeProvider clock = services.GetRequiredService<TimeProvider>();
        private int consecutiveProviderErrors;

        /// <summary>The filter's database part (gold, status, external ids); metadata is checked per item in <see cref="Matches"/>.</summary>
        private IQueryable<Item> Selected(PlumblineDbContext db)
        {
            var query = db.Items.AsNoTracking().Where(i => i.ProjectId == run.ProjectId);
            if (filter.Gold is { } gold)
            {
                query = gold ? query.Where(i => i.GoldJson != null) : query.Where(i => i.GoldJson == null);
            }
            query = filter.Status switch
            {
                Items.ItemStatus.None => query.Where(i => i.SubmittedCount == 0),
                Items.ItemStatus.InProgress => query.Where(i => i.SubmittedCount > 0 && i.SubmittedCount < overlap),
                Items.ItemStatus.Complete => query.Where(i => i.SubmittedCount >= overlap),
                _ => query,
            };
            if (filter.ExternalIds is { Count: > 0 } ids)
            {
                query = query.Where(i => ids.Contains(i.ExternalId));
            }
            return query;
        }

        public async IAsyncEnumerable<long> ItemsAsync(long after, [EnumeratorCancellation] CancellationToken ct)
        {
            // Planning resumes after a restart with the items planned so far counted, so a limit holds across restarts.
            var left = filter.Limit is { } limit ? limit - job.Total : int.MaxValue;
            while (left > 0)
            {
                List<ItemRow> page;
                await using (var scope = services.CreateAsyncScope())
                {
                    var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
                    page = await Selected(db).Where(i => i.Id > after).OrderBy(i => i.Id).Take(Page)
                        .Select(i => new ItemRow(i.Id, i.ExternalId, "", i.MetadataJson)).ToListAsync(ct);
                }
                foreach (var item in page.Where(Matches))
                {
                    yield return item.Id;
                    if (--left == 0)
                    {
                        yield break;
                    }
                }
                if (page.Count < Page)
                {
                    yield break;
                }
                after = page[^1].Id;
            }
        }

        private bool Matches(ItemRow item)
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

        public async Task<ItemOutcome> RunItemAsync(long itemId, CancellationToken ct)
        {
            ItemRow? item;
            await using (var scope = services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
                item = await db.Items.AsNoTracking().Where(i => i.Id == itemId)
                    .Select(i => new ItemRow(i.Id, i.ExternalId, i.FieldsJson, i.MetadataJson)).FirstOrDefaultAsync(ct);
            }
            if (item is null)
            {
                return new ItemOutcome(JobItemStatuses.Skipped, "the item was deleted");
            }
            var result = await AskAsync(item, ct);
            var providerError = result.ValuesJson is null && result.Output is null;
            if (!providerError)
            {
                Interlocked.Exchange(ref consecutiveProviderErrors, 0);
            }
            else if (Interlocked.Increment(ref consecutiveProviderErrors) is var inARow && inARow >= MaxConsecutiveProviderErrors)
            {
                throw new JobFailedException($"stopped after {inARow} provider errors in a row; the last: {result.Error}");
            }
            return new ItemOutcome(result.ValuesJson is null ? JobItemStatuses.Failed : JobItemStatuses.Done, result.Error,
                result.PromptTokens ?? 0, result.CompletionTokens ?? 0, result.Cost ?? 0, (db, token) => StoreAsync(db, result, token));
        }

        /// <summary>The item's result and suggestions; runs in the transaction that marks the item done.</summary>
        private async Task StoreAsync(PlumblineDbContext db, LabellerResult result, CancellationToken ct)
        {
            // A result per run and item: an item redone after a restart replaces its earlier result.
            await db.Set<LabellerResult>().Where(r => r.RunId == run.Id && r.ItemId == result.ItemId).ExecuteDeleteAsync(ct);
            db.Add(result);
            if (run.Suggest && result.ValuesJson is not null)
            {
                // The same version's earlier suggestions on this item are replaced, not piled up.
                await db.Suggestions.Where(s => s.ItemId == result.ItemId && s.Agent == agent).ExecuteDeleteAsync(ct);
                foreach (var (question, value) in JsonNode.Parse(result.ValuesJson)!.AsObject())
                {
                    db.Suggestions.Add(new Suggestion
                    {
                        ProjectId = run.ProjectId, ItemId = result.ItemId, Question = question, ValueJson = value!.ToJsonString(StoredJson.Options),
                        Agent = agent, CreatedAt = result.CreatedAt,
                    });
                }
            }
        }

        private async Task<LabellerResult> AskAsync(ItemRow item, CancellationToken ct)
        {
            var result = new LabellerResult
            {
                RunId = run.Id, LabellerVersionId = version.Id, ProjectId = run.ProjectId, ItemId = item.Id, CreatedAt = clock.GetUtcNow().UtcDateTime,
            };
            var fields = JsonNode.Parse(item.FieldsJson) as JsonObject ?? [];
            var metadata = JsonNode.Parse(item.MetadataJson) as JsonObject;
            var messages = new List<ChatMessage>();
            if (!string.IsNullOrWhiteSpace(version.SystemPrompt))
            {
                messages.Add(new ChatMessage("system", version.SystemPrompt));
            }
            messages.Add(new ChatMessage("user", prompt.Render(schema, questions, fields, metadata)));
            var request = new ChatRequest
            {
                Messages = messages,
                Parameters = JsonNode.Parse(version.ParametersJson) as JsonObject,
                ResponseSchema = LabellerOutput.JsonSchema(schema, questions, fields),
                ResponseSchemaName = "labels",
            };
            var started = clock.GetTimestamp();
            ChatCompletion completion;
            try
            {
                completion = await client.CompleteAsync(endpoint, request, ct);
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
                result.Error = $"provider '{endpoint.Name}' gave an answer that could not be read: {ex.Message}";
                result.LatencyMs = (long)clock.GetElapsedTime(started).TotalMilliseconds;
                return result;
            }
            result.PromptTokens = completion.Usage?.PromptTokens;
            result.CompletionTokens = completion.Usage?.CompletionTokens;
            result.Cost = completion.Cost;
            result.LatencyMs = (long)completion.Latency.TotalMilliseconds;
            var parsed = LabellerOutput.Parse(schema, questions, fields, completion.Content);
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
    }
}

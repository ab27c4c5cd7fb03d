using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Models;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Items;
using Plumbline.Server.Features.Jobs;

namespace Plumbline.Server.Features.Models;

/// <summary>Which items a generation covers; all optional, combined with AND (the item browser's filters, plus ids).</summary>
/// <param name="Text">Text anywhere in the item's fields, or its external id.</param>
/// <param name="MetaKey">A metadata key the item must have.</param>
/// <param name="MetaValue">The value that key must have (as text).</param>
/// <param name="Status"><c>none</c>, <c>in_progress</c> or <c>complete</c>.</param>
/// <param name="ExternalIds">Only these items (their external ids).</param>
public sealed record GenerationFilter(string? Text = null, string? MetaKey = null, string? MetaValue = null, string? Status = null,
    List<string>? ExternalIds = null);

/// <summary>Ask models for responses to a project's items; the results become candidates or drafts.</summary>
/// <param name="Providers">Provider names; each is asked <see cref="N"/> times per item.</param>
/// <param name="N">Responses per provider and item, 1-20 (default 1).</param>
/// <param name="Target"><c>candidates</c> (add to a candidates field) or <c>draft</c> (fill the field an edit question starts from).
/// Default: <c>candidates</c> when the project has a candidates field, else <c>draft</c>.</param>
/// <param name="Field">The field written; default: the project's first candidates field, or the edit question's draft field.</param>
/// <param name="Prompt">The user message as a template over the item (<c>{{prompt}}</c>, <c>{{metadata.topic}}</c>). Without one, the
/// item's first chat field is sent as the conversation (or its first text field as the user message).</param>
/// <param name="System">An optional system message, also a template.</param>
/// <param name="Parameters">Request parameters over the providers' defaults (temperature, max_tokens …); recorded with each result.</param>
/// <param name="Filter">Which items; default all.</param>
/// <param name="Overwrite">Replace drafts and candidates that exist already (default: skip them, so a re-run asks only for what is missing).</param>
/// <param name="Concurrency">Items worked on at the same time, 1-32 (default 4); providers' rate limits still apply.</param>
public sealed record GenerationRequest(List<string>? Providers, int? N = null, string? Target = null, string? Field = null, string? Prompt = null,
    string? System = null, JsonObject? Parameters = null, GenerationFilter? Filter = null, bool? Overwrite = null, int? Concurrency = null);

/// <summary>Candidate generation as a job kind: checks requests, then asks the models item by item.</summary>
public sealed class GenerationJobs : IJobHandler
{
    public const string JobKind = "generation";
    public const string TargetCandidates = "candidates";
    public const string TargetDraft = "draft";

    public string Kind => JobKind;

    /// <summary>
    /// The same for the same item, provider and k (so a re-run finds what exists), yet saying nothing of the model: annotators
    /// read candidate ids, and blind comparisons must stay blind. The provider is in the candidate's metadata, which they never get.
    /// </summary>
    public static string CandidateId(long itemId, string provider, int k) =>
        "g" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{itemId}/{provider}/{k}")))[..10];

    /// <summary>The request with every default filled in, or the first thing wrong with it.</summary>
    public static (GenerationRequest? Settings, string? Problem) Normalise(ProjectSchema schema, GenerationRequest request)
    {
        var providers = (request.Providers ?? []).Where(p => !string.IsNullOrWhiteSpace(p)).Distinct(StringComparer.Ordinal).ToList();
        if (providers.Count == 0)
        {
            return (null, "name at least one provider in 'providers'");
        }
        var n = request.N ?? 1;
        if (n is < 1 or > 20)
        {
            return (null, $"n must be between 1 and 20, not {n}");
        }
        var candidatesField = schema.Fields.Find(f => f.Type == SchemaTypes.Candidates);
        var editQuestion = schema.Questions.Find(q => q.Type == SchemaTypes.TextAnswer && q.Prefill is not null);
        var target = request.Target ?? (candidatesField is not null ? TargetCandidates : editQuestion is not null ? TargetDraft : null);
        string? field;
        switch (target)
        {
            case TargetCandidates:
                field = request.Field ?? candidatesField?.Name;
                if (field is null || schema.FindField(field)?.Type != SchemaTypes.Candidates)
                {
                    return (null, $"target 'candidates' needs a candidates field; {(field is null ? "the project has none" : $"'{field}' is not one")}");
                }
                break;
            case TargetDraft:
                field = request.Field ?? editQuestion?.Prefill;
                if (field is null || schema.FindField(field)?.Type is not (SchemaTypes.Text or SchemaTypes.Markdown))
                {
                    return (null, $"target 'draft' needs a text or markdown field that an edit question starts from; {(field is null ? "the project has none" : $"'{field}' is not one")}");
                }
                if (providers.Count * n != 1)
                {
                    return (null, $"a draft field holds one response: use one provider and n = 1 (asked for {providers.Count} × {n})");
                }
                break;
            case null:
                return (null, "the project has neither a candidates field nor an edit question with a draft field; there is nowhere to put responses");
            default:
                return (null, $"target '{target}' is not 'candidates' or 'draft'");
        }
        foreach (var template in new[] { request.Prompt, request.System })
        {
            foreach (var name in template is null ? [] : PromptTemplate.Names(template))
            {
                if (name != PromptTemplate.ExternalId && !name.StartsWith(PromptTemplate.MetadataPrefix, StringComparison.Ordinal) && schema.FindField(name) is null)
                {
                    return (null, $"the template refers to {{{{{name}}}}}, which is not a field of the project ({string.Join(", ", schema.Fields.Select(f => f.Name))}), " +
                        $"'{PromptTemplate.ExternalId}' or 'metadata.KEY'");
                }
            }
        }
        if (request.Prompt is null && InputField(schema, field) is null)
        {
            return (null, "the project has no chat or text field to send; give a 'prompt' template");
        }
        if (ModelProviders.ParametersProblem(request.Parameters) is { } parameterProblem)
        {
            return (null, parameterProblem);
        }
        if (request.Filter?.Status is { } status && !ItemStatus.All.Contains(status))
        {
            return (null, $"filter status '{status}' is not one of {string.Join(", ", ItemStatus.All)}");
        }
        var concurrency = request.Concurrency ?? 4;
        if (concurrency is < 1 or > 32)
        {
            return (null, "concurrency must be between 1 and 32");
        }
        return (request with
        {
            Providers = providers,
            N = n,
            Target = target,
            Field = field,
            Overwrite = request.Overwrite ?? false,
            Concurrency = concurrency,
        }, null);
    }

    /// <summary>What is sent when there is no prompt template: the first chat field, else the first text field that is not written.</summary>
    private static FieldDefinition? InputField(ProjectSchema schema, string target) =>
        schema.Fields.Find(f => f.Type == SchemaTypes.Chat)
        ?? schema.Fields.Find(f => f.Name != target && f.Type is SchemaTypes.Text or SchemaTypes.Markdown);

    public async Task<IJobRun> StartAsync(IServiceProvider services, Job job, CancellationToken ct)
    {
        var settings = JsonSerializer.Deserialize<GenerationRequest>(job.SettingsJson, StoredJson.Options)!;
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        var providers = scope.ServiceProvider.GetRequiredService<ModelProviders>();
        var schemaJson = await db.Projects.AsNoTracking().Where(p => p.Id == job.ProjectId).Select(p => p.SchemaJson).FirstOrDefaultAsync(ct)
            ?? throw new JobFailedException($"project {job.ProjectId} no longer exists");
        var endpoints = new List<ModelEndpoint>();
        foreach (var name in settings.Providers!)
        {
            try
            {
                endpoints.Add(await providers.EndpointAsync(name, ct)
                    ?? throw new JobFailedException($"provider '{name}' no longer exists; add it again or start a generation without it"));
            }
            catch (ModelProviderException e)
            {
                throw new JobFailedException(e.Message, e);
            }
        }
        return new GenerationRun(services, job, settings, ProjectSchema.Parse(schemaJson), endpoints);
    }

    private sealed class GenerationRun(IServiceProvider services, Job job, GenerationRequest settings, ProjectSchema schema, List<ModelEndpoint> endpoints) : IJobRun
    {
        private readonly ChatCompletionClient client = services.GetRequiredService<ChatCompletionClient>();
        private readonly TimeProvider clock = services.GetRequiredService<TimeProvider>();
        private readonly FieldDefinition? input = settings.Prompt is null ? InputField(schema, settings.Field!) : null;
        private long ProjectId => job.ProjectId!.Value;

        public async IAsyncEnumerable<long> ItemsAsync(long after, [EnumeratorCancellation] CancellationToken ct)
        {
            var filter = settings.Filter ?? new GenerationFilter();
            while (true)
            {
                List<long> page;
                await using (var scope = services.CreateAsyncScope())
                {
                    var browser = scope.ServiceProvider.GetRequiredService<ItemBrowser>();
                    var result = await browser.SearchAsync(ProjectId, new ItemQuery(filter.Text, filter.MetaKey, filter.MetaValue, filter.Status, After: after,
                        Limit: ItemBrowser.MaxLimit), ct);
                    page = result.Items.Select(i => i.Id).ToList();
                    if (filter.ExternalIds is { Count: > 0 } ids && page.Count > 0)
                    {
                        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
                        var wanted = await db.Items.AsNoTracking().Where(i => page.Contains(i.Id) && ids.Contains(i.ExternalId)).Select(i => i.Id).ToListAsync(ct);
                        page = [.. page.Where(wanted.Contains)];
                    }
                    foreach (var id in page)
                    {
                        yield return id;
                    }
                    if (result.Next is null)
                    {
                        yield break;
                    }
                    after = result.Next.Value;
                }
            }
        }

        public async Task<ItemOutcome> RunItemAsync(long itemId, CancellationToken ct)
        {
            Item? item;
            bool answered;
            await using (var scope = services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
                item = await db.Items.AsNoTracking().FirstOrDefaultAsync(i => i.Id == itemId, ct);
                answered = item is not null && await db.Responses.AnyAsync(r => r.ItemId == itemId, ct);
            }
            if (item is null)
            {
                return new ItemOutcome(JobItemStatuses.Skipped, "the item was deleted");
            }
            if (answered)
            {
                return new ItemOutcome(JobItemStatuses.Skipped, "the item has responses already; new candidates or drafts would change what people answered");
            }
            var fields = JsonNode.Parse(item.FieldsJson) as JsonObject ?? [];
            var metadata = JsonNode.Parse(item.MetadataJson) as JsonObject ?? [];
            var field = settings.Field!;
            var wanted = new List<(ModelEndpoint Endpoint, string CandidateId)>();
            foreach (var endpoint in endpoints)
            {
                for (var k = 1; k <= settings.N; k++)
                {
                    wanted.Add((endpoint, CandidateId(itemId, endpoint.Name, k)));
                }
            }
            if (settings.Overwrite != true)
            {
                if (settings.Target == TargetDraft && fields[field] is JsonValue draft && draft.GetValueKind() == JsonValueKind.String && draft.GetValue<string>().Length > 0)
                {
                    return new ItemOutcome(JobItemStatuses.Skipped, $"field '{field}' has a draft already (overwrite replaces it)");
                }
                var existing = FieldValues.CandidateIds(fields[field]).ToHashSet();
                wanted.RemoveAll(w => settings.Target == TargetCandidates && existing.Contains(w.CandidateId));
                if (wanted.Count == 0)
                {
                    return new ItemOutcome(JobItemStatuses.Skipped, "the item has these candidates already (overwrite replaces them)");
                }
            }

            var request = new ChatRequest { Messages = Messages(item.ExternalId, fields, metadata), Parameters = settings.Parameters };
            var results = new List<(string CandidateId, ModelEndpoint Endpoint, ChatCompletion Answer)>();
            foreach (var (endpoint, candidateId) in wanted)
            {
                try
                {
                    results.Add((candidateId, endpoint, await client.CompleteAsync(endpoint, request, ct)));
                }
                catch (ModelProviderException e) when (e.Status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound)
                {
                    // Every other item would get the same answer: stop rather than fail them one by one.
                    throw new JobFailedException($"{e.Message}; fix the provider (PATCH /api/v1/providers/{endpoint.Name}) and start the generation again", e);
                }
                catch (ModelProviderException e)
                {
                    return new ItemOutcome(JobItemStatuses.Failed, e.Message,
                        results.Sum(r => (long)(r.Answer.Usage?.PromptTokens ?? 0)), results.Sum(r => (long)(r.Answer.Usage?.CompletionTokens ?? 0)),
                        results.Sum(r => r.Answer.Cost ?? 0));
                }
            }

            var generatedAt = clock.GetUtcNow().UtcDateTime;
            JsonObject Record(ModelEndpoint endpoint, ChatCompletion answer)
            {
                var parameters = (JsonObject)endpoint.Parameters.DeepClone();
                foreach (var (name, value) in settings.Parameters ?? [])
                {
                    parameters[name] = value?.DeepClone();
                }
                return new JsonObject
                {
                    ["provider"] = endpoint.Name, ["model"] = answer.Model, ["parameters"] = parameters, ["job"] = job.Id,
                    ["promptTokens"] = answer.Usage?.PromptTokens, ["completionTokens"] = answer.Usage?.CompletionTokens, ["cost"] = answer.Cost,
                    ["latencyMs"] = (long)answer.Latency.TotalMilliseconds, ["finishReason"] = answer.FinishReason, ["generatedAt"] = generatedAt,
                };
            }

            return new ItemOutcome(JobItemStatuses.Done, null,
                results.Sum(r => (long)(r.Answer.Usage?.PromptTokens ?? 0)), results.Sum(r => (long)(r.Answer.Usage?.CompletionTokens ?? 0)),
                results.Sum(r => r.Answer.Cost ?? 0),
                async (db, token) =>
                {
                    // Read again inside the transaction: the item may have changed while the models were answering.
                    var stored = await db.Items.FirstAsync(i => i.Id == itemId, token);
                    var current = JsonNode.Parse(stored.FieldsJson) as JsonObject ?? [];
                    if (settings.Target == TargetDraft)
                    {
                        var (_, endpoint, answer) = results[0];
                        current[field] = answer.Content;
                        var currentMetadata = JsonNode.Parse(stored.MetadataJson) as JsonObject ?? [];
                        var generation = currentMetadata["generation"] as JsonObject ?? [];
                        generation[field] = Record(endpoint, answer);
                        currentMetadata["generation"] = generation;
                        stored.MetadataJson = currentMetadata.ToJsonString(StoredJson.Options);
                    }
                    else
                    {
                        var candidates = current[field] as JsonArray ?? [];
                        foreach (var (candidateId, endpoint, answer) in results)
                        {
                            var candidate = new JsonObject
                            {
                                ["id"] = candidateId, ["model"] = answer.Model, ["content"] = answer.Content, ["metadata"] = Record(endpoint, answer),
                            };
                            var index = candidates.Select((c, i) => (c, i)).FirstOrDefault(x => x.c?["id"]?.GetValue<string>() == candidateId, (null, -1)).Item2;
                            if (index >= 0)
                            {
                                candidates[index] = candidate;
                            }
                            else
                            {
                                candidates.Add(candidate);
                            }
                        }
                        current[field] = candidates;
                    }
                    stored.FieldsJson = current.ToJsonString(StoredJson.Options);
                    stored.UpdatedAt = generatedAt;
                });
        }

        private List<ChatMessage> Messages(string externalId, JsonObject fields, JsonObject metadata)
        {
            var messages = new List<ChatMessage>();
            if (settings.System is { } system)
            {
                messages.Add(new ChatMessage("system", PromptTemplate.Render(system, externalId, fields, metadata)));
            }
            if (settings.Prompt is { } prompt)
            {
                messages.Add(new ChatMessage("user", PromptTemplate.Render(prompt, externalId, fields, metadata)));
            }
            else if (input!.Type == SchemaTypes.Chat && fields[input.Name] is JsonArray turns)
            {
                // The conversation goes as it is, so the model answers its last user turn.
                messages.AddRange(turns.OfType<JsonObject>().Select(t => new ChatMessage(PromptTemplate.Text(t["role"]), PromptTemplate.Text(t["content"]))));
            }
            else
            {
                messages.Add(new ChatMessage("user", PromptTemplate.Text(fields[input.Name])));
            }
            return messages;
        }
    }
}

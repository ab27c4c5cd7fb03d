using System.Security.Claims;
using System.Text.Json.Nodes;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Microsoft.EntityFrameworkCore;

namespace Plumbline.Server.Features.Models;

/// <summary>A model provider as the API shows it: the API key itself is never returned.</summary>
/// <param name="HasApiKey">Whether a key is stored.</param>
/// <param name="ApiKeyHint">The key's last four characters (keys of 16 characters or more), to tell keys apart.</param>
/// <param name="Parameters">Default request parameters (temperature, max_tokens …).</param>
/// <param name="RateLimitPerMinute">Requests per minute this server sends at most; null for none.</param>
/// <param name="TimeoutSeconds">How long one attempt may take.</param>
/// <param name="PricePerMillionInput">Price per million prompt tokens, for cost figures.</param>
/// <param name="PricePerMillionOutput">Price per million completion tokens.</param>
public sealed record ProviderDto(long Id, string Name, string BaseUrl, string Model, bool HasApiKey, string? ApiKeyHint, JsonObject Parameters,
    int? RateLimitPerMinute, int TimeoutSeconds, double? PricePerMillionInput, double? PricePerMillionOutput, DateTime CreatedAt, DateTime UpdatedAt)
{
    public static ProviderDto From(ModelProvider p) => new(p.Id, p.Name, p.BaseUrl, p.Model, p.ApiKeyProtected is not null, p.ApiKeyHint,
        JsonNode.Parse(p.ParametersJson) as JsonObject ?? [], p.RateLimitPerMinute, p.TimeoutSeconds, p.PricePerMillionInput, p.PricePerMillionOutput,
        p.CreatedAt, p.UpdatedAt);
}

/// <param name="Name">Unique; letters, digits, '.', '_' and '-'.</param>
/// <param name="BaseUrl">The API root that <c>/chat/completions</c> is appended to, e.g. <c>https://api.openai.com/v1</c> or <c>http://127.0.0.1:11434/v1</c>.</param>
/// <param name="Model">The model name sent with each request.</param>
/// <param name="ApiKey">Sent as a bearer token; stored encrypted and never shown again.</param>
/// <param name="Parameters">Default request parameters, e.g. <c>{"temperature": 0.7, "max_tokens": 1024}</c>.</param>
/// <param name="RateLimitPerMinute">At most this many requests per minute from this server.</param>
/// <param name="TimeoutSeconds">Per attempt; default 120.</param>
/// <param name="PricePerMillionInput">Price per million prompt tokens.</param>
/// <param name="PricePerMillionOutput">Price per million completion tokens.</param>
public sealed record CreateProviderRequest(string? Name, string? BaseUrl, string? Model, string? ApiKey, JsonObject? Parameters,
    int? RateLimitPerMinute, int? TimeoutSeconds, double? PricePerMillionInput, double? PricePerMillionOutput);

/// <summary>Only the properties given change.</summary>
/// <param name="ApiKey">A new key; an empty string removes the key; absent keeps it.</param>
/// <param name="RateLimitPerMinute">0 removes the limit.</param>
public sealed record UpdateProviderRequest(string? Name, string? BaseUrl, string? Model, string? ApiKey, JsonObject? Parameters,
    int? RateLimitPerMinute, int? TimeoutSeconds, double? PricePerMillionInput, double? PricePerMillionOutput);

/// <param name="Prompt">What to ask; a short default when absent.</param>
/// <param name="Stream">Ask for a streamed answer, to check that streaming works.</param>
public sealed record TestProviderRequest(string? Prompt, bool? Stream);

/// <summary>The answer of a test call.</summary>
public sealed record ProviderTestResult(string Content, string Model, int? PromptTokens, int? CompletionTokens, long LatencyMs, long? FirstTokenMs,
    double? Cost, int Attempts, int? Chunks);

public static class ProviderEndpoints
{
    public static IEndpointRouteBuilder MapProviderEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/providers").WithTags("Model providers").RequireAuthorization(Hosting.Policies.Admin);

        api.MapGet("/", async (PlumblineDbContext db, CancellationToken ct) =>
            Results.Ok((await db.Set<ModelProvider>().AsNoTracking().OrderBy(p => p.Name).ToListAsync(ct)).Select(ProviderDto.From).ToList()))
            .WithName("ListProviders").WithSummary("All model providers (admin); keys are never shown");

        api.MapGet("/{provider}", async (string provider, ModelProviders providers, CancellationToken ct) =>
            await providers.FindAsync(provider, ct) is { } found ? Results.Ok(ProviderDto.From(found)) : NotFound(provider))
            .WithName("GetProvider").WithSummary("One model provider by id or name (admin)");

        api.MapPost("/", async (CreateProviderRequest request, ClaimsPrincipal user, ModelProviders providers, PlumblineDbContext db,
            TimeProvider clock, CancellationToken ct) =>
        {
            var problem = ModelProviders.NameProblem(request.Name) ?? ModelProviders.BaseUrlProblem(request.BaseUrl)
                ?? (string.IsNullOrWhiteSpace(request.Model) ? "a provider needs a model, e.g. gpt-4o-mini or llama3.1:8b" : null)
                ?? SettingsProblem(request.Parameters, request.RateLimitPerMinute, request.TimeoutSeconds, request.PricePerMillionInput, request.PricePerMillionOutput);
            if (problem is not null)
            {
                return Problems.BadRequest(problem);
            }
            if (await db.Set<ModelProvider>().AnyAsync(p => p.Name == request.Name, ct))
            {
                return Problems.Conflict($"a provider named '{request.Name}' exists already; update it with PATCH /api/v1/providers/{request.Name}");
            }
            var now = clock.GetUtcNow().UtcDateTime;
            var entity = new ModelProvider
            {
                Name = request.Name!, BaseUrl = request.BaseUrl!, Model = request.Model!.Trim(),
                ParametersJson = ModelProviders.ParametersJson(request.Parameters),
                RateLimitPerMinute = request.RateLimitPerMinute is > 0 ? request.RateLimitPerMinute : null,
                TimeoutSeconds = request.TimeoutSeconds ?? 120,
                PricePerMillionInput = request.PricePerMillionInput, PricePerMillionOutput = request.PricePerMillionOutput,
                CreatedAt = now, UpdatedAt = now,
            };
            providers.SetApiKey(entity, request.ApiKey);
            db.Add(entity);
            await db.SaveChangesAsync(ct);
            db.Record(clock, user.Id(), null, "provider.create", "provider", entity.Id,
                new { entity.Name, entity.BaseUrl, entity.Model, hasApiKey = entity.ApiKeyProtected is not null });
            await db.SaveChangesAsync(ct);
            return Results.Created($"/api/v1/providers/{entity.Id}", ProviderDto.From(entity));
        }).WithName("CreateProvider").WithSummary("Add a model provider that speaks the OpenAI chat-completions protocol (admin)");

        api.MapMethods("/{provider}", ["PATCH"], async (string provider, UpdateProviderRequest request, ClaimsPrincipal user, ModelProviders providers,
            PlumblineDbContext db, TimeProvider clock, CancellationToken ct) =>
        {
            var entity = await providers.FindAsync(provider, ct, tracking: true);
            if (entity is null)
            {
                return NotFound(provider);
            }
            var problem = (request.Name is null ? null : ModelProviders.NameProblem(request.Name))
                ?? (request.BaseUrl is null ? null : ModelProviders.BaseUrlProblem(request.BaseUrl))
                ?? (request.Model is { } m && string.IsNullOrWhiteSpace(m) ? "the model cannot be empty" : null)
                ?? SettingsProblem(request.Parameters, request.RateLimitPerMinute, request.TimeoutSeconds, request.PricePerMillionInput, request.PricePerMillionOutput);
            if (problem is not null)
            {
                return Problems.BadRequest(problem);
            }
            if (request.Name is { } name && name != entity.Name && await db.Set<ModelProvider>().AnyAsync(p => p.Name == name, ct))
            {
                return Problems.Conflict($"a provider named '{name}' exists already");
            }
            entity.Name = request.Name ?? entity.Name;
            entity.BaseUrl = request.BaseUrl ?? entity.BaseUrl;
            entity.Model = request.Model?.Trim() ?? entity.Model;
            entity.ParametersJson = request.Parameters is null ? entity.ParametersJson : ModelProviders.ParametersJson(request.Parameters);
            entity.RateLimitPerMinute = request.RateLimitPerMinute is null ? entity.RateLimitPerMinute : request.RateLimitPerMinute > 0 ? request.RateLimitPerMinute : null;
            entity.TimeoutSeconds = request.TimeoutSeconds ?? entity.TimeoutSeconds;
            entity.PricePerMillionInput = request.PricePerMillionInput ?? entity.PricePerMillionInput;
            entity.PricePerMillionOutput = request.PricePerMillionOutput ?? entity.PricePerMillionOutput;
            if (request.ApiKey is not null)
            {
                providers.SetApiKey(entity, request.ApiKey);
            }
            entity.UpdatedAt = clock.GetUtcNow().UtcDateTime;
            db.Record(clock, user.Id(), null, "provider.update", "provider", entity.Id,
                new { entity.Name, entity.BaseUrl, entity.Model, apiKeyChanged = request.ApiKey is not null });
            await db.SaveChangesAsync(ct);
            return Results.Ok(ProviderDto.From(entity));
        }).WithName("UpdateProvider").WithSummary("Change a model provider (admin); an empty apiKey removes the key, an absent one keeps it");

        api.MapDelete("/{provider}", async (string provider, ClaimsPrincipal user, ModelProviders providers, PlumblineDbContext db,
            TimeProvider clock, CancellationToken ct) =>
        {
            var entity = await providers.FindAsync(provider, ct, tracking: true);
            if (entity is null)
            {
                return NotFound(provider);
            }
            db.Remove(entity);
            db.Record(clock, user.Id(), null, "provider.delete", "provider", entity.Id, new { entity.Name });
            await db.SaveChangesAsync(ct);
            return Results.NoContent();
        }).WithName("DeleteProvider").WithSummary("Remove a model provider (admin)");

        api.MapPost("/{provider}/test", async (string provider, TestProviderRequest? request, ModelProviders providers, ChatCompletionClient client,
            CancellationToken ct) =>
        {
            try
            {
                var endpoint = await providers.EndpointAsync(provider, ct);
                if (endpoint is null)
                {
                    return NotFound(provider);
                }
                var chat = new ChatRequest
                {
                    Messages = [new ChatMessage("user", string.IsNullOrWhiteSpace(request?.Prompt) ? "Reply with the single word OK." : request.Prompt)],
                };
                ChatCompletion answer;
                int? chunks = null;
                if (request?.Stream == true)
                {
                    chunks = 0;
                    ChatCompletion? completed = null;
                    await foreach (var e in client.StreamAsync(endpoint, chat, ct))
                    {
                        chunks += e.Completed is null ? 1 : 0;
                        completed = e.Completed ?? completed;
                    }
                    answer = completed!;
                }
                else
                {
                    answer = await client.CompleteAsync(endpoint, chat, ct);
                }
                return Results.Ok(new ProviderTestResult(answer.Content, answer.Model, answer.Usage?.PromptTokens, answer.Usage?.CompletionTokens,
                    (long)answer.Latency.TotalMilliseconds, answer.FirstTokenLatency is { } first ? (long)first.TotalMilliseconds : null,
                    answer.Cost, answer.Attempts, chunks));
            }
            catch (ModelProviderException e)
            {
                return Results.Problem(e.Message, statusCode: StatusCodes.Status502BadGateway, title: "The provider failed");
            }
        }).WithName("TestProvider").WithSummary("Send one short chat request to a provider and show its answer, tokens, latency and cost (admin)");

        return app;
    }

    private static IResult NotFound(string provider) =>
        Problems.NotFound($"no model provider '{provider}'; GET /api/v1/providers lists them");

    private static string? SettingsProblem(JsonObject? parameters, int? rateLimit, int? timeoutSeconds, double? priceIn, double? priceOut) =>
        ModelProviders.ParametersProblem(parameters)
        ?? (rateLimit is < 0 ? "rateLimitPerMinute cannot be negative (0 or absent: no limit)" : null)
        ?? (timeoutSeconds is < 1 or > 3600 ? "timeoutSeconds must be between 1 and 3600" : null)
        ?? (priceIn is < 0 || priceOut is < 0 ? "prices cannot be negative" : null);
}

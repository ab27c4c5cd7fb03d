using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;

namespace Plumbline.Server.Features.Models;

/// <summary>
/// A provider ready to call: its settings with the API key decrypted. Made by <see cref="ModelProviders"/>; kept in
/// memory only. <see cref="ToString"/> and JSON leave the key out, so logging or serialising one leaks nothing.
/// </summary>
public sealed class ModelEndpoint
{
    public required long ProviderId { get; init; }
    public required string Name { get; init; }
    public required Uri BaseUrl { get; init; }
    public required string Model { get; init; }

    [JsonIgnore]
    public string? ApiKey { get; init; }

    /// <summary>Default request parameters; a request's own parameters are laid over them.</summary>
    public JsonObject Parameters { get; init; } = [];
    public int? RateLimitPerMinute { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);
    public double? PricePerMillionInput { get; init; }
    public double? PricePerMillionOutput { get; init; }

    public Uri ChatCompletionsUrl => new(BaseUrl.AbsoluteUri.TrimEnd('/') + "/chat/completions");

    /// <summary>What <paramref name="usage"/> cost at this provider's prices; null when the usage or both prices are unknown.</summary>
    public double? Cost(ChatUsage? usage) => usage is null || (PricePerMillionInput is null && PricePerMillionOutput is null)
        ? null
        : (usage.PromptTokens * (PricePerMillionInput ?? 0) + usage.CompletionTokens * (PricePerMillionOutput ?? 0)) / 1_000_000d;

    public override string ToString() => $"{Name} ({Model} at {BaseUrl})";
}

/// <summary>Reads and writes providers, and protects their API keys with ASP.NET Core Data Protection.</summary>
public sealed partial class ModelProviders(PlumblineDbContext db, IDataProtectionProvider protection)
{
    /// <summary>The Data Protection purpose of provider API keys; a key protected for it opens for nothing else.</summary>
    public const string ApiKeyPurpose = "Plumbline.ModelProviders.ApiKey";

    private IDataProtector Protector => protection.CreateProtector(ApiKeyPurpose);

    /// <summary>A provider by id (digits) or by name.</summary>
    public Task<ModelProvider?> FindAsync(string idOrName, CancellationToken ct, bool tracking = false)
    {
        var query = tracking ? db.Set<ModelProvider>() : db.Set<ModelProvider>().AsNoTracking();
        return long.TryParse(idOrName, out var id)
            ? query.FirstOrDefaultAsync(p => p.Id == id, ct)
            : query.FirstOrDefaultAsync(p => p.Name == idOrName, ct);
    }

    /// <summary>The provider ready to call, or null when it does not exist.</summary>
    public async Task<ModelEndpoint?> EndpointAsync(string idOrName, CancellationToken ct) =>
        await FindAsync(idOrName, ct) is { } provider ? Endpoint(provider) : null;

    /// <summary>The provider ready to call, or null when it does not exist.</summary>
    public async Task<ModelEndpoint?> EndpointAsync(long id, CancellationToken ct) =>
        await db.Set<ModelProvider>().AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, ct) is { } provider ? Endpoint(provider) : null;

    public ModelEndpoint Endpoint(ModelProvider provider)
    {
        string? key = null;
        if (provider.ApiKeyProtected is { } protectedKey)
        {
            try
            {
                key = Protector.Unprotect(protectedKey);
            }
            catch (CryptographicException e)
            {
                throw new ModelProviderException(
                    $"the API key of provider '{provider.Name}' cannot be decrypted (the server's data-protection keys changed); set the key again", inner: e);
            }
        }
        return new ModelEndpoint
        {
            ProviderId = provider.Id,
            Name = provider.Name,
            BaseUrl = new Uri(provider.BaseUrl),
            Model = provider.Model,
            ApiKey = key,
            Parameters = JsonNode.Parse(provider.ParametersJson) as JsonObject ?? [],
            RateLimitPerMinute = provider.RateLimitPerMinute,
            Timeout = TimeSpan.FromSeconds(provider.TimeoutSeconds),
            PricePerMillionInput = provider.PricePerMillionInput,
            PricePerMillionOutput = provider.PricePerMillionOutput,
        };
    }

    /// <summary>Stores <paramref name="apiKey"/> encrypted (null or empty removes it) and keeps its last four characters as a hint.</summary>
    public void SetApiKey(ModelProvider provider, string? apiKey)
    {
        if (string.IsNullOrEmpty(apiKey))
        {
            provider.ApiKeyProtected = null;
            provider.ApiKeyHint = null;
            return;
        }
        provider.ApiKeyProtected = Protector.Protect(apiKey);
        // Four characters of a long key say which key it is and give a guesser nothing; short keys get no hint.
        provider.ApiKeyHint = apiKey.Length >= 16 ? apiKey[^4..] : null;
    }

    /// <summary>Why a provider name is unusable, or null: letters, digits, '.', '_' and '-', not only digits (those are ids).</summary>
    public static string? NameProblem(string? name) => name switch
    {
        null or "" => "a provider needs a name",
        { Length: > 100 } => "a provider name has at most 100 characters",
        _ when !NamePattern().IsMatch(name) => $"'{name}' is not a usable provider name: use letters, digits, '.', '_' and '-', starting with a letter or digit",
        _ when name.All(char.IsAsciiDigit) => $"'{name}' is only digits, which would read as a provider id; add a letter",
        _ => null,
    };

    /// <summary>Why a base URL is unusable, or null.</summary>
    public static string? BaseUrlProblem(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && string.IsNullOrEmpty(uri.UserInfo)
            ? null
            : $"'{url}' is not an http(s) URL such as https://api.openai.com/v1 (credentials go in the API key, not the URL)";

    /// <summary>Why default parameters are unusable, or null: the request's own keys cannot be set there.</summary>
    public static string? ParametersProblem(JsonObject? parameters) =>
        parameters?.Select(p => p.Key).FirstOrDefault(k => k is "model" or "messages" or "stream" or "stream_options" or "response_format") is { } key
            ? $"parameter '{key}' is set by Plumbline for each request and cannot be a default"
            : null;

    public static string ParametersJson(JsonObject? parameters) => parameters is null ? "{}" : parameters.ToJsonString(JsonSerializerOptions.Web);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex NamePattern();
}

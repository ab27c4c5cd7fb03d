using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Plumbline.Data;

/// <summary>
/// A model behind an OpenAI-compatible chat-completions endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp's server …),
/// configured by an admin. The API key is stored encrypted with ASP.NET Core Data Protection and never returned.
/// </summary>
public sealed class ModelProvider
{
    public long Id { get; set; }
    /// <summary>Unique; how people and the CLI refer to the provider.</summary>
    public required string Name { get; set; }
    /// <summary>The API root, e.g. <c>https://api.openai.com/v1</c>; <c>/chat/completions</c> is appended.</summary>
    public required string BaseUrl { get; set; }
    /// <summary>The <c>model</c> sent with every request.</summary>
    public required string Model { get; set; }
    /// <summary>The API key protected by Data Protection (purpose <c>Plumbline.ModelProviders.ApiKey</c>); null when none.</summary>
    public string? ApiKeyProtected { get; set; }
    /// <summary>The key's last four characters, so an admin can tell keys apart; null for short keys or none.</summary>
    public string? ApiKeyHint { get; set; }
    /// <summary>Default request parameters (temperature, max_tokens, top_p, seed …) as a JSON object.</summary>
    public string ParametersJson { get; set; } = "{}";
    /// <summary>Requests per minute this server sends at most; null for no limit.</summary>
    public int? RateLimitPerMinute { get; set; }
    /// <summary>Seconds one attempt may take before it is abandoned and retried.</summary>
    public int TimeoutSeconds { get; set; } = 120;
    /// <summary>Price in currency units per million prompt tokens, for cost figures; null when unknown.</summary>
    public double? PricePerMillionInput { get; set; }
    /// <summary>Price in currency units per million completion tokens.</summary>
    public double? PricePerMillionOutput { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

internal sealed class ModelProviderConfiguration : IEntityTypeConfiguration<ModelProvider>
{
    public void Configure(EntityTypeBuilder<ModelProvider> builder)
    {
        builder.HasIndex(p => p.Name).IsUnique();
        builder.Property(p => p.Name).HasMaxLength(100);
        builder.Property(p => p.BaseUrl).HasMaxLength(2048);
        builder.Property(p => p.Model).HasMaxLength(200);
        builder.Property(p => p.ApiKeyHint).HasMaxLength(8);
    }
}

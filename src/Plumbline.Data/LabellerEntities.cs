using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Plumbline.Data;

/// <summary>
/// An LLM labeller of a project: a name under which versions accumulate. Every change makes a new
/// <see cref="LabellerVersion"/>; old versions stay, so two can be run on the same items and compared.
/// </summary>
public sealed class Labeller
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    /// <summary>Unique in the project; part of the suggestions' agent (<c>…@labeller:NAMEvN</c>).</summary>
    public required string Name { get; set; }
    /// <summary>The version that runs unless another is named.</summary>
    public int CurrentVersion { get; set; }
    public long CreatedById { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>One immutable version of a labeller: which model, which prompt, which questions, which parameters.</summary>
public sealed class LabellerVersion
{
    public long Id { get; set; }
    public long LabellerId { get; set; }
    public long ProjectId { get; set; }
    public int Version { get; set; }
    /// <summary>The model provider asked (an admin's configuration).</summary>
    public long ProviderId { get; set; }
    /// <summary>The provider's model when the version was made, for the agent name (the provider may change later).</summary>
    public required string Model { get; set; }
    /// <summary>The provider's name when the version was made, for the agent name.</summary>
    public required string ProviderName { get; set; }
    /// <summary>The user message: a template over the item's fields (<c>{{field}}</c>, <c>{{metadata.KEY}}</c>, <c>{{questions}}</c>).</summary>
    public required string PromptTemplate { get; set; }
    /// <summary>An optional system message.</summary>
    public string? SystemPrompt { get; set; }
    /// <summary>Names of the questions it answers, as a JSON array.</summary>
    public required string QuestionsJson { get; set; }
    /// <summary>Request parameters over the provider's defaults (temperature, max_tokens, seed …), as a JSON object.</summary>
    public string ParametersJson { get; set; } = "{}";
    /// <summary>What changed, in the words of whoever changed it.</summary>
    public string? Note { get; set; }
    public long CreatedById { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>
/// One run of a labeller version over a project's items (all, or a filter). The work itself is a <see cref="Job"/> of kind
/// <c>labeller</c> (<see cref="JobId"/>): status, progress, tokens, cost, leases and resumption are the job's; this row
/// says which version ran with which filter, and its results hang from it.
/// </summary>
public sealed class LabellerRun
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public long LabellerVersionId { get; set; }
    /// <summary>The background job that does the run.</summary>
    public long JobId { get; set; }
    /// <summary>Which items, as JSON (<c>LabellerRunFilter</c>); null for all.</summary>
    public string? FilterJson { get; set; }
    /// <summary>Write suggestions that annotators see; false only measures the labeller.</summary>
    public bool Suggest { get; set; } = true;
    public long CreatedById { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>What a labeller answered on one item in one run: the answers, or why there are none; tokens, cost and latency.</summary>
public sealed class LabellerResult
{
    public long Id { get; set; }
    public long RunId { get; set; }
    public long LabellerVersionId { get; set; }
    public long ProjectId { get; set; }
    public long ItemId { get; set; }
    /// <summary>Answers keyed by question (validated like a person's); null when the item failed.</summary>
    public string? ValuesJson { get; set; }
    /// <summary>Why the item failed: the provider's error, or what is wrong with the output.</summary>
    public string? Error { get; set; }
    /// <summary>The start of the model's raw output, kept for failures so a person can see what came back.</summary>
    public string? Output { get; set; }
    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public double? Cost { get; set; }
    public long? LatencyMs { get; set; }
    public DateTime CreatedAt { get; set; }
}

internal sealed class LabellerConfiguration : IEntityTypeConfiguration<Labeller>
{
    public void Configure(EntityTypeBuilder<Labeller> e)
    {
        e.Property(l => l.Name).HasMaxLength(100);
        e.HasIndex(l => new { l.ProjectId, l.Name }).IsUnique();
        e.HasOne<Project>().WithMany().HasForeignKey(l => l.ProjectId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class LabellerVersionConfiguration : IEntityTypeConfiguration<LabellerVersion>
{
    public void Configure(EntityTypeBuilder<LabellerVersion> e)
    {
        e.Property(v => v.Model).HasMaxLength(200);
        e.Property(v => v.ProviderName).HasMaxLength(100);
        e.HasIndex(v => new { v.LabellerId, v.Version }).IsUnique();
        e.HasOne<Labeller>().WithMany().HasForeignKey(v => v.LabellerId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class LabellerRunConfiguration : IEntityTypeConfiguration<LabellerRun>
{
    public void Configure(EntityTypeBuilder<LabellerRun> e)
    {
        e.HasIndex(r => r.LabellerVersionId);
        e.HasIndex(r => r.JobId).IsUnique();
        e.HasOne<LabellerVersion>().WithMany().HasForeignKey(r => r.LabellerVersionId).OnDelete(DeleteBehavior.Cascade);
        e.HasOne<Job>().WithMany().HasForeignKey(r => r.JobId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class LabellerResultConfiguration : IEntityTypeConfiguration<LabellerResult>
{
    public void Configure(EntityTypeBuilder<LabellerResult> e)
    {
        e.HasIndex(r => new { r.RunId, r.ItemId }).IsUnique();
        // The report reads a version's results in item order.
        e.HasIndex(r => new { r.LabellerVersionId, r.ItemId });
        e.HasOne<LabellerRun>().WithMany().HasForeignKey(r => r.RunId).OnDelete(DeleteBehavior.Cascade);
        e.HasOne<Item>().WithMany().HasForeignKey(r => r.ItemId).OnDelete(DeleteBehavior.Cascade);
    }
}

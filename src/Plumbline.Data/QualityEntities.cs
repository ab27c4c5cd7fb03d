using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Plumbline.Data;

/// <summary>An annotator who may not take new work in a project until a manager resumes them.</summary>
public sealed class AnnotatorPause
{
    public long ProjectId { get; set; }
    public long UserId { get; set; }
    /// <summary>Why, in words the annotator is shown (e.g. gold accuracy 0.40 below 0.70).</summary>
    public required string Reason { get; set; }
    /// <summary>Who paused them; null when the gold check did.</summary>
    public long? PausedById { get; set; }
    public DateTime PausedAt { get; set; }
}

/// <summary>One message in the discussion thread of an item.</summary>
public sealed class ItemComment
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public long ItemId { get; set; }
    public long UserId { get; set; }
    public required string Body { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>An expert's final answer to one question of an item, settling a disagreement; it overrides the consensus.</summary>
public sealed class ItemDecision
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public long ItemId { get; set; }
    public required string Question { get; set; }
    public required string ValueJson { get; set; }
    public string? Comment { get; set; }
    public long DecidedById { get; set; }
    public DateTime DecidedAt { get; set; }
}

internal sealed class AnnotatorPauseConfiguration : IEntityTypeConfiguration<AnnotatorPause>
{
    public void Configure(EntityTypeBuilder<AnnotatorPause> e)
    {
        e.HasKey(p => new { p.ProjectId, p.UserId });
        e.Property(p => p.Reason).HasMaxLength(500);
        e.HasOne<Project>().WithMany().HasForeignKey(p => p.ProjectId).OnDelete(DeleteBehavior.Cascade);
        e.HasOne<User>().WithMany().HasForeignKey(p => p.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ItemCommentConfiguration : IEntityTypeConfiguration<ItemComment>
{
    public void Configure(EntityTypeBuilder<ItemComment> e)
    {
        e.HasIndex(c => new { c.ItemId, c.Id });
        e.HasOne<Item>().WithMany().HasForeignKey(c => c.ItemId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ItemDecisionConfiguration : IEntityTypeConfiguration<ItemDecision>
{
    public void Configure(EntityTypeBuilder<ItemDecision> e)
    {
        e.HasIndex(d => new { d.ItemId, d.Question }).IsUnique();
        e.HasIndex(d => new { d.ProjectId, d.ItemId });
        e.Property(d => d.Question).HasMaxLength(200);
        e.HasOne<Item>().WithMany().HasForeignKey(d => d.ItemId).OnDelete(DeleteBehavior.Cascade);
    }
}

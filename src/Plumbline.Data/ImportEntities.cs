using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Plumbline.Data;

/// <summary>One committed import of a file into a project, with its counts and preparation report.</summary>
public sealed class ImportRun
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public long UserId { get; set; }
    public string? FileName { get; set; }
    public DateTime CreatedAt { get; set; }
    public long Created { get; set; }
    public long Updated { get; set; }
    public long Unchanged { get; set; }
    public long Dropped { get; set; }
    /// <summary>The full report (counts per rule, examples masked, duplicate clusters, dropped ids) as JSON.</summary>
    public string ReportJson { get; set; } = "{}";
}

internal sealed class ImportRunConfiguration : IEntityTypeConfiguration<ImportRun>
{
    public void Configure(EntityTypeBuilder<ImportRun> builder)
    {
        builder.HasIndex(r => new { r.ProjectId, r.Id });
        builder.Property(r => r.FileName).HasMaxLength(500);
        builder.HasOne<Project>().WithMany().HasForeignKey(r => r.ProjectId).OnDelete(DeleteBehavior.Cascade);
    }
}

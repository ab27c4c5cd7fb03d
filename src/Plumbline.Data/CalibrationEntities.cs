using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Plumbline.Data;

/// <summary>
/// A calibration round: a manager's pick of items that every member annotates, whatever the overlap, so the team can
/// compare answers item by item. A later round (after a guideline change) points at the round it follows.
/// </summary>
public sealed class CalibrationSession
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public required string Name { get; set; }
    /// <summary>The round this one repeats or follows, to show the change in agreement.</summary>
    public long? PreviousSessionId { get; set; }
    /// <summary>The project's guideline version when the round opened.</summary>
    public int GuidelineVersion { get; set; }
    /// <summary><c>open</c> (served in the queue) or <c>closed</c>.</summary>
    public required string Status { get; set; }
    public long CreatedById { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? ClosedAt { get; set; }
}

/// <summary>One item of a calibration round.</summary>
public sealed class CalibrationItem
{
    public long SessionId { get; set; }
    public long ItemId { get; set; }
}

/// <summary>
/// One person's answer to one item in one round, copied when they submit: a second round over the same items revises
/// the response, and this copy keeps what each round said and under which guideline version.
/// </summary>
public sealed class CalibrationAnswer
{
    public long SessionId { get; set; }
    public long ItemId { get; set; }
    public long UserId { get; set; }
    public required string ValuesJson { get; set; }
    public int GuidelineVersion { get; set; }
    public DateTime SubmittedAt { get; set; }
}

internal sealed class CalibrationSessionConfiguration : IEntityTypeConfiguration<CalibrationSession>
{
    public void Configure(EntityTypeBuilder<CalibrationSession> e)
    {
        e.Property(s => s.Name).HasMaxLength(200);
        e.Property(s => s.Status).HasMaxLength(20);
        e.HasIndex(s => new { s.ProjectId, s.Status });
        e.HasOne<Project>().WithMany().HasForeignKey(s => s.ProjectId).OnDelete(DeleteBehavior.Cascade);
        e.HasOne<CalibrationSession>().WithMany().HasForeignKey(s => s.PreviousSessionId).OnDelete(DeleteBehavior.SetNull);
    }
}

internal sealed class CalibrationItemConfiguration : IEntityTypeConfiguration<CalibrationItem>
{
    public void Configure(EntityTypeBuilder<CalibrationItem> e)
    {
        e.HasKey(c => new { c.SessionId, c.ItemId });
        e.HasIndex(c => c.ItemId);
        e.HasOne<CalibrationSession>().WithMany().HasForeignKey(c => c.SessionId).OnDelete(DeleteBehavior.Cascade);
        e.HasOne<Item>().WithMany().HasForeignKey(c => c.ItemId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class CalibrationAnswerConfiguration : IEntityTypeConfiguration<CalibrationAnswer>
{
    public void Configure(EntityTypeBuilder<CalibrationAnswer> e)
    {
        e.HasKey(a => new { a.SessionId, a.ItemId, a.UserId });
        e.HasOne<CalibrationSession>().WithMany().HasForeignKey(a => a.SessionId).OnDelete(DeleteBehavior.Cascade);
        e.HasOne<Item>().WithMany().HasForeignKey(a => a.ItemId).OnDelete(DeleteBehavior.NoAction);
        e.HasOne<User>().WithMany().HasForeignKey(a => a.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}

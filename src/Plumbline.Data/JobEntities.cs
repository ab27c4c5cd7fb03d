using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Plumbline.Data;

/// <summary>Values of <see cref="Job.Status"/>.</summary>
public static class JobStatuses
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsFinished(string status) => status is Succeeded or Failed or Cancelled;
}

/// <summary>
/// Background work over a project's items (candidate generation, LLM labeller runs). Any server process on the
/// database may run it: a process holds it through a lease it renews (<see cref="LeaseOwner"/>, <see cref="LeaseExpiresAt"/>);
/// when the process dies the lease runs out and another takes the job over, continuing with the items not yet done.
/// </summary>
public sealed class Job
{
    public long Id { get; set; }
    /// <summary>What the job does, e.g. <c>generation</c>; picks the handler.</summary>
    public required string Kind { get; set; }
    public long? ProjectId { get; set; }
    /// <summary>See <see cref="JobStatuses"/>.</summary>
    public required string Status { get; set; }
    /// <summary>The job's request, as JSON; read by the handler.</summary>
    public required string SettingsJson { get; set; }
    /// <summary>Items to do; grows while the job is planned, final once <see cref="Planned"/>.</summary>
    public int Total { get; set; }
    public int Done { get; set; }
    public int Skipped { get; set; }
    public int Failed { get; set; }
    public long PromptTokens { get; set; }
    public long CompletionTokens { get; set; }
    /// <summary>At the providers' prices; 0 when they have none.</summary>
    public double Cost { get; set; }
    public string? Error { get; set; }
    /// <summary>True once every item has a <see cref="JobItem"/> row.</summary>
    public bool Planned { get; set; }
    /// <summary>Planning resumes after this item id.</summary>
    public long PlanCursor { get; set; }
    public bool CancelRequested { get; set; }
    public long CreatedById { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? StartedAt { get; set; }
    public DateTime? FinishedAt { get; set; }
    /// <summary>The server process running the job, while it runs.</summary>
    public string? LeaseOwner { get; set; }
    public DateTime? LeaseExpiresAt { get; set; }
}

/// <summary>Values of <see cref="JobItem.Status"/>.</summary>
public static class JobItemStatuses
{
    public const string Pending = "pending";
    public const string Done = "done";
    public const string Skipped = "skipped";
    public const string Failed = "failed";
}

/// <summary>
/// One item of a job. It leaves <c>pending</c> in the same transaction that stores the item's results, so after a
/// restart an item is either done with its results or still pending without them — never asked for twice.
/// </summary>
public sealed class JobItem
{
    public long Id { get; set; }
    public long JobId { get; set; }
    public long ItemId { get; set; }
    /// <summary>See <see cref="JobItemStatuses"/>.</summary>
    public required string Status { get; set; }
    /// <summary>Why the item was skipped or failed.</summary>
    public string? Message { get; set; }
    public DateTime? FinishedAt { get; set; }
}

internal sealed class JobConfiguration : IEntityTypeConfiguration<Job>
{
    public void Configure(EntityTypeBuilder<Job> builder)
    {
        builder.Property(j => j.Kind).HasMaxLength(32);
        builder.Property(j => j.Status).HasMaxLength(16);
        builder.Property(j => j.LeaseOwner).HasMaxLength(200);
        // Idle servers look for queued jobs and lapsed leases every second or so.
        builder.HasIndex(j => new { j.Status, j.LeaseExpiresAt });
        builder.HasIndex(j => new { j.ProjectId, j.Id });
        builder.HasOne<Project>().WithMany().HasForeignKey(j => j.ProjectId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class JobItemConfiguration : IEntityTypeConfiguration<JobItem>
{
    public void Configure(EntityTypeBuilder<JobItem> builder)
    {
        builder.HasIndex(w => new { w.JobId, w.ItemId }).IsUnique();
        // The runner pages through a job's pending items in id order.
        builder.HasIndex(w => new { w.JobId, w.Status, w.Id });
        builder.Property(w => w.Status).HasMaxLength(16);
        builder.HasOne<Job>().WithMany().HasForeignKey(w => w.JobId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Item>().WithMany().HasForeignKey(w => w.ItemId).OnDelete(DeleteBehavior.Cascade);
    }
}

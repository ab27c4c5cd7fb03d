using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Plumbline.Data;

/// <summary>An immutable, numbered dataset built from a project: its settings, its manifest and where its files are.</summary>
public sealed class Release
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    /// <summary>1 for v1, 2 for v2 …; unique within the project, never reused.</summary>
    public int Version { get; set; }
    /// <summary>
    /// <c>queued</c> until a server's release worker claims it, <c>building</c> while its files are written, then
    /// <c>ready</c>, or <c>failed</c> with <see cref="Error"/>.
    /// </summary>
    public required string Status { get; set; }
    /// <summary>The request as the manager sent it (formats, filter, methods, split, S3 target), for the worker.</summary>
    public string? RequestJson { get; set; }
    /// <summary>Items read so far by the build (matched or left out).</summary>
    public long Progress { get; set; }
    /// <summary>Items the build will read at most (the project's items that pass the filter's status and gold conditions).</summary>
    public long? Total { get; set; }
    /// <summary>Why the build failed, in words a manager can act on.</summary>
    public string? Error { get; set; }
    /// <summary>How many times a worker started building it; a build cut short by a crash is retried a few times.</summary>
    public int Attempts { get; set; }
    /// <summary>When the building worker last said it was alive; a stale heartbeat means its server stopped.</summary>
    public DateTime? HeartbeatAt { get; set; }
    public DateTime? FinishedAt { get; set; }
    /// <summary>The release settings (filter, methods, split, formats) with defaults filled in.</summary>
    public required string SettingsJson { get; set; }
    /// <summary>The manifest (counts, figures, files with SHA-256), as written to manifest.json; null while building.</summary>
    public string? ManifestJson { get; set; }
    /// <summary>The folder the files were written to.</summary>
    public required string Location { get; set; }
    /// <summary>A copy of the files in S3-compatible storage (<c>s3://bucket/prefix</c>), when one was asked for.</summary>
    public string? RemoteLocation { get; set; }
    public long Items { get; set; }
    public long CreatedById { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>
/// A project's secret for annotator pseudonyms: each release's salt is an HMAC of its settings under this key, so
/// pseudonyms cannot be reversed without the database, yet the same settings give the same bytes.
/// </summary>
public sealed class ReleaseSecret
{
    public long ProjectId { get; set; }
    public required byte[] Key { get; set; }
}

public sealed class ReleaseConfiguration : IEntityTypeConfiguration<Release>
{
    public void Configure(EntityTypeBuilder<Release> builder)
    {
        builder.HasIndex(r => new { r.ProjectId, r.Version }).IsUnique();
        // The workers' claim: the oldest queued release, and stale building ones.
        builder.HasIndex(r => new { r.Status, r.Id });
        builder.Property(r => r.Status).HasMaxLength(16);
        builder.Property(r => r.Error).HasMaxLength(2000);
        builder.Property(r => r.Location).HasMaxLength(1024);
        builder.Property(r => r.RemoteLocation).HasMaxLength(1024);
        builder.HasOne<Project>().WithMany().HasForeignKey(r => r.ProjectId).OnDelete(DeleteBehavior.Cascade);
    }
}

public sealed class ReleaseSecretConfiguration : IEntityTypeConfiguration<ReleaseSecret>
{
    public void Configure(EntityTypeBuilder<ReleaseSecret> builder)
    {
        builder.HasKey(s => s.ProjectId);
        builder.Property(s => s.ProjectId).ValueGeneratedNever();
        builder.HasOne<Project>().WithMany().HasForeignKey(s => s.ProjectId).OnDelete(DeleteBehavior.Cascade);
    }
}

/// <summary>
/// Keyset pages of a project's items in id order (releases, exports) need (project_id, id): without it SQLite
/// answers <c>project_id = ? AND id > ? ORDER BY id LIMIT n</c> from another index and sorts the whole project
/// for every page.
/// </summary>
public sealed class ItemKeysetConfiguration : IEntityTypeConfiguration<Item>
{
    public void Configure(EntityTypeBuilder<Item> builder) => builder.HasIndex(i => new { i.ProjectId, i.Id });
}

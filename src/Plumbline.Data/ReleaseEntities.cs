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
    /// <summary><c>building</c> while its files are written, then <c>ready</c>.</summary>
    public required string Status { get; set; }
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
        builder.Property(r => r.Status).HasMaxLength(16);
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

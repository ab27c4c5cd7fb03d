using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Plumbline.Data;

/// <summary>
/// An ASP.NET Core data-protection key (it signs sign-in cookies and antiforgery tokens). Kept in the database
/// so every server process on one database accepts the cookies of the others.
/// </summary>
public sealed class DataProtectionKey
{
    public long Id { get; set; }
    public string? FriendlyName { get; set; }
    public required string Xml { get; set; }
}

internal sealed class DataProtectionKeyConfiguration : IEntityTypeConfiguration<DataProtectionKey>
{
    public void Configure(EntityTypeBuilder<DataProtectionKey> builder) => builder.Property(k => k.FriendlyName).HasMaxLength(200);
}

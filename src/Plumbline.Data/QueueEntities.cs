using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Plumbline.Data;

/// <summary>Values of <see cref="Item.QueueState"/>.</summary>
public static class ItemQueueStates
{
    /// <summary>Served to anyone, in the project's queue order.</summary>
    public const int Open = 0;
    /// <summary>Served only to the people and groups named in <see cref="ItemPin"/>.</summary>
    public const int Pinned = 1;
    /// <summary>Has all its responses; out of the claim indexes.</summary>
    public const int Complete = 2;
}

/// <summary>An item reserved for a person (<c>user:EMAIL</c>) or a group of the workflow (<c>group:NAME</c>).</summary>
public sealed class ItemPin
{
    public long ItemId { get; set; }
    public long ProjectId { get; set; }
    /// <summary><c>user:ann@example.com</c> or <c>group:doctors</c>.</summary>
    public required string Principal { get; set; }
}

internal sealed class ItemPinConfiguration : IEntityTypeConfiguration<ItemPin>
{
    public void Configure(EntityTypeBuilder<ItemPin> builder)
    {
        builder.HasKey(p => new { p.ItemId, p.Principal });
        // A person's pinned work is found by seeking their principals, in item order.
        builder.HasIndex(p => new { p.ProjectId, p.Principal, p.ItemId });
        builder.Property(p => p.Principal).HasMaxLength(400);
        builder.HasOne<Item>().WithMany().HasForeignKey(p => p.ItemId).OnDelete(DeleteBehavior.Cascade);
    }
}

/// <summary>
/// The queue's claim indexes. Each covers only open items (a partial index), so a claim seeks the first open item
/// in the policy's order and never walks past finished ones: its cost does not grow with the project.
/// </summary>
internal sealed class QueueItemIndexes : IEntityTypeConfiguration<Item>
{
    private const string OpenOnly = "queue_state = 0";

    public void Configure(EntityTypeBuilder<Item> builder)
    {
        // sequential: highest priority first, then import order.
        builder.HasIndex(i => new { i.ProjectId, i.Priority, i.Id }, "ix_items_queue_sequential")
            .IsDescending(false, true, false).HasFilter(OpenOnly);
        // finish overlap first: items with the most responses first.
        builder.HasIndex(i => new { i.ProjectId, i.SubmittedCount, i.Priority, i.Id }, "ix_items_queue_overlap_first")
            .IsDescending(false, true, true, false).HasFilter(OpenOnly);
        // random: a random starting id, then id order.
        builder.HasIndex(i => new { i.ProjectId, i.Id }, "ix_items_queue_random").HasFilter(OpenOnly);
    }
}

internal sealed class QueueResponseConfiguration : IEntityTypeConfiguration<Response>
{
    public void Configure(EntityTypeBuilder<Response> builder) => builder.Property(r => r.SubmitKey).HasMaxLength(128);
}

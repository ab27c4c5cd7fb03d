using System.Text;
using Microsoft.EntityFrameworkCore;

namespace Plumbline.Data;

/// <summary>
/// The model, shared by both providers. Each provider has its own subclass so that each keeps
/// its own migrations (<see cref="SqliteDbContext"/>, <see cref="PostgresDbContext"/>).
/// </summary>
public abstract class PlumblineDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();
    public DbSet<ApiToken> ApiTokens => Set<ApiToken>();
    public DbSet<Project> Projects => Set<Project>();
    public DbSet<Guideline> Guidelines => Set<Guideline>();
    public DbSet<ProjectMember> ProjectMembers => Set<ProjectMember>();
    public DbSet<Item> Items => Set<Item>();
    public DbSet<Assignment> Assignments => Set<Assignment>();
    public DbSet<Response> Responses => Set<Response>();
    public DbSet<ResponseRevision> ResponseRevisions => Set<ResponseRevision>();
    public DbSet<Suggestion> Suggestions => Set<Suggestion>();
    public DbSet<Review> Reviews => Set<Review>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();

    /// <summary>True on PostgreSQL, where hand-written SQL may use row locks and COPY.</summary>
    /// <remarks>
    /// Remembered: a context's provider never changes (pooled instances keep their options), and
    /// <c>Database.ProviderName</c> walks the options and reads an assembly name each time, 1.6 % of the queue's
    /// server CPU when asked a dozen times per submit (docs/benchmarks.md, "Work queue").
    /// </remarks>
    public bool IsPostgres => isPostgres ??= Database.ProviderName == "Npgsql.EntityFrameworkCore.PostgreSQL";

    private bool? isPostgres;

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Every time is stored in UTC; SQLite forgets the kind, so it is put back on the way out.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
    }

    private sealed class UtcDateTimeConverter() : Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<User>(e =>
        {
            e.HasIndex(u => u.Email).IsUnique();
            e.Property(u => u.Email).HasMaxLength(320);
        });
        modelBuilder.Entity<ApiToken>(e =>
        {
            e.HasIndex(t => t.Hash).IsUnique();
            e.HasIndex(t => t.UserId);
            e.Property(t => t.Hash).HasMaxLength(64);
            e.Property(t => t.Prefix).HasMaxLength(16);
            e.Property(t => t.Name).HasMaxLength(200);
            e.HasOne(t => t.User).WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<Project>(e =>
        {
            e.Property(p => p.Name).HasMaxLength(200);
        });
        modelBuilder.Entity<Guideline>(e =>
        {
            e.HasIndex(g => new { g.ProjectId, g.Version }).IsUnique();
            e.HasOne<Project>().WithMany().HasForeignKey(g => g.ProjectId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<ProjectMember>(e =>
        {
            e.HasKey(m => new { m.ProjectId, m.UserId });
            e.HasIndex(m => m.UserId);
            e.Property(m => m.Role).HasMaxLength(16);
            e.HasOne<Project>().WithMany().HasForeignKey(m => m.ProjectId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne(m => m.User).WithMany().HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<Item>(e =>
        {
            e.HasIndex(i => new { i.ProjectId, i.ExternalId }).IsUnique();
            // The queue scans a project's unfinished items in id order.
            e.HasIndex(i => new { i.ProjectId, i.SubmittedCount, i.Id });
            e.Property(i => i.ExternalId).HasMaxLength(512);
            e.HasOne<Project>().WithMany().HasForeignKey(i => i.ProjectId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<Assignment>(e =>
        {
            // One lease row per person, item and stage: the same person is never given an item twice.
            e.HasIndex(a => new { a.ItemId, a.UserId, a.Stage }).IsUnique();
            e.HasIndex(a => new { a.ProjectId, a.UserId, a.Status });
            e.HasIndex(a => new { a.ItemId, a.Status, a.ExpiresAt });
            e.Property(a => a.Stage).HasMaxLength(16);
            e.Property(a => a.Status).HasMaxLength(16);
            e.HasOne<Item>().WithMany().HasForeignKey(a => a.ItemId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<Response>(e =>
        {
            e.HasIndex(r => new { r.ItemId, r.UserId }).IsUnique();
            e.HasIndex(r => new { r.ProjectId, r.Status });
            e.Property(r => r.Status).HasMaxLength(16);
            e.HasOne<Item>().WithMany().HasForeignKey(r => r.ItemId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<ResponseRevision>(e =>
        {
            e.HasIndex(r => new { r.ResponseId, r.Revision }).IsUnique();
            e.Property(r => r.Status).HasMaxLength(16);
            e.HasOne<Response>().WithMany().HasForeignKey(r => r.ResponseId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<Suggestion>(e =>
        {
            e.HasIndex(s => new { s.ItemId, s.Question });
            e.HasOne<Item>().WithMany().HasForeignKey(s => s.ItemId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<Review>(e =>
        {
            e.HasIndex(r => r.ResponseId);
            e.Property(r => r.Verdict).HasMaxLength(16);
            e.HasOne<Response>().WithMany().HasForeignKey(r => r.ResponseId).OnDelete(DeleteBehavior.Cascade);
        });
        modelBuilder.Entity<AuditEvent>(e =>
        {
            e.HasIndex(a => new { a.ProjectId, a.At });
            e.Property(a => a.Action).HasMaxLength(64);
            e.Property(a => a.EntityType).HasMaxLength(32);
            e.Property(a => a.EntityId).HasMaxLength(64);
        });

        // Features keep their own entities beside their IEntityTypeConfiguration classes.
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(PlumblineDbContext).Assembly);

        // snake_case names, so hand-written SQL reads the same on both providers without quoting.
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            entity.SetTableName(SnakeCase(entity.ClrType.Name) + "s");
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(SnakeCase(property.Name));
            }
        }
    }

    private static string SnakeCase(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                sb.Append('_');
            }
            sb.Append(char.ToLowerInvariant(name[i]));
        }
        return sb.ToString();
    }
}

/// <summary>The embedded default: a SQLite file in WAL mode.</summary>
public sealed class SqliteDbContext(DbContextOptions<SqliteDbContext> options) : PlumblineDbContext(options);

/// <summary>PostgreSQL, for teams and several server processes.</summary>
public sealed class PostgresDbContext(DbContextOptions<PostgresDbContext> options) : PlumblineDbContext(options);

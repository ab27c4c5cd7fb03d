using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Plumbline.Core.Schema;
using Plumbline.Data;

namespace Plumbline.Server.Features.Auth;

/// <summary>
/// What every queue request reads and almost never changes: token → user, a person's role in a project, and the
/// project's row with its parsed schema. Entries live at most <see cref="Lifetime"/>, so a change made by another
/// server node is seen within that time; a change saved through this node's contexts (token revoked, user disabled,
/// member removed or re-roled, settings or guidelines edited) drops the entries at once, through
/// <see cref="Invalidator"/>, which watches every <c>SaveChanges</c>.
/// </summary>
public sealed class AccessCache(TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);

    /// <summary>Entries kept before the cache starts over: bounds memory whatever the number of tokens or projects.</summary>
    private const int MaxEntries = 100_000;

    /// <summary>The user behind a live token.</summary>
    public sealed record TokenUser(long TokenId, User User, DateTime? LastUsedAt);

    /// <summary>A project as read for the queue, with its schema parsed once.</summary>
    public sealed record ProjectEntry(Project Project, ProjectSchema Schema);

    private readonly record struct Entry<T>(T Value, DateTime Until);

    private readonly ConcurrentDictionary<string, Entry<TokenUser>> tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(long Project, long User), Entry<string?>> roles = new();
    private readonly ConcurrentDictionary<long, Entry<ProjectEntry?>> projects = new();

    public IInterceptor Invalidator => field ??= new InvalidateOnSave(this);

    /// <summary>The live token with this hash and its active user, or null (unknown and revoked tokens are not remembered).</summary>
    public async Task<TokenUser?> TokenAsync(PlumblineDbContext db, string hash, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (tokens.TryGetValue(hash, out var hit) && hit.Until > now)
        {
            return hit.Value;
        }
        var found = await db.ApiTokens.AsNoTracking()
            .Where(t => t.Hash == hash && t.RevokedAt == null && t.User!.IsActive)
            .Select(t => new TokenUser(t.Id, t.User!, t.LastUsedAt))
            .FirstOrDefaultAsync(ct);
        if (found is null)
        {
            tokens.TryRemove(hash, out _);
            return null;
        }
        Put(tokens, hash, found, now);
        return found;
    }

    /// <summary>Remembers that the token's last use was just written, so the next hour's requests do not write it again.</summary>
    public void TokenUsed(string hash, TokenUser user, DateTime at) => Put(tokens, hash, user with { LastUsedAt = at }, clock.GetUtcNow().UtcDateTime);

    /// <summary>The person's role in the project, or null when they are not a member.</summary>
    public async Task<string?> RoleAsync(PlumblineDbContext db, long projectId, long userId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (roles.TryGetValue((projectId, userId), out var hit) && hit.Until > now)
        {
            return hit.Value;
        }
        var role = await db.ProjectMembers.AsNoTracking().Where(m => m.ProjectId == projectId && m.UserId == userId)
            .Select(m => m.Role).FirstOrDefaultAsync(ct);
        Put(roles, (projectId, userId), role, now);
        return role;
    }

    /// <summary>The project (read-only: never modify or attach it) with its parsed schema, or null when it does not exist.</summary>
    public async Task<ProjectEntry?> ProjectAsync(PlumblineDbContext db, long projectId, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (projects.TryGetValue(projectId, out var hit) && hit.Until > now)
        {
            return hit.Value;
        }
        var project = await db.Projects.AsNoTracking().FirstOrDefaultAsync(p => p.Id == projectId, ct);
        var entry = project is null ? null : new ProjectEntry(project, ProjectSchema.Parse(project.SchemaJson));
        Put(projects, projectId, entry, now);
        return entry;
    }

    private static void Put<TKey, T>(ConcurrentDictionary<TKey, Entry<T>> map, TKey key, T value, DateTime now)
        where TKey : notnull
    {
        if (map.Count >= MaxEntries)
        {
            map.Clear();
        }
        map[key] = new Entry<T>(value, now + Lifetime);
    }

    /// <summary>The keys the context's pending changes touch: a token or user (all tokens), a membership, a project.</summary>
    private static List<object> Touched(DbContext context)
    {
        var keys = new List<object>();
        foreach (var entry in context.ChangeTracker.Entries())
        {
            if (entry.State is EntityState.Unchanged or EntityState.Detached)
            {
                continue;
            }
            switch (entry.Entity)
            {
                case ApiToken or User:
                    keys.Add(AllTokens);
                    break;
                case ProjectMember member:
                    keys.Add((member.ProjectId, member.UserId));
                    break;
                case Project project:
                    keys.Add(project.Id);
                    break;
            }
        }
        return keys;
    }

    private static readonly object AllTokens = new();

    private void Invalidate(List<object> keys)
    {
        foreach (var key in keys)
        {
            switch (key)
            {
                case (long projectId, long userId):
                    roles.TryRemove((projectId, userId), out _);
                    break;
                case long projectId:
                    projects.TryRemove(projectId, out _);
                    break;
                default:
                    // Rare (revoking, disabling, promoting): starting over is simpler than mapping users to hashes.
                    tokens.Clear();
                    break;
            }
        }
    }

    /// <summary>
    /// Drops the entries a save touches when it is saved and again when its transaction commits: a request that
    /// read the old row in between (before the commit made the change visible) cannot keep it for long.
    /// </summary>
    private sealed class InvalidateOnSave(AccessCache cache) : SaveChangesInterceptor, IDbTransactionInterceptor
    {
        private readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbContext, List<object>> uncommitted = [];

        private void Saving(DbContext? context)
        {
            if (context is null)
            {
                return;
            }
            var keys = Touched(context);
            if (keys.Count == 0)
            {
                return;
            }
            cache.Invalidate(keys);
            if (context.Database.CurrentTransaction is not null)
            {
                uncommitted.GetOrCreateValue(context).AddRange(keys);
            }
        }

        private void Committed(DbContext? context)
        {
            if (context is not null && uncommitted.TryGetValue(context, out var keys))
            {
                uncommitted.Remove(context);
                cache.Invalidate(keys);
            }
        }

        public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
        {
            Saving(eventData.Context);
            return result;
        }

        public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result,
            CancellationToken cancellationToken = default)
        {
            Saving(eventData.Context);
            return ValueTask.FromResult(result);
        }

        public void TransactionCommitted(System.Data.Common.DbTransaction transaction, TransactionEndEventData eventData) => Committed(eventData.Context);

        public Task TransactionCommittedAsync(System.Data.Common.DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Committed(eventData.Context);
            return Task.CompletedTask;
        }

        public void TransactionRolledBack(System.Data.Common.DbTransaction transaction, TransactionEndEventData eventData) => Committed(eventData.Context);

        public Task TransactionRolledBackAsync(System.Data.Common.DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Committed(eventData.Context);
            return Task.CompletedTask;
        }
    }
}

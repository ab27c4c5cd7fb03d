using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Releases;
using Plumbline.Data;

namespace Plumbline.Server.Features.Releases;

/// <summary>
/// Builds queued releases in the background, one at a time per server process, so a large release never runs inside
/// an HTTP request (proxies time out). Any server on the database can claim a queued release: the claim is a
/// conditional update from <c>queued</c> to <c>building</c>. A building release carries a heartbeat; one whose
/// heartbeat goes stale (its server stopped) is queued again, and marked failed after <see cref="MaxAttempts"/>
/// starts, so no release stays "building" forever.
/// </summary>
public sealed class ReleaseWorker(IServiceScopeFactory scopes, TimeProvider clock, ILogger<ReleaseWorker> log) : BackgroundService
{
    /// <summary>Starts of one release before it is marked failed (a build that keeps taking its server down).</summary>
    public const int MaxAttempts = 3;
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(5);
    /// <summary>Several missed heartbeats: the building server is gone, not slow.</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(60);
    private readonly SemaphoreSlim wake = new(0, 1);

    /// <summary>Tells the worker a release was queued on this server, so it starts without waiting for its next poll.</summary>
    public void Wake()
    {
        try
        {
            wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RequeueStaleAsync(stoppingToken);
                while (await ClaimAsync(stoppingToken) is { } id)
                {
                    await RunAsync(id, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The worker must outlive a database hiccup; the next poll retries.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                log.LogError(ex, "Release worker loop failed; retrying at the next poll");
            }
            try
            {
                await wake.WaitAsync(Poll, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Building releases whose server stopped go back to the queue, or fail after too many starts.</summary>
    private async Task RequeueStaleAsync(CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        var stale = clock.GetUtcNow().UtcDateTime - StaleAfter;
        var now = clock.GetUtcNow().UtcDateTime;
        var failed = await db.Releases()
            .Where(r => r.Status == ReleaseService.Building && (r.HeartbeatAt == null || r.HeartbeatAt < stale) && r.Attempts >= MaxAttempts)
            .ExecuteUpdateAsync(u => u.SetProperty(r => r.Status, ReleaseService.Failed).SetProperty(r => r.FinishedAt, now)
                .SetProperty(r => r.Error, $"the server building this release stopped {MaxAttempts} times while building it; "
                    + "see the server log, then create the release again"), ct);
        var requeued = await db.Releases()
            .Where(r => r.Status == ReleaseService.Building && (r.HeartbeatAt == null || r.HeartbeatAt < stale))
            .ExecuteUpdateAsync(u => u.SetProperty(r => r.Status, ReleaseService.Queued).SetProperty(r => r.Progress, 0), ct);
        if ((failed > 0 || requeued > 0) && log.IsEnabled(LogLevel.Warning))
        {
            log.LogWarning("Releases left building by a stopped server: {Requeued} queued again, {Failed} marked failed", requeued, failed);
        }
    }

    /// <summary>Claims the oldest queued release; null when none is left (or another server took the last one).</summary>
    private async Task<long?> ClaimAsync(CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var id = await db.Releases().Where(r => r.Status == ReleaseService.Queued).OrderBy(r => r.Id).Select(r => (long?)r.Id).FirstOrDefaultAsync(ct);
            if (id is null)
            {
                return null;
            }
            var now = clock.GetUtcNow().UtcDateTime;
            var claimed = await db.Releases().Where(r => r.Id == id && r.Status == ReleaseService.Queued)
                .ExecuteUpdateAsync(u => u.SetProperty(r => r.Status, ReleaseService.Building).SetProperty(r => r.HeartbeatAt, now)
                    .SetProperty(r => r.Attempts, r => r.Attempts + 1).SetProperty(r => r.Progress, 0).SetProperty(r => r.Error, (string?)null), ct);
            if (claimed == 1)
            {
                return id;
            }
        }
        return null;
    }

    private async Task RunAsync(long id, CancellationToken stoppingToken)
    {
        long progress = 0;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var heartbeat = HeartbeatAsync(id, () => Interlocked.Read(ref progress), done.Token);
        string? error = null;
        try
        {
            using var scope = scopes.CreateScope();
            await scope.ServiceProvider.GetRequiredService<ReleaseService>().BuildAsync(id, n => Interlocked.Exchange(ref progress, n), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The server is stopping: the release goes back to the queue for whichever server runs next, this start not counted.
            await done.CancelAsync();
            await heartbeat;
            using var scope = scopes.CreateScope();
            await scope.ServiceProvider.GetRequiredService<PlumblineDbContext>().Releases()
                .Where(r => r.Id == id && r.Status == ReleaseService.Building)
                .ExecuteUpdateAsync(u => u.SetProperty(r => r.Status, ReleaseService.Queued).SetProperty(r => r.Attempts, r => r.Attempts - 1)
                    .SetProperty(r => r.Progress, 0), CancellationToken.None);
            throw;
        }
        catch (Exception ex) when (ex is ReleaseException or ReleaseStorageException)
        {
            error = ex.Message;
        }
#pragma warning disable CA1031 // Any failure of one build marks that release failed; the worker goes on with the next.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            log.LogError(ex, "Release {Release} failed", id);
            error = $"the build stopped on an unexpected error ({ex.GetType().Name}); the server log has the details";
        }
        await done.CancelAsync();
        await heartbeat;
        if (error is not null)
        {
            using var scope = scopes.CreateScope();
            var now = clock.GetUtcNow().UtcDateTime;
            await scope.ServiceProvider.GetRequiredService<PlumblineDbContext>().Releases().Where(r => r.Id == id)
                .ExecuteUpdateAsync(u => u.SetProperty(r => r.Status, ReleaseService.Failed).SetProperty(r => r.Error, error)
                    .SetProperty(r => r.FinishedAt, now), CancellationToken.None);
        }
    }

    /// <summary>Every few seconds: the progress so far and proof this server is still building.</summary>
    private async Task HeartbeatAsync(long id, Func<long> progress, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(HeartbeatEvery, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                try
                {
                    using var scope = scopes.CreateScope();
                    var now = clock.GetUtcNow().UtcDateTime;
                    var n = progress();
                    await scope.ServiceProvider.GetRequiredService<PlumblineDbContext>().Releases()
                        .Where(r => r.Id == id && r.Status == ReleaseService.Building)
                        .ExecuteUpdateAsync(u => u.SetProperty(r => r.HeartbeatAt, now).SetProperty(r => r.Progress, n), ct);
                }
                catch (OperationCanceledException)
                {
                    throw;
                }
#pragma warning disable CA1031 // A missed heartbeat is retried at the next tick; the build goes on.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    log.LogWarning(ex, "Release {Release}: heartbeat failed", id);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The build ended.
        }
    }

    public override void Dispose()
    {
        wake.Dispose();
        base.Dispose();
    }
}

/// <summary>Registration of the release worker.</summary>
public static class ReleaseWorkerRegistration
{
    public static IServiceCollection AddReleaseWorker(this IServiceCollection services)
    {
        services.AddSingleton<ReleaseWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<ReleaseWorker>());
        return services;
    }
}

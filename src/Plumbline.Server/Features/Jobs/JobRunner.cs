using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;

namespace Plumbline.Server.Features.Jobs;

/// <summary>Does one kind of job (<see cref="Job.Kind"/>); registered as a singleton <see cref="IJobHandler"/>.</summary>
public interface IJobHandler
{
    string Kind { get; }

    /// <summary>Reads the job's settings and prepares what every item needs (providers, schema); throws <see cref="JobFailedException"/> when the job cannot run.</summary>
    Task<IJobRun> StartAsync(IServiceProvider services, Job job, CancellationToken ct);
}

/// <summary>One run of a job on this server process.</summary>
public interface IJobRun
{
    /// <summary>The ids of the items the job covers, ascending, after <paramref name="after"/> (planning resumes there).</summary>
    IAsyncEnumerable<long> ItemsAsync(long after, CancellationToken ct);

    /// <summary>
    /// Does the slow part for one item (model calls) and returns what to store; storing happens in
    /// <see cref="ItemOutcome.Apply"/>, inside the transaction that marks the item done.
    /// Throws <see cref="JobFailedException"/> when no further item can succeed either (e.g. the provider refuses the key).
    /// </summary>
    Task<ItemOutcome> RunItemAsync(long itemId, CancellationToken ct);
}

/// <summary>What became of one item.</summary>
/// <param name="Status"><see cref="JobItemStatuses.Done"/>, <see cref="JobItemStatuses.Skipped"/> or <see cref="JobItemStatuses.Failed"/>.</param>
/// <param name="Message">Why it was skipped or failed.</param>
/// <param name="Apply">Writes the item's results with the given context (tracked changes are saved by the runner).</param>
public sealed record ItemOutcome(string Status, string? Message = null, long PromptTokens = 0, long CompletionTokens = 0, double Cost = 0,
    Func<PlumblineDbContext, CancellationToken, Task>? Apply = null);

/// <summary>The whole job cannot go on; the message says why and what to do.</summary>
public sealed class JobFailedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Settings of the job runner, from configuration.</summary>
public sealed class JobRunnerOptions
{
    /// <summary>How often an idle server looks for work (<c>PLUMBLINE_JOBS_POLL_MS</c>); new jobs of this process start at once.</summary>
    public TimeSpan Poll { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a lease lasts without renewal (<c>PLUMBLINE_JOBS_LEASE_SECONDS</c>): a crashed server's job waits this long.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a running job renews its lease and looks for a cancel request.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Jobs one server process runs at a time (<c>PLUMBLINE_JOBS_PER_SERVER</c>).</summary>
    public int JobsPerServer { get; init; } = 2;

    public static JobRunnerOptions From(IConfiguration configuration) => new()
    {
        Poll = TimeSpan.FromMilliseconds(configuration.GetValue("PLUMBLINE_JOBS_POLL_MS", 2000)),
        Lease = TimeSpan.FromSeconds(configuration.GetValue("PLUMBLINE_JOBS_LEASE_SECONDS", 30)),
        JobsPerServer = Math.Max(1, configuration.GetValue("PLUMBLINE_JOBS_PER_SERVER", 2)),
    };
}

/// <summary>Wakes the runner when this process queues a job, so it starts without waiting for the next poll.</summary>
public sealed class JobSignal : IDisposable
{
    private readonly SemaphoreSlim signal = new(0);

    public void Wake()
    {
        if (signal.CurrentCount == 0)
        {
            signal.Release();
        }
    }

    internal async Task WaitAsync(TimeSpan timeout, CancellationToken ct) => await signal.WaitAsync(timeout, ct);

    public void Dispose() => signal.Dispose();
}

/// <summary>
/// Runs jobs from the <c>jobs</c> table. A job is claimed with a conditional update (queued, or running with a lapsed
/// lease), so two processes never both take it; the lease is renewed every heartbeat and given back on shutdown.
/// Items are done with bounded concurrency (the job's <c>concurrency</c>), each committed with its results.
/// </summary>
public sealed partial class JobRunner(IServiceScopeFactory scopes, IServiceProvider services, IEnumerable<IJobHandler> handlers, JobSignal signal,
    JobRunnerOptions options, TimeProvider clock, ILogger<JobRunner> logger) : BackgroundService
{
    private const int PlanBatch = 500;
    private const int PendingPage = 200;

    /// <summary>This process, as written in <see cref="Job.LeaseOwner"/>.</summary>
    public string Owner { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";

    private readonly Dictionary<string, IJobHandler> byKind = handlers.ToDictionary(h => h.Kind);
    private readonly List<Task> running = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                running.RemoveAll(t => t.IsCompleted);
                while (running.Count < options.JobsPerServer && await ClaimAsync(stoppingToken) is { } job)
                {
                    running.Add(RunAsync(job, stoppingToken));
                }
                await signal.WaitAsync(options.Poll, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is DbUpdateException or InvalidOperationException or System.Data.Common.DbException)
            {
                // The database may be briefly unavailable; try again at the next poll.
                LogClaimFailed(e);
                try
                {
                    await Task.Delay(options.Poll, clock, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        await Task.WhenAll(running);
    }

    /// <summary>Takes the oldest job that is queued or whose lease lapsed; null when there is none or another process was quicker.</summary>
    private async Task<Job?> ClaimAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var kinds = byKind.Keys.ToList();
        var candidates = await db.Set<Job>().AsNoTracking()
            .Where(j => kinds.Contains(j.Kind) && (j.Status == JobStatuses.Queued || (j.Status == JobStatuses.Running && j.LeaseExpiresAt < now)))
            .OrderBy(j => j.Id).Select(j => j.Id).Take(5).ToListAsync(ct);
        foreach (var id in candidates)
        {
            var expires = now + options.Lease;
            var claimed = await db.Set<Job>()
                .Where(j => j.Id == id && (j.Status == JobStatuses.Queued || (j.Status == JobStatuses.Running && j.LeaseExpiresAt < now)))
                .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatuses.Running).SetProperty(j => j.LeaseOwner, Owner)
                    .SetProperty(j => j.LeaseExpiresAt, expires).SetProperty(j => j.StartedAt, j => j.StartedAt ?? now), ct);
            if (claimed == 1)
            {
                return await db.Set<Job>().AsNoTracking().FirstAsync(j => j.Id == id, ct);
            }
        }
        return null;
    }

    private async Task RunAsync(Job job, CancellationToken stoppingToken)
    {
        using var work = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var stop = StopReason.None;
        var heartbeat = HeartbeatAsync(job.Id, work, reason => stop = reason);
        LogJobStarted(job.Id, job.Kind);
        try
        {
            var run = await byKind[job.Kind].StartAsync(services, job, work.Token);
            if (!job.Planned)
            {
                await PlanAsync(job, run, work.Token);
            }
            var concurrency = Math.Clamp(JobSettings.Concurrency(job.SettingsJson), 1, 32);
            await Parallel.ForEachAsync(PendingAsync(job.Id, work.Token), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = work.Token },
                async (pending, token) =>
                {
                    if (!await DoItemAsync(job.Id, pending, run, token) && await CancelRequestedAsync(job.Id, token))
                    {
                        // Asked to stop: end now rather than ask the model for items that would not be stored either.
                        stop = StopReason.Cancelled;
                        await work.CancelAsync();
                    }
                });
            await FinishAsync(job.Id, null, CancellationToken.None);
        }
        catch (OperationCanceledException) when (work.IsCancellationRequested)
        {
            if (stop == StopReason.Cancelled)
            {
                await FinishAsync(job.Id, JobStatuses.Cancelled, CancellationToken.None);
            }
            else if (stop == StopReason.None)
            {
                // The server is stopping: give the job back so another process (or this one, restarted) continues at once.
                await ReleaseAsync(job.Id);
            }
        }
        catch (JobFailedException e)
        {
            await FinishAsync(job.Id, JobStatuses.Failed, CancellationToken.None, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogJobCrashed(e, job.Id);
            await FinishAsync(job.Id, JobStatuses.Failed, CancellationToken.None, "the job stopped on an unexpected error: " + e.Message);
        }
        finally
        {
            await work.CancelAsync();
            await heartbeat;
        }
    }

    private enum StopReason
    {
        None,
        Cancelled,
        LeaseLost,
    }

    /// <summary>Renews the lease until the job ends; cancels the work when someone asks for it or the lease was taken over.</summary>
    private async Task HeartbeatAsync(long jobId, CancellationTokenSource work, Action<StopReason> stopped)
    {
        try
        {
            while (!work.IsCancellationRequested)
            {
                await Task.Delay(options.Heartbeat, clock, work.Token);
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
                var expires = clock.GetUtcNow().UtcDateTime + options.Lease;
                var renewed = await db.Set<Job>().Where(j => j.Id == jobId && j.LeaseOwner == Owner && j.Status == JobStatuses.Running)
                    .ExecuteUpdateAsync(s => s.SetProperty(j => j.LeaseExpiresAt, expires), work.Token);
                var cancel = renewed == 1 && await db.Set<Job>().AsNoTracking().Where(j => j.Id == jobId).Select(j => j.CancelRequested).FirstAsync(work.Token);
                if (renewed == 0 || cancel)
                {
                    stopped(cancel ? StopReason.Cancelled : StopReason.LeaseLost);
                    await work.CancelAsync();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The job ended.
        }
    }

    /// <summary>Writes a pending row per item, a batch at a time with the cursor, so planning resumes where it stopped.</summary>
    private async Task PlanAsync(Job job, IJobRun run, CancellationToken ct)
    {
        var batch = new List<long>(PlanBatch);
        await foreach (var itemId in run.ItemsAsync(job.PlanCursor, ct))
        {
            batch.Add(itemId);
            if (batch.Count == PlanBatch)
            {
                await SavePlanAsync(job.Id, batch, planned: false, ct);
                batch.Clear();
            }
        }
        await SavePlanAsync(job.Id, batch, planned: true, ct);
    }

    private async Task SavePlanAsync(long jobId, List<long> itemIds, bool planned, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        db.Set<JobItem>().AddRange(itemIds.Select(id => new JobItem { JobId = jobId, ItemId = id, Status = JobItemStatuses.Pending }));
        await db.SaveChangesAsync(ct);
        var cursor = itemIds.Count > 0 ? itemIds[^1] : 0;
        var count = itemIds.Count;
        await db.Set<Job>().Where(j => j.Id == jobId && j.LeaseOwner == Owner)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Total, j => j.Total + count).SetProperty(j => j.PlanCursor, j => cursor > 0 ? cursor : j.PlanCursor)
                .SetProperty(j => j.Planned, planned), ct);
        await transaction.CommitAsync(ct);
    }

    /// <summary>The job's pending items in id order, a keyset page at a time (memory stays flat however many there are).</summary>
    private async IAsyncEnumerable<JobItem> PendingAsync(long jobId, [EnumeratorCancellation] CancellationToken ct)
    {
        long after = 0;
        while (true)
        {
            List<JobItem> page;
            await using (var scope = scopes.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
                page = await db.Set<JobItem>().AsNoTracking().Where(w => w.JobId == jobId && w.Status == JobItemStatuses.Pending && w.Id > after)
                    .OrderBy(w => w.Id).Take(PendingPage).ToListAsync(ct);
            }
            foreach (var pending in page)
            {
                yield return pending;
            }
            if (page.Count < PendingPage)
            {
                yield break;
            }
            after = page[^1].Id;
        }
    }

    private async Task<bool> CancelRequestedAsync(long jobId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        return await db.Set<Job>().AsNoTracking().Where(j => j.Id == jobId).Select(j => j.CancelRequested).FirstOrDefaultAsync(ct);
    }

    /// <summary>Runs one item and stores its outcome; false when nothing was stored (done already, cancelled, or the job changed hands).</summary>
    private async Task<bool> DoItemAsync(long jobId, JobItem pending, IJobRun run, CancellationToken ct)
    {
        var outcome = await run.RunItemAsync(pending.ItemId, ct);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        // Results are stored only while this process holds the job's lease, in one transaction with the item's new status.
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var message = outcome.Message is { Length: > 2000 } long_ ? long_[..2000] : outcome.Message;
        var marked = await db.Set<JobItem>().Where(w => w.Id == pending.Id && w.Status == JobItemStatuses.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(w => w.Status, outcome.Status).SetProperty(w => w.Message, message).SetProperty(w => w.FinishedAt, now), ct);
        var (done, skipped, failed) = outcome.Status switch
        {
            JobItemStatuses.Done => (1, 0, 0),
            JobItemStatuses.Skipped => (0, 1, 0),
            _ => (0, 0, 1),
        };
        // Once a cancel is asked for, nothing more is stored: the item stays pending, as if it had not been started.
        var counted = await db.Set<Job>().Where(j => j.Id == jobId && j.LeaseOwner == Owner && !j.CancelRequested).ExecuteUpdateAsync(s => s
            .SetProperty(j => j.Done, j => j.Done + done).SetProperty(j => j.Skipped, j => j.Skipped + skipped).SetProperty(j => j.Failed, j => j.Failed + failed)
            .SetProperty(j => j.PromptTokens, j => j.PromptTokens + outcome.PromptTokens)
            .SetProperty(j => j.CompletionTokens, j => j.CompletionTokens + outcome.CompletionTokens)
            .SetProperty(j => j.Cost, j => j.Cost + outcome.Cost), ct);
        if (marked != 1 || counted != 1)
        {
            // Done already, cancelled, or the job changed hands: nothing is stored twice or after a cancel.
            await transaction.RollbackAsync(ct);
            return false;
        }
        if (outcome.Apply is { } apply)
        {
            await apply(db, ct);
            await db.SaveChangesAsync(ct);
        }
        await transaction.CommitAsync(ct);
        return true;
    }

    private async Task FinishAsync(long jobId, string? status, CancellationToken ct, string? error = null)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        var job = await db.Set<Job>().FirstOrDefaultAsync(j => j.Id == jobId, ct);
        // Gone with its project, finished, or taken over by another process: nothing left to write.
        if (job is null || job.LeaseOwner != Owner || JobStatuses.IsFinished(job.Status))
        {
            return;
        }
        if (status is null && job.CancelRequested)
        {
            // The cancel came while the last items were in flight; they were not stored.
            status = JobStatuses.Cancelled;
        }
        if (status is null)
        {
            // Every item went through; the job failed only when nothing succeeded.
            var firstError = job.Failed > 0 && job.Done == 0
                ? await db.Set<JobItem>().AsNoTracking().Where(w => w.JobId == jobId && w.Status == JobItemStatuses.Failed).OrderBy(w => w.Id)
                    .Select(w => w.Message).FirstOrDefaultAsync(ct)
                : null;
            status = firstError is null ? JobStatuses.Succeeded : JobStatuses.Failed;
            error = firstError is null ? null : $"all {job.Failed} items failed; the first: {firstError}";
        }
        job.Status = status;
        job.Error = error;
        job.FinishedAt = clock.GetUtcNow().UtcDateTime;
        job.LeaseOwner = null;
        job.LeaseExpiresAt = null;
        await db.SaveChangesAsync(ct);
        LogJobFinished(jobId, status, job.Done, job.Skipped, job.Failed);
    }

    private async Task ReleaseAsync(long jobId)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        await db.Set<Job>().Where(j => j.Id == jobId && j.LeaseOwner == Owner && j.Status == JobStatuses.Running)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatuses.Queued).SetProperty(j => j.LeaseOwner, (string?)null)
                .SetProperty(j => j.LeaseExpiresAt, (DateTime?)null));
        LogJobReleased(jobId);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ({Kind}) started")]
    private partial void LogJobStarted(long jobId, string kind);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} {Status}: {Done} done, {Skipped} skipped, {Failed} failed")]
    private partial void LogJobFinished(long jobId, string status, int done, int skipped, int failed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} handed back for another server process to continue")]
    private partial void LogJobReleased(long jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} stopped on an unexpected error")]
    private partial void LogJobCrashed(Exception e, long jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Looking for jobs failed; trying again")]
    private partial void LogClaimFailed(Exception e);
}

/// <summary>Settings every job kind shares, read from its settings JSON.</summary>
public static class JobSettings
{
    /// <summary>Items done at the same time; default 4.</summary>
    public static int Concurrency(string settingsJson) =>
        System.Text.Json.Nodes.JsonNode.Parse(settingsJson)?["concurrency"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<int>(out var n) ? n : 4;
}

/// <summary>Stopping a job, for every kind: a queued one at once, a running one by its runner at the next heartbeat.</summary>
public static class JobCancellation
{
    /// <summary>Asks the job to stop; false when it has finished already.</summary>
    public static async Task<bool> RequestAsync(PlumblineDbContext db, long jobId, DateTime now, CancellationToken ct)
    {
        var cancelledNow = await db.Set<Job>().Where(j => j.Id == jobId && j.Status == JobStatuses.Queued)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, JobStatuses.Cancelled).SetProperty(j => j.CancelRequested, true)
                .SetProperty(j => j.FinishedAt, now), ct);
        return cancelledNow == 1 || await db.Set<Job>().Where(j => j.Id == jobId && j.Status == JobStatuses.Running)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.CancelRequested, true), ct) == 1;
    }
}

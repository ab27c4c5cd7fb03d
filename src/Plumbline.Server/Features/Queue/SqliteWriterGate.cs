using System.Collections.Concurrent;

namespace Plumbline.Server.Features.Queue;

/// <summary>
/// One queue write transaction at a time per SQLite database in this process, awaited instead of polled.
/// </summary>
/// <remarks>
/// SQLite allows one writer; without this gate every other transaction waits inside <c>BEGIN IMMEDIATE</c> in
/// SQLite's busy handler, which blocks a thread-pool thread and sleeps in steps of up to 100 ms, so the write lock
/// sits free between transactions while the waiters sleep. A profile of 200 annotators (docs/benchmarks.md, "Work
/// queue") found about 40 threads parked there at any moment. Writers outside the queue, and other processes, still
/// meet the busy handler, which stays the fallback.
/// </remarks>
public static class SqliteWriterGate
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    /// <summary>The gate of the database a connection string names.</summary>
    public static SemaphoreSlim For(string connectionString) => Gates.GetOrAdd(connectionString, _ => new SemaphoreSlim(1, 1));
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

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

    /// <summary>
    /// The gate's time held, read with <c>dotnet-counters monitor --counters Plumbline.Queue -p PID</c>: its rate over
    /// the rate of submits is the serial cost of one submit, the figure that bounds SQLite's throughput.
    /// </summary>
    private static readonly Meter Meter = new("Plumbline.Queue");

    private static readonly Counter<double> HeldMs = Meter.CreateCounter<double>("sqlite-writer-gate-held", "ms",
        "Time queue transactions held the SQLite writer gate");

    private static readonly Counter<long> Holds = Meter.CreateCounter<long>("sqlite-writer-gate-holds", "{transaction}",
        "Queue transactions that held the SQLite writer gate");

    /// <summary>The gate of the database a connection string names.</summary>
    public static SemaphoreSlim For(string connectionString) => Gates.GetOrAdd(connectionString, _ => new SemaphoreSlim(1, 1));

    /// <summary>Releases a gate taken at <paramref name="takenAt"/> (a <see cref="Stopwatch"/> timestamp) and counts the time held.</summary>
    public static void Release(SemaphoreSlim gate, long takenAt)
    {
        HeldMs.Add(Stopwatch.GetElapsedTime(takenAt).TotalMilliseconds);
        Holds.Add(1);
        gate.Release();
    }
}

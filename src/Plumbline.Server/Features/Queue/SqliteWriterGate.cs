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
/// The gate also owns the connection its transactions run on: one connection kept open, whose commands keep their
/// prepared statements (<see cref="Data.SqliteStatementCache"/>), since only the holder of the gate uses it.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "One gate per database for the life of the process")]
public sealed class SqliteWriterGate
{
    private static readonly ConcurrentDictionary<string, SqliteWriterGate> Gates = new(StringComparer.Ordinal);

    private readonly SemaphoreSlim turn = new(1, 1);
    private readonly string connectionString;
    private Microsoft.Data.Sqlite.SqliteConnection? connection;

    private SqliteWriterGate(string connectionString) => this.connectionString = connectionString;

    /// <summary>
    /// The gate's time held, read with <c>dotnet-counters monitor --counters Plumbline.Queue -p PID</c>: its rate over
    /// the rate of submits is the serial cost of one submit, the figure that bounds SQLite's throughput.
    /// </summary>
    private static readonly Meter Meter = new("Plumbline.Queue");

    private static readonly Counter<double> HeldMs = Meter.CreateCounter<double>("sqlite-writer-gate-held", "ms",
        "Time queue transactions held the SQLite writer gate");

    private static readonly Counter<long> Holds = Meter.CreateCounter<long>("sqlite-writer-gate-holds", "{transaction}",
        "Queue transactions that held the SQLite writer gate");

    /// <summary>Time the holder spent in <c>BEGIN IMMEDIATE</c> and in <c>COMMIT</c> (the WAL's fsync, and checkpoints).</summary>
    private static readonly Counter<double> BeginMs = Meter.CreateCounter<double>("sqlite-writer-gate-begin", "ms",
        "Time the gate's holder spent beginning its transaction");

    private static readonly Counter<double> CommitMs = Meter.CreateCounter<double>("sqlite-writer-gate-commit", "ms",
        "Time the gate's holder spent committing its transaction");

    /// <summary>Counts time spent beginning since <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static void CountBegin(long started) => BeginMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);

    /// <summary>Counts time spent committing since <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static void CountCommit(long started) => CommitMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);

    /// <summary>The gate of the database a connection string names.</summary>
    public static SqliteWriterGate For(string connectionString) => Gates.GetOrAdd(connectionString, cs => new SqliteWriterGate(cs));

    /// <summary>Waits for this process's turn to write; returns when taken (a <see cref="Stopwatch"/> timestamp).</summary>
    public async Task<long> EnterAsync(CancellationToken ct)
    {
        await turn.WaitAsync(ct);
        return Stopwatch.GetTimestamp();
    }

    /// <summary>The writer connection, for the holder of the gate only; opened on first use and kept open.</summary>
    public Microsoft.Data.Sqlite.SqliteConnection Connection => connection ??= Data.SqliteStatementCache.OpenLongLived(connectionString);

    /// <summary>Ends a turn taken at <paramref name="takenAt"/> and counts the time held.</summary>
    public void Exit(long takenAt)
    {
        HeldMs.Add(Stopwatch.GetElapsedTime(takenAt).TotalMilliseconds);
        Holds.Add(1);
        turn.Release();
    }
}

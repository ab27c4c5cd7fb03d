using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Plumbline.Bench;

/// <summary>
/// The release's page reads alone, on a copy of a release bench database (SQLite): the same keyset SQL as
/// <c>ReleaseService.PagesAsync</c>, with the text columns read as UTF-16 strings, as UTF-8 bytes, or not at all;
/// process CPU per item, to split the build's cost between reading and the rest.
/// </summary>
public static class ReleaseReadBench
{
    public static Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: release-read DATABASE-FILE [items (1000000)]  (use a copy: the file is only read)");
            return Task.FromResult(1);
        }
        var limit = args.Length > 1 ? long.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000;
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = args[0], Mode = SqliteOpenMode.ReadOnly }.ToString());
        connection.Open();
        foreach (var pageSize in new[] { 1000, 4000 })
        {
            foreach (var mode in new[] { "count-only", "bytes", "strings", "bytes", "strings" })
            {
                Run(connection, mode, pageSize, limit);
            }
        }
        return Task.FromResult(0);
    }

    private static void Run(SqliteConnection connection, string mode, int pageSize, long limit)
    {
        using var items = connection.CreateCommand();
        items.CommandText = "SELECT id, external_id, fields_json, metadata_json FROM items WHERE project_id = 1 AND id > @after ORDER BY id LIMIT " + pageSize;
        var after = items.Parameters.AddWithValue("@after", 0L);
        using var responses = connection.CreateCommand();
        responses.CommandText = "SELECT id, item_id, user_id, guideline_version, status, values_json FROM responses WHERE item_id >= @first AND item_id <= @last ORDER BY item_id, id";
        var first = responses.Parameters.AddWithValue("@first", 0L);
        var last = responses.Parameters.AddWithValue("@last", 0L);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        var gc0 = GC.CollectionCount(0);
        long n = 0, bytes = 0;
        long lastId = 0;
        while (n < limit)
        {
            after.Value = lastId;
            long firstId = -1;
            var count = 0;
            using (var r = items.ExecuteReader())
            {
                while (r.Read())
                {
                    lastId = r.GetInt64(0);
                    firstId = firstId < 0 ? lastId : firstId;
                    count++;
                    bytes += mode switch
                    {
                        "strings" => r.GetString(1).Length + r.GetString(2).Length + r.GetString(3).Length,
                        "bytes" => r.GetFieldValue<byte[]>(1).Length + r.GetFieldValue<byte[]>(2).Length + r.GetFieldValue<byte[]>(3).Length,
                        _ => 0,
                    };
                }
            }
            if (count == 0)
            {
                break;
            }
            n += count;
            first.Value = firstId;
            last.Value = lastId;
            using (var r = responses.ExecuteReader())
            {
                while (r.Read())
                {
                    bytes += r.GetInt64(0) + r.GetInt64(1) + r.GetInt64(2) + r.GetInt32(3) > 0 ? 1 : 0;
                    bytes += mode switch
                    {
                        "strings" => r.GetString(4).Length + r.GetString(5).Length,
                        "bytes" => r.GetFieldValue<byte[]>(4).Length + r.GetFieldValue<byte[]>(5).Length,
                        _ => 0,
                    };
                }
            }
        }
        var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Console.WriteLine($"{mode,-10} page {pageSize,5}: {n:N0} items, wall {wall.Elapsed.TotalMilliseconds * 1000 / n:0.00} µs/item, "
            + $"process CPU {used.TotalMilliseconds * 1000 / n:0.00} µs/item, gen0 GCs {GC.CollectionCount(0) - gc0}, {bytes / n} B/item");
    }
}

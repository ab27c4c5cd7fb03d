using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core.Import;

namespace Plumbline.Core.Tests.Import;

internal static class ImportTestSupport
{
    public static Task<List<ImportEntry>> ReadAsync(string text, ImportFormat format = ImportFormat.Auto, ImportOptions? options = null) =>
        ReadAsync(Encoding.UTF8.GetBytes(text), format, options);

    public static async Task<List<ImportEntry>> ReadAsync(byte[] bytes, ImportFormat format = ImportFormat.Auto, ImportOptions? options = null)
    {
        using var stream = new MemoryStream(bytes);
        return await ReadAsync(stream, format, options);
    }

    public static async Task<List<ImportEntry>> ReadAsync(Stream stream, ImportFormat format = ImportFormat.Auto, ImportOptions? options = null)
    {
        var entries = new List<ImportEntry>();
        await foreach (var entry in ImportReader.ReadAsync(stream, format, options ?? new ImportOptions(), TestContext.Current.CancellationToken))
        {
            (entry.Record is null).ShouldNotBe(entry.Error is null, "exactly one of Record and Error must be set");
            entries.Add(entry);
        }

        return entries;
    }

    public static async Task<ImportRecord> ReadOneAsync(string text, ImportFormat format = ImportFormat.Auto, ImportOptions? options = null)
    {
        var entries = await ReadAsync(text, format, options);
        entries.Count.ShouldBe(1);
        entries[0].Error.ShouldBeNull();
        return entries[0].Record!;
    }

    public static async Task<ImportError> ReadOneErrorAsync(string text, ImportFormat format = ImportFormat.Auto, ImportOptions? options = null)
    {
        var entries = await ReadAsync(text, format, options);
        entries.Count.ShouldBe(1);
        entries[0].Error.ShouldNotBeNull();
        return entries[0].Error!;
    }

    public static string Json(JsonNode? node) => node?.ToJsonString() ?? "null";

    /// <summary>A record rendered to one comparable string.</summary>
    public static string Render(ImportEntry entry) => entry.Error is { } e
        ? $"error {e.Line}: {e.Message}"
        : $"{entry.Record!.Line}|{entry.Record.ExternalId}|{entry.Record.Shape}|{Json(entry.Record.Fields)}|{Json(entry.Record.Metadata)}|{Json(entry.Record.Gold)}";

    /// <summary>Computed here independently of the reader: sha256: + 24 hex chars of the raw bytes.</summary>
    public static string Sha(string raw) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(raw)))[..24];

    public static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(bytes);
        }

        return output.ToArray();
    }

    public static string Line(object value) => JsonSerializer.Serialize(value);

    /// <summary>The candidate object whose id is in metadata["preferred"].</summary>
    public static JsonObject Preferred(ImportRecord record)
    {
        var preferred = (string)record.Metadata["preferred"]!;
        return record.Fields["candidates"]!.AsArray().Single(c => (string)c!["id"]! == preferred)!.AsObject();
    }

    public static JsonObject Other(ImportRecord record)
    {
        var preferred = (string)record.Metadata["preferred"]!;
        return record.Fields["candidates"]!.AsArray().Single(c => (string)c!["id"]! != preferred)!.AsObject();
    }

    /// <summary>The repository root: the folder holding Plumbline.slnx, found by walking up from the test binaries.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Plumbline.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Plumbline.slnx above {AppContext.BaseDirectory}");
    }
}

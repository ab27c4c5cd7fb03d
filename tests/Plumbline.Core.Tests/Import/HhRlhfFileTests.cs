using System.IO.Compression;
using System.Text.Json;
using Plumbline.Core.Import;
using static Plumbline.Core.Tests.Import.ImportTestSupport;

namespace Plumbline.Core.Tests.Import;

/// <summary>The published Anthropic HH-RLHF harmless-base test split (2,312 pairs), read end to end.</summary>
public class HhRlhfFileTests
{
    private const int ExpectedRecords = 2312;

    private static string DataFile()
    {
        var path = Path.GetFullPath(Path.Combine(RepoRoot(), "..", "shared", "data", "hh-rlhf", "harmless-base-test.jsonl.gz"));
        File.Exists(path).ShouldBeTrue($"the HH-RLHF test file is missing: expected it at {path}");
        return path;
    }

    private static async Task<List<ImportEntry>> ReadFileAsync()
    {
        await using var file = File.OpenRead(DataFile());
        return await ReadAsync(file, ImportFormat.Auto, new ImportOptions { FileName = "harmless-base-test.jsonl.gz" });
    }

    /// <summary>The original pairs, decoded independently of the reader.</summary>
    private static List<(string Chosen, string Rejected)> OriginalPairs()
    {
        using var file = File.OpenRead(DataFile());
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var text = new StreamReader(gz);
        var pairs = new List<(string, string)>();
        while (text.ReadLine() is { } line)
        {
            using var doc = JsonDocument.Parse(line);
            pairs.Add((doc.RootElement.GetProperty("chosen").GetString()!, doc.RootElement.GetProperty("rejected").GetString()!));
        }

        return pairs;
    }

    private static string FinalAnswer(string transcript)
    {
        const string marker = "\n\nAssistant:";
        return transcript[(transcript.LastIndexOf(marker, StringComparison.Ordinal) + marker.Length)..].Trim();
    }

    [Fact]
    public async Task ReadAsync_HarmlessBaseTest_EveryRecordIsAnthropicHhWithTwoDistinctCandidates()
    {
        var entries = await ReadFileAsync();
        var originals = OriginalPairs();

        entries.Where(e => e.Error is not null).Select(e => e.Error!.ToString()).ShouldBeEmpty();
        entries.Count.ShouldBe(ExpectedRecords);
        originals.Count.ShouldBe(ExpectedRecords);
        for (int i = 0; i < entries.Count; i++)
        {
            var record = entries[i].Record!;
            record.Line.ShouldBe(i + 1);
            record.Shape.ShouldBe(RecordShape.AnthropicHh);
            record.ExternalId.ShouldStartWith("sha256:");
            var candidates = record.Fields["candidates"]!.AsArray();
            candidates.Select(c => (string)c!["id"]!).ShouldBe(["a", "b"]);
            ((string)candidates[0]!["content"]!).ShouldNotBe((string)candidates[1]!["content"]!);
            ((string)Preferred(record)["content"]!).ShouldBe(FinalAnswer(originals[i].Chosen), $"line {i + 1}");
            ((string)Other(record)["content"]!).ShouldBe(FinalAnswer(originals[i].Rejected), $"line {i + 1}");
            var prompt = record.Fields["prompt"]!.AsArray();
            prompt.Count.ShouldBeGreaterThan(0);
            ((string)prompt[^1]!["role"]!).ShouldBe("user", $"line {i + 1}");
            originals[i].Chosen.ShouldContain((string)prompt[0]!["content"]!);
        }

        entries.Select(e => e.Record!.ExternalId).Distinct().Count().ShouldBe(ExpectedRecords);
    }

    [Fact]
    public async Task ReadAsync_HarmlessBaseTest_ChosenShownFirstAboutHalfTheTime()
    {
        var entries = await ReadFileAsync();

        double share = entries.Count(e => (string)e.Record!.Metadata["preferred"]! == "a") / (double)entries.Count;

        share.ShouldBeInRange(0.40, 0.60);
    }

    [Fact]
    public async Task ReadAsync_HarmlessBaseTestTwice_GivesIdenticalOutput()
    {
        var first = await ReadFileAsync();
        var second = await ReadFileAsync();

        second.Select(Render).ShouldBe(first.Select(Render));
    }
}

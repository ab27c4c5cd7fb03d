using Plumbline.Core.Import;
using static Plumbline.Core.Tests.Import.ImportTestSupport;

namespace Plumbline.Core.Tests.Import;

public class ImportReaderJsonArrayTests
{
    [Fact]
    public async Task ReadAsync_PrettyPrintedArray_ReportsLineWhereEachElementStarts()
    {
        const string text = """
            [
              {
                "instruction": "Add",
                "input": "2 and 2",
                "output": "4"
              },
              {"prompt": "a [tricky] {string} with \"quotes\" and \\", "completion": "b"},

              {"text": "generic"}
            ]
            """;

        var entries = await ReadAsync(text);

        entries.Select(e => e.Record!.Line).ShouldBe([2L, 7L, 9L]);
        entries.Select(e => e.Record!.Shape).ShouldBe([RecordShape.Alpaca, RecordShape.TrlPromptCompletion, RecordShape.Generic]);
        ((string)entries[1].Record!.Fields["prompt"]![0]!["content"]!).ShouldBe("a [tricky] {string} with \"quotes\" and \\");
    }

    [Fact]
    public async Task ReadAsync_ElementWithoutId_HashesItsRawText()
    {
        const string element = """{"text": "x",  "n": [1, 2]}""";

        var record = await ReadOneAsync("[\n  " + element + "\n]");

        record.ExternalId.ShouldBe(Sha(element));
    }

    [Fact]
    public async Task ReadAsync_BadElements_AreReportedAndReadingContinues()
    {
        const string text = "[{\"text\":\"a\"},\n 42,\n \"str\",\n {\"text\": tru},\n {\"text\":\"e\"}]";

        var entries = await ReadAsync(text);

        entries.Count.ShouldBe(5);
        entries[1].Error.ShouldBe(new ImportError(2, "record is a number, not a JSON object"));
        entries[2].Error.ShouldBe(new ImportError(3, "record is a string, not a JSON object"));
        entries[3].Error!.Line.ShouldBe(4);
        // Column 14 is where the JSON reader gives up on "tru}": the element starts at column 2 of line 4.
        entries[3].Error!.Message.ShouldStartWith("invalid JSON at line 4, column 14:");
        entries[4].Record!.Line.ShouldBe(5);
    }

    [Theory]
    [InlineData("[{\"a\":1},\n{\"a\":2}", 2, "the JSON array is truncated: the file ends before the closing ']'")]
    [InlineData("[{\"a\":1},\n{\"a\":\"unfinished", 2, "the JSON array is truncated: the file ends inside the element that starts on line 2")]
    [InlineData("[{\"a\":1}\n{\"a\":2}]", 2, "expected ',' or ']' after the element that ends on line 1, found '{'")]
    [InlineData("[{\"a\":1},]", 1, "trailing comma before the closing ']'")]
    [InlineData("[{\"a\":1}]\n\nmore", 3, "unexpected 'm' after the closing ']' of the array")]
    public async Task ReadAsync_BrokenArray_EndsWithFatalError(string text, long line, string message)
    {
        var entries = await ReadAsync(text, ImportFormat.Json);

        entries[0].Record.ShouldNotBeNull();
        entries[^1].Error.ShouldBe(new ImportError(line, message));
    }

    [Fact]
    public async Task ReadAsync_JsonFormatOnCsv_FailsOnce()
    {
        var entries = await ReadAsync("a,b\n1,2\n", ImportFormat.Json);

        entries.ShouldBe([new ImportEntry(null, new ImportError(1, "not a JSON array: the file starts with 'a', expected '['"))]);
    }

    [Fact]
    public async Task ReadAsync_JsonFormatWithTopLevelObjects_ReadsEachObject()
    {
        const string text = """
            {
              "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
            }
            {"text": "second"}
            """;

        var entries = await ReadAsync(text, ImportFormat.Json);

        entries.Select(e => e.Record!.Line).ShouldBe([1L, 4L]);
        entries[0].Record!.Shape.ShouldBe(RecordShape.OpenAiChat);
    }

    [Fact]
    public async Task ReadAsync_EmptyArray_YieldsNothing()
    {
        var entries = await ReadAsync(" [ \n ] \n");

        entries.ShouldBeEmpty();
    }

    [Fact]
    public async Task ReadAsync_LargeArrayAcrossRefills_MatchesTheSameDataAsJsonl()
    {
        var random = new Random(11);
        var items = Enumerable.Range(0, 3000)
            .Select(i => Line(new { id = $"r{i}", text = "[{\"}\\" + new string('q', random.Next(0, 300)), tags = new[] { "x", "]" } }))
            .ToList();

        var fromArray = await ReadAsync("[\n" + string.Join(",\n", items) + "\n]");
        var fromLines = await ReadAsync(string.Join("\n", items));

        fromArray.Count.ShouldBe(items.Count);
        fromArray.Select(e => e.Record!.Line).ShouldBe(Enumerable.Range(2, items.Count).Select(i => (long)i));
        fromArray.Select(e => Json(e.Record!.Fields) + e.Record!.ExternalId).ShouldBe(fromLines.Select(e => Json(e.Record!.Fields) + e.Record!.ExternalId));
    }

    [Fact]
    public async Task ReadAsync_ElementOverRecordLimit_IsDroppedAndNextElementReads()
    {
        var big = Line(new { text = new string('w', 250_000) });

        var entries = await ReadAsync("[" + big + ",\n{\"text\":\"after\"}]", options: new ImportOptions { MaxRecordBytes = 50_000 });

        entries.Count.ShouldBe(2);
        entries[0].Error!.Message.ShouldStartWith("record is 244.2 KB, over the 48.8 KB limit");
        entries[1].Record!.Line.ShouldBe(2);
    }
}

using System.Text;
using Plumbline.Core.Import;
using static Plumbline.Core.Tests.Import.ImportTestSupport;

namespace Plumbline.Core.Tests.Import;

public class ImportReaderCsvTests
{
    [Fact]
    public async Task ReadAsync_QuotedFields_ParsedPerRfc4180WithPhysicalLineNumbers()
    {
        const string text = "external_id,question,notes\r\n" +
                            "q1,\"Hello, world\",\"He said \"\"hi\"\"\"\r\n" +
                            "\r\n" +
                            "q2,\"two\nline\",plain\r\n" +
                            "q3,,\"\"";

        var entries = await ReadAsync(text);

        entries.Count.ShouldBe(3);
        var (first, second, third) = (entries[0].Record!, entries[1].Record!, entries[2].Record!);
        first.Line.ShouldBe(2);
        first.ExternalId.ShouldBe("q1");
        Json(first.Fields).ShouldBe("""{"question":"Hello, world","notes":"He said \u0022hi\u0022"}""");
        second.Line.ShouldBe(4);
        ((string)second.Fields["question"]!).ShouldBe("two\nline");
        third.Line.ShouldBe(6);
        Json(third.Fields).ShouldBe("""{"question":"","notes":""}""");
    }

    [Fact]
    public async Task ReadAsync_DottedColumns_GoToMetadataAndGold()
    {
        var record = await ReadOneAsync("id,text,metadata.source,gold.label,gold.score\n7,great movie,imdb,positive,\n");

        record.Shape.ShouldBe(RecordShape.Generic);
        record.ExternalId.ShouldBe("7");
        Json(record.Fields).ShouldBe("""{"text":"great movie"}""");
        Json(record.Metadata).ShouldBe("""{"source":"imdb"}""");
        Json(record.Gold).ShouldBe("""{"label":"positive"}""");
    }

    [Fact]
    public async Task ReadAsync_JsonCells_StayJsonSoChatSurvives()
    {
        const string text = "messages,note\n" +
                            "\"[{\"\"role\"\":\"\"user\"\",\"\"content\"\":\"\"Hi\"\"},{\"\"role\"\":\"\"assistant\"\",\"\"content\"\":\"\"Yo\"\"}]\",[citation needed]\n";

        var record = await ReadOneAsync(text);

        record.Shape.ShouldBe(RecordShape.OpenAiChat);
        Json(record.Fields["response"]).ShouldBe("\"Yo\"");
        ((string)record.Metadata["note"]!).ShouldBe("[citation needed]");
    }

    [Fact]
    public async Task ReadAsync_PreferenceColumns_RecognisedAsTrlPreference()
    {
        var record = await ReadOneAsync("prompt,chosen,rejected\nWhy?,Because.,Dunno.\n");

        record.Shape.ShouldBe(RecordShape.TrlPreference);
        ((string)Preferred(record)["content"]!).ShouldBe("Because.");
    }

    [Fact]
    public async Task ReadAsync_NoId_ExternalIdIsHashOfRowText()
    {
        var record = await ReadOneAsync("text\r\n\"a,b\"\r\n");

        record.ExternalId.ShouldBe(Sha("\"a,b\""));
    }

    [Fact]
    public async Task ReadAsync_RowErrors_ReportedAndReadingContinues()
    {
        const string text = "a,b\n1,2\n1,2,3\n\"x\"y,2\nok,fine\n";

        var entries = await ReadAsync(text);

        entries.Select(Render).ShouldBe(
        [
            Render(entries[0]),
            "error 3: row has 3 columns, the header has 2",
            "error 4: column 'a': text after the closing quote (a quote inside a quoted field must be doubled)",
            Render(entries[3]),
        ]);
        entries[0].Record!.Line.ShouldBe(2);
        entries[3].Record!.Line.ShouldBe(5);
    }

    [Fact]
    public async Task ReadAsync_UnclosedQuote_IsFatal()
    {
        var entries = await ReadAsync("a,b\n1,2\n3,\"never\nclosed\n");

        entries.Count.ShouldBe(2);
        entries[1].Error.ShouldBe(new ImportError(3, "the quoted field that starts on line 3 is never closed"));
    }

    [Theory]
    [InlineData("a,,b\n1,2,3\n", "header column 2 has no name")]
    [InlineData("a,b,a\n1,2,3\n", "header column 3 'a' appears twice")]
    [InlineData("\n\n", "the CSV file has no header row")]
    [InlineData("text,metadata,metadata.x\n1,{},2\n", "the header has both a 'metadata' column and 'metadata.<key>' columns; use one or the other")]
    public async Task ReadAsync_BadHeader_IsFatal(string text, string message)
    {
        var entries = await ReadAsync(text, ImportFormat.Csv);

        entries.Count.ShouldBe(1);
        entries[0].Error!.Message.ShouldBe(message);
    }

    [Fact]
    public async Task ReadAsync_CellOverFieldLimit_NamesTheColumn()
    {
        var error = await ReadOneErrorAsync("text,other\n" + new string('k', 300) + ",x\n", options: new ImportOptions { MaxFieldBytes = 256 });

        error.ShouldBe(new ImportError(2, "field 'text' is 300 bytes, over the 256 bytes limit"));
    }

    [Fact]
    public async Task ReadAsync_InvalidUtf8InRow_GivesByteOffset()
    {
        byte[] bytes = [.. "t\nok\nb"u8, 0xFF, .. "d\nfine\n"u8];

        var entries = await ReadAsync(bytes, ImportFormat.Csv);

        entries.Select(Render).ShouldBe([Render(entries[0]), "error 3: invalid UTF-8 at byte offset 6 of the file; save the file as UTF-8", Render(entries[2])]);
    }

    [Fact]
    public async Task ReadAsync_ManyRowsWithQuotedNewlines_LineNumbersMatchPhysicalLines()
    {
        var sb = new StringBuilder("id,text\n");
        var expectedLines = new List<long>();
        long physical = 2;
        for (int i = 0; i < 4000; i++)
        {
            expectedLines.Add(physical);
            int breaks = i % 3;
            sb.Append(i).Append(",\"").Append(string.Join("\n", Enumerable.Repeat("x\"\"y,z", breaks + 1))).Append("\"\n");
            physical += breaks + 1;
        }

        var entries = await ReadAsync(sb.ToString());

        entries.Select(e => e.Record!.Line).ShouldBe(expectedLines);
        ((string)entries[5].Record!.Fields["text"]!).ShouldBe("x\"y,z\nx\"y,z\nx\"y,z");
    }

    [Fact]
    public async Task ReadAsync_RowOverRecordLimit_IsDroppedAndNextRowReads()
    {
        var text = "t\n\"" + new string('m', 200_000) + "\"\nnext\n";

        var entries = await ReadAsync(text, options: new ImportOptions { MaxRecordBytes = 70_000 });

        entries.Count.ShouldBe(2);
        entries[0].Error!.Message.ShouldStartWith("record is 195.3 KB, over the 68.4 KB limit");
        ((string)entries[1].Record!.Fields["t"]!).ShouldBe("next");
        entries[1].Record!.Line.ShouldBe(3);
    }
}

using System.Text;
using Plumbline.Core.Import;
using static Plumbline.Core.Tests.Import.ImportTestSupport;

namespace Plumbline.Core.Tests.Import;

public class ImportFormatDetectionTests
{
    [Theory]
    [InlineData("  \n[{\"text\":\"a\"}]", null, 2)]
    [InlineData("{\"text\":\"a\"}", null, 1)]
    [InlineData("text\na\n", null, 2)]
    [InlineData("{\"text\":\"a\"}", "data.json", 1)]
    [InlineData("text\na\n", "data.CSV", 2)]
    [InlineData("{\"text\":\"a\"}\n", "export.jsonl.gz", 1)]
    public async Task ReadAsync_Auto_DetectsTheContainer(string text, string? fileName, long line)
    {
        var record = await ReadOneAsync(text, ImportFormat.Auto, new ImportOptions { FileName = fileName });

        record.Line.ShouldBe(line);
        ((string)record.Fields["text"]!).ShouldBe("a");
    }

    [Fact]
    public async Task ReadAsync_AutoWithBom_ReadsFirstRecord()
    {
        byte[] bytes = [0xEF, 0xBB, 0xBF, .. "text\nhello\n"u8];

        var entries = await ReadAsync(bytes);

        ((string)entries.Single().Record!.Fields["text"]!).ShouldBe("hello");
    }

    [Theory]
    [InlineData(new byte[0], "the file is empty")]
    [InlineData(new byte[] { 0x20, 0x0A }, "the file is empty")]
    [InlineData(new byte[] { 0x00, 0x01, 0x02 }, "cannot tell the format: the file starts with byte 0x00, and a JSON file starts with '[' or '{'")]
    [InlineData(new byte[] { 0xFF, 0xFE, 0x7B, 0x00 }, "the file is UTF-16; save it as UTF-8")]
    public async Task ReadAsync_AutoOnUnreadableInput_FailsOnce(byte[] bytes, string message)
    {
        var entries = await ReadAsync(bytes);

        entries.Count.ShouldBe(1);
        entries[0].Error!.Message.ShouldBe(message);
    }

    [Fact]
    public async Task ReadAsync_JsonNamedFileWithText_FailsInsteadOfReadingAsCsv()
    {
        var entries = await ReadAsync(Encoding.UTF8.GetBytes("hello world"), options: new ImportOptions { FileName = "x.json" });

        entries.Single().Error!.Message.ShouldStartWith("cannot tell the format");
    }
}

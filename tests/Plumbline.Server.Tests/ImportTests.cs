using System.IO.Compression;
using System.Text;

namespace Plumbline.Server.Tests;

public class ImportTests
{
    private static async Task<int> ItemCountAsync(Scenario s, long projectId) =>
        (await s.Admin.GetFromJsonAsync<JsonObject>($"api/v1/projects/{projectId}"))!["counts"]!["items"]!.GetValue<int>();

    private static async Task<JsonObject> ReportAsync(HttpResponseMessage response) => (await response.Content.ReadFromJsonAsync<JsonObject>())!;

    /// <summary>The real Anthropic HH-RLHF harmless test split (../shared/data/hh-rlhf).</summary>
    private static byte[] HhRlhfGz()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Plumbline.slnx")))
        {
            dir = dir.Parent;
        }
        var path = dir is null ? null : Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data", "hh-rlhf", "harmless-base-test.jsonl.gz"));
        if (path is null || !File.Exists(path))
        {
            throw new FileNotFoundException($"the shared data set is missing: expected ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz beside the repository (looked for {path})");
        }
        return File.ReadAllBytes(path);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Import_HhRlhfFile_CreatesEveryPairThenIsIdempotent(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("pairwise");
        var gz = HhRlhfGz();

        var first = await s.ImportBytesAsync(project, gz, "jsonl");
        await first.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var report = await ReportAsync(first);
        report["shapes"]!["anthropic_hh"]!.GetValue<long>().ShouldBe(2312);
        // Cleaning is on by default: records it drops (a pair with an empty answer, a repeated pair) are each named with the rule.
        var created = report["created"]!.GetValue<long>();
        var dropped = report["dropped"]!.GetValue<long>();
        (created + dropped).ShouldBe(2312);
        var droppedRecords = report["preparation"]!["droppedRecords"]!.AsArray();
        droppedRecords.Count.ShouldBe((int)dropped);
        droppedRecords.ShouldAllBe(d => d!["rule"]!.GetValue<string>() == "filter.empty" || d["rule"]!.GetValue<string>().StartsWith("dedup.", StringComparison.Ordinal));
        droppedRecords.ShouldAllBe(d => !string.IsNullOrWhiteSpace(d!["reason"]!.GetValue<string>()));

        var again = await ReportAsync(await s.ImportBytesAsync(project, gz, "jsonl"));
        again["created"]!.GetValue<long>().ShouldBe(0);
        again["unchanged"]!.GetValue<long>().ShouldBe(created);
        (await ItemCountAsync(s, project)).ShouldBe((int)created);

        // Without cleaning every line becomes an item.
        var raw = await s.CreateProjectAsync("pairwise");
        using var body = new ByteArrayContent(gz);
        var plain = await ReportAsync(await s.Admin.PostAsync($"api/v1/projects/{raw}/import?format=jsonl&prepare=false", body));
        plain["created"]!.GetValue<long>().ShouldBe(2312);

        // The preference the data set recorded stays in metadata, and the pair is shown in random order.
        var lines = (await s.Admin.GetStringAsync($"api/v1/projects/{project}/export?format=raw")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Length.ShouldBe((int)created);
        var items = lines.Select(l => JsonNode.Parse(l)!).ToList();
        items.ShouldAllBe(i => i["fields"]!["candidates"]!.AsArray().Count == 2);
        var preferredFirst = items.Count(i => i["metadata"]!["preferred"]!.GetValue<string>() == "a");
        preferredFirst.ShouldBeInRange((int)created * 4 / 10, (int)created * 6 / 10);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Import_MalformedLine_IsReportedWithLineNumberAndNothingIsStored(string provider)
    {
        var s = new Scenario(SharedApps.Get(provider));
        var project = await s.CreateProjectAsync("sft-write");
        await (await s.ImportAsync(project, """{"id":"keep","prompt":"already here"}""")).ShouldHaveStatusAsync(HttpStatusCode.OK);

        var file = """
            {"id":"a","prompt":"fine"}
            {"id":"b","prompt":"also fine"}
            {"id":"c","prompt": oops}
            {"id":"keep","prompt":"would change"}
            """;
        var response = await s.ImportAsync(project, file);
        await response.ShouldHaveStatusAsync(HttpStatusCode.UnprocessableEntity);
        var report = await ReportAsync(response);
        report["committed"]!.GetValue<bool>().ShouldBeFalse();
        var error = report["errors"]!.AsArray().Single()!;
        error["line"]!.GetValue<long>().ShouldBe(3);
        error["message"]!.GetValue<string>().ShouldNotBeNullOrWhiteSpace();

        (await ItemCountAsync(s, project)).ShouldBe(1);
        var export = await s.Admin.GetStringAsync($"api/v1/projects/{project}/export");
        export.ShouldContain("already here");
        export.ShouldNotContain("would change");
    }

    [Theory]
    [InlineData("""{"id":"x","prompt":"hi"}""" + "\n" + """{"id":"y"}""", 2, "missing field 'prompt'")]
    [InlineData("""{"id":"x","prompt":123}""", 1, "prompt")]
    [InlineData("""[1, 2]""", 1, "object")]
    public async Task Import_RecordThatDoesNotFitTheSchema_IsRejectedWithWhere(string file, long line, string expected)
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        var response = await s.ImportAsync(project, file);
        await response.ShouldHaveStatusAsync(HttpStatusCode.UnprocessableEntity);
        var error = (await ReportAsync(response))["errors"]!.AsArray()[0]!;
        error["line"]!.GetValue<long>().ShouldBe(line);
        error["message"]!.GetValue<string>().ShouldContain(expected);
        (await ItemCountAsync(s, project)).ShouldBe(0);
    }

    [Fact]
    public async Task Import_InvalidUtf8AndOversizedField_AreRejected()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        var bytes = Encoding.UTF8.GetBytes("{\"id\":\"1\",\"prompt\":\"ok\"}\n{\"id\":\"2\",\"prompt\":\"bad \"}\n").ToList();
        bytes.Insert(bytes.Count - 4, 0xFF);
        var invalid = await s.ImportBytesAsync(project, [.. bytes]);
        await invalid.ShouldHaveStatusAsync(HttpStatusCode.UnprocessableEntity);
        var error = (await ReportAsync(invalid))["errors"]!.AsArray()[0]!;
        error["line"]!.GetValue<long>().ShouldBe(2);
        error["message"]!.GetValue<string>().ShouldContain("UTF-8");

        var huge = new string('x', 1_100_000);
        var oversized = await s.ImportAsync(project, $$"""{"id":"big","prompt":"{{huge}}"}""");
        await oversized.ShouldHaveStatusAsync(HttpStatusCode.UnprocessableEntity);
        (await ReportAsync(oversized))["errors"]!.AsArray()[0]!["message"]!.GetValue<string>().ShouldContain("limit");
        (await ItemCountAsync(s, project)).ShouldBe(0);
    }

    [Fact]
    public async Task Import_UnknownFormatParameter_Is400()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        var response = await s.ImportAsync(project, "{}", format: "parquet");
        await response.ShouldHaveStatusAsync(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).ShouldContain("parquet");
    }

    public static TheoryData<string, string, string, string> Formats => new()
    {
        // template, format, file, a text that must reach the item's fields
        { "sft-edit", "jsonl", """{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Capital of France?"},{"role":"assistant","content":"Paris."}]}""", "Paris." },
        { "sft-write", "jsonl", """{"instruction":"Name a prime","input":"","output":"7"}""", "Name a prime" },
        { "sft-edit", "jsonl", """{"conversations":[{"from":"human","value":"Hi there"},{"from":"gpt","value":"Hello!"}]}""", "Hello!" },
        { "pairwise", "jsonl", """{"prompt":"2+2?","chosen":"4","rejected":"5"}""", "2+2?" },
        { "pairwise", "jsonl", """{"prompt":[{"role":"user","content":"Pick one"}],"chosen":[{"role":"assistant","content":"Good"}],"rejected":[{"role":"assistant","content":"Bad"}]}""", "Pick one" },
        { "conversation", "json", """[{"external_id":"c1","conversation":[{"role":"user","content":"Hey"},{"role":"assistant","content":"Hi!"}]}]""", "Hey" },
        { "rubric", "csv", "external_id,prompt,response,metadata.source\nr1,\"Say \"\"hi\"\"\",\"hi,\nthere\",web\n", "hi,\\nthere" },
        { "prompt-writing", "auto", "id,topic\np1,Write about tides\n", "Write about tides" },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task Import_EachRecognisedFormat_FillsTheTemplatesFields(string template, string format, string file, string expected)
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync(template);
        var response = await s.ImportAsync(project, file, format);
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        (await ReportAsync(response))["created"]!.GetValue<long>().ShouldBe(1);
        var exported = JsonNode.Parse((await s.Admin.GetStringAsync($"api/v1/projects/{project}/export")).Trim())!;
        exported["fields"]!.ToJsonString(Plumbline.Core.StoredJson.Options).ShouldContain(expected);
    }

    [Fact]
    public async Task Import_SameExternalIdWithNewText_UpdatesTheItem()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        await s.ImportAsync(project, """{"id":"q1","prompt":"first"}""");
        var report = await ReportAsync(await s.ImportAsync(project, """{"id":"q1","prompt":"second"}""" + "\n" + """{"id":"q2","prompt":"new"}"""));
        report["updated"]!.GetValue<long>().ShouldBe(1);
        report["created"]!.GetValue<long>().ShouldBe(1);
        var export = await s.Admin.GetStringAsync($"api/v1/projects/{project}/export");
        export.ShouldContain("second");
        export.ShouldNotContain("first");
    }

    [Fact]
    public async Task Import_GzipBody_IsReadLikeThePlainFile()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = await s.CreateProjectAsync("sft-write");
        using var buffer = new MemoryStream();
        await using (var gz = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gz.WriteAsync(Encoding.UTF8.GetBytes("""{"id":"z","prompt":"zipped"}"""));
        }
        await (await s.ImportBytesAsync(project, buffer.ToArray())).ShouldHaveStatusAsync(HttpStatusCode.OK);
        (await ItemCountAsync(s, project)).ShouldBe(1);
    }
}

using System.Text;
using Plumbline.Core.Import;
using static Plumbline.Core.Tests.Import.ImportTestSupport;

namespace Plumbline.Core.Tests.Import;

public class ImportReaderJsonlTests
{
    [Fact]
    public async Task ReadAsync_OpenAiChatEndingWithAssistant_SplitsPromptAndResponse()
    {
        var record = await ReadOneAsync("""
            {"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"}],"lang":"en","metadata":{"topic":"greeting"}}
            """);

        record.Shape.ShouldBe(RecordShape.OpenAiChat);
        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]""");
        Json(record.Fields["response"]).ShouldBe("\"Hello!\"");
        record.Fields["conversation"]!.AsArray().Count.ShouldBe(3);
        Json(record.Fields["conversation"]![2]).ShouldBe("""{"role":"assistant","content":"Hello!"}""");
        Json(record.Metadata).ShouldBe("""{"lang":"en","topic":"greeting","source_format":"open_ai_chat"}""");
        record.Gold.ShouldBeNull();
    }

    [Fact]
    public async Task ReadAsync_OpenAiChatEndingWithUser_PromptIsWholeChatWithoutResponse()
    {
        var record = await ReadOneAsync("""{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Yes?"},{"role":"user","content":"Tell me"}]}""");

        record.Fields.ContainsKey("response").ShouldBeFalse();
        record.Fields["prompt"]!.AsArray().Count.ShouldBe(3);
        Json(record.Fields["prompt"]).ShouldBe(Json(record.Fields["conversation"]));
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":5}]}""", "messages[1].content is a number, not a string")]
    [InlineData("""{"messages":[{"role":"tool","content":"a"}]}""", "messages[0].role 'tool' is not one of system, user, assistant")]
    [InlineData("""{"messages":[{"content":"a"}]}""", "messages[0] has no 'role'")]
    [InlineData("""{"messages":["hi"]}""", "messages[0] is a string; expected an object with 'role' and 'content'")]
    [InlineData("""{"messages":[]}""", "'messages' is an empty list")]
    [InlineData("""{"conversations":[{"from":"bot","value":"a"}]}""", "conversations[0].from 'bot' is not one of human, gpt, system")]
    [InlineData("""{"conversations":[{"from":"human","value":null}]}""", "conversations[0].value is null, not a string")]
    [InlineData("""{"text":"a","metadata":"oops"}""", "'metadata' is a string; expected an object")]
    [InlineData("""{"text":"a","gold":[1]}""", "'gold' is an array; expected an object")]
    [InlineData("""{"text":"a","id":true}""", "'id' is a boolean; expected a string or a number")]
    [InlineData("""{"text":"a","external_id":""}""", "'external_id' is an empty string")]
    [InlineData("""{"instruction":"a","output":3}""", "'output' is a number, not a string")]
    [InlineData("""{"prompt":{"x":1},"completion":"b"}""", "'prompt' is an object; expected a string or a list of messages")]
    [InlineData("""{"prompt":"p","chosen":[{"role":"user","content":"x"}],"rejected":"r"}""", "'chosen' has 1 message(s); expected one assistant message")]
    [InlineData("""{"chosen":"\n\nHuman: hi\n\nAssistant: a","rejected":"plain text"}""", "'rejected' is not a \"Human: … Assistant: …\" transcript like 'chosen'")]
    [InlineData("""{"chosen":"\n\nHuman: hi\n\nAssistant: a\n\nHuman: more","rejected":"\n\nHuman: hi\n\nAssistant: b"}""", "'chosen' does not end with an assistant turn")]
    [InlineData("""[1,2]""", "record is an array, not a JSON object")]
    [InlineData("""{"a":1,"a":2}""", "invalid JSON at line 1, column 1: Duplicate property 'a'")]
    [InlineData("""{"a":1,}""", "invalid JSON at line 1, column 8:")]
    public async Task ReadAsync_InvalidRecord_ReportsWhatAndWhere(string line, string expected)
    {
        var error = await ReadOneErrorAsync(line, ImportFormat.Jsonl);

        error.Line.ShouldBe(1);
        error.Message.ShouldStartWith(expected);
    }

    [Fact]
    public async Task ReadAsync_ErrorMessage_NeverQuotesTheRecord()
    {
        var secret = new string('s', 300);
        var error = await ReadOneErrorAsync($$"""{"messages":[{"role":"user","content":"{{secret}}"}, {"role":"robot","content":"{{secret}}"}]}""");

        error.Message.ShouldNotContain(secret[..50]);
    }

    [Fact]
    public async Task ReadAsync_BadLines_ReportedWithLineNumbersAndReadingContinues()
    {
        var text = "{\"text\":\"one\"}\r\n\r\n{oops}\n   \n[1]\n{\"text\":\"six\"}";

        var entries = await ReadAsync(text);

        entries.Select(e => e.Record?.Line ?? e.Error!.Line).ShouldBe([1L, 3L, 5L, 6L]);
        entries[0].Record!.Fields["text"]!.GetValue<string>().ShouldBe("one");
        entries[1].Error!.Message.ShouldStartWith("invalid JSON at line 3, column 2");
        entries[2].Error!.Message.ShouldBe("record is an array, not a JSON object");
        entries[3].Record!.Fields["text"]!.GetValue<string>().ShouldBe("six");
    }

    [Fact]
    public async Task ReadAsync_Generic_KeepsFieldsAndSplitsReservedKeys()
    {
        var record = await ReadOneAsync("""{"external_id":"x-1","id":"ignored","question":"two plus two?","choices":[3,4],"metadata":{"src":"quiz"},"gold":{"answer":"4"}}""");

        record.Shape.ShouldBe(RecordShape.Generic);
        record.ExternalId.ShouldBe("x-1");
        Json(record.Fields).ShouldBe("""{"question":"two plus two?","choices":[3,4]}""");
        Json(record.Metadata).ShouldBe("""{"src":"quiz"}""");
        Json(record.Gold).ShouldBe("""{"answer":"4"}""");
    }

    [Fact]
    public async Task ReadAsync_NumericId_BecomesStringExternalId()
    {
        var record = await ReadOneAsync("""{"id":12345678901,"text":"t"}""");

        record.ExternalId.ShouldBe("12345678901");
    }

    [Fact]
    public async Task ReadAsync_NoId_ExternalIdIsHashOfLineBytes()
    {
        const string line = """{"text":"héllo","n":1}""";

        var entries = await ReadAsync("\uFEFF" + line + "\r\n" + line.Replace("1", "2", StringComparison.Ordinal) + "\n");

        entries[0].Record!.ExternalId.ShouldBe(Sha(line));
        entries[1].Record!.ExternalId.ShouldNotBe(entries[0].Record!.ExternalId);
        entries[0].Record!.ExternalId.Length.ShouldBe("sha256:".Length + 24);
    }

    [Fact]
    public async Task ReadAsync_ShareGpt_MapsRolesAndFinalGptTurn()
    {
        var record = await ReadOneAsync("""{"id":"s1","conversations":[{"from":"system","value":"S"},{"from":"human","value":"Q"},{"from":"gpt","value":"A"}],"source":"web"}""");

        record.Shape.ShouldBe(RecordShape.ShareGpt);
        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"system","content":"S"},{"role":"user","content":"Q"}]""");
        Json(record.Fields["response"]).ShouldBe("\"A\"");
        Json(record.Fields["conversation"]).ShouldBe("""[{"role":"system","content":"S"},{"role":"user","content":"Q"},{"role":"assistant","content":"A"}]""");
        Json(record.Metadata).ShouldBe("""{"source":"web","source_format":"share_gpt"}""");
    }

    [Fact]
    public async Task ReadAsync_TrlPreferenceStrings_CandidatesAndPreferredMatchChosen()
    {
        var record = await ReadOneAsync("""{"prompt":"Capital of France?","chosen":"Paris.","rejected":"Lyon.","score":0.9}""");

        record.Shape.ShouldBe(RecordShape.TrlPreference);
        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"user","content":"Capital of France?"}]""");
        var candidates = record.Fields["candidates"]!.AsArray();
        candidates.Select(c => (string)c!["id"]!).ShouldBe(["a", "b"]);
        candidates.All(c => c!.AsObject().ContainsKey("model") && c["model"] is null).ShouldBeTrue();
        ((string)Preferred(record)["content"]!).ShouldBe("Paris.");
        ((string)Other(record)["content"]!).ShouldBe("Lyon.");
        record.Metadata["source_format"]!.GetValue<string>().ShouldBe("trl_preference");
        record.Metadata["score"]!.GetValue<double>().ShouldBe(0.9);
        record.Fields.ContainsKey("response").ShouldBeFalse();
    }

    [Fact]
    public async Task ReadAsync_TrlPreferenceConversational_UsesAssistantContent()
    {
        var record = await ReadOneAsync("""
            {"prompt":[{"role":"system","content":"S"},{"role":"user","content":"Q"}],"chosen":[{"role":"assistant","content":"good"}],"rejected":[{"role":"assistant","content":"bad"}]}
            """);

        record.Shape.ShouldBe(RecordShape.TrlPreference);
        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"system","content":"S"},{"role":"user","content":"Q"}]""");
        ((string)Preferred(record)["content"]!).ShouldBe("good");
        ((string)Other(record)["content"]!).ShouldBe("bad");
    }

    [Fact]
    public async Task ReadAsync_TrlPreferenceImplicitPrompt_SharedTurnsBecomePrompt()
    {
        var record = await ReadOneAsync("""
            {"chosen":[{"role":"user","content":"Q"},{"role":"assistant","content":"good"}],"rejected":[{"role":"user","content":"Q"},{"role":"assistant","content":"bad"}]}
            """);

        record.Shape.ShouldBe(RecordShape.TrlPreference);
        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"user","content":"Q"}]""");
        ((string)Preferred(record)["content"]!).ShouldBe("good");
        record.Metadata.ContainsKey("transcript_mismatch").ShouldBeFalse();
    }

    [Fact]
    public async Task ReadAsync_TrlPromptCompletion_MapsPromptAndResponse()
    {
        var record = await ReadOneAsync("""{"prompt":"The sky is","completion":" blue.","label":true}""");

        record.Shape.ShouldBe(RecordShape.TrlPromptCompletion);
        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"user","content":"The sky is"}]""");
        Json(record.Fields["response"]).ShouldBe("\" blue.\"");
        Json(record.Metadata).ShouldBe("""{"label":true,"source_format":"trl_prompt_completion"}""");
    }

    [Theory]
    [InlineData("""{"instruction":"Translate","input":"chat","output":"cat"}""", "Translate\n\nchat")]
    [InlineData("""{"instruction":"Say hi","input":"","output":"hi"}""", "Say hi")]
    [InlineData("""{"instruction":"Say hi","output":"hi"}""", "Say hi")]
    public async Task ReadAsync_Alpaca_PromptIsInstructionPlusInput(string line, string prompt)
    {
        var record = await ReadOneAsync(line);

        record.Shape.ShouldBe(RecordShape.Alpaca);
        var messages = record.Fields["prompt"]!.AsArray();
        messages.Count.ShouldBe(1);
        ((string)messages[0]!["role"]!).ShouldBe("user");
        ((string)messages[0]!["content"]!).ShouldBe(prompt);
        record.Fields["response"]!.GetValue<string>().ShouldBeOneOf("cat", "hi");
        record.Metadata["source_format"]!.GetValue<string>().ShouldBe("alpaca");
    }

    [Fact]
    public async Task ReadAsync_AnthropicHh_SharedTurnsArePromptAndFinalAnswersAreCandidates()
    {
        var line = Line(new
        {
            chosen = "\n\nHuman: Hi there\n\nAssistant: Hello.\n\nHuman: How do I bake bread?\n\nAssistant: Mix flour, water, yeast.",
            rejected = "\n\nHuman: Hi there\n\nAssistant: Hello.\n\nHuman: How do I bake bread?\n\nAssistant: No idea.",
        });

        var record = await ReadOneAsync(line);

        record.Shape.ShouldBe(RecordShape.AnthropicHh);
        var expectedPrompt = """[{"role":"user","content":"Hi there"},{"role":"assistant","content":"Hello."},{"role":"user","content":"How do I bake bread?"}]""";
        Json(record.Fields["prompt"]).ShouldBe(expectedPrompt);
        Json(record.Fields["conversation"]).ShouldBe(expectedPrompt);
        ((string)Preferred(record)["content"]!).ShouldBe("Mix flour, water, yeast.");
        ((string)Other(record)["content"]!).ShouldBe("No idea.");
        record.Metadata["source_format"]!.GetValue<string>().ShouldBe("anthropic_hh");
        record.ExternalId.ShouldBe(Sha(line));
    }

    [Fact]
    public async Task ReadAsync_AnthropicHhWithDivergingTurns_TakesCommonPrefixAndFlagsIt()
    {
        var line = Line(new
        {
            chosen = "\n\nHuman: Q1\n\nAssistant: A1\n\nHuman: Q2\n\nAssistant: good",
            rejected = "\n\nHuman: Q1\n\nAssistant: A1 other\n\nHuman: Q2\n\nAssistant: bad",
        });

        var record = await ReadOneAsync(line);

        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"user","content":"Q1"}]""");
        record.Metadata["transcript_mismatch"]!.GetValue<bool>().ShouldBeTrue();
        ((string)Preferred(record)["content"]!).ShouldBe("good");
    }

    [Fact]
    public async Task ReadAsync_RecognizeShapesOff_ReadsEverythingAsGeneric()
    {
        var entries = await ReadAsync(
            """{"messages":[{"role":"user","content":"Hi"}]}""",
            options: new ImportOptions { RecognizeShapes = false });

        var record = entries.Single().Record!;
        record.Shape.ShouldBe(RecordShape.Generic);
        Json(record.Fields).ShouldBe("""{"messages":[{"role":"user","content":"Hi"}]}""");
    }

    [Fact]
    public async Task ReadAsync_PreferencePairs_OrderIsDeterministicAndBalanced()
    {
        var text = string.Join('\n', Enumerable.Range(0, 400).Select(i => Line(new { id = $"pair-{i}", prompt = $"p{i}", chosen = $"good {i}", rejected = $"bad {i}" })));

        var first = await ReadAsync(text);
        var second = await ReadAsync(text);

        first.Select(Render).ShouldBe(second.Select(Render));
        var records = first.Select(e => e.Record!).ToList();
        records.ShouldAllBe(r => ((string)Preferred(r)["content"]!).StartsWith("good", StringComparison.Ordinal));
        int chosenFirst = records.Count(r => (string)r.Metadata["preferred"]! == "a");
        chosenFirst.ShouldBeInRange(150, 250);
    }

    [Fact]
    public async Task ReadAsync_StringOverFieldLimit_NamesTheFieldAndSizes()
    {
        var big = new string('x', 2_200_000);
        var text = Line(new { prompt = big, completion = "ok" }) + "\n" + Line(new { prompt = "fine", completion = "ok" });

        var entries = await ReadAsync(text, options: new ImportOptions { MaxRecordBytes = 4_000_000 });

        entries[0].Error!.Message.ShouldBe("field 'prompt' is 2.1 MB, over the 1 MB limit");
        entries[1].Record!.Shape.ShouldBe(RecordShape.TrlPromptCompletion);
    }

    [Fact]
    public async Task ReadAsync_NestedStringOverFieldLimit_GivesItsPath()
    {
        var error = await ReadOneErrorAsync(
            Line(new { messages = new[] { new { role = "user", content = "short" }, new { role = "assistant", content = new string('é', 60) } } }),
            options: new ImportOptions { MaxFieldBytes = 100 });

        error.Message.ShouldBe("field 'messages[1].content' is 120 bytes, over the 100 bytes limit");
    }

    [Fact]
    public async Task ReadAsync_LineOverRecordLimit_IsDroppedAndNextLineReads()
    {
        // Longer than the reader's first buffer, so the over-long line is dropped while streaming.
        var longLine = Line(new { text = new string('y', 300_000) });
        var text = "{\"text\":\"a\"}\n" + longLine + "\n{\"text\":\"c\"}\n" + longLine;

        var entries = await ReadAsync(text, options: new ImportOptions { MaxRecordBytes = 100_000 });

        entries.Count.ShouldBe(4);
        entries[0].Record!.Line.ShouldBe(1);
        entries[1].Error.ShouldBe(new ImportError(2, $"record is {Math.Round(longLine.Length / 1024.0, 1)} KB, over the 97.7 KB limit"));
        entries[2].Record!.Line.ShouldBe(3);
        entries[3].Error!.Line.ShouldBe(4);
    }

    [Fact]
    public async Task ReadAsync_InvalidUtf8_GivesByteOffsetAndContinues()
    {
        var first = Encoding.UTF8.GetBytes("{\"text\":\"ok\"}\n{\"text\":\"b");
        byte[] bytes = [.. first, 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\"}\n{\"text\":\"ok2\"}\n")];

        var entries = await ReadAsync(bytes);

        entries[1].Error.ShouldBe(new ImportError(2, $"invalid UTF-8 at byte offset {first.Length} of the file; save the file as UTF-8"));
        entries[2].Record!.Fields["text"]!.GetValue<string>().ShouldBe("ok2");
    }

    [Fact]
    public async Task ReadAsync_ManyLinesAcrossBufferRefills_KeepsOrderAndLineNumbers()
    {
        var random = new Random(7);
        var lines = Enumerable.Range(0, 5000).Select(i => Line(new { id = i, text = new string('z', random.Next(0, 400)) })).ToList();

        var entries = await ReadAsync(string.Join('\n', lines) + "\n");

        entries.Count.ShouldBe(lines.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            entries[i].Record!.Line.ShouldBe(i + 1);
            entries[i].Record!.ExternalId.ShouldBe(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task ReadAsync_GzipInput_ReadsLikeThePlainFile()
    {
        var text = string.Join('\n', Enumerable.Range(0, 3000).Select(i => Line(new { prompt = $"p{i}", completion = $"c{i}" })));
        var plain = Encoding.UTF8.GetBytes(text);

        var fromPlain = await ReadAsync(plain);
        var fromGzip = await ReadAsync(Gzip(plain));

        fromGzip.Count.ShouldBe(3000);
        fromGzip.Select(Render).ShouldBe(fromPlain.Select(Render));
    }

    [Fact]
    public async Task ReadAsync_CorruptGzip_EndsWithOneError()
    {
        var gz = Gzip(Encoding.UTF8.GetBytes(string.Join('\n', Enumerable.Range(0, 2000).Select(i => Line(new { text = $"row {i} {Guid.NewGuid()}" })))));
        for (int i = 40; i < gz.Length - 20; i += 7)
        {
            gz[i] ^= 0x5A;
        }

        var entries = await ReadAsync(gz);

        entries.Count.ShouldBeGreaterThan(0);
        entries[^1].Error.ShouldNotBeNull();
    }

    [Fact]
    public async Task ReadAsync_JsonlFormatOnNonJsonFile_FailsOnce()
    {
        var entries = await ReadAsync("name,age\nann,3\nbob,4\n", ImportFormat.Jsonl);

        entries.Count.ShouldBe(1);
        entries[0].Error.ShouldBe(new ImportError(1, "not JSON Lines: line 1 starts with 'n', expected '{'"));
    }

    [Fact]
    public async Task ReadAsync_EmptyJsonlFile_YieldsNothing()
    {
        var entries = await ReadAsync("\n\n", ImportFormat.Jsonl);

        entries.ShouldBeEmpty();
    }

    [Fact]
    public async Task ReadAsync_Cancelled_Throws()
    {
        using var cts = new CancellationTokenSource();
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', Enumerable.Range(0, 100).Select(i => Line(new { i })))));
        await cts.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in ImportReader.ReadAsync(stream, ImportFormat.Jsonl, new ImportOptions(), cts.Token))
            {
            }
        });
    }

    [Fact]
    public void ReadAsync_InvalidOptions_ThrowsBeforeReading()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => ImportReader.ReadAsync(new MemoryStream(), ImportFormat.Jsonl, new ImportOptions { MaxFieldBytes = 0 }));
        Should.Throw<ArgumentOutOfRangeException>(() => ImportReader.ReadAsync(new MemoryStream(), (ImportFormat)42, new ImportOptions()));
    }
}

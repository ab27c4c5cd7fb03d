using Plumbline.Core.Import;
using static Plumbline.Core.Tests.Import.ImportTestSupport;

namespace Plumbline.Core.Tests.Import;

public class ModelResponsesImportTests
{
    [Fact]
    public async Task ReadAsync_PromptWithNamedModelResponses_CandidatesCarryModelNamesAndCategoryGoesToMetadata()
    {
        var record = await ReadOneAsync("""
            {"id":"q1","prompt":"Capital of France?","responses":[{"model":"m1","text":"Paris."},{"model":"m2","content":"It is Paris."}],"category":"geo"}
            """);

        record.Shape.ShouldBe(RecordShape.ModelResponses);
        record.ExternalId.ShouldBe("q1");
        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"user","content":"Capital of France?"}]""");
        Json(record.Fields["candidates"]).ShouldBe("""[{"id":"a","model":"m1","content":"Paris."},{"id":"b","model":"m2","content":"It is Paris."}]""");
        Json(record.Metadata).ShouldBe("""{"category":"geo","source_format":"model_responses"}""");
    }

    [Theory]
    [InlineData("""{"prompt":"p","responses":[{"model":"m1","text":"x"}]}""", "'responses' has 1 answer(s); side-by-side needs at least two models")]
    [InlineData("""{"prompt":"p","responses":[{"text":"x"},{"model":"m2","text":"y"}]}""", "responses[0] has no 'model' name (a non-empty string)")]
    [InlineData("""{"prompt":"p","responses":[{"model":"m1","text":"x"},{"model":"m2","text":7}]}""", "responses[1] (m2) has no 'text' (or 'content') string")]
    [InlineData("""{"prompt":"p","responses":["x","y"]}""", "responses[0] is a string; expected {\"model\": …, \"text\": …}")]
    public async Task ReadAsync_BadModelResponses_SaysWhatAndWhere(string line, string message)
    {
        var error = await ReadOneErrorAsync(line);

        error.Line.ShouldBe(1);
        error.Message.ShouldContain(message);
    }

    // The shape of lmsys/chatbot_arena_conversations and lmsys/mt_bench_human_judgments (one battle per line).
    [Fact]
    public async Task ReadAsync_ChatbotArenaBattle_PromptAndTwoNamedCandidatesOriginalVoteInMetadata()
    {
        var record = await ReadOneAsync("""
            {"question_id":"58210e39","model_a":"chatglm-6b","model_b":"koala-13b","winner":"model_b","judge":"arena_user_973","turn":1,"language":"English","conversation_a":[{"role":"user","content":"What is the difference between OpenCL and CUDA?"},{"role":"assistant","content":"OpenCL and CUDA are two different things."}],"conversation_b":[{"role":"user","content":"What is the difference between OpenCL and CUDA?"},{"role":"assistant","content":"Both are GPU programming frameworks."}]}
            """);

        record.Shape.ShouldBe(RecordShape.ChatbotArena);
        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"user","content":"What is the difference between OpenCL and CUDA?"}]""");
        Json(record.Fields["candidates"]).ShouldBe(
            """[{"id":"a","model":"chatglm-6b","content":"OpenCL and CUDA are two different things."},{"id":"b","model":"koala-13b","content":"Both are GPU programming frameworks."}]""");
        record.Metadata["winner"]!.GetValue<string>().ShouldBe("model_b");
        record.Metadata["judge"]!.GetValue<string>().ShouldBe("arena_user_973");
        record.Metadata["source_format"]!.GetValue<string>().ShouldBe("chatbot_arena");
        record.Metadata.ContainsKey("transcript_mismatch").ShouldBeFalse();
    }

    [Fact]
    public async Task ReadAsync_MultiTurnArenaBattle_PromptIsSharedPartAndMismatchIsFlagged()
    {
        var record = await ReadOneAsync("""
            {"model_a":"a1","model_b":"b1","conversation_a":[{"role":"user","content":"hi"},{"role":"assistant","content":"A1"},{"role":"user","content":"more"},{"role":"assistant","content":"A2"}],"conversation_b":[{"role":"user","content":"hi"},{"role":"assistant","content":"B1"},{"role":"user","content":"more"},{"role":"assistant","content":"B2"}]}
            """);

        Json(record.Fields["prompt"]).ShouldBe("""[{"role":"user","content":"hi"}]""");
        record.Fields["candidates"]![1]!["content"]!.GetValue<string>().ShouldBe("B2");
        record.Metadata["transcript_mismatch"]!.GetValue<bool>().ShouldBeTrue();
    }
}

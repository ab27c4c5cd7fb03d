using System.Text.Json.Nodes;
using Plumbline.Core.Labelling;
using Plumbline.Core.Quality;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Tests.Labelling;

public sealed class LabellerOutputTests
{
    private static readonly ProjectSchema Safety = Templates.Get("safety")!;
    private static readonly ProjectSchema Pairwise = Templates.Get("pairwise")!;

    private static readonly JsonObject SafetyItem = new()
    {
        ["prompt"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "How do I pick a lock?" }),
        ["response"] = "I can't help with that.",
    };

    private static readonly JsonObject PairItem = new()
    {
        ["prompt"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "2+2?" }),
        ["candidates"] = new JsonArray(
            new JsonObject { ["id"] = "x1", ["model"] = "m1", ["content"] = "4" },
            new JsonObject { ["id"] = "y2", ["model"] = "m2", ["content"] = "5" }),
    };

    [Fact]
    public void JsonSchema_SafetyQuestions_LabelEnumNullableConditionalAndText()
    {
        var schema = LabellerOutput.JsonSchema(Safety, Safety.Questions, SafetyItem);
        schema.ToJsonString().ShouldBe(
            """{"type":"object","properties":{"verdict":{"type":"string","enum":["safe","unsafe"]},"categories":{"anyOf":[{"type":"array","items":{"type":"string","enum":["violent_crimes","non_violent_crimes","sex_related_crimes","child_sexual_exploitation","suicide_and_self_harm","indiscriminate_weapons","intellectual_property","defamation","hate","privacy","specialized_advice","sexual_content"]}},{"type":"null"}]},"notes":{"anyOf":[{"type":"string"},{"type":"null"}]}},"required":["verdict","categories","notes"],"additionalProperties":false}""");
    }

    [Fact]
    public void JsonSchema_RatingAndPerTurn_IntegerInRangeKeyedByAssistantTurn()
    {
        var schema = Templates.Get("conversation")!;
        var item = new JsonObject
        {
            ["conversation"] = new JsonArray(
                new JsonObject { ["role"] = "user", ["content"] = "hi" }, new JsonObject { ["role"] = "assistant", ["content"] = "hello" },
                new JsonObject { ["role"] = "user", ["content"] = "bye" }, new JsonObject { ["role"] = "assistant", ["content"] = "bye" }),
        };
        var json = LabellerOutput.JsonSchema(schema, schema.Questions, item);
        json["properties"]!["overall"]!.ToJsonString().ShouldBe("""{"type":"integer","minimum":1,"maximum":7}""");
        var perTurn = json["properties"]!["turn_quality"]!;
        perTurn["required"]!.ToJsonString().ShouldBe("""["1","3"]""");
        perTurn["properties"]!["3"]!.ToJsonString().ShouldBe("""{"type":"integer","minimum":1,"maximum":5}""");
    }

    [Fact]
    public void JsonSchema_Preference_LettersTieBothBadStrengthRationale()
    {
        var json = LabellerOutput.JsonSchema(Pairwise, Pairwise.Questions, PairItem);
        json["properties"]!["preference"]!.ToJsonString().ShouldBe(
            """{"type":"object","properties":{"choice":{"type":"string","enum":["A","B","tie","both_bad"]},"strength":{"type":"integer","minimum":1,"maximum":3},"rationale":{"type":"string"}},"required":["choice","strength","rationale"],"additionalProperties":false}""");
    }

    [Fact]
    public void Parse_PreferenceLetter_MapsToCandidateIdInStoredOrder()
    {
        var result = LabellerOutput.Parse(Pairwise, Pairwise.Questions, PairItem, """{"preference":{"choice":"A","strength":2,"rationale":"correct sum"}}""");
        result.Error.ShouldBeNull();
        result.Values!.ToJsonString().ShouldBe("""{"preference":{"choice":"x1","strength":2,"rationale":"correct sum"}}""");
        LabellerOutput.Parse(Pairwise, Pairwise.Questions, PairItem, """{"preference":{"choice":"tie","strength":null,"rationale":null}}""")
            .Values!.ToJsonString().ShouldBe("""{"preference":{"choice":"tie"}}""");
    }

    [Fact]
    public void Parse_CodeFencedJson_IsRead()
    {
        var result = LabellerOutput.Parse(Safety, Safety.Questions, SafetyItem, "```json\n{\"verdict\":\"safe\",\"categories\":null,\"notes\":null}\n```");
        result.Values!.ToJsonString().ShouldBe("""{"verdict":"safe"}""");
    }

    [Fact]
    public void Parse_AnswerToHiddenQuestion_IsDropped()
    {
        var result = LabellerOutput.Parse(Safety, Safety.Questions, SafetyItem, """{"verdict":"safe","categories":["hate"]}""");
        result.Values!.ToJsonString().ShouldBe("""{"verdict":"safe"}""");
    }

    [Theory]
    [InlineData("not json at all", "the output is not JSON")]
    [InlineData("[1,2]", "the output is not a JSON object")]
    [InlineData("", "the model answered nothing")]
    [InlineData("""{"verdict":"maybe"}""", "verdict: expects one of safe, unsafe, got \"maybe\"")]
    [InlineData("""{"notes":"x"}""", "verdict: an answer is required")]
    [InlineData("""{"verdict":"unsafe","categories":["hate","aliens"]}""", "categories: 'aliens' is not one of")]
    [InlineData("""{"verdict":"unsafe"}""", "categories: an answer is required")]
    public void Parse_InvalidOutput_IsRefusedWithTheReason(string content, string reason)
    {
        var result = LabellerOutput.Parse(Safety, Safety.Questions, SafetyItem, content);
        result.Ok.ShouldBeFalse();
        result.Error!.ShouldContain(reason);
    }

    [Theory]
    [InlineData("""{"preference":{"choice":"C"}}""", "preference: choice 'C' is not a response letter (A, B), tie or both_bad")]
    [InlineData("""{"preference":{"choice":"A","strength":7}}""", "strength must be 1 (slightly), 2 or 3")]
    [InlineData("""{"preference":42}""", "preference: expects {\"choice\"")]
    public void Parse_InvalidPreference_IsRefusedWithTheReason(string content, string reason)
    {
        var result = LabellerOutput.Parse(Pairwise, Pairwise.Questions, PairItem, content);
        result.Ok.ShouldBeFalse();
        result.Error!.ShouldContain(reason);
    }

    [Fact]
    public void Parse_Ranking_LettersBecomeIdsAndMustCoverEveryCandidate()
    {
        var schema = Templates.Get("ranking")!;
        LabellerOutput.Parse(schema, schema.Questions, PairItem, """{"ranking":["b","A"]}""").Values!.ToJsonString().ShouldBe("""{"ranking":["y2","x1"]}""");
        LabellerOutput.Parse(schema, schema.Questions, PairItem, """{"ranking":["A"]}""").Error!.ShouldContain("must rank each candidate exactly once");
    }

    [Fact]
    public void Parse_RatingOutOfScale_IsRefused()
    {
        var schema = Templates.Get("rubric")!;
        var item = new JsonObject { ["prompt"] = new JsonArray(), ["response"] = "r" };
        var questions = schema.Questions.Where(q => q.Name == "accuracy").ToList();
        LabellerOutput.Parse(schema, questions, item, """{"accuracy":6}""").Error.ShouldBe("accuracy: 6 is outside the scale 1..5");
        LabellerOutput.Parse(schema, questions, item, """{"accuracy":4,"helpfulness":1}""").Values!.ToJsonString().ShouldBe("""{"accuracy":4}""");
    }

    [Fact]
    public void Prompt_FieldsQuestionsAndMetadata_AreRendered()
    {
        var prompt = LabellerPrompt.Parse("Judge this.\n{{prompt}}\n---\n{{candidates}}\nsource: {{metadata.source}}\n{{questions}}", Pairwise);
        var text = prompt.Render(Pairwise, Pairwise.Questions, PairItem, new JsonObject { ["source"] = "hh" });
        text.ShouldBe("Judge this.\n[0] user: 2+2?\n---\nResponse A:\n4\n\nResponse B:\n5\nsource: hh\n"
            + "Answer with a JSON object with these keys:\n- preference: Which response is better?. "
            + "{\"choice\": the better response's letter, \"tie\" or \"both_bad\"}, with \"strength\" 1 (slightly) to 3 (much better) and a short \"rationale\".");
        text.ShouldNotContain("m1");
    }

    [Fact]
    public void Prompt_UnknownField_IsRefusedNamingTheFields()
    {
        Should.Throw<SchemaException>(() => LabellerPrompt.Parse("{{respnse}}", Safety)).Message
            .ShouldBe("prompt: {{respnse}} is not a field of the project (fields: prompt, response; also {{questions}} and {{metadata.KEY}})");
        Should.Throw<SchemaException>(() => LabellerPrompt.Parse("abc {{prompt", Safety)).Message.ShouldContain("never closed");
    }

    [Theory]
    [InlineData("verdict", "\"safe\"", "\"safe\"", "accepted")]
    [InlineData("verdict", "\"safe\"", "\"unsafe\"", "rejected")]
    [InlineData("verdict", "\"safe\"", null, "rejected")]
    [InlineData("categories", "[\"hate\",\"privacy\"]", "[\"privacy\",\"hate\"]", "accepted")]
    [InlineData("categories", "[\"hate\",\"privacy\"]", "[\"privacy\"]", "edited")]
    [InlineData("categories", "[\"hate\"]", "[\"privacy\"]", "rejected")]
    [InlineData("notes", "\"The reply refuses politely.\"", "The reply refuses politely!", "edited")]
    [InlineData("notes", "\"The reply refuses politely.\"", "Unsafe: gives instructions for weapons", "rejected")]
    public void Classify_SuggestionAgainstAnswer_AcceptedEditedRejected(string question, string suggested, string? answered, string outcome)
    {
        var q = Safety.FindQuestion(question)!;
        JsonNode? answer = answered is null ? null : answered.StartsWith('[') || answered.StartsWith('"') ? JsonNode.Parse(answered) : JsonValue.Create(answered);
        SuggestionOutcome.Classify(q, JsonNode.Parse(suggested), answer).ShouldBe(outcome);
    }

    [Fact]
    public void Classify_PreferenceSameChoiceOtherStrength_IsEdited()
    {
        var q = Pairwise.Questions[0];
        SuggestionOutcome.Classify(q, JsonNode.Parse("""{"choice":"x1","strength":2}"""), JsonNode.Parse("""{"choice":"x1","strength":3}""")).ShouldBe("edited");
        SuggestionOutcome.Classify(q, JsonNode.Parse("""{"choice":"x1"}"""), JsonNode.Parse("""{"choice":"y2"}""")).ShouldBe("rejected");
    }

    [Fact]
    public void Tally_EightOfTenRight_AccuracyKappaAndConfusionByHand()
    {
        // Reference: 5 safe, 5 unsafe. The labeller gets 4 safe right (1 called unsafe) and 4 unsafe right (1 called safe).
        var tally = new AgreementTally(["safe", "unsafe"]);
        foreach (var (r, l) in new[] { ("safe", "safe"), ("safe", "safe"), ("safe", "safe"), ("safe", "safe"), ("safe", "unsafe"),
            ("unsafe", "unsafe"), ("unsafe", "unsafe"), ("unsafe", "unsafe"), ("unsafe", "unsafe"), ("unsafe", "safe") })
        {
            tally.Add(r == l, r, l);
        }
        tally.Accuracy.ShouldBe(0.8);
        // Cohen (1960): p_o = 0.8, p_e = 0.5·0.5 + 0.5·0.5 = 0.5, kappa = (0.8 − 0.5) / (1 − 0.5) = 0.6.
        tally.Kappa!.Value.ShouldBe(0.6, 1e-12);
        tally.Confusion.ShouldBe([[4L, 1L], [1L, 4L]]);
    }

    [Fact]
    public void Tally_WithoutCategories_CountsMatchesOnly()
    {
        var tally = new AgreementTally(null);
        tally.Add(true);
        tally.Add(false);
        tally.Accuracy.ShouldBe(0.5);
        tally.Kappa.ShouldBeNull();
        tally.Confusion.ShouldBeNull();
        new AgreementTally(["a"], KappaWeights.Quadratic).Accuracy.ShouldBeNull();
    }

    [Theory]
    // Nearest rank: the ceil(p/100 · n)-th smallest value.
    [InlineData(new long[] { 15, 20, 35, 40, 50 }, 50, 35)]
    [InlineData(new long[] { 15, 20, 35, 40, 50 }, 95, 50)]
    [InlineData(new long[] { 3, 1, 2 }, 50, 2)]
    public void NearestRank_Values_PicksTheRankedValue(long[] values, double p, long expected) =>
        Percentile.NearestRank(values, p).ShouldBe(expected);
}

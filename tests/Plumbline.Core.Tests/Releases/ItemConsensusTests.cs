using System.Text;
using System.Text.Json.Nodes;
using Plumbline.Core.Releases;
using Plumbline.Core.Schema;
using static Plumbline.Core.Tests.Releases.ReleaseTestData;

namespace Plumbline.Core.Tests.Releases;

public sealed class ItemConsensusTests
{
    [Fact]
    public void Preference_TwoOfThree_ChoosesMajorityWithShareAndMeanStrength()
    {
        var schema = Template("pairwise");
        var item = Item(schema, 1, Pair("Q", "A", "B"), Prefer("b", 3), Prefer("a", 1), Prefer("b", 2));

        var c = item.ConsensusOf<PreferenceConsensus>("preference")!;

        c.Choice.ShouldBe("b");
        c.Chosen.ShouldBe("b");
        c.Rejected.ShouldBe("a");
        c.Confidence.ShouldBe(2 / 3.0, 1e-12);
        c.Strength.ShouldBe(2.5, 1e-12); // mean of the strengths given with the winning choice: (3 + 2) / 2
        c.Votes.Select(v => $"{v.Key}={v.Value}").ShouldBe(["b=2", "a=1"]);
    }

    [Fact]
    public void Preference_StoredText_SameReleaseAsParsedTrees()
    {
        // Answers read from storage are used as text (no tree); answers built in code go through the tree. Both must give
        // the same consensus, agreement and files, including odd stored values: escapes, property order, unknown choices,
        // a strength that is not a number, a value that is not an object.
        string[][] stored =
        [
            ["""{"preference":{"choice":"a","strength":2}}""", """{"preference":{"strength":3,"choice":"a"}}""", """{"preference":{"choice":"b","strength":1}}"""],
            ["""{"preference":{"choice":"\u0062"}}""", """{"other":[1,{"x":2}],"preference":{"choice":"b","note":{"a":1}}}""", """{"preference":{"choice":"tie"}}"""],
            ["""{"preference":{"choice":"both_bad","strength":2}}""", """{"preference":{"choice":"both_bad","strength":"high"}}""", """{"preference":{"choice":"c"}}"""],
            ["""{"preference":"a"}""", """{"preference":{"choice":2}}""", """{"preference":{"choice":"a","strength":1.5}}"""],
            ["""{"preference":{"choice":"a"}}""", """{"preference":{"choice":"b"}}""", """{}"""],
        ];
        var schema = Template("pairwise");
        var methods = new Dictionary<string, string>();
        List<ReleaseItem> Items(bool asText) => stored.Select((answers, n) =>
        {
            var fields = Pair("Q" + n, "A" + n, "B" + n);
            var list = answers.Select((v, i) => asText
                ? new ReleaseAnswer((n * 10) + i, "u" + i, 1, v)
                : new ReleaseAnswer((n * 10) + i, "u" + i, 1, JsonNode.Parse(v)!.AsObject())).ToList();
            var item = new ReleaseItem { ItemId = n, ExternalId = "item-" + n, Fields = fields, Answers = list };
            item.Consensus = ReleaseBuilder.Consensus(schema, methods, item.FieldsElement, list);
            return item;
        }).ToList();

        var (textFiles, textManifest) = Write(schema, Items(asText: true), "trl-preference", "raw", "reward-pairs");
        var (treeFiles, treeManifest) = Write(schema, Items(asText: false), "trl-preference", "raw", "reward-pairs");

        Items(asText: true).Select(i => i.ConsensusOf<PreferenceConsensus>("preference")?.Choice ?? "-")
            .ShouldBe(["a", "b", "both_bad", "a", "tie"]);
        textManifest.Questions["preference"].Agreement.ShouldBe(treeManifest.Questions["preference"].Agreement);
        textManifest.Questions["preference"].Agreement.ShouldNotBeNull();
        textManifest.Questions["preference"].MeanConfidence.ShouldBe(treeManifest.Questions["preference"].MeanConfidence);
        // The index hashes stored text as stored and trees re-serialised, so only it may differ.
        foreach (var (path, bytes) in treeFiles.Where(f => f.Key != ReleaseBuilder.IndexPath))
        {
            Encoding.UTF8.GetString(textFiles[path]).ShouldBe(Encoding.UTF8.GetString(bytes), path);
        }
    }

    [Fact]
    public void Consensus_ExpertDecision_ReplacesTheValueKeepsTheVotes()
    {
        var schema = Template("pairwise");
        var fields = Pair("Q", "A", "B");
        var answers = new[] { Prefer("b", 3), Prefer("b", 1), Prefer("a", 2) }.Select((v, i) => new ReleaseAnswer(i, "u" + i, 1, v)).ToList();
        var decisions = new Dictionary<string, JsonNode?> { ["preference"] = new JsonObject { ["choice"] = "a" } };

        var c = (PreferenceConsensus)ReleaseBuilder.Consensus(schema, new Dictionary<string, string>(), Element(fields), answers, decisions)["preference"];
        var undecided = (PreferenceConsensus)ReleaseBuilder.Consensus(schema, new Dictionary<string, string>(), Element(fields), answers)["preference"];

        undecided.Chosen.ShouldBe("b");
        undecided.Decided.ShouldBeFalse();
        c.Decided.ShouldBeTrue();
        c.Choice.ShouldBe("a");
        c.Chosen.ShouldBe("a");
        c.Rejected.ShouldBe("b");
        c.Confidence.ShouldBe(1);
        c.Answers.ShouldBe(3);
        c.Votes.Select(v => $"{v.Key}={v.Value}").ShouldBe(["b=2", "a=1"]);
    }

    [Fact]
    public void Preference_SplitVote_IsATieNotTheFirstCandidate()
    {
        var schema = Template("pairwise");
        var item = Item(schema, 1, Pair("Q", "A", "B"), Prefer("a"), Prefer("b"));

        var c = item.ConsensusOf<PreferenceConsensus>("preference")!;

        c.Choice.ShouldBe(AnswerValidator.Tie);
        c.IsDecisive.ShouldBeFalse();
        c.Confidence.ShouldBe(0.5);
    }

    [Fact]
    public void Label_Majority_UsesVoteShareAndSchemaOrderOnTies()
    {
        var schema = Template("safety");
        JsonObject Verdict(string v) => new() { ["verdict"] = v };
        var fields = new JsonObject { ["prompt"] = Chat("x")["prompt"]!.DeepClone(), ["response"] = "r" };

        var clear = Item(schema, 1, fields, Verdict("unsafe"), Verdict("unsafe"), Verdict("safe"), Verdict("unsafe")).ConsensusOf<LabelConsensus>("verdict")!;
        var tied = Item(schema, 2, fields, Verdict("unsafe"), Verdict("safe")).ConsensusOf<LabelConsensus>("verdict")!;

        clear.Label.ShouldBe("unsafe");
        clear.Confidence.ShouldBe(0.75);
        tied.Label.ShouldBe("safe"); // listed first in the schema
        tied.Confidence.ShouldBe(0.5);
    }

    [Fact]
    public void MultiLabel_KeepsLabelsChosenByMoreThanHalf()
    {
        var schema = Template("safety");
        JsonObject Unsafe(params string[] cats) => new() { ["verdict"] = "unsafe", ["categories"] = new JsonArray(cats.Select(c => (JsonNode)c).ToArray()) };
        var fields = new JsonObject { ["prompt"] = Chat("x")["prompt"]!.DeepClone(), ["response"] = "r" };

        var c = Item(schema, 1, fields, Unsafe("hate", "privacy"), Unsafe("hate"), Unsafe("privacy", "defamation")).ConsensusOf<MultiLabelConsensus>("categories")!;

        c.Labels.ShouldBe(["privacy", "hate"], ignoreOrder: true);
        c.Labels.ShouldNotContain("defamation");
        c.Confidence.ShouldBe(2 / 3.0, 1e-12); // the weakest majority: 2 of 3 for hate and privacy, 2 of 3 against defamation
    }

    [Theory]
    [InlineData(ConsensusMethods.Median, 4.0)]
    [InlineData(ConsensusMethods.Mean, 11 / 3.0)]
    public void Rating_ConsensusAndConfidenceFromMeanAbsoluteDeviation(string method, double expected)
    {
        var schema = Template("rubric");
        JsonObject Score(int v) => new() { ["accuracy"] = v };
        var fields = new JsonObject { ["prompt"] = Chat("x")["prompt"]!.DeepClone(), ["response"] = "r" };

        var c = Item(schema, 1, fields, new Dictionary<string, string> { ["accuracy"] = method }, Score(2), Score(4), Score(5))
            .ConsensusOf<RatingConsensus>("accuracy")!;

        c.Value.ShouldBe(expected, 1e-12);
        var mad = (Math.Abs(2 - expected) + Math.Abs(4 - expected) + Math.Abs(5 - expected)) / 3;
        c.Confidence.ShouldBe(1 - (mad / 4), 1e-12); // scale 1..5 has range 4
        c.Normalised.ShouldBe((expected - 1) / 4, 1e-12);
    }

    [Fact]
    public void Ranking_Borda_OrdersByMeanRankWithKendallW()
    {
        var schema = Template("ranking");
        var fields = Pair("Q", "A", "B");
        ((JsonArray)fields["candidates"]!).Add(new JsonObject { ["id"] = "c", ["content"] = "C" });
        JsonObject Rank(params string[] order) => new() { ["ranking"] = new JsonArray(order.Select(o => (JsonNode)o).ToArray()) };

        var c = Item(schema, 1, fields, Rank("b", "a", "c"), Rank("b", "c", "a"), Rank("a", "b", "c")).ConsensusOf<RankingConsensus>("ranking")!;

        c.Order.ShouldBe(["b", "a", "c"]);
        c.MeanRanks.ShouldBe([4 / 3.0, 2.0, 8 / 3.0], tolerance: 1e-12);
        // Kendall's W: rank sums 6, 4, 8 around a mean of 6 give S = 8; W = 12·8 / (3²·(3³ − 3)) = 96 / 216.
        c.Confidence.ShouldBe(96 / 216.0, 1e-12);
    }

    [Fact]
    public void Ranking_BradleyTerry_AgreesWithBordaOnAClearOrder()
    {
        var schema = Template("ranking");
        var fields = Pair("Q", "A", "B");
        ((JsonArray)fields["candidates"]!).Add(new JsonObject { ["id"] = "c", ["content"] = "C" });
        JsonObject Rank(params string[] order) => new() { ["ranking"] = new JsonArray(order.Select(o => (JsonNode)o).ToArray()) };
        var methods = new Dictionary<string, string> { ["ranking"] = ConsensusMethods.BradleyTerry };

        var c = Item(schema, 1, fields, methods, Rank("c", "a", "b"), Rank("c", "b", "a"), Rank("a", "c", "b")).ConsensusOf<RankingConsensus>("ranking")!;

        c.Order[0].ShouldBe("c");
        c.Method.ShouldBe(ConsensusMethods.BradleyTerry);
    }

    [Fact]
    public void Resolve_MethodForAnotherType_SaysWhichApply()
    {
        var q = Template("pairwise").Questions[0];

        var ex = Should.Throw<ReleaseException>(() => ConsensusMethods.Resolve(q, ConsensusMethods.Median));

        ex.Message.ShouldContain("does not apply to question 'preference'");
        ex.Message.ShouldContain("majority");
    }

    [Fact]
    public void Text_First_KeepsOnlyTheEarliestAnswer()
    {
        var schema = Template("sft-write");
        JsonObject Write(string t) => new() { ["ideal_response"] = t };
        var methods = new Dictionary<string, string> { ["ideal_response"] = ConsensusMethods.First };

        var all = Item(schema, 1, Chat("x"), Write("one"), Write("two")).ConsensusOf<TextConsensus>("ideal_response")!;
        var first = Item(schema, 1, Chat("x"), methods, Write("one"), Write("two")).ConsensusOf<TextConsensus>("ideal_response")!;

        all.Texts.Select(t => t.Text).ShouldBe(["one", "two"]);
        first.Texts.Select(t => t.Text).ShouldBe(["one"]);
        double.IsNaN(first.Confidence).ShouldBeTrue();
    }
}

public sealed class ItemMajorityVoteTests
{
    [Fact]
    public void MajorityVote_RandomVotes_SameAsTruthInferenceMajorityVoteOnOneItem()
    {
        var random = new Random(12);
        for (var trial = 0; trial < 2000; trial++)
        {
            var k = random.Next(2, 6);
            var n = random.Next(1, 8);
            var ratings = Enumerable.Range(0, n).Select(r => new Plumbline.Core.Quality.Rating(0, r, random.Next(k))).ToArray();
            var counts = new int[k];
            foreach (var r in ratings)
            {
                counts[(int)r.Value]++;
            }

            var expected = Plumbline.Core.Quality.TruthInference.MajorityVote(ratings, k);

            ItemConsensus.MajorityVote(counts).ShouldBe(expected.Labels[0]);
            (counts[ItemConsensus.MajorityVote(counts)] / (double)n).ShouldBe(expected.Confidence[0], 1e-12);
        }
    }
}

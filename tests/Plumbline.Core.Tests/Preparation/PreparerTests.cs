using System.Text;
using System.Text.Json;
using Plumbline.Core.Preparation;

namespace Plumbline.Core.Tests.Preparation;

public class PreparerTests
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private const string Body = "The assistant explains how photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaves of green plants.";

    [Fact]
    public void Prepare_CleanRecord_IsKeptUnchanged()
    {
        var result = new Preparer().Prepare("r1", [("prompt", "Explain photosynthesis."), ("response", Body)]);

        result.Verdict.ShouldBe(Verdict.Keep);
        result.ChangedTexts.ShouldBeEmpty();
        result.Hits.ShouldBeEmpty();
    }

    [Fact]
    public void Prepare_MojibakeAndWhitespace_ReturnsOnlyChangedTextsWithRules()
    {
        var garbled = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes("Café au lait  \r\nplease"));

        var result = new Preparer().Prepare("r1", [("prompt", garbled), ("response", Body)]);

        result.ChangedTexts.ShouldHaveSingleItem().ShouldBe(new PreparedText("prompt", "Café au lait\nplease"));
        result.Hits.Select(h => h.Rule).ShouldBe([PreparationRules.Mojibake, PreparationRules.Whitespace], ignoreOrder: true);
    }

    [Fact]
    public void Prepare_PiiWithRedact_ReplacesSpansAndReportsMaskedFindings()
    {
        var result = new Preparer().Prepare("r1", [("response", "Mail john.doe@example.com or call (415) 555-2671. " + Body)]);

        result.ChangedTexts.ShouldHaveSingleItem().Text.ShouldStartWith("Mail [EMAIL] or call [PHONE]. ");
        result.PiiFindings.Select(f => (f.Type, f.Path, f.Start, f.Masked)).ShouldBe(
            [(PiiType.Email, "response", 5, "j***@e***.com"), (PiiType.Phone, "response", 34, "(***) ***-**71")]);
        result.Flags.ShouldBeEmpty();
        result.IsKept.ShouldBeTrue();
    }

    [Fact]
    public void Prepare_PiiWithFlag_KeepsTextAndFlagsRecord()
    {
        var preparer = new Preparer(new PreparationOptions { PiiAction = PiiAction.Flag });

        var result = preparer.Prepare("r1", [("response", "Card 4111 1111 1111 1111 on file. " + Body)]);

        result.ChangedTexts.ShouldBeEmpty();
        result.Flags.ShouldBe([PreparationRules.ForPii(PiiType.CreditCard)]);
        result.PiiFindings.ShouldHaveSingleItem().Masked.ShouldBe("**** **** **** 1111");
    }

    [Fact]
    public void Prepare_ExactDuplicateAfterNormalisation_PointsToFirstRecord()
    {
        var preparer = new Preparer();
        preparer.Prepare("first", [("text", Body)]).IsKept.ShouldBeTrue();

        var again = preparer.Prepare("second", [("text", "  " + Body.Replace(" ", "\u00A0", StringComparison.Ordinal) + "\r\n")]);

        again.Verdict.ShouldBe(Verdict.DuplicateOf);
        again.DuplicateOf.ShouldBe("first");
        again.Rule.ShouldBe(PreparationRules.ExactDuplicate);
    }

    [Fact]
    public void Prepare_SameTextsUnderDifferentPaths_AreNotExactDuplicates()
    {
        var preparer = new Preparer(new PreparationOptions { DropNearDuplicates = false });
        preparer.Prepare("a", [("prompt", "Question one here?"), ("response", Body)]);

        preparer.Prepare("b", [("response", "Question one here?"), ("prompt", Body)]).IsKept.ShouldBeTrue();
    }

    [Fact]
    public void Prepare_DuplicateOfExistingProjectRecord_IsDropped()
    {
        var preparer = new Preparer();
        preparer.AddExisting("existing-7", [("text", "Contact me at [EMAIL]. " + Body)]);

        // The stored text was redacted at its own import; the new raw one redacts to the same text.
        var result = preparer.Prepare("new-1", [("text", "Contact me at jane@example.org. " + Body)]);

        result.Verdict.ShouldBe(Verdict.DuplicateOf);
        result.DuplicateOf.ShouldBe("existing-7");
        preparer.IndexedRecords.ShouldBe(1);
    }

    [Fact]
    public void Prepare_NearDuplicate_PointsToKeptRecordWithSimilarity()
    {
        var preparer = new Preparer();
        var text = string.Join(' ', Enumerable.Repeat(Body, 1).Concat([
            "Chlorophyll absorbs mostly blue and red light and reflects green, which is why leaves look green to us.",
            "The light reactions happen in the thylakoid membranes, while the Calvin cycle runs in the stroma.",
            "Plants store the sugar as starch and use it for growth during the night and in winter."]));
        preparer.Prepare("kept", [("text", text)]);

        var edited = preparer.Prepare("edited", [("text", text.Replace("during the night and in winter", "during the night", StringComparison.Ordinal))]);

        edited.Verdict.ShouldBe(Verdict.NearDuplicateOf);
        edited.DuplicateOf.ShouldBe("kept");
        edited.Similarity!.Value.ShouldBeGreaterThanOrEqualTo(0.8);
    }

    [Theory]
    [InlineData("   ", PreparationRules.Empty)]
    [InlineData("x", PreparationRules.MinLength)]
    public void Prepare_TooLittleText_IsDroppedWithRule(string text, string rule)
    {
        var result = new Preparer().Prepare("r", [("text", text)]);

        result.Verdict.ShouldBe(Verdict.Drop);
        result.Rule.ShouldBe(rule);
    }

    [Fact]
    public void Prepare_TooLong_IsDropped()
    {
        var result = new Preparer(new PreparationOptions { MaxLength = 50 }).Prepare("r", [("text", Body)]);

        result.Rule.ShouldBe(PreparationRules.MaxLength);
        result.Reason.ShouldBe($"{Body.Length} characters, maximum 50");
    }

    [Fact]
    public void Prepare_RulesOff_LeavesEverythingAlone()
    {
        var options = new PreparationOptions
        {
            Normalize = false,
            DropEmpty = false,
            MinLength = 0,
            MaxLength = 0,
            DropExactDuplicates = false,
            DropNearDuplicates = false,
            PiiTypes = new HashSet<PiiType>(),
        };
        var preparer = new Preparer(options);
        const string messy = " mail a@example.com\r\n";

        preparer.Prepare("a", [("text", messy)]).ChangedTexts.ShouldBeEmpty();
        preparer.Prepare("b", [("text", messy)]).IsKept.ShouldBeTrue();
        preparer.Prepare("c", [("text", "")]).IsKept.ShouldBeTrue();
    }

    [Fact]
    public void Report_AfterImport_AccountsForEveryDroppedAndChangedRecord()
    {
        var preparer = new Preparer();
        var report = new PreparationReport { ExamplesPerRule = 2 };
        string[] texts =
        [
            Body, // kept
            Body, // exact duplicate of 0
            "Email a@example.com, b@example.com and c@example.com. " + Body, // kept, changed (3 e-mails)
            "  ", // empty
            Body + "\r\n", // exact duplicate of 0 after normalisation
        ];
        for (var i = 0; i < texts.Length; i++)
        {
            report.Add(preparer.Prepare($"r{i}", [("text", texts[i])]));
        }

        report.Records.ShouldBe(5);
        report.Kept.ShouldBe(2);
        report.Dropped.ShouldBe(3);
        report.Changed.ShouldBe(1);
        report.RuleCounts["pii.email"].ShouldBe(3);
        report.RuleCounts[PreparationRules.ExactDuplicate].ShouldBe(2);
        report.Examples["pii.email"].Count.ShouldBe(2);
        report.Examples["pii.email"].ShouldAllBe(e => e.Detail.Contains("***"));
        report.DroppedRecords.Select(d => d.RecordId).ShouldBe(["r1", "r3", "r4"]);
        report.ChangedRecords.ShouldHaveSingleItem().RecordId.ShouldBe("r2");
        var cluster = report.DuplicateClusters.ShouldHaveSingleItem();
        cluster.KeptId.ShouldBe("r0");
        cluster.Duplicates.Select(d => d.RecordId).ShouldBe(["r1", "r4"]);
    }

    [Fact]
    public void Report_JsonRoundTrip_KeepsContent()
    {
        var preparer = new Preparer();
        var report = new PreparationReport();
        report.Add(preparer.Prepare("a", [("text", Body)]));
        report.Add(preparer.Prepare("b", [("text", Body)]));
        report.Add(preparer.Prepare("c", [("text", "Call +44 20 7946 0958 now about the March invoice.")]));

        var json = JsonSerializer.Serialize(report, Web);
        var back = JsonSerializer.Deserialize<PreparationReport>(json, Web)!;

        json.ShouldContain("\"duplicateClusters\":[{\"keptId\":\"a\"");
        back.Records.ShouldBe(3);
        back.DroppedRecords.ShouldHaveSingleItem().ShouldBe(new DroppedRecord("b", PreparationRules.ExactDuplicate, "same texts as 'a'"));
        back.RuleCounts["pii.phone"].ShouldBe(1);
        back.ClustersByKeptId["a"].Duplicates.ShouldHaveSingleItem().RecordId.ShouldBe("b");
    }

    [Fact]
    public void Analyze_InParallelThenDecideInOrder_MatchesSequentialPrepare()
    {
        var random = new Random(21);
        string[] pool = [Body, "Mail x@example.com. " + Body, "Other text about rivers and the sea, with fish.", "  ", Body + " Extra closing sentence here."];
        var records = Enumerable.Range(0, 400).Select(i => ($"r{i}", pool[random.Next(pool.Length)] + (random.Next(3) == 0 ? "" : $" Note {i}."))).ToArray();

        var sequential = new Preparer();
        var expected = records.Select(r => sequential.Prepare(r.Item1, [("text", r.Item2)])).ToArray();
        var parallel = new Preparer();
        var analyses = new RecordAnalysis[records.Length];
        Parallel.For(0, records.Length, i => analyses[i] = parallel.Analyze(records[i].Item1, [("text", records[i].Item2)]));
        var actual = analyses.Select(parallel.Decide).ToArray();

        actual.Select(r => (r.RecordId, r.Verdict, r.DuplicateOf, r.ChangedTexts.Count, r.PiiFindings.Count))
            .ShouldBe(expected.Select(r => (r.RecordId, r.Verdict, r.DuplicateOf, r.ChangedTexts.Count, r.PiiFindings.Count)));
        expected.Count(r => r.Verdict == Verdict.DuplicateOf).ShouldBeGreaterThan(10);
    }
}

using System.Text.Json.Nodes;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Tests;

public sealed class WordDiffTests
{
    [Theory]
    // Word-level Levenshtein distance counted by hand: substitutions count once, insertions and deletions once each.
    [InlineData("The capital of France is Lyon.", "The capital of France is Paris.", 1, 1, 1)]
    [InlineData("The capital of France is Lyon.", "The capital of France is Lyon.", 0, 0, 0)]
    [InlineData("one two three", "one three", 1, 0, 1)]
    [InlineData("one two three", "zero one two three four", 2, 2, 0)]
    [InlineData("a b c d", "w x y z", 4, 4, 4)]
    public void Stats_EditedDraft_CountsWordsChanged(string draft, string edited, int distance, int inserted, int deleted)
    {
        var stats = WordDiff.Stats(draft, edited);
        stats.Distance.ShouldBe(distance);
        stats.Inserted.ShouldBe(inserted);
        stats.Deleted.ShouldBe(deleted);
    }

    [Fact]
    public void Pieces_ReplacedWord_AreKeptDeletedInsertedInOrder()
    {
        var pieces = WordDiff.Pieces("The sky is green today.", "The sky is blue today.");
        pieces.ShouldBe([
            new DiffPiece(DiffKind.Same, "The sky is "), new DiffPiece(DiffKind.Deleted, "green"),
            new DiffPiece(DiffKind.Inserted, "blue"), new DiffPiece(DiffKind.Same, " today."),
        ]);
        string.Concat(pieces.Where(p => p.Kind != DiffKind.Inserted).Select(p => p.Text)).ShouldBe("The sky is green today.");
        string.Concat(pieces.Where(p => p.Kind != DiffKind.Deleted).Select(p => p.Text)).ShouldBe("The sky is blue today.");
    }

    [Fact]
    public void ResponseMetadata_EditQuestion_RecordsTheEditAndLeavesOtherQuestionsOut()
    {
        var schema = Templates.Get("sft-edit")!;
        var item = new JsonObject { ["prompt"] = new JsonArray(), ["response"] = "Draft text here" };
        var metadata = ResponseMetadata.Build(schema, item, new JsonObject { ["ideal_response"] = "Better text here" })!;
        metadata.ToJsonString().ShouldBe("""{"edits":{"ideal_response":{"distance":1,"inserted":1,"deleted":1,"draftWords":3}}}""");
        ResponseMetadata.Build(Templates.Get("sft-write")!, item, new JsonObject { ["ideal_response"] = "x" }).ShouldBeNull();
    }
}

using Plumbline.Core.Quality;

namespace Plumbline.Core.Tests.Quality;

public class TextSimilarityTests
{
    // Wikipedia, "Levenshtein distance": kitten → sitting takes 3 edits; flaw → lawn takes 2.
    [Theory]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("flaw", "lawn", 2)]
    [InlineData("", "abc", 3)]
    [InlineData("abc", "", 3)]
    [InlineData("same", "same", 0)]
    public void Levenshtein_TextbookPairs_GivesKnownDistance(string a, string b, int expected) =>
        TextSimilarity.Levenshtein(a, b).ShouldBe(expected);

    private static int FullMatrix(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
        }
        return d[a.Length, b.Length];
    }

    [Fact]
    public void Levenshtein_RandomStrings_MatchesFullMatrixDefinition()
    {
        var random = new Random(8);
        string Text(int max) => new([.. Enumerable.Range(0, random.Next(max)).Select(_ => "abcd "[random.Next(5)])]);
        for (var trial = 0; trial < 200; trial++)
        {
            // Up to 600 characters so both the stack row (< 256) and the pooled row are exercised.
            var (a, b) = (Text(trial % 2 == 0 ? 40 : 600), Text(trial % 3 == 0 ? 40 : 600));
            var d = TextSimilarity.Levenshtein(a, b);
            d.ShouldBe(FullMatrix(a, b));
            TextSimilarity.Levenshtein(b, a).ShouldBe(d);
        }
    }

    [Fact]
    public void EditSimilarity_Extremes_AreOneAndZero()
    {
        TextSimilarity.EditSimilarity("", "").ShouldBe(1);
        TextSimilarity.EditSimilarity("abc", "abc").ShouldBe(1);
        TextSimilarity.EditSimilarity("abc", "xyz").ShouldBe(0);
        TextSimilarity.EditSimilarity("kitten", "sitting").ShouldBe(1 - (3.0 / 7), 1e-12);
    }

    [Fact]
    public void MeanPairwiseEditSimilarity_ThreeAnswersOnOneItem_AveragesPairs()
    {
        TextAnswer[] answers = [new(0, 0, "kitten"), new(0, 1, "sitting"), new(0, 2, "kitten"), new(1, 0, "alone")];
        var expected = ((1 - (3.0 / 7)) + 1 + (1 - (3.0 / 7))) / 3;
        TextSimilarity.MeanPairwiseEditSimilarity(answers).ShouldBe(expected, 1e-12);
    }
}

using Plumbline.Core.Quality;

namespace Plumbline.Core.Tests.Quality;

public class SpanAlphaTests
{
    private static SpanAnswer[] RandomSpans(int seed)
    {
        var random = new Random(seed);
        var answers = new List<SpanAnswer>();
        for (var item = 0; item < 15; item++)
        {
            var length = 20 + random.Next(40);
            for (var rater = 0; rater < 2 + random.Next(3); rater++)
            {
                var spans = Enumerable.Range(0, random.Next(4)).Select(_ =>
                {
                    var start = random.Next(length);
                    return new LabelledSpan(start, start + random.Next(length - start + 1), random.Next(3));
                }).ToArray();
                answers.Add(new SpanAnswer(item, rater, length, spans));
            }
        }
        return [.. answers];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void SpanAlpha_RandomSpans_EqualsAlphaOverExpandedPositions(int seed)
    {
        // Independent path: one Rating per character position, painted span by span, through KrippendorffAlpha.
        var answers = RandomSpans(seed);
        var ratings = new List<Rating>();
        foreach (var a in answers)
        {
            var values = new int[a.TextLength];
            foreach (var s in a.Spans)
            {
                for (var p = s.Start; p < s.End; p++)
                {
                    values[p] = s.Label + 1;
                }
            }
            for (var p = 0; p < a.TextLength; p++)
            {
                ratings.Add(new Rating((a.Item * 1000) + p, a.Rater, values[p]));
            }
        }
        Agreement.SpanAlpha(answers, 3).ShouldBe(Agreement.KrippendorffAlpha([.. ratings], MeasurementLevel.Nominal), 1e-10);
    }

    [Fact]
    public void SpanAlpha_IdenticalSpans_IsOne()
    {
        LabelledSpan[] spans = [new(2, 5, 0), new(8, 12, 1)];
        SpanAnswer[] answers = [new(0, 0, 20, spans), new(0, 1, 20, spans), new(1, 0, 10, []), new(1, 1, 10, [])];
        Agreement.SpanAlpha(answers, 2).ShouldBe(1, 1e-12);
    }

    [Fact]
    public void SpanAlpha_SpanOutsideText_Throws()
    {
        SpanAnswer[] answers = [new(0, 0, 5, [new(3, 9, 0)]), new(0, 1, 5, [])];
        Should.Throw<ArgumentException>(() => Agreement.SpanAlpha(answers, 1));
    }
}

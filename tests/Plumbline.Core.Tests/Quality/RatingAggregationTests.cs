using Plumbline.Core.Quality;

namespace Plumbline.Core.Tests.Quality;

public class RatingAggregationTests
{
    // Item 0: 1, 2, 3, 4, 100 (one careless rater); item 1: 2, 4; item 2: no answers; item 3: 5, 5, 5, 1.
    private static readonly Rating[] Ratings =
    [
        new(0, 0, 1), new(0, 1, 2), new(0, 2, 3), new(0, 3, 4), new(0, 4, 100),
        new(1, 0, 2), new(1, 1, 4),
        new(3, 0, 5), new(3, 1, 5), new(3, 2, 5), new(3, 3, 1),
    ];

    [Fact]
    public void Consensus_Mean_IsArithmeticMeanAndNaNWithoutAnswers()
    {
        var c = RatingAggregation.Consensus(Ratings, ConsensusMethod.Mean);
        c.Length.ShouldBe(4);
        c[0].ShouldBe(22, 1e-12);
        c[1].ShouldBe(3, 1e-12);
        double.IsNaN(c[2]).ShouldBeTrue();
        c[3].ShouldBe(4, 1e-12);
    }

    [Fact]
    public void Consensus_Median_TakesMiddleOrMeanOfTwoMiddles()
    {
        var c = RatingAggregation.Consensus(Ratings, ConsensusMethod.Median);
        c[0].ShouldBe(3);
        c[1].ShouldBe(3);
        c[3].ShouldBe(5);
    }

    [Fact]
    public void Consensus_TrimmedMean_DropsTwentyPercentAtEachEnd()
    {
        var c = RatingAggregation.Consensus(Ratings, ConsensusMethod.TrimmedMean);
        c[0].ShouldBe(3, 1e-12); // ⌊0.2·5⌋ = 1 dropped each side: mean of 2, 3, 4
        c[1].ShouldBe(3, 1e-12); // ⌊0.2·2⌋ = 0 dropped
    }

    [Fact]
    public void Huber_Outlier_HasBoundedInfluence()
    {
        double[] clean = [1, 2, 3, 4, 5];
        double[] dirty = [1, 2, 3, 4, 1000];
        var h = RatingAggregation.Huber(dirty);
        h.ShouldBeInRange(2.5, 4);
        RatingAggregation.Huber(clean).ShouldBe(3, 1e-9);
    }

    [Fact]
    public void Huber_NormalData_IsCloseToMean()
    {
        var random = new Random(1);
        var values = Enumerable.Range(0, 400).Select(_ => 5 + (Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();
        var mean = values.Average();
        RatingAggregation.Huber(values).ShouldBe(mean, 0.05);
    }

    [Fact]
    public void Huber_FixedPoint_SatisfiesEstimatingEquation()
    {
        double[] values = [1, 2, 2.5, 3, 3.2, 4, 9, 15];
        var copy = values.ToArray();
        var location = RatingAggregation.Huber(copy);
        // Σ ψ((x − μ)/s) = 0 with ψ clipped at k = 1.345 and s the normalised MAD about the median.
        var sorted = values.Order().ToArray();
        var median = (sorted[3] + sorted[4]) / 2;
        var deviations = values.Select(v => Math.Abs(v - median)).Order().ToArray();
        var scale = (deviations[3] + deviations[4]) / 2 * 1.4826;
        values.Sum(v => Math.Clamp((v - location) / scale, -1.345, 1.345)).ShouldBe(0, 1e-6);
    }

    [Fact]
    public void RaterBias_RaterScoringOneHigher_HasPositiveOffset()
    {
        var random = new Random(2);
        var ratings = new List<Rating>();
        for (var item = 0; item < 200; item++)
        {
            var truth = random.Next(1, 5);
            ratings.Add(new Rating(item, 0, truth));
            ratings.Add(new Rating(item, 1, truth));
            ratings.Add(new Rating(item, 2, truth + 1));
        }
        Rating[] all = [.. ratings];
        var bias = RatingAggregation.RaterBias(all, RatingAggregation.Consensus(all, ConsensusMethod.Median));
        bias[0].ShouldBe(0, 1e-12);
        bias[1].ShouldBe(0, 1e-12);
        bias[2].ShouldBe(1, 1e-12);
        var meanBias = RatingAggregation.RaterBias(all, RatingAggregation.Consensus(all, ConsensusMethod.Mean));
        meanBias[2].ShouldBe(2.0 / 3, 1e-12);
        meanBias.Sum().ShouldBe(0, 1e-12);
    }
}

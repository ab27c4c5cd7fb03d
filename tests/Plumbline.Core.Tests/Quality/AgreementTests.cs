using Plumbline.Core.Quality;

namespace Plumbline.Core.Tests.Quality;

public class AgreementTests
{
    private static Rating[] Krippendorff2011()
    {
        // Rows are coders A-D, columns units 1-12, empty = missing.
        var rows = TestData.WorkedExample("krippendorff2011.csv");
        var ratings = new List<Rating>();
        for (var coder = 0; coder < rows.Length; coder++)
        {
            for (var unit = 1; unit < rows[coder].Length; unit++)
            {
                if (rows[coder][unit].Length > 0)
                {
                    ratings.Add(new Rating(unit - 1, coder, TestData.Number(rows[coder][unit])));
                }
            }
        }
        return [.. ratings];
    }

    // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", worked example with missing values
    // (values as given in worked-examples/krippendorff2011.csv: 0.743421, 0.815388, 0.849107, 0.797403).
    [Theory]
    [InlineData(MeasurementLevel.Nominal, 0.743421)]
    [InlineData(MeasurementLevel.Ordinal, 0.815388)]
    [InlineData(MeasurementLevel.Interval, 0.849107)]
    [InlineData(MeasurementLevel.Ratio, 0.797403)]
    public void KrippendorffAlpha_Krippendorff2011Example_MatchesPublished(MeasurementLevel level, double published)
    {
        var ratings = Krippendorff2011();
        ratings.Length.ShouldBe(41); // 9 + 11 + 10 + 11 values, 7 missing
        Agreement.KrippendorffAlpha(ratings, level).ShouldMatchPublished(published, 6);
    }

    // Snow et al. (EMNLP 2008) RTE and TEMP; alpha as in shared/data/README.md (agrees to six decimals across four implementations).
    [Theory]
    [InlineData("rte.standardized.tsv", 0.241479)]
    [InlineData("temp.standardized.tsv", 0.223413)]
    public void KrippendorffAlpha_Snow2008Nominal_MatchesPublished(string file, double published)
    {
        var data = TestData.Snow(file);
        Agreement.KrippendorffAlpha(data.Ratings, MeasurementLevel.Nominal).ShouldMatchPublished(published, 6);
    }

    // Snow et al. (EMNLP 2008); Fleiss' kappa with 10 ratings per item, as in shared/data/README.md.
    [Theory]
    [InlineData("rte.standardized.tsv", 0.241384)]
    [InlineData("temp.standardized.tsv", 0.223245)]
    public void FleissKappa_Snow2008_MatchesPublished(string file, double published)
    {
        var data = TestData.Snow(file);
        Agreement.FleissKappa(data.Ratings).ShouldMatchPublished(published, 6);
    }

    // Wikipedia, "Fleiss' kappa", worked example (10 subjects, 14 raters, 5 categories): 0.210;
    // worked-examples/fleiss-wikipedia.csv gives 0.209931.
    [Fact]
    public void FleissKappa_WikipediaCountTable_MatchesPublished()
    {
        var rows = TestData.WorkedExample("fleiss-wikipedia.csv");
        var counts = rows.SelectMany(r => r.Select(int.Parse)).ToArray();
        var kappa = Agreement.FleissKappa(counts, 5);
        kappa.ShouldMatchPublished(0.210, 3);
        kappa.ShouldMatchPublished(0.209931, 6);
    }

    [Fact]
    public void FleissKappa_CountTableExpandedToRatings_GivesSameValue()
    {
        var rows = TestData.WorkedExample("fleiss-wikipedia.csv");
        var ratings = new List<Rating>();
        for (var item = 0; item < rows.Length; item++)
        {
            var rater = 0;
            for (var category = 0; category < rows[item].Length; category++)
            {
                for (var c = 0; c < int.Parse(rows[item][category]); c++)
                {
                    ratings.Add(new Rating(item, rater++, category));
                }
            }
        }
        var counts = rows.SelectMany(r => r.Select(int.Parse)).ToArray();
        Agreement.FleissKappa([.. ratings]).ShouldBe(Agreement.FleissKappa(counts, 5), 1e-12);
    }

    private static (double[] Second, double[] Third) Anxiety()
    {
        var rows = TestData.WorkedExample("anxiety-irr.csv").Skip(1).ToArray(); // header rater1,rater2,rater3
        rows.Length.ShouldBe(20);
        return (rows.Select(r => TestData.Number(r[1])).ToArray(), rows.Select(r => TestData.Number(r[2])).ToArray());
    }

    // R package irr, kappa2(anxiety[, 2:3], weight = "unweighted" / "equal" / "squared"):
    // -0.006289308, 0.1459075, 0.2520325 (worked-examples/anxiety-irr.csv header).
    [Theory]
    [InlineData(KappaWeights.Unweighted, -0.006289308, 9)]
    [InlineData(KappaWeights.Linear, 0.1459075, 7)]
    [InlineData(KappaWeights.Quadratic, 0.2520325, 7)]
    public void CohenKappa_IrrAnxietyRaters2And3_MatchesPublished(KappaWeights weights, double published, int decimals)
    {
        var (second, third) = Anxiety();
        Agreement.CohenKappa(second, third, weights).ShouldMatchPublished(published, decimals);
    }

    // Kendall's tau-b of the irr anxiety data, raters 2 and 3: 0.2935307 (worked-examples/anxiety-irr.csv header).
    [Fact]
    public void KendallTauB_IrrAnxietyRaters2And3_MatchesPublished()
    {
        var (second, third) = Anxiety();
        Agreement.KendallTauB(second, third).ShouldMatchPublished(0.2935307, 7);
    }

    [Fact]
    public void KendallTauB_RandomData_MatchesQuadraticDefinition()
    {
        var random = new Random(7);
        var x = Enumerable.Range(0, 300).Select(_ => (double)random.Next(8)).ToArray();
        var y = Enumerable.Range(0, 300).Select(_ => (double)random.Next(5)).ToArray();
        long concordant = 0, discordant = 0, onlyX = 0, onlyY = 0;
        for (var i = 0; i < x.Length; i++)
        {
            for (var j = i + 1; j < x.Length; j++)
            {
                var dx = Math.Sign(x[i] - x[j]);
                var dy = Math.Sign(y[i] - y[j]);
                if (dx * dy > 0) concordant++;
                else if (dx * dy < 0) discordant++;
                else if (dx != 0) onlyX++;
                else if (dy != 0) onlyY++;
            }
        }
        var expected = (concordant - discordant) / Math.Sqrt((double)(concordant + discordant + onlyX) * (concordant + discordant + onlyY));
        Agreement.KendallTauB(x, y).ShouldBe(expected, 1e-12);
    }

    [Fact]
    public void KendallTauB_ReversedOrder_IsMinusOne()
    {
        double[] x = [1, 2, 3, 4, 5];
        double[] y = [50, 40, 30, 20, 10];
        Agreement.KendallTauB(x, y).ShouldBe(-1, 1e-12);
        Agreement.KendallTauB(x, x).ShouldBe(1, 1e-12);
    }

    [Fact]
    public void CohenKappa_IdenticalRaters_IsOne()
    {
        double[] a = [1, 2, 3, 1, 2, 3, 3];
        foreach (var w in Enum.GetValues<KappaWeights>())
        {
            Agreement.CohenKappa(a, a, w).ShouldBe(1, 1e-12);
        }
    }

    [Fact]
    public void CohenKappa_ExplicitScale_WeighsByScalePosition()
    {
        // Observed levels {1, 3}: adjacent by default, two steps apart on the full 1-3 scale.
        double[] a = [1, 1, 3, 3, 1];
        double[] b = [1, 3, 3, 1, 1];
        var observed = Agreement.CohenKappa(a, b, KappaWeights.Linear);
        var onScale = Agreement.CohenKappa(a, b, KappaWeights.Linear, [1, 2, 3]);
        observed.ShouldBe(Agreement.CohenKappa(a, b, KappaWeights.Unweighted), 1e-12);
        onScale.ShouldBe(observed, 1e-12); // With weights 1 and 0 only (distance 2 of 2), linear equals unweighted here too.
        Should.Throw<ArgumentException>(() => Agreement.CohenKappa(a, b, KappaWeights.Linear, [1, 2]));
    }

    [Fact]
    public void Paired_TwoRaters_KeepsItemsBothAnswered()
    {
        Rating[] ratings = [new(0, 0, 1), new(0, 1, 2), new(1, 0, 3), new(2, 1, 4), new(3, 1, 5), new(3, 0, 6)];
        var (a, b) = Agreement.Paired(ratings, 0, 1);
        a.ShouldBe([1, 6]);
        b.ShouldBe([2, 5]);
    }

    [Theory]
    [InlineData(MeasurementLevel.Nominal)]
    [InlineData(MeasurementLevel.Ordinal)]
    [InlineData(MeasurementLevel.Interval)]
    [InlineData(MeasurementLevel.Ratio)]
    public void KrippendorffAlpha_PerfectAgreementWithMissingData_IsOne(MeasurementLevel level)
    {
        var ratings = new List<Rating>();
        for (var item = 0; item < 30; item++)
        {
            for (var rater = 0; rater < 5; rater++)
            {
                if ((item + rater) % 4 != 0)
                {
                    ratings.Add(new Rating(item, rater, 1 + (item % 4)));
                }
            }
        }
        Agreement.KrippendorffAlpha([.. ratings], level).ShouldBe(1, 1e-12);
    }

    [Fact]
    public void KrippendorffAlpha_SystematicDisagreement_IsNegative()
    {
        // Two raters who always pick the two different values: observed disagreement exceeds chance.
        Rating[] ratings = [.. Enumerable.Range(0, 10).SelectMany(i => new Rating[] { new(i, 0, 0), new(i, 1, 1) })];
        Agreement.KrippendorffAlpha(ratings, MeasurementLevel.Nominal).ShouldBeLessThan(0);
    }

    [Fact]
    public void KrippendorffAlpha_NoVariation_IsNaN()
    {
        Rating[] ratings = [new(0, 0, 2), new(0, 1, 2), new(1, 0, 2), new(1, 1, 2)];
        double.IsNaN(Agreement.KrippendorffAlpha(ratings, MeasurementLevel.Nominal)).ShouldBeTrue();
    }

    [Fact]
    public void KrippendorffAlpha_RatersAndItemsRelabelled_IsUnchanged()
    {
        var data = TestData.Snow("temp.standardized.tsv");
        var shuffled = data.Ratings.Select(r => new Rating(1000 - r.Item, r.Rater * 3, r.Value)).Reverse().ToArray();
        Agreement.KrippendorffAlpha(shuffled, MeasurementLevel.Nominal)
            .ShouldBe(Agreement.KrippendorffAlpha(data.Ratings, MeasurementLevel.Nominal), 1e-12);
    }

    [Fact]
    public void KrippendorffAlpha_NaNValues_AreIgnored()
    {
        var ratings = Krippendorff2011().ToList();
        var expected = Agreement.KrippendorffAlpha([.. ratings], MeasurementLevel.Interval);
        ratings.Add(new Rating(0, 7, double.NaN));
        ratings.Add(new Rating(40, 1, double.NaN));
        Agreement.KrippendorffAlpha([.. ratings], MeasurementLevel.Interval).ShouldBe(expected, 1e-12);
    }

    [Fact]
    public void PercentAgreement_TwoItemsTwoRaters_IsShareOfEqualPairs()
    {
        // Item 0: 3 raters, answers a, a, b → 1 of 3 pairs agree; item 1: 2 raters agree; item 2: single answer, left out.
        Rating[] ratings = [new(0, 0, 1), new(0, 1, 1), new(0, 2, 2), new(1, 0, 5), new(1, 1, 5), new(2, 0, 3)];
        Agreement.PercentAgreement(ratings).ShouldBe(((1.0 / 3) + 1) / 2, 1e-12);
    }

    [Fact]
    public void KendallW_IdenticalRankings_IsOne()
    {
        var ratings = Enumerable.Range(0, 4).SelectMany(rater => Enumerable.Range(0, 6).Select(o => new Rating(o, rater, o * 10))).ToArray();
        Agreement.KendallW(ratings).ShouldBe(1, 1e-12);
    }

    [Fact]
    public void KendallW_TwoOppositeRankings_IsZero()
    {
        var ratings = Enumerable.Range(0, 5).SelectMany(o => new Rating[] { new(o, 0, o), new(o, 1, -o) }).ToArray();
        Agreement.KendallW(ratings).ShouldBe(0, 1e-12);
    }

    [Fact]
    public void KendallW_NoTies_MatchesMeanSpearmanIdentity()
    {
        // Without ties, mean pairwise Spearman rho = (mW − 1) / (m − 1) (Kendall & Babington Smith 1939).
        var random = new Random(11);
        const int raters = 5, objects = 9;
        var ranks = new int[raters][];
        for (var r = 0; r < raters; r++)
        {
            ranks[r] = [.. Enumerable.Range(1, objects).OrderBy(_ => random.Next())];
        }
        double rhoSum = 0;
        var pairs = 0;
        for (var a = 0; a < raters; a++)
        {
            for (var b = a + 1; b < raters; b++)
            {
                var d2 = ranks[a].Zip(ranks[b], (x, y) => (double)(x - y) * (x - y)).Sum();
                rhoSum += 1 - (6 * d2 / (objects * ((objects * objects) - 1.0)));
                pairs++;
            }
        }
        var ratings = Enumerable.Range(0, raters).SelectMany(r => Enumerable.Range(0, objects).Select(o => new Rating(o, r, ranks[r][o]))).ToArray();
        var w = Agreement.KendallW(ratings);
        (rhoSum / pairs).ShouldBe(((raters * w) - 1) / (raters - 1), 1e-12);
    }

    [Fact]
    public void KendallW_TiedRanks_UsesTieCorrection()
    {
        // Two raters who both tie the same two objects agree perfectly: only the tie correction gives exactly 1.
        Rating[] ratings = [new(0, 0, 1), new(1, 0, 2), new(2, 0, 2), new(0, 1, 1), new(1, 1, 2), new(2, 1, 2)];
        Agreement.KendallW(ratings).ShouldBe(1, 1e-12);
    }

    [Fact]
    public void KendallW_IncompleteRanking_Throws()
    {
        Rating[] ratings = [new(0, 0, 1), new(1, 0, 2), new(0, 1, 1)];
        Should.Throw<ArgumentException>(() => Agreement.KendallW(ratings));
    }

    [Fact]
    public void MeanKendallW_TwoGroups_AveragesGroupValues()
    {
        // Group 0 (objects 0-2): two raters agree → 1; group 1 (objects 3-4): two raters disagree → 0.
        Rating[] ratings = [new(0, 0, 1), new(1, 0, 2), new(2, 0, 3), new(0, 1, 1), new(1, 1, 2), new(2, 1, 3), new(3, 0, 1), new(4, 0, 2), new(3, 1, 2), new(4, 1, 1)];
        Agreement.MeanKendallW(ratings, [0, 0, 0, 1, 1]).ShouldBe(0.5, 1e-12);
    }

    [Fact]
    public void MeanPerLabelAlpha_IdenticalAnswers_IsOne()
    {
        var answers = new List<LabelSetAnswer>();
        for (var item = 0; item < 12; item++)
        {
            int[] labels = [.. Enumerable.Range(0, 4).Where(l => ((item >> l) & 1) == 1)];
            for (var rater = 0; rater < 3; rater++)
            {
                answers.Add(new LabelSetAnswer(item, rater, labels));
            }
        }
        Agreement.MeanPerLabelAlpha([.. answers], 5).ShouldBe(1, 1e-12); // label 4 is never used: left out
    }

    [Fact]
    public void MeanPerLabelAlpha_EqualsMeanOfBinaryAlphas()
    {
        var random = new Random(3);
        var answers = Enumerable.Range(0, 40).SelectMany(item => Enumerable.Range(0, 3).Select(rater =>
            new LabelSetAnswer(item, rater, [.. Enumerable.Range(0, 3).Where(_ => random.Next(3) == 0)]))).ToArray();
        var expected = Enumerable.Range(0, 3).Select(label => Agreement.KrippendorffAlpha(
            answers.Select(a => new Rating(a.Item, a.Rater, a.Labels.Contains(label) ? 1 : 0)).ToArray(), MeasurementLevel.Nominal)).Average();
        Agreement.MeanPerLabelAlpha(answers, 3).ShouldBe(expected, 1e-12);
    }
}

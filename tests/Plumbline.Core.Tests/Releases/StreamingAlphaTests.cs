using Plumbline.Core.Quality;
using Plumbline.Core.Releases;

namespace Plumbline.Core.Tests.Releases;

public sealed class StreamingAlphaTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Value_RandomData_EqualsKrippendorffAlphaOverAllRatings(bool interval)
    {
        var random = new Random(interval ? 3 : 4);
        var ratings = new List<Rating>();
        var streaming = new StreamingAlpha(interval);
        for (var item = 0; item < 300; item++)
        {
            var truth = random.Next(5);
            var raters = random.Next(1, 5);
            var values = new List<double>();
            for (var r = 0; r < raters; r++)
            {
                var v = random.NextDouble() < 0.7 ? truth : random.Next(5);
                values.Add(v);
                ratings.Add(new Rating(item, r, v));
            }
            streaming.AddItem(values);
        }

        var expected = Agreement.KrippendorffAlpha(ratings.ToArray(), interval ? MeasurementLevel.Interval : MeasurementLevel.Nominal);

        streaming.Value().ShouldBe(expected, 1e-9);
    }

    [Fact]
    public void Value_KrippendorffWorkedExample_Nominal()
    {
        // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers, 12 units,
        // values 1-5 with missing data; nominal alpha = 0.743.
        double?[][] units =
        [
            [1, 1, null, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
            [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [null, 5, 5, 5], [null, null, 1, 1], [null, null, 3, null],
        ];
        var alpha = new StreamingAlpha(interval: false);
        foreach (var unit in units)
        {
            alpha.AddItem(unit.Where(v => v is not null).Select(v => v!.Value));
        }

        alpha.Value().ShouldBe(0.743, 0.0005);
    }
}

using Plumbline.Core.Quality;

namespace Plumbline.Core.Tests.Quality;

public class BinomialTestTests
{
    // 9 of 10 under p = 0.5: exactly 2·(1 + 10)/1024 = 0.021484375 (R: binom.test(9, 10) gives p-value = 0.02148).
    [Fact]
    public void TwoSided_NineOfTenFair_IsTwiceTheUpperTail() =>
        BinomialTest.TwoSided(9, 10).ShouldBe(22.0 / 1024, 1e-12);

    // R's documentation of binom.test, Mendel's peas: binom.test(c(682, 243), p = 3/4) prints p-value = 0.3825.
    [Fact]
    public void TwoSided_MendelPeas_MatchesRDocumentation() =>
        BinomialTest.TwoSided(682, 925, 0.75).ShouldMatchPublished(0.3825, 4);

    [Fact]
    public void TwoSided_ExactlyHalf_IsOne() =>
        BinomialTest.TwoSided(50, 100).ShouldBe(1, 1e-9);

    [Fact]
    public void TwoSided_IsSymmetricForFairCoin() =>
        BinomialTest.TwoSided(3, 40).ShouldBe(BinomialTest.TwoSided(37, 40), 1e-15);
}

using Plumbline.Core.Releases;

namespace Plumbline.Core.Tests.Releases;

public sealed class SplitAssignerTests
{
    [Fact]
    public void Of_SameSeed_SameSplitWhateverTheOrder()
    {
        var a = new SplitAssigner(42, 0.1, 0.1);
        var b = new SplitAssigner(42, 0.1, 0.1);
        var ids = Enumerable.Range(0, 1000).Select(i => "item-" + i).ToList();

        var forward = ids.Select(a.Of).ToList();
        var backward = Enumerable.Reverse(ids).Select(b.Of).Reverse().ToList();

        backward.ShouldBe(forward);
    }

    [Fact]
    public void Of_TenThousandItems_SharesCloseToRequested()
    {
        var splits = new SplitAssigner(7, 0.1, 0.2);

        var counts = Enumerable.Range(0, 10_000).Select(i => splits.Of("x" + i)).GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());

        // Binomial standard deviation at n = 10,000 and p = 0.2 is 40; five of them is a generous bound.
        counts[Splits.Train].ShouldBeInRange(7000 - 230, 7000 + 230);
        counts[Splits.Validation].ShouldBeInRange(1000 - 150, 1000 + 150);
        counts[Splits.Test].ShouldBeInRange(2000 - 200, 2000 + 200);
    }

    [Fact]
    public void Of_DifferentSeed_DifferentAssignment()
    {
        var ids = Enumerable.Range(0, 200).Select(i => "item-" + i).ToList();

        ids.Select(new SplitAssigner(1, 0.5, 0).Of).ShouldNotBe(ids.Select(new SplitAssigner(2, 0.5, 0).Of));
    }

    [Fact]
    public void Stratified_EachStratumGetsTheExactShares()
    {
        var splits = new SplitAssigner(3, 0.1, 0.1);
        var items = Enumerable.Range(0, 100).Select(i => ((long)i, "e" + i, "en"))
            .Concat(Enumerable.Range(100, 20).Select(i => ((long)i, "e" + i, "de")));

        var result = splits.Stratified(items);

        result.Where(p => p.Key < 100).Count(p => p.Value == Splits.Test).ShouldBe(10);
        result.Where(p => p.Key < 100).Count(p => p.Value == Splits.Validation).ShouldBe(10);
        result.Where(p => p.Key >= 100).Count(p => p.Value == Splits.Test).ShouldBe(2);
        result.Where(p => p.Key >= 100).Count(p => p.Value == Splits.Train).ShouldBe(16);
    }

    [Fact]
    public void Constructor_SharesOverOne_Refused() =>
        Should.Throw<ReleaseException>(() => new SplitAssigner(1, 0.6, 0.5)).Message.ShouldContain("add up to at most 1");

    [Fact]
    public void Pseudonymizer_StablePerSaltAndDifferentAcrossSalts()
    {
        var one = new Pseudonymizer([1, 2, 3]);
        var same = new Pseudonymizer([1, 2, 3]);
        var other = new Pseudonymizer([9, 9, 9]);

        one.Of(5).ShouldBe(same.Of(5));
        one.Of(5).ShouldNotBe(one.Of(6));
        one.Of(5).ShouldNotBe(other.Of(5));
        one.Of(5).ShouldMatch("^a_[0-9a-f]{16}$");
    }
}

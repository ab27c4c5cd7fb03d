using System.Globalization;
using Plumbline.Core.Quality;

namespace Plumbline.Core.Tests.Quality;

public class LeaderboardTests
{
    private static readonly LeaderboardOptions Fast = new(Rounds: 200, Seed: 7);

    /// <summary>
    /// Votes whose win counts equal their Bradley–Terry expectations for strengths 4 : 2 : 1, so the maximum-likelihood
    /// fit is exactly those strengths (expected wins = observed wins is the likelihood equation, Zermelo 1929):
    /// big beats mid 4–2 (2/3), mid beats small 4–2 (2/3), big beats small 4–1 (4/5).
    /// </summary>
    private static LeaderboardBuilder KnownStrengths()
    {
        var votes = new LeaderboardBuilder();
        void Add(string winner, string loser, int times, string category)
        {
            for (var i = 0; i < times; i++)
            {
                // Alternate sides: the fit must not depend on who was shown first.
                if (i % 2 == 0)
                {
                    votes.Add(winner, loser, PairOutcome.LeftWins, category);
                }
                else
                {
                    votes.Add(loser, winner, PairOutcome.RightWins, category);
                }
            }
        }
        Add("big", "mid", 4, "code");
        Add("mid", "big", 2, "code");
        Add("mid", "small", 4, "chat");
        Add("small", "mid", 2, "chat");
        Add("big", "small", 4, "chat");
        Add("small", "big", 1, "chat");
        return votes;
    }

    [Fact]
    public void Build_VotesMatchingStrengths421_GivesArenaRatingsOfThoseStrengths()
    {
        var board = KnownStrengths().Build(Fast);

        // 400·log10(4, 2, 1) = 240.82, 120.41, 0; mean-centred on 1000: 1120.41, 1000, 879.59.
        var expected = 400 * Math.Log10(2);
        board.Votes.ShouldBe(17);
        board.Models.Select(m => m.Model).ShouldBe(["big", "mid", "small"]);
        board.Models[0].Rating!.Value.ShouldBe(1000 + expected, 1e-6);
        board.Models[1].Rating!.Value.ShouldBe(1000, 1e-6);
        board.Models[2].Rating!.Value.ShouldBe(1000 - expected, 1e-6);
        board.Models.Select(m => m.Rank).ShouldBe([1, 2, 3]);
        board.Models[0].Votes.ShouldBe(11);
        board.Models[0].Wins.ShouldBe(8);
        board.Models[0].Losses.ShouldBe(3);
        foreach (var m in board.Models)
        {
            // With 17 votes some resamples give "small" no win at all: its lower bound is then minus infinity (null).
            (m.Lower ?? double.NegativeInfinity).ShouldBeLessThanOrEqualTo(m.Rating!.Value);
            m.Upper!.Value.ShouldBeGreaterThanOrEqualTo(m.Rating.Value);
            m.BestRank.ShouldBeLessThanOrEqualTo(m.Rank);
            m.WorstRank.ShouldBeGreaterThanOrEqualTo(m.Rank);
        }
    }

    [Fact]
    public void Build_WinRateMatrix_CountsHeadToHeadInLeaderboardOrder()
    {
        var board = KnownStrengths().Build(Fast);

        board.WinRates.Models.ShouldBe(["big", "mid", "small"]);
        board.WinRates.Battles[0][1].ShouldBe(6);
        board.WinRates.Battles[1][0].ShouldBe(6);
        board.WinRates.WinRate[0][1]!.Value.ShouldBe(4.0 / 6, 1e-12);
        board.WinRates.WinRate[1][0]!.Value.ShouldBe(2.0 / 6, 1e-12);
        board.WinRates.WinRate[0][2]!.Value.ShouldBe(4.0 / 5, 1e-12);
        board.WinRates.WinRate[2][1]!.Value.ShouldBe(2.0 / 6, 1e-12);
        board.WinRates.WinRate[1][1].ShouldBeNull();
    }

    [Fact]
    public void Build_Categories_FitEachCategoryOnItsOwnVotes()
    {
        var board = KnownStrengths().Build(Fast);

        board.Categories.Select(c => (c.Category, c.Votes)).ShouldBe([("chat", 11), ("code", 6)]);
        var code = board.Categories[1];
        code.Models.Select(m => m.Model).ShouldBe(["big", "mid"]);
        // Two models, 4–2: strengths 2 : 1, so the ratings sit 400·log10(2) apart around 1000.
        (code.Models[0].Rating!.Value - code.Models[1].Rating!.Value).ShouldBe(400 * Math.Log10(2), 1e-6);
        code.Models[0].Rating!.Value.ShouldBe(1000 + (200 * Math.Log10(2)), 1e-6);
    }

    [Fact]
    public void Build_MoreCategoriesThanTheLimit_KeepsTheLargestAndCountsTheRest()
    {
        var board = KnownStrengths().Build(Fast with { MaxCategories = 1 });

        board.Categories.Select(c => c.Category).ShouldBe(["chat"]);
        board.CategoriesOmitted.ShouldBe(1);
    }

    [Fact]
    public void Build_TiesCountHalf_AndModelThatNeverScoredHasNoRating()
    {
        var votes = new LeaderboardBuilder();
        votes.Add("a", "b", PairOutcome.Tie);
        votes.Add("b", "a", PairOutcome.Tie);
        votes.Add("a", "c", PairOutcome.LeftWins);
        var board = votes.Build(Fast);

        board.Models.Single(m => m.Model == "c").Rating.ShouldBeNull();
        board.Models.Single(m => m.Model == "c").Rank.ShouldBe(3);
        board.Models.Single(m => m.Model == "a").Ties.ShouldBe(2);
        board.WinRates.WinRate[board.WinRates.Models.ToList().IndexOf("a")][board.WinRates.Models.ToList().IndexOf("b")]!.Value.ShouldBe(0.5, 1e-12);
    }

    [Fact]
    public void Build_SameSeed_SameIntervals_OtherSeedOtherIntervals()
    {
        var a = KnownStrengths().Build(Fast);
        var b = KnownStrengths().Build(Fast);
        var c = KnownStrengths().Build(Fast with { Seed = 8 });

        a.Models.ShouldBe(b.Models);
        a.Models.Select(m => m.Lower).ShouldNotBe(c.Models.Select(m => m.Lower));
    }

    [Fact]
    public void Add_SameModelTwice_Throws()
    {
        Should.Throw<ArgumentException>(() => new LeaderboardBuilder().Add("m", "m", PairOutcome.Tie)).Message.ShouldContain("'m' twice");
    }

    // Ustalov, "LLMFAO" (CC BY 4.0): 8,931 crowd votes on 59 models, with published Bradley–Terry scores normalised to sum 1,
    // ties as half a win (llmfao/published_bt_crowd.txt; top: GPT 4 = 0.041215). The leaderboard shows them on the Chatbot
    // Arena scale; mapped back (p ∝ 10^(rating/400)) they must match the published scores within the published table's
    // stopping error (5e-6, see PairwiseTests), and the vote counts must match its "pairs" column exactly.
    [Fact]
    public void Build_LlmfaoCrowdVotes_RatingsMapBackToPublishedScores()
    {
        var votes = new LeaderboardBuilder();
        foreach (var line in File.ReadLines(TestData.PathOf("llmfao", "crowd-comparisons.csv")).Skip(1))
        {
            var f = line.Split(',');
            votes.Add(f[6], f[7], f[5] switch { "left" => PairOutcome.LeftWins, "right" => PairOutcome.RightWins, _ => PairOutcome.Tie });
        }
        var board = votes.Build(new LeaderboardOptions(Rounds: 100, Seed: 1));
        var published = new Dictionary<string, (double Score, int Pairs)>();
        foreach (var line in File.ReadLines(TestData.PathOf("llmfao", "published_bt_crowd.txt")).Skip(1))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            published[string.Join(' ', parts[..^3])] = (double.Parse(parts[^3], CultureInfo.InvariantCulture), int.Parse(parts[^2], CultureInfo.InvariantCulture));
        }

        board.Votes.ShouldBe(8931);
        board.Models.Count.ShouldBe(59);
        board.Models[0].Model.ShouldBe("GPT 4");
        var strengths = board.Models.ToDictionary(m => m.Model, m => Math.Pow(10, m.Rating!.Value / 400));
        var total = strengths.Values.Sum();
        foreach (var m in board.Models)
        {
            (strengths[m.Model] / total).ShouldBe(published[m.Model].Score, 5e-6, m.Model);
            m.Votes.ShouldBe(published[m.Model].Pairs, m.Model);
        }
        board.Models.Average(m => m.Rating!.Value).ShouldBe(1000, 1e-9);
    }
}

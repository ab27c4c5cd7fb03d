using System.Globalization;
using Plumbline.Core.Quality;

namespace Plumbline.Core.Tests.Quality;

public class PairwiseTests
{
    private static (Comparison[] Comparisons, List<string> Models) Llmfao()
    {
        var models = new List<string>();
        var index = new Dictionary<string, int>();
        int Model(string name)
        {
            if (!index.TryGetValue(name, out var i))
            {
                i = index[name] = models.Count;
                models.Add(name);
            }
            return i;
        }
        // Columns: id, prompt, model_x, model_y, worker, winner, left, right; winner is left, right or tie.
        var comparisons = File.ReadLines(TestData.PathOf("llmfao", "crowd-comparisons.csv")).Skip(1).Select(line =>
        {
            var f = line.Split(',');
            var outcome = f[5] switch
            {
                "left" => PairOutcome.LeftWins,
                "right" => PairOutcome.RightWins,
                "tie" => PairOutcome.Tie,
                _ => throw new InvalidDataException($"Unexpected winner '{f[5]}'."),
            };
            return new Comparison(Model(f[6]), Model(f[7]), outcome);
        }).ToArray();
        return (comparisons, models);
    }

    private static Dictionary<string, (double Score, int Votes)> Published()
    {
        // Fixed-width table: model name (may contain spaces), then score, pairs (votes involving the model), rank.
        var table = new Dictionary<string, (double, int)>();
        foreach (var line in File.ReadLines(TestData.PathOf("llmfao", "published_bt_crowd.txt")).Skip(1))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 4)
            {
                continue;
            }
            table[string.Join(' ', parts[..^3])] = (double.Parse(parts[^3], CultureInfo.InvariantCulture), int.Parse(parts[^2], CultureInfo.InvariantCulture));
        }
        return table;
    }

    // Ustalov, "LLMFAO" (CC BY 4.0): published Bradley–Terry scores of the crowd votes, normalised to sum 1,
    // ties as half a win (llmfao/published_bt_crowd.txt; top: GPT 4 = 0.041215). The table is the MM iteration
    // stopped once no score moves by 1e-6 in one step: with that rule every one of the 59 rows reproduces to
    // the 6 published decimals. (Inferred from the numbers: the fully converged fit is tested below.)
    [Fact]
    public void BradleyTerry_LlmfaoCrowdVotesStoppedAt1e6_MatchesAllPublishedScores()
    {
        var (comparisons, models) = Llmfao();
        comparisons.Length.ShouldBe(8931);
        var published = Published();
        published.Count.ShouldBe(59);
        models.Count.ShouldBe(59);
        var votes = new int[models.Count];
        foreach (var c in comparisons)
        {
            votes[c.Left]++;
            votes[c.Right]++;
        }
        var scores = BradleyTerry.Fit(comparisons, models.Count, tolerance: 1e-6);
        scores.Sum().ShouldBe(1, 1e-12);
        scores[models.IndexOf("GPT 4")].ShouldMatchPublished(0.041215, 6);
        for (var m = 0; m < models.Count; m++)
        {
            scores[m].ShouldMatchPublished(published[models[m]].Score, 6);
            votes[m].ShouldBe(published[models[m]].Votes, models[m]);
        }
    }

    // Same source. Run to convergence, the fit is the maximum-likelihood estimate (next test), and differs from the
    // early-stopped published table by no more than its stopping error (largest for GPT 4: 0.0412179 vs 0.041215).
    [Fact]
    public void BradleyTerry_LlmfaoConverged_IsWithinStoppingErrorOfPublished()
    {
        var (comparisons, models) = Llmfao();
        var published = Published();
        var scores = BradleyTerry.Fit(comparisons, models.Count);
        for (var m = 0; m < models.Count; m++)
        {
            scores[m].ShouldBe(published[models[m]].Score, 5e-6, models[m]);
        }
        scores[models.IndexOf("GPT 4")].ShouldBe(scores.Max());
    }

    [Fact]
    public void BradleyTerry_Fit_SatisfiesLikelihoodEquations()
    {
        // At the maximum, each model's expected wins equal its observed wins (Zermelo 1929).
        var (comparisons, models) = Llmfao();
        var p = BradleyTerry.Fit(comparisons, models.Count);
        var observed = new double[models.Count];
        var expected = new double[models.Count];
        foreach (var c in comparisons)
        {
            observed[c.Left] += c.LeftScore;
            observed[c.Right] += 1 - c.LeftScore;
            expected[c.Left] += p[c.Left] / (p[c.Left] + p[c.Right]);
            expected[c.Right] += p[c.Right] / (p[c.Left] + p[c.Right]);
        }
        for (var m = 0; m < models.Count; m++)
        {
            expected[m].ShouldBe(observed[m], 1e-6);
        }
    }

    [Fact]
    public void BradleyTerry_TwoModels_OddsEqualWinRatio()
    {
        // A beats B 3 times, loses once, ties twice: 4 to 2 in half-wins, so p_A / p_B = 2.
        Comparison[] c =
        [
            new(0, 1, PairOutcome.LeftWins), new(1, 0, PairOutcome.RightWins), new(0, 1, PairOutcome.LeftWins),
            new(0, 1, PairOutcome.RightWins), new(0, 1, PairOutcome.Tie), new(1, 0, PairOutcome.Tie),
        ];
        var p = BradleyTerry.Fit(c, 2);
        p[0].ShouldBe(2.0 / 3, 1e-9);
        p[1].ShouldBe(1.0 / 3, 1e-9);
    }

    [Fact]
    public void BradleyTerry_ModelNeverCompared_IsNaN()
    {
        Comparison[] c = [new(0, 1, PairOutcome.LeftWins), new(1, 0, PairOutcome.LeftWins)];
        var p = BradleyTerry.Fit(c, 3);
        double.IsNaN(p[2]).ShouldBeTrue();
        p[0].ShouldBe(0.5, 1e-9);
    }

    [Fact]
    public void ToArenaScale_TwoModels_DifferBy400Log10OfOdds()
    {
        var elo = BradleyTerry.ToArenaScale([2.0 / 3, 1.0 / 3]);
        (elo[0] - elo[1]).ShouldBe(400 * Math.Log10(2), 1e-9);
        ((elo[0] + elo[1]) / 2).ShouldBe(1000, 1e-9);
    }

    // Chatbot Arena notebook (FastChat), compute_online_elo with K=4, SCALE=400, BASE=10, INIT_RATING=1000,
    // worked by hand. Game 1, A beats B: E_A = 1/(1+10^0) = 0.5, so A = 1000 + 4·0.5 = 1002, B = 998.
    // Game 2, tie: E_A = 1/(1+10^(−4/400)) = 0.5057562, so A = 1002 + 4·(0.5 − 0.5057562) = 1001.976975, B = 998.023025.
    [Fact]
    public void EloOnline_TwoGames_MatchesComputeOnlineEloByHand()
    {
        Comparison[] games = [new(0, 1, PairOutcome.LeftWins)];
        var afterOne = Elo.Online(games, 2);
        afterOne[0].ShouldBe(1002, 1e-12);
        afterOne[1].ShouldBe(998, 1e-12);
        var afterTwo = Elo.Online([games[0], new Comparison(0, 1, PairOutcome.Tie)], 2);
        afterTwo[0].ShouldMatchPublished(1001.976975, 6);
        afterTwo[1].ShouldMatchPublished(998.023025, 6);
        (afterTwo[0] + afterTwo[1]).ShouldBe(2000, 1e-9);
    }

    [Fact]
    public void EloOnline_OrderOfGames_Matters()
    {
        Comparison[] a = [new(0, 1, PairOutcome.LeftWins), new(0, 1, PairOutcome.RightWins)];
        Comparison[] b = [a[1], a[0]];
        var ra = Elo.Online(a, 2);
        var rb = Elo.Online(b, 2);
        ra[0].ShouldBeLessThan(1000);
        rb[0].ShouldBeGreaterThan(1000);
    }

    [Fact]
    public void Bootstrap_Llmfao_IntervalsContainPointAndAreReproducible()
    {
        var (comparisons, models) = Llmfao();
        var ranked = BradleyTerry.Bootstrap(comparisons, models.Count, rounds: 50, seed: 1);
        var again = BradleyTerry.Bootstrap(comparisons, models.Count, rounds: 50, seed: 1);
        ranked.ShouldBe(again);
        var point = BradleyTerry.Fit(comparisons, models.Count);
        ranked.Length.ShouldBe(models.Count);
        foreach (var r in ranked)
        {
            r.Score.ShouldBe(point[r.Model], 1e-8);
            r.Lower.ShouldBeLessThan(r.Score);
            r.Upper.ShouldBeGreaterThan(r.Score);
            r.BestRank.ShouldBeLessThanOrEqualTo(r.Rank);
            r.WorstRank.ShouldBeGreaterThanOrEqualTo(r.Rank);
        }
        ranked[0].Model.ShouldBe(models.IndexOf("GPT 4"));
        ranked[0].Rank.ShouldBe(1);
        ranked.Select(r => r.Rank).ShouldBeInOrder();
        BradleyTerry.Bootstrap(comparisons, models.Count, rounds: 50, seed: 2).ShouldNotBe(ranked);
    }

    [Fact]
    public void Bootstrap_MoreData_GivesNarrowerIntervals()
    {
        Comparison[] few = [.. Enumerable.Range(0, 40).Select(i => new Comparison(0, 1, i % 3 == 0 ? PairOutcome.RightWins : PairOutcome.LeftWins))];
        Comparison[] many = [.. Enumerable.Repeat(few, 25).SelectMany(c => c)];
        double Width(Comparison[] c) => BradleyTerry.Bootstrap(c, 2, 200, 9).Sum(r => r.Upper - r.Lower);
        Width(many).ShouldBeLessThan(Width(few) / 2);
    }

    [Fact]
    public void WithIntervals_OverlappingIntervals_ShareRankRange()
    {
        // 0 and 1 overlap; 2 lies entirely below both.
        var ranked = Ranking.WithIntervals([0.5, 0.4, 0.1], [0.35, 0.3, 0.05], [0.6, 0.45, 0.2]);
        ranked.Select(r => r.Model).ShouldBe([0, 1, 2]);
        ranked[0].ShouldBe(new RankedScore(0, 0.5, 0.35, 0.6, 1, 1, 2));
        ranked[1].ShouldBe(new RankedScore(1, 0.4, 0.3, 0.45, 2, 1, 2));
        ranked[2].ShouldBe(new RankedScore(2, 0.1, 0.05, 0.2, 3, 3, 3));
    }

    [Fact]
    public void ToComparisons_RankingWithTie_GivesAllPairs()
    {
        // Candidates 7, 8, 9 ranked 2, 1, 2: 8 beats both, 7 and 9 tie.
        var c = Ranking.ToComparisons([7, 8, 9], [2, 1, 2]);
        c.ShouldBe([new Comparison(7, 8, PairOutcome.RightWins), new Comparison(7, 9, PairOutcome.Tie), new Comparison(8, 9, PairOutcome.LeftWins)]);
    }

    [Fact]
    public void ToComparisons_ConsistentRankings_BradleyTerryOrdersModelsAsRanked()
    {
        var random = new Random(4);
        var comparisons = new List<Comparison>();
        for (var judge = 0; judge < 30; judge++)
        {
            // True order 0 > 1 > 2 > 3, with one adjacent swap by some judges so no model is unbeaten.
            int[] ranks = [1, 2, 3, 4];
            var swap = random.Next(3);
            (ranks[swap], ranks[swap + 1]) = (ranks[swap + 1], ranks[swap]);
            comparisons.AddRange(Ranking.ToComparisons([0, 1, 2, 3], ranks));
        }
        var p = BradleyTerry.Fit([.. comparisons], 4);
        p.ShouldBeInOrder(SortDirection.Descending);
    }
}

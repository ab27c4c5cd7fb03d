namespace Plumbline.Core.Quality;

/// <summary>Settings of a leaderboard computation.</summary>
/// <param name="Rounds">Bootstrap rounds for the intervals (Chatbot Arena uses 1,000).</param>
/// <param name="Seed">Seed of the resampling, so the same votes always give the same intervals.</param>
/// <param name="Confidence">Coverage of the intervals, e.g. 0.95.</param>
/// <param name="MaxCategories">Categories broken down, the largest first: each costs a bootstrap of its own.</param>
/// <param name="CategoryRounds">
/// Bootstrap rounds per category (at most <paramref name="Rounds"/>). A category's votes are sparse, and Bradley–Terry's
/// MM iteration converges slowly on sparse comparisons (about 5 ms per round on a 700-vote LLMFAO category against
/// 0.35 ms on all 8,931 votes), so categories get fewer rounds: their intervals are wide anyway.
/// </param>
public sealed record LeaderboardOptions(int Rounds = 1000, int Seed = 1, double Confidence = 0.95, int MaxCategories = 30, int CategoryRounds = 100);

/// <summary>One model's place on a leaderboard.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="Rating">Bradley–Terry rating on the Chatbot Arena scale (400·log10 of the strength, mean 1000); null when the model never won nor tied.</param>
/// <param name="Lower">Lower bound of the bootstrap interval of the rating; null when unbounded below.</param>
/// <param name="Upper">Upper bound of the bootstrap interval of the rating.</param>
/// <param name="Rank">Rank of the rating (1 = best).</param>
/// <param name="BestRank">The best rank the intervals allow: 1 + the models whose lower bound is above this model's upper bound (Chatbot Arena's "rank (UB)").</param>
/// <param name="WorstRank">The worst rank the intervals allow.</param>
/// <param name="Votes">Votes the model took part in.</param>
/// <param name="Wins">Votes it won.</param>
/// <param name="Losses">Votes it lost.</param>
/// <param name="Ties">Ties, including "both bad".</param>
public sealed record ModelStanding(string Model, double? Rating, double? Lower, double? Upper, int Rank, int BestRank, int WorstRank,
    int Votes, int Wins, int Losses, int Ties)
{
    /// <summary>Share of its votes the model won, ties counting half.</summary>
    public double WinRate => Votes == 0 ? 0 : (Wins + (0.5 * Ties)) / Votes;
}

/// <summary>Head-to-head results, rows and columns in leaderboard order.</summary>
/// <param name="Models">Model names, best first.</param>
/// <param name="WinRate">WinRate[i][j]: share of the votes between model i and model j that i won, ties counting half; null when they never met.</param>
/// <param name="Battles">Battles[i][j]: votes between model i and model j.</param>
public sealed record WinRateMatrix(IReadOnlyList<string> Models, double?[][] WinRate, int[][] Battles);

/// <summary>The leaderboard of the votes of one category (intervals from <see cref="LeaderboardOptions.CategoryRounds"/> bootstrap rounds).</summary>
public sealed record CategoryStanding(string Category, int Votes, IReadOnlyList<ModelStanding> Models);

/// <summary>Ratings, head-to-head results and per-category breakdowns of a set of human votes between models.</summary>
/// <param name="CategoriesOmitted">Smaller categories left out of the breakdown (beyond <see cref="LeaderboardOptions.MaxCategories"/>).</param>
public sealed record LeaderboardResult(int Votes, IReadOnlyList<ModelStanding> Models, WinRateMatrix WinRates, IReadOnlyList<CategoryStanding> Categories,
    int Rounds, int Seed, double Confidence, int CategoriesOmitted = 0);

/// <summary>
/// Collects votes between named models and computes a Chatbot Arena style leaderboard: Bradley–Terry ratings fitted by
/// maximum likelihood (<see cref="BradleyTerry"/>; ties count half a win each, as in LLMFAO and FastChat's
/// <c>compute_mle_elo</c>), shown on the Elo scale, with seeded bootstrap percentile intervals and ranks that respect them.
/// Memory is 12 bytes per vote, which the bootstrap needs anyway; names are interned once.
/// </summary>
public sealed class LeaderboardBuilder
{
    private readonly Dictionary<string, int> modelIndex = new(StringComparer.Ordinal);
    private readonly List<string> models = [];
    private readonly Dictionary<string, int> categoryIndex = new(StringComparer.Ordinal);
    private readonly List<string> categories = [];
    private readonly List<Comparison> comparisons = [];
    private readonly List<int> categoryOf = [];

    /// <summary>Votes added so far.</summary>
    public int Count => comparisons.Count;

    /// <summary>Adds one vote between two different models; <paramref name="category"/> is null when the item has none.</summary>
    public void Add(string left, string right, PairOutcome outcome, string? category = null)
    {
        if (string.Equals(left, right, StringComparison.Ordinal))
        {
            throw new ArgumentException($"A vote needs two different models, got '{left}' twice.", nameof(right));
        }
        comparisons.Add(new Comparison(Intern(modelIndex, models, left), Intern(modelIndex, models, right), outcome));
        categoryOf.Add(category is null ? -1 : Intern(categoryIndex, categories, category));
    }

    /// <summary>Computes the overall leaderboard and one per category (categories in order of vote count, then name).</summary>
    public LeaderboardResult Build(LeaderboardOptions options)
    {
        var all = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(comparisons);
        var overall = Standings(all, options);
        var byCategory = new List<CategoryStanding>();
        var omitted = 0;
        if (categories.Count > 0)
        {
            var buckets = new List<Comparison>[categories.Count];
            for (var c = 0; c < comparisons.Count; c++)
            {
                if (categoryOf[c] >= 0)
                {
                    (buckets[categoryOf[c]] ??= []).Add(comparisons[c]);
                }
            }
            var order = Enumerable.Range(0, categories.Count)
                .OrderByDescending(k => buckets[k].Count).ThenBy(k => categories[k], StringComparer.Ordinal).ToList();
            omitted = Math.Max(0, order.Count - options.MaxCategories);
            foreach (var k in order.Take(options.MaxCategories))
            {
                var votes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(buckets[k]);
                byCategory.Add(new CategoryStanding(categories[k], votes.Length, Standings(votes, options with { Rounds = Math.Min(options.Rounds, options.CategoryRounds) })));
            }
        }
        return new LeaderboardResult(comparisons.Count, overall, WinRates(all, overall), byCategory, options.Rounds, options.Seed, options.Confidence, omitted);
    }

    private List<ModelStanding> Standings(ReadOnlySpan<Comparison> votes, LeaderboardOptions options)
    {
        if (votes.IsEmpty)
        {
            return [];
        }
        // Refit on the models these votes involve only, so a category's fit never sees models absent from it.
        var local = new Dictionary<int, int>();
        var globalOf = new List<int>();
        var remapped = new Comparison[votes.Length];
        for (var c = 0; c < votes.Length; c++)
        {
            remapped[c] = new Comparison(Local(votes[c].Left), Local(votes[c].Right), votes[c].Outcome);
        }
        var n = globalOf.Count;
        var ranked = BradleyTerry.Bootstrap(remapped, n, options.Rounds, options.Seed, options.Confidence);
        var strengths = new double[n];
        foreach (var r in ranked)
        {
            strengths[r.Model] = r.Score;
        }
        var ratings = BradleyTerry.ToArenaScale(strengths);
        // The Elo scale is 400·log10(p) plus one shift for all models; the interval bounds take the same shift.
        var shift = double.NaN;
        for (var m = 0; m < n && double.IsNaN(shift); m++)
        {
            if (strengths[m] > 0)
            {
                shift = ratings[m] - (400 * Math.Log10(strengths[m]));
            }
        }
        var (wins, losses, ties) = (new int[n], new int[n], new int[n]);
        foreach (var c in remapped)
        {
            switch (c.Outcome)
            {
                case PairOutcome.LeftWins:
                    wins[c.Left]++;
                    losses[c.Right]++;
                    break;
                case PairOutcome.RightWins:
                    wins[c.Right]++;
                    losses[c.Left]++;
                    break;
                default:
                    ties[c.Left]++;
                    ties[c.Right]++;
                    break;
            }
        }
        var result = new List<ModelStanding>(n);
        foreach (var r in ranked)
        {
            var m = r.Model;
            result.Add(new ModelStanding(models[globalOf[m]], Finite(ratings[m]), Elo(r.Lower, shift), Elo(r.Upper, shift), r.Rank, r.BestRank, r.WorstRank,
                wins[m] + losses[m] + ties[m], wins[m], losses[m], ties[m]));
        }
        return result;

        int Local(int global)
        {
            if (!local.TryGetValue(global, out var l))
            {
                l = globalOf.Count;
                local[global] = l;
                globalOf.Add(global);
            }
            return l;
        }
    }

    private WinRateMatrix WinRates(ReadOnlySpan<Comparison> votes, List<ModelStanding> order)
    {
        var n = order.Count;
        var position = new int[models.Count];
        for (var i = 0; i < n; i++)
        {
            position[modelIndex[order[i].Model]] = i;
        }
        var battles = new int[n][];
        var score = new double[n][];
        for (var i = 0; i < n; i++)
        {
            battles[i] = new int[n];
            score[i] = new double[n];
        }
        foreach (var c in votes)
        {
            var (l, r) = (position[c.Left], position[c.Right]);
            battles[l][r]++;
            battles[r][l]++;
            score[l][r] += c.LeftScore;
            score[r][l] += 1 - c.LeftScore;
        }
        var rate = new double?[n][];
        for (var i = 0; i < n; i++)
        {
            rate[i] = new double?[n];
            for (var j = 0; j < n; j++)
            {
                rate[i][j] = battles[i][j] == 0 ? null : score[i][j] / battles[i][j];
            }
        }
        return new WinRateMatrix([.. order.Select(s => s.Model)], rate, battles);
    }

    private static double? Elo(double strength, double shift) =>
        strength > 0 && !double.IsNaN(shift) ? (400 * Math.Log10(strength)) + shift : null;

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private static int Intern(Dictionary<string, int> index, List<string> names, string name)
    {
        if (!index.TryGetValue(name, out var i))
        {
            i = names.Count;
            index[name] = i;
            names.Add(name);
        }
        return i;
    }
}

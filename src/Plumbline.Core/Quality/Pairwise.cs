namespace Plumbline.Core.Quality;

/// <summary>Outcome of one pairwise comparison.</summary>
public enum PairOutcome
{
    /// <summary>The left model won.</summary>
    LeftWins,

    /// <summary>The right model won.</summary>
    RightWins,

    /// <summary>Tie (including "both bad"): half a win for each side.</summary>
    Tie,
}

/// <summary>One pairwise judgement between two models (or candidates), as zero-based indices.</summary>
/// <param name="Left">The model shown first (left).</param>
/// <param name="Right">The model shown second (right).</param>
/// <param name="Outcome">Who won.</param>
public readonly record struct Comparison(int Left, int Right, PairOutcome Outcome)
{
    /// <summary>The left side's score: 1 for a win, 0.5 for a tie, 0 for a loss.</summary>
    public double LeftScore => Outcome switch
    {
        PairOutcome.LeftWins => 1,
        PairOutcome.RightWins => 0,
        _ => 0.5,
    };
}

/// <summary>A model's score with a bootstrap percentile interval and the ranks that interval allows.</summary>
/// <param name="Model">Model index.</param>
/// <param name="Score">Point estimate from all comparisons.</param>
/// <param name="Lower">Lower bound of the interval.</param>
/// <param name="Upper">Upper bound of the interval.</param>
/// <param name="Rank">Rank of the point estimate (1 = best; equal scores share the best rank).</param>
/// <param name="BestRank">1 + the number of models whose lower bound is above this model's upper bound.</param>
/// <param name="WorstRank">The number of models minus those whose upper bound is below this model's lower bound.</param>
public readonly record struct RankedScore(int Model, double Score, double Lower, double Upper, int Rank, int BestRank, int WorstRank);

/// <summary>
/// Bradley–Terry strengths from pairwise comparisons, by maximum likelihood with the MM (Zermelo) iteration
/// of Hunter (2004), "MM algorithms for generalized Bradley–Terry models". A tie counts as half a win for each side.
/// </summary>
public static class BradleyTerry
{
    /// <summary>
    /// Strengths p (normalised to sum 1) such that P(i beats j) = p_i / (p_i + p_j). A model that never won
    /// (not even a tie) gets 0, its maximum-likelihood value; models never compared get NaN.
    /// </summary>
    /// <param name="comparisons">The judgements.</param>
    /// <param name="modelCount">Number of models (indices 0..modelCount-1).</param>
    /// <param name="tolerance">
    /// Stop when no normalised strength changes by this much or more in one iteration. MM converges linearly,
    /// so a loose tolerance stops visibly short of the maximum: 1e-6 leaves errors of a few 1e-6 on 59 models.
    /// </param>
    /// <param name="maxIterations">Upper bound on MM iterations.</param>
    public static double[] Fit(ReadOnlySpan<Comparison> comparisons, int modelCount, double tolerance = 1e-12, int maxIterations = 100_000)
    {
        var table = PairTable.From(comparisons, modelCount);
        return table.Fit(table.Wins(comparisons), tolerance, maxIterations);
    }

    /// <summary>
    /// Strengths on the Chatbot Arena scale: 400·log10(p), shifted so the mean rating is 1000. Models with a
    /// strength of 0 or NaN get NaN (their rating is minus infinity) and are left out of the mean.
    /// </summary>
    public static double[] ToArenaScale(ReadOnlySpan<double> strengths, double scale = 400, double initial = 1000)
    {
        var result = new double[strengths.Length];
        double sum = 0;
        var used = 0;
        for (var i = 0; i < strengths.Length; i++)
        {
            result[i] = strengths[i] > 0 ? scale * Math.Log10(strengths[i]) : double.NaN;
            if (!double.IsNaN(result[i]))
            {
                sum += result[i];
                used++;
            }
        }
        var shift = initial - (sum / used);
        for (var i = 0; i < result.Length; i++)
        {
            result[i] += shift;
        }
        return result;
    }

    /// <summary>
    /// Bootstrap percentile intervals of the strengths: <paramref name="rounds"/> times, draw as many comparisons as
    /// there are, with replacement, refit, and take the (1 − confidence)/2 and (1 + confidence)/2 quantiles.
    /// Ranks with intervals follow the Chatbot Arena rule (a model is only ranked below models whose interval
    /// lies entirely above its own).
    /// </summary>
    /// <param name="comparisons">The judgements.</param>
    /// <param name="modelCount">Number of models.</param>
    /// <param name="rounds">Bootstrap rounds (1,000 is customary).</param>
    /// <param name="seed">Seed of the resampling, so a release's figures are reproducible.</param>
    /// <param name="confidence">Interval coverage, e.g. 0.95.</param>
    public static RankedScore[] Bootstrap(ReadOnlySpan<Comparison> comparisons, int modelCount, int rounds, int seed, double confidence = 0.95)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rounds);
        if (confidence is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), "Confidence must be in (0, 1).");
        }
        var table = PairTable.From(comparisons, modelCount);
        var point = table.Fit(table.Wins(comparisons), 1e-10, 100_000);
        var samples = new double[modelCount * rounds];
        // Drawing dominates the cost: each comparison is reduced to the slot of its left model in the wins table
        // (the right model's slot is the other of the pair, slot ^ 1) and its left score, and draws come from a
        // seeded SplitMix64 with a 128-bit multiply for the bounded index (bias n/2^64), several times faster than
        // the seeded System.Random.
        var n = comparisons.Length;
        var slot = new int[n];
        var score = new double[n];
        for (var c = 0; c < n; c++)
        {
            var p = table.PairOf[c];
            slot[c] = p >= 0 ? 2 * p : (2 * ~p) + 1;
            score[c] = comparisons[c].LeftScore;
        }
        var state = (ulong)seed;
        var wins = new double[table.PairCount * 2];
        for (var round = 0; round < rounds; round++)
        {
            Array.Clear(wins);
            for (var draw = 0; draw < n; draw++)
            {
                var c = (int)Math.BigMul(SplitMix64(ref state), (ulong)n, out _);
                wins[slot[c]] += score[c];
                wins[slot[c] ^ 1] += 1 - score[c];
            }
            // Looser tolerance than the point fit: the sampling noise dwarfs 1e-8. Starting from the point estimate,
            // which a resample lies close to, takes a fraction of the MM iterations that a uniform start needs.
            var strengths = table.Fit(wins, 1e-8, 10_000, point);
            for (var m = 0; m < modelCount; m++)
            {
                samples[(m * rounds) + round] = strengths[m];
            }
        }
        var lower = new double[modelCount];
        var upper = new double[modelCount];
        for (var m = 0; m < modelCount; m++)
        {
            var s = samples.AsSpan(m * rounds, rounds);
            s.Sort();
            lower[m] = Quantile(s, (1 - confidence) / 2);
            upper[m] = Quantile(s, (1 + confidence) / 2);
        }
        return Ranking.WithIntervals(point, lower, upper);
    }

    /// <summary>SplitMix64 (Steele, Lea and Flood 2014): a tiny, fast, well-mixed 64-bit generator for resampling.</summary>
    private static ulong SplitMix64(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Linear-interpolation quantile of sorted values (numpy's default), NaN values sorted last are ignored.</summary>
    private static double Quantile(ReadOnlySpan<double> sorted, double q)
    {
        var n = sorted.Length;
        while (n > 0 && double.IsNaN(sorted[n - 1]))
        {
            n--;
        }
        if (n == 0)
        {
            return double.NaN;
        }
        var position = q * (n - 1);
        var below = (int)Math.Floor(position);
        var above = Math.Min(below + 1, n - 1);
        return sorted[below] + ((position - below) * (sorted[above] - sorted[below]));
    }

    /// <summary>The distinct unordered pairs of models compared, with each comparison's pair, so resampling only re-adds counts.</summary>
    private sealed class PairTable
    {
        public required int Models { get; init; }
        public required int[] First { get; init; }
        public required int[] Second { get; init; }

        /// <summary>Pair of each comparison; negative (bitwise complement) when its left model is the pair's second.</summary>
        public required int[] PairOf { get; init; }

        public int PairCount => First.Length;

        public static PairTable From(ReadOnlySpan<Comparison> comparisons, int models)
        {
            var index = new Dictionary<long, int>();
            var first = new List<int>();
            var second = new List<int>();
            var pairOf = new int[comparisons.Length];
            for (var c = 0; c < comparisons.Length; c++)
            {
                var (l, r) = (comparisons[c].Left, comparisons[c].Right);
                if ((uint)l >= (uint)models || (uint)r >= (uint)models || l == r)
                {
                    throw new ArgumentException($"Comparison {c} ({l} vs {r}) needs two different models in 0..{models - 1}.", nameof(comparisons));
                }
                var (lo, hi) = l < r ? (l, r) : (r, l);
                var key = ((long)lo << 32) | (uint)hi;
                if (!index.TryGetValue(key, out var p))
                {
                    p = first.Count;
                    index[key] = p;
                    first.Add(lo);
                    second.Add(hi);
                }
                pairOf[c] = l == lo ? p : ~p;
            }
            return new PairTable { Models = models, First = [.. first], Second = [.. second], PairOf = pairOf };
        }

        /// <summary>Wins of each pair's first and second model: [2p] and [2p + 1].</summary>
        public double[] Wins(ReadOnlySpan<Comparison> comparisons)
        {
            var wins = new double[PairCount * 2];
            for (var c = 0; c < comparisons.Length; c++)
            {
                Add(wins, comparisons, c);
            }
            return wins;
        }

        public void Add(double[] wins, ReadOnlySpan<Comparison> comparisons, int c)
        {
            var p = PairOf[c];
            var leftIsFirst = p >= 0;
            var pair = leftIsFirst ? p : ~p;
            var left = comparisons[c].LeftScore;
            wins[(2 * pair) + (leftIsFirst ? 0 : 1)] += left;
            wins[(2 * pair) + (leftIsFirst ? 1 : 0)] += 1 - left;
        }

        public double[] Fit(double[] wins, double tolerance, int maxIterations, double[]? start = null)
        {
            var total = new double[Models];
            var compared = new double[Models];
            for (var p = 0; p < PairCount; p++)
            {
                total[First[p]] += wins[2 * p];
                total[Second[p]] += wins[(2 * p) + 1];
                compared[First[p]] += wins[2 * p] + wins[(2 * p) + 1];
                compared[Second[p]] += wins[2 * p] + wins[(2 * p) + 1];
            }
            var strength = new double[Models];
            var active = 0;
            for (var m = 0; m < Models; m++)
            {
                if (compared[m] > 0)
                {
                    active++;
                }
            }
            double startTotal = 0;
            for (var m = 0; m < Models; m++)
            {
                if (start is not null && compared[m] > 0 && start[m] > 0)
                {
                    startTotal += start[m];
                }
            }
            for (var m = 0; m < Models; m++)
            {
                strength[m] = compared[m] == 0 ? double.NaN
                    : startTotal > 0 ? Math.Max(start![m], 0) / startTotal
                    : 1.0 / active;
            }
            var denominator = new double[Models];
            for (var iteration = 0; iteration < maxIterations; iteration++)
            {
                Array.Clear(denominator);
                for (var p = 0; p < PairCount; p++)
                {
                    var (a, b) = (First[p], Second[p]);
                    var n = wins[2 * p] + wins[(2 * p) + 1];
                    if (n == 0)
                    {
                        continue;
                    }
                    var sum = strength[a] + strength[b];
                    if (sum <= 0)
                    {
                        continue;
                    }
                    denominator[a] += n / sum;
                    denominator[b] += n / sum;
                }
                // MM update p_i = W_i / Σ_j n_ij / (p_i + p_j), then renormalise (the likelihood is scale-free).
                double norm = 0;
                for (var m = 0; m < Models; m++)
                {
                    if (compared[m] > 0)
                    {
                        denominator[m] = denominator[m] > 0 ? total[m] / denominator[m] : 0;
                        norm += denominator[m];
                    }
                }
                double change = 0;
                for (var m = 0; m < Models; m++)
                {
                    if (compared[m] > 0)
                    {
                        var next = denominator[m] / norm;
                        change = Math.Max(change, Math.Abs(next - strength[m]));
                        strength[m] = next;
                    }
                }
                if (change < tolerance)
                {
                    break;
                }
            }
            return strength;
        }
    }
}

/// <summary>Online Elo ratings, as in the Chatbot Arena notebook's <c>compute_online_elo</c>.</summary>
public static class Elo
{
    /// <summary>
    /// Replays the comparisons in order: expected score E_a = 1 / (1 + base^((R_b − R_a) / scale)), then
    /// R_a += K·(S_a − E_a) and R_b += K·(1 − S_a − E_b). Defaults are Chatbot Arena's: K = 4, scale 400,
    /// base 10, initial rating 1000. Order matters: this is the online variant; use <see cref="BradleyTerry"/>
    /// for an order-free fit.
    /// </summary>
    public static double[] Online(ReadOnlySpan<Comparison> comparisons, int modelCount, double k = 4, double scale = 400, double @base = 10, double initial = 1000)
    {
        var rating = new double[modelCount];
        rating.AsSpan().Fill(initial);
        foreach (ref readonly var c in comparisons)
        {
            var ra = rating[c.Left];
            var rb = rating[c.Right];
            var ea = 1 / (1 + Math.Pow(@base, (rb - ra) / scale));
            var eb = 1 / (1 + Math.Pow(@base, (ra - rb) / scale));
            var sa = c.LeftScore;
            rating[c.Left] += k * (sa - ea);
            rating[c.Right] += k * (1 - sa - eb);
        }
        return rating;
    }
}

/// <summary>Ranks, intervals on ranks, and rankings as pairwise comparisons.</summary>
public static class Ranking
{
    /// <summary>
    /// Ranks from scores with intervals (higher score = better): rank 1 is best and equal scores share a rank;
    /// NaN scores rank last. The best and worst ranks a model could hold given the intervals follow the Chatbot
    /// Arena rule: a model ranks below exactly the models whose lower bound exceeds its upper bound.
    /// Returned best first.
    /// </summary>
    public static RankedScore[] WithIntervals(ReadOnlySpan<double> scores, ReadOnlySpan<double> lower, ReadOnlySpan<double> upper)
    {
        var n = scores.Length;
        if (lower.Length != n || upper.Length != n)
        {
            throw new ArgumentException("Scores and bounds must have the same length.", nameof(lower));
        }
        var result = new RankedScore[n];
        for (var i = 0; i < n; i++)
        {
            int better = 0, surelyBetter = 0, surelyWorse = 0;
            for (var j = 0; j < n; j++)
            {
                if (j == i)
                {
                    continue;
                }
                if (IsBetter(scores[j], scores[i]))
                {
                    better++;
                }
                if (lower[j] > upper[i])
                {
                    surelyBetter++;
                }
                if (upper[j] < lower[i])
                {
                    surelyWorse++;
                }
            }
            result[i] = new RankedScore(i, scores[i], lower[i], upper[i], better + 1, surelyBetter + 1, n - surelyWorse);
        }
        Array.Sort(result, (a, b) => a.Rank != b.Rank ? a.Rank.CompareTo(b.Rank) : a.Model.CompareTo(b.Model));
        return result;
    }

    private static bool IsBetter(double a, double b) => !double.IsNaN(a) && (double.IsNaN(b) || a > b);

    /// <summary>
    /// Decomposes one ranking into all its pairwise comparisons: for candidates i &lt; j, the one with the smaller
    /// rank wins and equal ranks tie. n candidates give n(n−1)/2 comparisons, which is how ranking answers feed
    /// <see cref="BradleyTerry"/> and <see cref="Elo"/>.
    /// </summary>
    /// <param name="candidates">Model (or candidate) index of each position.</param>
    /// <param name="ranks">Rank of each candidate, 1 = best; ties allowed.</param>
    public static Comparison[] ToComparisons(ReadOnlySpan<int> candidates, ReadOnlySpan<int> ranks)
    {
        if (candidates.Length != ranks.Length)
        {
            throw new ArgumentException("Each candidate needs a rank.", nameof(ranks));
        }
        var result = new Comparison[candidates.Length * (candidates.Length - 1) / 2];
        var c = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            for (var j = i + 1; j < candidates.Length; j++)
            {
                var outcome = ranks[i] < ranks[j] ? PairOutcome.LeftWins : ranks[i] > ranks[j] ? PairOutcome.RightWins : PairOutcome.Tie;
                result[c++] = new Comparison(candidates[i], candidates[j], outcome);
            }
        }
        return result;
    }
}

namespace Plumbline.Core.Quality;

/// <summary>Exact binomial test, used to tell position bias in pairwise answers from chance.</summary>
public static class BinomialTest
{
    /// <summary>
    /// Two-sided p-value of <paramref name="successes"/> in <paramref name="trials"/> under success probability
    /// <paramref name="p"/>: the total probability of outcomes no more likely than the one observed, as R's
    /// <c>binom.test</c> computes it (with its relative tolerance of 1 + 1e-7 for equal probabilities).
    /// </summary>
    public static double TwoSided(int successes, int trials, double p = 0.5)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(trials);
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, trials);
        if (p is <= 0 or >= 1 || double.IsNaN(p))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "p must be strictly between 0 and 1");
        }
        if (trials == 0)
        {
            return 1;
        }
        var observed = LogProbability(successes, trials, p);
        var limit = observed + Math.Log(1 + 1e-7);
        double total = 0;
        for (var k = 0; k <= trials; k++)
        {
            var logP = LogProbability(k, trials, p);
            if (logP <= limit)
            {
                total += Math.Exp(logP);
            }
        }
        return Math.Min(1, total);
    }

    /// <summary>log P(X = k) for X ~ Binomial(n, p).</summary>
    public static double LogProbability(int k, int n, double p) =>
        LogChoose(n, k) + (k * Math.Log(p)) + ((n - k) * Math.Log(1 - p));

    private static double LogChoose(int n, int k) => LogFactorial(n) - LogFactorial(k) - LogFactorial(n - k);

    private static double LogFactorial(int n)
    {
        // Exact sums stay accurate for the counts seen per annotator; beyond that Stirling's series is within 1e-12.
        if (n < 256)
        {
            double sum = 0;
            for (var i = 2; i <= n; i++)
            {
                sum += Math.Log(i);
            }
            return sum;
        }
        double x = n;
        return (x * Math.Log(x)) - x + (0.5 * Math.Log(2 * Math.PI * x)) + (1 / (12 * x)) - (1 / (360 * x * x * x)) + (1 / (1260 * Math.Pow(x, 5)));
    }
}

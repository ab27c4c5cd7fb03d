namespace Plumbline.Core.Quality;

/// <summary>How majority vote settles a tie.</summary>
public enum TieBreak
{
    /// <summary>The smallest category index wins: deterministic and reproducible for releases.</summary>
    SmallestLabel,

    /// <summary>A uniformly random category among the tied ones, from a seeded generator.</summary>
    Random,
}

/// <summary>Settings shared by the truth-inference methods.</summary>
public sealed record TruthInferenceOptions
{
    /// <summary>Upper bound on EM iterations.</summary>
    public int MaxIterations { get; init; } = 100;

    /// <summary>EM stops when the log-likelihood per answer improves by less than this.</summary>
    /// <remarks>Per answer, so the same value suits 100 and 100,000 answers; 1e-5 is crowd-kit's default.</remarks>
    public double Tolerance { get; init; } = 1e-5;

    /// <summary>Tie rule of majority vote (also used to initialise the EM methods).</summary>
    public TieBreak TieBreak { get; init; } = TieBreak.SmallestLabel;

    /// <summary>Seed for <see cref="TieBreak.Random"/>.</summary>
    public int Seed { get; init; }

    /// <summary>Threads Dawid–Skene may use (null: as many as the runtime offers). The result does not depend on it.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    /// <summary>The defaults.</summary>
    public static TruthInferenceOptions Default { get; } = new();
}

/// <summary>The outcome of a truth-inference method.</summary>
public sealed class TruthInferenceResult
{
    /// <summary>Number of categories K.</summary>
    public required int CategoryCount { get; init; }

    /// <summary>Inferred category per item, or -1 for an item without answers. Ties go to the smallest category.</summary>
    public required int[] Labels { get; init; }

    /// <summary>Posterior probability (or vote share, for votes) of the inferred category per item; 0 without answers.</summary>
    public required double[] Confidence { get; init; }

    /// <summary>Items × categories posterior probabilities, row-major; a row of zeros for an item without answers.</summary>
    public required double[] Posteriors { get; init; }

    /// <summary>Per rater skill estimate; what it means depends on the method (see each method). NaN for raters without answers.</summary>
    public required double[] Skill { get; init; }

    /// <summary>EM iterations run (0 for non-iterative methods).</summary>
    public int Iterations { get; init; }

    /// <summary>Whether EM met the tolerance before the iteration limit (true for non-iterative methods).</summary>
    public bool Converged { get; init; } = true;
}

/// <summary>
/// Truth inference for categorical labels: from several annotators' labels per item, the most likely true
/// label with its probability, and how good each annotator is. Answers are <see cref="Rating"/>s whose
/// value is a category index in 0..K-1.
/// </summary>
public static class TruthInference
{
    private const double Floor = 1e-10;

    /// <summary>
    /// Majority vote. Posterior = vote share. Skill = share of the rater's answers equal to the majority label.
    /// </summary>
    public static TruthInferenceResult MajorityVote(ReadOnlySpan<Rating> ratings, int categoryCount, TruthInferenceOptions? options = null)
    {
        options ??= TruthInferenceOptions.Default;
        var data = LabelData.From(ratings, categoryCount);
        var k = categoryCount;
        var posteriors = data.VoteShares();
        var labels = new int[data.Items];
        var random = options.TieBreak == TieBreak.Random ? new Random(options.Seed) : null;
        for (var i = 0; i < data.Items; i++)
        {
            labels[i] = ArgMax(posteriors.AsSpan(i * k, k), random);
        }
        return Finish(data, posteriors, labels, data.AccuracyAgainst(labels), 0, true);
    }

    /// <summary>
    /// Wawa ("worker agreement with aggregate"): majority vote, then each rater's accuracy against it, then a
    /// vote weighted by those accuracies. Posterior = normalised weighted vote. Skill = accuracy against majority vote.
    /// </summary>
    public static TruthInferenceResult Wawa(ReadOnlySpan<Rating> ratings, int categoryCount, TruthInferenceOptions? options = null)
    {
        var vote = MajorityVote(ratings, categoryCount, options);
        var data = LabelData.From(ratings, categoryCount);
        var k = categoryCount;
        var posteriors = new double[data.Items * k];
        for (var a = 0; a < data.Count; a++)
        {
            posteriors[(data.Item[a] * k) + data.Label[a]] += vote.Skill[data.Rater[a]];
        }
        var labels = new int[data.Items];
        for (var i = 0; i < data.Items; i++)
        {
            var row = posteriors.AsSpan(i * k, k);
            var sum = 0.0;
            foreach (var p in row)
            {
                sum += p;
            }
            if (sum > 0)
            {
                foreach (ref var p in row)
                {
                    p /= sum;
                }
            }
            else
            {
                // Every rater of the item has skill 0: fall back to the plain vote rather than invent a label.
                vote.Posteriors.AsSpan(i * k, k).CopyTo(row);
            }
            labels[i] = ArgMax(row, null);
        }
        return Finish(data, posteriors, labels, vote.Skill, 0, true);
    }

    /// <summary>
    /// Dawid–Skene (1979): one confusion matrix per rater and class priors, fitted by EM from the majority-vote
    /// shares. Probabilities are floored at 1e-10 before normalising, so a zero count never becomes log 0.
    /// Skill = probability that the rater's label is correct, Σ_t prior(t)·π(t, t).
    /// </summary>
    /// <remarks>
    /// Memory is O(answers + items·K + raters·K²), never items × raters. Built for tens of millions of answers,
    /// where memory latency, not arithmetic, sets the pace: each iteration is one pass over the items that does the
    /// E-step of an item and at once adds its posterior to the expected counts of the M-step; a rater's
    /// probabilities P(label l | truth ·) and the counts being gathered for them sit side by side (one cache line
    /// for K = 4), so an answer costs one cache miss per iteration. The E-step multiplies probabilities instead of
    /// adding logs (one logarithm per item instead of K exponentials), rescaling a row by 2^700 before it could
    /// underflow, so the result equals the log-space computation to rounding.
    /// </remarks>
    public static TruthInferenceResult DawidSkene(ReadOnlySpan<Rating> ratings, int categoryCount, TruthInferenceOptions? options = null)
    {
        options ??= TruthInferenceOptions.Default;
        var data = LabelData.From(ratings, categoryCount);
        var k = categoryCount;
        var posteriors = data.VoteShares();
        var priors = new double[k];
        var nextPriors = new double[k];
        // model[(j·K + l)·2K + t] = P(rater j answers l | truth t); model[(j·K + l)·2K + K + t] = its expected count.
        var model = new double[data.Raters * k * 2 * k];
        // Each answer's offset into model, computed once instead of every iteration.
        var cell = new int[data.Count];
        for (var a = 0; a < data.Count; a++)
        {
            cell[a] = ((data.Rater[a] * k) + data.Label[a]) * 2 * k;
        }
        var previous = double.NegativeInfinity;
        var iterations = 0;
        var converged = false;

        // Items are cut into a fixed number of ranges that depends only on the data, never on the machine: each range
        // gathers its expected counts into its own copy of the model and its own prior sums and log-likelihood, and
        // the M-step adds the copies up in range order. Floating-point sums therefore happen in the same order
        // whatever the thread count, and the output is the same bits on 1 core or 64.
        var bounds = Partitions(data);
        var parts = bounds.Length - 1;
        var models = new double[parts][];
        models[0] = model;
        for (var p = 1; p < parts; p++)
        {
            models[p] = new double[model.Length];
        }
        var partPriors = new double[parts * k];
        var partLikelihood = new double[parts];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism ?? -1 };

        // The first M-step starts from the majority-vote shares.
        var used = 0;
        for (var i = 0; i < data.Items; i++)
        {
            if (data.Start[i + 1] > data.Start[i])
            {
                used++;
                var row = posteriors.AsSpan(i * k, k);
                for (var t = 0; t < k; t++)
                {
                    nextPriors[t] += row[t];
                }
                for (var a = data.Start[i]; a < data.Start[i + 1]; a++)
                {
                    var counts = model.AsSpan(cell[a] + k, k);
                    for (var t = 0; t < k; t++)
                    {
                        counts[t] += row[t];
                    }
                }
            }
        }
        DawidSkeneMStep(data, models, nextPriors, priors, used, parallel);
        while (iterations < options.MaxIterations)
        {
            iterations++;
            if (parts == 1)
            {
                partLikelihood[0] = DawidSkeneSweep(data, cell, priors, model, posteriors, partPriors, 0, data.Items, 0);
            }
            else
            {
                Parallel.For(0, parts, parallel, p =>
                    partLikelihood[p] = DawidSkeneSweep(data, cell, priors, models[p], posteriors, partPriors, bounds[p], bounds[p + 1], p * k));
            }
            var logLikelihood = 0.0;
            for (var p = 0; p < parts; p++)
            {
                logLikelihood += partLikelihood[p];
                for (var t = 0; t < k; t++)
                {
                    nextPriors[t] += partPriors[(p * k) + t];
                }
            }
            Array.Clear(partPriors);
            DawidSkeneMStep(data, models, nextPriors, priors, used, parallel);
            if ((logLikelihood - previous) / data.Count < options.Tolerance)
            {
                converged = true;
                break;
            }
            previous = logLikelihood;
        }

        var skill = new double[data.Raters];
        for (var j = 0; j < data.Raters; j++)
        {
            if (data.AnswersOf(j) == 0)
            {
                skill[j] = double.NaN;
                continue;
            }
            for (var t = 0; t < k; t++)
            {
                skill[j] += priors[t] * model[(((j * k) + t) * 2 * k) + t];
            }
        }
        return Finish(data, posteriors, data.MostProbable(posteriors), skill, iterations, converged);
    }

    /// <summary>Answers per item range of the Dawid–Skene sweep: enough for a range to outweigh the cost of handing it to a thread.</summary>
    private const int AnswersPerPartition = 1024;

    /// <summary>Most item ranges (and model copies) of the Dawid–Skene sweep.</summary>
    private const int MaxPartitions = 8;

    /// <summary>Item boundaries of the sweep's ranges, of about equal answer counts; a function of the data alone.</summary>
    private static int[] Partitions(LabelData data)
    {
        var parts = Math.Clamp(data.Count / AnswersPerPartition, 1, MaxPartitions);
        var bounds = new int[parts + 1];
        bounds[parts] = data.Items;
        for (var p = 1; p < parts; p++)
        {
            var target = (int)((long)data.Count * p / parts);
            var i = Array.BinarySearch(data.Start, 0, data.Items + 1, target);
            bounds[p] = Math.Max(bounds[p - 1], i < 0 ? ~i : i);
        }
        return bounds;
    }

    /// <summary>
    /// Priors from the summed posteriors, and each rater's confusion probabilities from the expected counts gathered
    /// in the <paramref name="models"/> copies (added in copy order); writes the probabilities into every copy and
    /// clears the counts and the sums for the next sweep. Raters are independent, so they are split over threads.
    /// </summary>
    private static void DawidSkeneMStep(LabelData data, double[][] models, double[] priorSums, double[] priors, int usedItems, ParallelOptions parallel)
    {
        var k = data.K;
        for (var t = 0; t < k; t++)
        {
            priors[t] = usedItems == 0 ? 1.0 / k : priorSums[t] / usedItems;
            priorSums[t] = 0;
        }
        const int ratersPerChunk = 2048;
        var chunks = (data.Raters + ratersPerChunk - 1) / ratersPerChunk;
        if (chunks <= 1)
        {
            MStepRaters(data, models, 0, data.Raters);
        }
        else
        {
            Parallel.For(0, chunks, parallel, c => MStepRaters(data, models, c * ratersPerChunk, Math.Min(data.Raters, (c + 1) * ratersPerChunk)));
        }
    }

    private static void MStepRaters(LabelData data, double[][] models, int from, int to)
    {
        var k = data.K;
        var width = 2 * k;
        var model = models[0];
        for (var j = from; j < to; j++)
        {
            var rater = j * k * width;
            for (var p = 1; p < models.Length; p++)
            {
                var copy = models[p];
                for (var l = 0; l < k; l++)
                {
                    var counts = rater + (l * width) + k;
                    for (var t = 0; t < k; t++)
                    {
                        model[counts + t] += copy[counts + t];
                    }
                }
            }
            for (var t = 0; t < k; t++)
            {
                var sum = 0.0;
                for (var l = 0; l < k; l++)
                {
                    // Only labels the rater used take part: the others never enter the likelihood.
                    if (data.Uses(j, l))
                    {
                        sum += Math.Max(model[rater + (l * width) + k + t], Floor);
                    }
                }
                for (var l = 0; l < k; l++)
                {
                    var index = rater + (l * width) + t;
                    model[index] = sum > 0 && data.Uses(j, l) ? Math.Max(model[index + k], Floor) / sum : 0;
                }
            }
            for (var l = 0; l < k; l++)
            {
                model.AsSpan(rater + (l * width) + k, k).Clear();
            }
            for (var p = 1; p < models.Length; p++)
            {
                // Each copy gets the new probabilities and empty counts: the whole rater block, probabilities and zeros alike.
                model.AsSpan(rater, k * width).CopyTo(models[p].AsSpan(rater, k * width));
            }
        }
    }

    /// <summary>
    /// One pass over the items: each item's posterior given the answers (E-step), added at once to the expected
    /// counts of the cells its answers touched and to the prior sums (M-step gathering). Returns the log-likelihood.
    /// </summary>
    private static double DawidSkeneSweep(LabelData data, int[] cell, double[] priors, double[] model, double[] posteriors, double[] priorSums,
        int fromItem, int toItem, int priorOffset)
    {
        // 2^-700 ≈ 1e-211: once a row's total falls below it, scale by 2^700 (exact in binary) and remember the scale.
        var small = Math.ScaleB(1.0, -700);
        var large = Math.ScaleB(1.0, 700);
        var ln2Pow700 = 700 * Math.Log(2);
        var k = data.K;
        var start = data.Start;
        double total = 0;
        for (var i = fromItem; i < toItem; i++)
        {
            var row = posteriors.AsSpan(i * k, k);
            if (start[i + 1] == start[i])
            {
                row.Clear();
                continue;
            }
            for (var t = 0; t < row.Length; t++)
            {
                row[t] = Math.Max(priors[t], Floor);
            }
            var scale = 0.0;
            for (var a = start[i]; a < start[i + 1]; a++)
            {
                var p = model.AsSpan(cell[a], k);
                var sum = 0.0;
                for (var t = 0; t < row.Length; t++)
                {
                    row[t] *= p[t];
                    sum += row[t];
                }
                if (sum < small)
                {
                    foreach (ref var v in row)
                    {
                        v *= large;
                    }
                    scale -= ln2Pow700;
                }
            }
            var norm = 0.0;
            foreach (var v in row)
            {
                norm += v;
            }
            for (var t = 0; t < row.Length; t++)
            {
                row[t] /= norm;
                priorSums[priorOffset + t] += row[t];
            }
            total += Math.Log(norm) + scale;
            for (var a = start[i]; a < start[i + 1]; a++)
            {
                var counts = model.AsSpan(cell[a] + k, k);
                for (var t = 0; t < row.Length; t++)
                {
                    counts[t] += row[t];
                }
            }
        }
        return total;
    }

    /// <summary>
    /// GLAD (Whitehill et al., NIPS 2009): a rater with ability α labels an item of inverse difficulty β correctly
    /// with probability σ(α·β), otherwise picks one of the other K-1 labels uniformly. EM from the majority-vote
    /// shares; the M-step takes Newton steps on α (concave) and on log β, with Gaussian priors α ~ N(1, 1) and
    /// log β ~ N(0, 1) that keep raters or items with few answers from running off to infinity. Classes have
    /// a uniform prior. Skill = α (0 is chance, negative means adversarial).
    /// </summary>
    public static TruthInferenceResult Glad(ReadOnlySpan<Rating> ratings, int categoryCount, TruthInferenceOptions? options = null)
    {
        options ??= TruthInferenceOptions.Default;
        var data = LabelData.From(ratings, categoryCount);
        var k = categoryCount;
        if (k < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(categoryCount), "GLAD needs at least two categories.");
        }
        var posteriors = data.VoteShares();
        var alpha = new double[data.Raters];
        alpha.AsSpan().Fill(1);
        var logBeta = new double[data.Items];
        var beta = new double[data.Items];
        var gradient = new double[Math.Max(data.Raters, data.Items)];
        var curvature = new double[gradient.Length];
        var logOthers = Math.Log(k - 1);
        var previous = double.NegativeInfinity;
        var iterations = 0;
        var converged = false;

        void MStep()
        {
            for (var sweep = 0; sweep < 5; sweep++)
            {
                // Abilities: the expected log-likelihood is a logistic regression in α_j, concave, so Newton is safe.
                Array.Clear(gradient);
                Array.Clear(curvature);
                for (var i = 0; i < data.Items; i++)
                {
                    beta[i] = Math.Exp(logBeta[i]);
                }
                for (var a = 0; a < data.Count; a++)
                {
                    var b = beta[data.Item[a]];
                    var j = data.Rater[a];
                    var s = Sigmoid(alpha[j] * b);
                    var correct = posteriors[(data.Item[a] * k) + data.Label[a]];
                    gradient[j] += (correct - s) * b;
                    curvature[j] += s * (1 - s) * b * b;
                }
                for (var j = 0; j < data.Raters; j++)
                {
                    var g = gradient[j] - (alpha[j] - 1);
                    alpha[j] += Math.Clamp(g / (curvature[j] + 1), -2, 2);
                }
                // Difficulties in log β: not always concave, so fall back to a short gradient step when the curvature is not negative.
                Array.Clear(gradient);
                Array.Clear(curvature);
                for (var a = 0; a < data.Count; a++)
                {
                    var i = data.Item[a];
                    var ab = alpha[data.Rater[a]] * beta[i];
                    var s = Sigmoid(ab);
                    var correct = posteriors[(i * k) + data.Label[a]];
                    gradient[i] += (correct - s) * ab;
                    curvature[i] += ((correct - s) * ab) - (s * (1 - s) * ab * ab);
                }
                for (var i = 0; i < data.Items; i++)
                {
                    var g = gradient[i] - logBeta[i];
                    var h = curvature[i] - 1;
                    var step = h < 0 ? -g / h : 0.1 * g;
                    logBeta[i] += Math.Clamp(step, -1, 1);
                }
            }
        }

        MStep();
        while (iterations < options.MaxIterations)
        {
            iterations++;
            var logLikelihood = data.EStep(posteriors, (item, row) =>
            {
                // Uniform class prior, as in GLAD: a learnt prior lets hard items (small β) drift to the majority class.
                row.Clear();
                var itemBeta = Math.Exp(logBeta[item]);
                for (var a = data.Start[item]; a < data.Start[item + 1]; a++)
                {
                    var x = alpha[data.Rater[a]] * itemBeta;
                    var right = LogSigmoid(x);
                    var wrong = LogSigmoid(-x) - logOthers;
                    for (var t = 0; t < k; t++)
                    {
                        row[t] += t == data.Label[a] ? right : wrong;
                    }
                }
            });
            MStep();
            if (Math.Abs(logLikelihood - previous) / data.Count < options.Tolerance)
            {
                converged = true;
                break;
            }
            previous = logLikelihood;
        }
        var skill = new double[data.Raters];
        for (var j = 0; j < data.Raters; j++)
        {
            skill[j] = data.AnswersOf(j) == 0 ? double.NaN : alpha[j];
        }
        return Finish(data, posteriors, data.MostProbable(posteriors), skill, iterations, converged);
    }

    /// <summary>
    /// MACE (Hovy et al., NAACL 2013, "Learning Whom to Trust with MACE"): each rater either knows the answer
    /// (probability θ, competence) and gives the true label, or spams and draws a label from their own
    /// distribution ξ. Fitted by EM from the majority vote (θ starts at each rater's agreement with it, ξ at
    /// their label frequencies), with add-one smoothing on θ and ξ in place of MACE's Beta/Dirichlet priors.
    /// True labels have a uniform prior, as in MACE. Skill = θ, the probability the rater is not spamming.
    /// </summary>
    public static TruthInferenceResult Mace(ReadOnlySpan<Rating> ratings, int categoryCount, TruthInferenceOptions? options = null)
    {
        options ??= TruthInferenceOptions.Default;
        var vote = MajorityVote(ratings, categoryCount, options);
        var data = LabelData.From(ratings, categoryCount);
        var k = categoryCount;
        var theta = new double[data.Raters];
        var spamming = new double[data.Raters * k];
        for (var j = 0; j < data.Raters; j++)
        {
            theta[j] = double.IsNaN(vote.Skill[j]) ? 0.5 : Math.Clamp(vote.Skill[j], 0.05, 0.95);
        }
        for (var a = 0; a < data.Count; a++)
        {
            spamming[(data.Rater[a] * k) + data.Label[a]]++;
        }
        for (var j = 0; j < data.Raters; j++)
        {
            Normalise(spamming.AsSpan(j * k, k), 1);
        }
        var posteriors = new double[data.Items * k];
        var notSpam = new double[data.Raters];
        var previous = double.NegativeInfinity;
        var iterations = 0;
        var converged = false;
        while (iterations < options.MaxIterations)
        {
            iterations++;
            var logLikelihood = data.EStep(posteriors, (item, row) =>
            {
                row.Clear();
                for (var a = data.Start[item]; a < data.Start[item + 1]; a++)
                {
                    var j = data.Rater[a];
                    var l = data.Label[a];
                    var spam = (1 - theta[j]) * spamming[(j * k) + l];
                    var logSpam = Math.Log(Math.Max(spam, Floor));
                    for (var t = 0; t < k; t++)
                    {
                        row[t] += t == l ? Math.Log(theta[j] + spam) : logSpam;
                    }
                }
            });

            // Expected counts under the old parameters: the answer came from knowledge only if the truth is its label.
            Array.Clear(notSpam);
            var spamCounts = new double[data.Raters * k];
            for (var a = 0; a < data.Count; a++)
            {
                var j = data.Rater[a];
                var l = data.Label[a];
                var spam = (1 - theta[j]) * spamming[(j * k) + l];
                var knew = posteriors[(data.Item[a] * k) + l] * theta[j] / (theta[j] + spam);
                notSpam[j] += knew;
                spamCounts[(j * k) + l] += 1 - knew;
            }
            for (var j = 0; j < data.Raters; j++)
            {
                theta[j] = (notSpam[j] + 1) / (data.AnswersOf(j) + 2);
            }
            for (var j = 0; j < data.Raters; j++)
            {
                Normalise(spamCounts.AsSpan(j * k, k), 1);
            }
            spamming = spamCounts;

            if (Math.Abs(logLikelihood - previous) / data.Count < options.Tolerance)
            {
                converged = true;
                break;
            }
            previous = logLikelihood;
        }
        var skill = new double[data.Raters];
        for (var j = 0; j < data.Raters; j++)
        {
            skill[j] = data.AnswersOf(j) == 0 ? double.NaN : theta[j];
        }
        return Finish(data, posteriors, data.MostProbable(posteriors), skill, iterations, converged);
    }

    private static void Normalise(Span<double> values, double pseudoCount)
    {
        var sum = 0.0;
        foreach (ref var v in values)
        {
            v += pseudoCount;
            sum += v;
        }
        foreach (ref var v in values)
        {
            v /= sum;
        }
    }

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    private static double LogSigmoid(double x) => x >= 0 ? -Math.Log(1 + Math.Exp(-x)) : x - Math.Log(1 + Math.Exp(x));

    /// <summary>Index of the largest value; ties go to the smallest index, or to a random one when a generator is given.</summary>
    internal static int ArgMax(ReadOnlySpan<double> row, Random? random)
    {
        var best = -1;
        var bestValue = 0.0;
        var ties = 0;
        for (var c = 0; c < row.Length; c++)
        {
            if (row[c] <= 0)
            {
                continue;
            }
            if (best < 0 || row[c] > bestValue)
            {
                best = c;
                bestValue = row[c];
                ties = 1;
            }
            else if (row[c] == bestValue && random is not null && random.Next(++ties) == 0)
            {
                // Reservoir sampling over the tied categories: each is chosen with probability 1/ties.
                best = c;
            }
        }
        return best;
    }

    private static TruthInferenceResult Finish(LabelData data, double[] posteriors, int[] labels, double[] skill, int iterations, bool converged)
    {
        var k = data.K;
        var confidence = new double[data.Items];
        for (var i = 0; i < data.Items; i++)
        {
            confidence[i] = labels[i] < 0 ? 0 : posteriors[(i * k) + labels[i]];
        }
        return new TruthInferenceResult
        {
            CategoryCount = k,
            Labels = labels,
            Confidence = confidence,
            Posteriors = posteriors,
            Skill = skill,
            Iterations = iterations,
            Converged = converged,
        };
    }

    /// <summary>Answers as parallel arrays grouped by item (the E-steps walk items, the M-steps walk answers).</summary>
    private sealed class LabelData
    {
        public required int K { get; init; }
        public required int Items { get; init; }
        public required int Raters { get; init; }
        public required int[] Item { get; init; }
        public required int[] Rater { get; init; }
        public required int[] Label { get; init; }
        public required int[] Start { get; init; }
        public required int[] RaterAnswers { get; init; }
        public required bool[] RaterUses { get; init; }

        public int Count => Item.Length;

        public int AnswersOf(int rater) => RaterAnswers[rater];

        public bool Uses(int rater, int label) => RaterUses[(rater * K) + label];

        public static LabelData From(ReadOnlySpan<Rating> ratings, int k)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
            var groups = Grouped.By(ratings, byRater: false);
            var n = groups.Order.Length;
            var item = new int[n];
            var rater = new int[n];
            var label = new int[n];
            var raters = 0;
            for (var g = 0; g < groups.GroupCount; g++)
            {
                for (var a = groups.Start[g]; a < groups.Start[g + 1]; a++)
                {
                    var r = ratings[groups.Order[a]];
                    var c = (int)r.Value;
                    if (c != r.Value || c < 0 || c >= k)
                    {
                        throw new ArgumentException($"Label {r.Value} of item {r.Item} is not a category index in 0..{k - 1}.", nameof(ratings));
                    }
                    item[a] = g;
                    rater[a] = r.Rater;
                    label[a] = c;
                    raters = Math.Max(raters, r.Rater + 1);
                }
            }
            var answers = new int[raters];
            var uses = new bool[raters * k];
            for (var a = 0; a < n; a++)
            {
                answers[rater[a]]++;
                uses[(rater[a] * k) + label[a]] = true;
            }
            return new LabelData
            {
                K = k,
                Items = groups.GroupCount,
                Raters = raters,
                Item = item,
                Rater = rater,
                Label = label,
                Start = groups.Start,
                RaterAnswers = answers,
                RaterUses = uses,
            };
        }

        public double[] VoteShares()
        {
            var shares = new double[Items * K];
            for (var i = 0; i < Items; i++)
            {
                var m = Start[i + 1] - Start[i];
                for (var a = Start[i]; a < Start[i + 1]; a++)
                {
                    shares[(i * K) + Label[a]] += 1.0 / m;
                }
            }
            return shares;
        }

        public double[] AccuracyAgainst(int[] labels)
        {
            var hits = new double[Raters];
            for (var a = 0; a < Count; a++)
            {
                if (Label[a] == labels[Item[a]])
                {
                    hits[Rater[a]]++;
                }
            }
            for (var j = 0; j < Raters; j++)
            {
                hits[j] = RaterAnswers[j] == 0 ? double.NaN : hits[j] / RaterAnswers[j];
            }
            return hits;
        }

        /// <summary>Mean posterior over items that have answers: the class priors.</summary>
        public void MeanPosterior(double[] posteriors, double[] priors)
        {
            Array.Clear(priors);
            var used = 0;
            for (var i = 0; i < Items; i++)
            {
                if (Start[i + 1] == Start[i])
                {
                    continue;
                }
                used++;
                for (var t = 0; t < K; t++)
                {
                    priors[t] += posteriors[(i * K) + t];
                }
            }
            for (var t = 0; t < K; t++)
            {
                priors[t] = used == 0 ? 1.0 / K : priors[t] / used;
            }
        }

        /// <summary>
        /// Fills each item's posterior from the log joint that <paramref name="logJoint"/> writes, normalising in
        /// log space (subtracting the maximum) so long products of small probabilities do not underflow.
        /// Returns the log-likelihood of the data.
        /// </summary>
        public double EStep(double[] posteriors, LogJoint logJoint)
        {
            double total = 0;
            for (var i = 0; i < Items; i++)
            {
                var row = posteriors.AsSpan(i * K, K);
                if (Start[i + 1] == Start[i])
                {
                    row.Clear();
                    continue;
                }
                logJoint(i, row);
                var max = double.NegativeInfinity;
                foreach (var v in row)
                {
                    max = Math.Max(max, v);
                }
                var sum = 0.0;
                foreach (ref var v in row)
                {
                    v = Math.Exp(v - max);
                    sum += v;
                }
                foreach (ref var v in row)
                {
                    v /= sum;
                }
                total += max + Math.Log(sum);
            }
            return total;
        }

        public int[] MostProbable(double[] posteriors)
        {
            var labels = new int[Items];
            for (var i = 0; i < Items; i++)
            {
                labels[i] = ArgMax(posteriors.AsSpan(i * K, K), null);
            }
            return labels;
        }
    }

    private delegate void LogJoint(int item, Span<double> row);
}

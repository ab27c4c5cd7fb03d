using System.Globalization;
using Plumbline.Core.Preparation;

namespace Plumbline.Core.Tests.Preparation;

public class NearDuplicateTests(ITestOutputHelper output)
{
    private static readonly string[] Vocabulary = BuildVocabulary();

    // 2,000 pseudo-words from syllables: enough that unrelated documents share almost no 3-word shingle by chance.
    private static string[] BuildVocabulary()
    {
        string[] syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fi", "go", "hu", "ja", "pe", "qu", "ro", "si", "tu", "wa"];
        var random = new Random(11);
        return Enumerable.Range(0, 2000)
            .Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => syllables[random.Next(syllables.Length)])))
            .ToArray();
    }

    private static List<string> Sentences(Random random, int count) =>
        Enumerable.Range(0, count)
            .Select(_ => string.Join(' ', Enumerable.Range(0, random.Next(8, 16)).Select(_ => Vocabulary[random.Next(Vocabulary.Length)])) + ".")
            .ToList();

    // Exact Jaccard over the same word 3-shingles, computed independently with sets of strings.
    private static double ExactJaccard(string a, string b)
    {
        static HashSet<string> Shingles(string t)
        {
            var words = t.ToLowerInvariant().Split([' ', '.', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return Enumerable.Range(0, Math.Max(1, words.Length - 2)).Select(i => string.Join(' ', words.Skip(i).Take(3))).ToHashSet();
        }

        var sa = Shingles(a);
        var sb = Shingles(b);
        return (double)sa.Intersect(sb).Count() / sa.Union(sb).Count();
    }

    /// <summary>A paraphrase-like edit: insert, delete or swap sentences, or replace a few words.</summary>
    private static string Edit(List<string> sentences, Random random, int edits)
    {
        var s = new List<string>(sentences);
        for (var e = 0; e < edits; e++)
        {
            switch (random.Next(4))
            {
                case 0:
                    s.Insert(random.Next(s.Count + 1), Sentences(random, 1)[0]);
                    break;
                case 1:
                    s.RemoveAt(random.Next(s.Count));
                    break;
                case 2:
                    var i = random.Next(s.Count);
                    var j = random.Next(s.Count);
                    (s[i], s[j]) = (s[j], s[i]);
                    break;
                default:
                    var k = random.Next(s.Count);
                    var words = s[k].Split(' ');
                    words[random.Next(words.Length)] = Vocabulary[random.Next(Vocabulary.Length)];
                    s[k] = string.Join(' ', words);
                    break;
            }
        }

        return string.Join(' ', s);
    }

    [Fact]
    public void MinHash_Estimate_TracksExactJaccard()
    {
        var hasher = new MinHasher();
        var random = new Random(3);
        var a = new uint[128];
        var b = new uint[128];
        var errors = new List<double>();
        for (var trial = 0; trial < 200; trial++)
        {
            var original = Sentences(random, 12);
            var x = string.Join(' ', original);
            var y = Edit(original, random, random.Next(0, 8));
            hasher.Compute([x], a);
            hasher.Compute([y], b);
            errors.Add(Math.Abs(MinHasher.Similarity(a, b) - ExactJaccard(x, y)));
        }

        var mean = errors.Average();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mean |estimate - exact| = {mean:0.000}, max = {errors.Max():0.000}"));
        // The standard error of a 128-permutation estimate is at most sqrt(0.25/128) ≈ 0.044.
        mean.ShouldBeLessThan(0.045);
        errors.Max().ShouldBeLessThan(0.18);
    }

    [Fact]
    public void Preparer_ParaphraseLikeEdits_AreFoundAsNearDuplicates()
    {
        var random = new Random(5);
        int similarPairs = 0, found = 0, dissimilarPairs = 0, wronglyFound = 0;
        for (var trial = 0; trial < 500; trial++)
        {
            var preparer = new Preparer(new PreparationOptions { PiiTypes = new HashSet<PiiType>() });
            var original = Sentences(random, 20);
            var x = string.Join(' ', original);
            var y = Edit(original, random, random.Next(1, 12));
            var jaccard = ExactJaccard(x, y);
            preparer.Prepare("a", [("text", x)]).Verdict.ShouldBe(Verdict.Keep);
            var verdict = preparer.Prepare("b", [("text", y)]);
            if (jaccard >= 0.85)
            {
                similarPairs++;
                found += verdict.Verdict == Verdict.NearDuplicateOf && verdict.DuplicateOf == "a" ? 1 : 0;
            }
            else if (jaccard < 0.7)
            {
                dissimilarPairs++;
                wronglyFound += verdict.Verdict == Verdict.NearDuplicateOf ? 1 : 0;
            }
        }

        var recall = (double)found / similarPairs;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"recall at J ≥ 0.85: {found}/{similarPairs} = {recall:0.000}; flagged below J 0.7: {wrongly(wronglyFound, dissimilarPairs)}"));
        similarPairs.ShouldBeGreaterThan(50);
        dissimilarPairs.ShouldBeGreaterThan(20);
        recall.ShouldBeGreaterThanOrEqualTo(0.95);
        wronglyFound.ShouldBe(0);

        static string wrongly(int w, int n) => $"{w}/{n}";
    }

    [Fact]
    public void Preparer_UnrelatedTexts_AreAllKept()
    {
        var preparer = new Preparer(new PreparationOptions { PiiTypes = new HashSet<PiiType>() });
        var random = new Random(9);
        var kept = 0;
        const int n = 3000;
        for (var i = 0; i < n; i++)
        {
            var text = string.Join(' ', Sentences(random, random.Next(3, 12)));
            kept += preparer.Prepare(i.ToString(CultureInfo.InvariantCulture), [("text", text)]).IsKept ? 1 : 0;
        }

        kept.ShouldBe(n);
    }

    [Fact]
    public void Preparer_SharedBoilerplateWithDifferentBodies_IsKept()
    {
        // Precision where texts share a template but differ in their substance (J well under 0.8).
        var preparer = new Preparer(new PreparationOptions { PiiTypes = new HashSet<PiiType>() });
        var random = new Random(13);
        var boilerplate = string.Join(' ', Sentences(random, 4));
        var dropped = 0;
        for (var i = 0; i < 500; i++)
        {
            var text = boilerplate + " " + string.Join(' ', Sentences(random, 8));
            dropped += preparer.Prepare(i.ToString(CultureInfo.InvariantCulture), [("text", text)]).IsKept ? 0 : 1;
        }

        dropped.ShouldBe(0);
    }

    [Theory]
    [InlineData(0.8, 128, 13, 7)]
    [InlineData(0.5, 128, 23, 3)]
    [InlineData(0.9, 128, 10, 12)]
    public void LshParameters_ForThreshold_FavoursRecall(double threshold, int permutations, int bands, int rows)
    {
        var p = LshParameters.ForThreshold(threshold, permutations);

        p.ShouldBe(new LshParameters(bands, rows));
        p.CandidateProbability(threshold).ShouldBeGreaterThanOrEqualTo(0.95);
    }

    [Fact]
    public void MinHash_CharacterShingles_SeeSmallEditsInShortTexts()
    {
        var hasher = new MinHasher(128, ShingleUnit.Character, 5);
        var a = new uint[128];
        var b = new uint[128];
        var c = new uint[128];
        hasher.Compute(["How do I reset my password on the website?"], a);
        hasher.Compute(["How do I reset my pasword on the website?"], b);
        hasher.Compute(["What is the capital city of Australia today?"], c);

        MinHasher.Similarity(a, b).ShouldBeGreaterThan(0.7);
        MinHasher.Similarity(a, c).ShouldBeLessThan(0.2);
    }
}

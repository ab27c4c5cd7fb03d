using System.Text;

namespace Plumbline.Core.Releases;

/// <summary>
/// Seeded train/validation/test assignment. Each item's place comes from a 64-bit hash of the seed and its
/// external id, so it does not depend on the order items are read in, survives re-imports (ids may change,
/// external ids do not), and an item stays in its split from one release to the next when the seed does.
/// </summary>
public sealed class SplitAssigner
{
    private readonly ulong seed;

    /// <param name="seed">The release's seed.</param>
    /// <param name="validation">Share of items in validation, 0..1.</param>
    /// <param name="test">Share of items in test, 0..1; train takes the rest.</param>
    public SplitAssigner(long seed, double validation, double test)
    {
        if (validation < 0 || test < 0 || validation + test > 1 || double.IsNaN(validation + test))
        {
            throw new ReleaseException($"split shares must be between 0 and 1 and add up to at most 1 (validation {validation}, test {test})");
        }
        this.seed = unchecked((ulong)seed);
        Validation = validation;
        Test = test;
    }

    public double Validation { get; }
    public double Test { get; }
    public double Train => 1 - Validation - Test;

    /// <summary>A uniform number in [0, 1) for the item: the same for the same seed and external id, on every machine.</summary>
    public double Position(string externalId)
    {
        // FNV-1a over the UTF-8 bytes, then the SplitMix64 finaliser, which spreads FNV's weak low bits.
        var hash = 14695981039346656037UL ^ Mix(seed);
        Span<byte> buffer = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetByteCount(externalId) <= buffer.Length ? buffer[..Encoding.UTF8.GetBytes(externalId, buffer)] : Encoding.UTF8.GetBytes(externalId);
        foreach (var b in bytes)
        {
            hash = unchecked((hash ^ b) * 1099511628211UL);
        }
        return (Mix(hash) >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>The split of one item by its position alone (shares hold in expectation).</summary>
    public string Of(string externalId)
    {
        var u = Position(externalId);
        return u < Train ? Splits.Train : u < Train + Validation ? Splits.Validation : Splits.Test;
    }

    /// <summary>
    /// Stratified assignment: within each stratum (e.g. a metadata value), items are ordered by position and the
    /// first ⌊n·train⌉ go to train, the next ⌊n·validation⌉ to validation and the rest to test, so every stratum
    /// has the requested shares up to rounding. Needs each item's stratum first (a few bytes per item).
    /// </summary>
    public Dictionary<long, string> Stratified(IEnumerable<(long ItemId, string ExternalId, string Stratum)> items)
    {
        var strata = new Dictionary<string, List<(double Position, long ItemId)>>(StringComparer.Ordinal);
        foreach (var (itemId, externalId, stratum) in items)
        {
            if (!strata.TryGetValue(stratum, out var list))
            {
                strata[stratum] = list = [];
            }
            list.Add((Position(externalId), itemId));
        }
        var result = new Dictionary<long, string>();
        foreach (var list in strata.Values)
        {
            list.Sort();
            var train = (int)Math.Round(list.Count * Train, MidpointRounding.AwayFromZero);
            var validation = (int)Math.Round(list.Count * Validation, MidpointRounding.AwayFromZero);
            validation = Math.Min(validation, list.Count - train);
            for (var i = 0; i < list.Count; i++)
            {
                result[list[i].ItemId] = i < train ? Splits.Train : i < train + validation ? Splits.Validation : Splits.Test;
            }
        }
        return result;
    }

    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}

/// <summary>
/// Annotator pseudonyms for one release: HMAC-SHA256 of the user id under the release's salt, shortened to 16 hex
/// digits. The same person has one pseudonym throughout a release; without the salt it cannot be traced back.
/// </summary>
public sealed class Pseudonymizer(byte[] salt)
{
    private readonly Dictionary<long, string> cache = [];

    public string Of(long userId)
    {
        if (!cache.TryGetValue(userId, out var name))
        {
            var mac = System.Security.Cryptography.HMACSHA256.HashData(salt, Encoding.UTF8.GetBytes("annotator:" + userId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            cache[userId] = name = "a_" + Convert.ToHexStringLower(mac, 0, 8);
        }
        return name;
    }
}

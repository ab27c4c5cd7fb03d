namespace Plumbline.Core.Preparation;

/// <summary>Bands and rows of locality-sensitive hashing over a MinHash signature.</summary>
/// <param name="Bands">Number of bands.</param>
/// <param name="Rows">Signature entries per band.</param>
public readonly record struct LshParameters(int Bands, int Rows)
{
    /// <summary>Probability that two texts of Jaccard similarity <paramref name="s"/> share at least one band.</summary>
    public double CandidateProbability(double s) => 1 - Math.Pow(1 - Math.Pow(s, Rows), Bands);

    /// <summary>
    /// Chooses bands and rows for a threshold: among the shapes that fit in the signature and make a pair at the
    /// threshold a candidate with probability at least <paramref name="recallAtThreshold"/>, the one with the fewest
    /// expected candidates below the threshold.
    /// </summary>
    /// <remarks>
    /// Recall is favoured over candidate count because every candidate is then checked against its full signature,
    /// which is cheap; a pair LSH never proposes is lost for good. For 128 permutations and 0.8 this gives 13 × 7.
    /// </remarks>
    public static LshParameters ForThreshold(double threshold, int permutations, double recallAtThreshold = 0.95)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(threshold, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(threshold, 1);
        LshParameters? best = null;
        var bestCost = double.MaxValue;
        var fallback = new LshParameters(permutations, 1);
        var fallbackRecall = -1.0;
        for (var bands = 1; bands <= permutations; bands++)
        {
            for (var rows = 1; bands * rows <= permutations; rows++)
            {
                var p = new LshParameters(bands, rows);
                var recall = p.CandidateProbability(threshold);
                if (recall < recallAtThreshold)
                {
                    if (recall > fallbackRecall)
                    {
                        (fallback, fallbackRecall) = (p, recall);
                    }

                    continue;
                }

                // Integral of the candidate probability below the threshold (midpoint rule).
                const int steps = 100;
                var cost = 0.0;
                for (var k = 0; k < steps; k++)
                {
                    cost += p.CandidateProbability((k + 0.5) * threshold / steps);
                }

                cost *= threshold / steps;
                if (cost < bestCost)
                {
                    (best, bestCost) = (p, cost);
                }
            }
        }

        return best ?? fallback;
    }
}

/// <summary>
/// The memory of the preparation step: exact fingerprints and MinHash signatures of kept records, by index, with
/// an LSH table to find near-duplicate candidates. Texts are never held.
/// </summary>
/// <remarks>
/// Per indexed record: the id string, one dictionary entry for the exact hash (about 28 bytes), one byte per
/// permutation (the low 8 bits of each minimum; two unrelated minima agree on them with probability 1/256, which
/// the estimate corrects), and one 8-byte LSH slot per band at a load factor between 0.375 and 0.75.
/// </remarks>
internal sealed class DuplicateIndex
{
    private const int ChunkRecords = 4096;
    private const int MaxCandidates = 256;

    private readonly int _permutations;
    private readonly LshParameters _lsh;
    private readonly List<string> _ids = [];
    private readonly Dictionary<ulong, int> _exact = [];
    private readonly List<byte[]> _signatureChunks = [];
    private uint[] _keys = new uint[1024];
    private int[] _values = new int[1024];
    private int _used;
    private readonly uint[] _bandKeys;
    private readonly List<int> _candidates = [];

    public DuplicateIndex(int permutations, LshParameters lsh)
    {
        _permutations = permutations;
        _lsh = lsh;
        _bandKeys = new uint[lsh.Bands];
    }

    public int Count => _ids.Count;

    public string IdAt(int index) => _ids[index];

    public bool TryGetExact(ulong hash, out string id)
    {
        if (_exact.TryGetValue(hash, out var index))
        {
            id = _ids[index];
            return true;
        }

        id = "";
        return false;
    }

    /// <summary>The most similar indexed record at or above <paramref name="threshold"/>, or -1.</summary>
    public int FindNear(ReadOnlySpan<uint> signature, double threshold, out double similarity)
    {
        similarity = 0;
        ComputeBandKeys(signature);
        _candidates.Clear();
        var mask = _keys.Length - 1;
        for (var band = 0; band < _bandKeys.Length && _candidates.Count < MaxCandidates; band++)
        {
            var key = _bandKeys[band];
            for (var slot = (int)(Spread(key) & (uint)mask); _keys[slot] != 0; slot = (slot + 1) & mask)
            {
                if (_keys[slot] == key && !_candidates.Contains(_values[slot]))
                {
                    _candidates.Add(_values[slot]);
                }
            }
        }

        var best = -1;
        foreach (var candidate in _candidates)
        {
            var s = Similarity(signature, candidate);
            if (s >= threshold && s > similarity)
            {
                (best, similarity) = (candidate, s);
            }
        }

        return best;
    }

    /// <summary>Adds a kept record; <paramref name="signature"/> is empty when near-duplicate detection is off.</summary>
    public void Add(string id, ulong exactHash, ReadOnlySpan<uint> signature)
    {
        var index = _ids.Count;
        _ids.Add(id);
        _exact.TryAdd(exactHash, index);
        if (signature.IsEmpty)
        {
            return;
        }

        var chunk = index / ChunkRecords;
        if (chunk == _signatureChunks.Count)
        {
            _signatureChunks.Add(new byte[ChunkRecords * _permutations]);
        }

        var target = _signatureChunks[chunk].AsSpan(index % ChunkRecords * _permutations, _permutations);
        for (var i = 0; i < _permutations; i++)
        {
            target[i] = (byte)signature[i];
        }

        ComputeBandKeys(signature);
        foreach (var key in _bandKeys)
        {
            Insert(key, index);
        }
    }

    private double Similarity(ReadOnlySpan<uint> signature, int index)
    {
        var stored = _signatureChunks[index / ChunkRecords].AsSpan(index % ChunkRecords * _permutations, _permutations);
        var equal = 0;
        for (var i = 0; i < _permutations; i++)
        {
            if ((byte)signature[i] == stored[i])
            {
                equal++;
            }
        }

        // Unrelated minima agree on 8 bits with probability 1/256: remove that share from the estimate.
        const double chance = 1.0 / 256;
        return Math.Max(0, ((double)equal / _permutations - chance) / (1 - chance));
    }

    private void ComputeBandKeys(ReadOnlySpan<uint> signature)
    {
        for (var band = 0; band < _lsh.Bands; band++)
        {
            var h = (ulong)(band + 1) * 0x9E3779B97F4A7C15;
            foreach (var v in signature.Slice(band * _lsh.Rows, _lsh.Rows))
            {
                h = TextHash.Mix(h ^ v);
            }

            // 0 marks an empty slot; a rare false match on 32 bits is caught by the signature check.
            _bandKeys[band] = (uint)h | 1;
        }
    }

    private static uint Spread(uint key) => key * 0x9E3779B1;

    private void Insert(uint key, int value)
    {
        if ((_used + 1) * 4 > _keys.Length * 3)
        {
            Grow();
        }

        var mask = _keys.Length - 1;
        var slot = (int)(Spread(key) & (uint)mask);
        while (_keys[slot] != 0)
        {
            slot = (slot + 1) & mask;
        }

        _keys[slot] = key;
        _values[slot] = value;
        _used++;
    }

    private void Grow()
    {
        var oldKeys = _keys;
        var oldValues = _values;
        _keys = new uint[oldKeys.Length * 2];
        _values = new int[oldKeys.Length * 2];
        _used = 0;
        for (var i = 0; i < oldKeys.Length; i++)
        {
            if (oldKeys[i] != 0)
            {
                Insert(oldKeys[i], oldValues[i]);
            }
        }
    }
}

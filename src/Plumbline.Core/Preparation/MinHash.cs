using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Plumbline.Core.Preparation;

/// <summary>What a shingle is made of.</summary>
public enum ShingleUnit
{
    /// <summary>Consecutive words (lower-cased runs of letters and digits).</summary>
    Word,

    /// <summary>Consecutive characters of the lower-cased text with whitespace runs collapsed.</summary>
    Character,
}

/// <summary>A stable 64-bit hash of text, used for exact-duplicate fingerprints.</summary>
/// <remarks>Stable across processes (unlike <see cref="HashCode"/>) so that fingerprints could be stored later.</remarks>
public static class TextHash
{
    private const ulong K1 = 0x9E3779B97F4A7C15, K2 = 0xC2B2AE3D27D4EB4F, K3 = 0x165667B19E3779F9;

    /// <summary>Hashes the UTF-16 code units of <paramref name="text"/>, continuing from <paramref name="seed"/>.</summary>
    public static ulong Hash(ReadOnlySpan<char> text, ulong seed = 0)
    {
        var h = seed ^ K3 ^ ((ulong)text.Length * K1);
        var blocks = MemoryMarshal.Cast<char, ulong>(text);
        foreach (var block in blocks)
        {
            h = BitOperations.RotateLeft(h ^ (block * K2), 31) * K1;
        }

        for (var i = blocks.Length * 4; i < text.Length; i++)
        {
            h = BitOperations.RotateLeft(h ^ (text[i] * K2), 23) * K1;
        }

        return Mix(h);
    }

    /// <summary>The finaliser of MurmurHash3 (64-bit): spreads every input bit over the output.</summary>
    public static ulong Mix(ulong h)
    {
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCD;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53;
        h ^= h >> 33;
        return h;
    }
}

/// <summary>
/// MinHash signatures over word or character shingles, computed with eight hash functions per vector instruction.
/// </summary>
/// <remarks>
/// Permutation i is h_i(x) = xorshift(a_i·x + b_i) over 32-bit shingle hashes, with a_i odd: a 2-universal family, the
/// one MinHash libraries use (with a prime modulus instead of 2^32). Its error is checked against exact Jaccard in the
/// tests. The constants come from a fixed seed, so signatures are the same in every process.
/// </remarks>
public sealed class MinHasher
{
    private readonly uint[] _a;
    private readonly uint[] _b;

    /// <summary>Creates a hasher.</summary>
    /// <param name="permutations">Signature length; a multiple of 8.</param>
    /// <param name="unit">Words or characters.</param>
    /// <param name="shingleSize">Units per shingle.</param>
    /// <param name="seed">Seed of the hash family.</param>
    public MinHasher(int permutations = 128, ShingleUnit unit = ShingleUnit.Word, int shingleSize = 3, int seed = 42)
    {
        if (permutations <= 0 || permutations % 8 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(permutations), permutations, "Must be a positive multiple of 8.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(shingleSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shingleSize, 32);
        Permutations = permutations;
        Unit = unit;
        ShingleSize = shingleSize;
        _a = new uint[permutations];
        _b = new uint[permutations];
        var state = (ulong)seed;
        for (var i = 0; i < permutations; i++)
        {
            _a[i] = (uint)Next(ref state) | 1;
            _b[i] = (uint)Next(ref state);
        }
    }

    /// <summary>Signature length.</summary>
    public int Permutations { get; }

    /// <summary>What shingles are made of.</summary>
    public ShingleUnit Unit { get; }

    /// <summary>Units per shingle.</summary>
    public int ShingleSize { get; }

    /// <summary>Computes the signature of the concatenation of <paramref name="texts"/> into <paramref name="signature"/>.</summary>
    /// <returns>The number of shingles (0 when the texts hold no word or character).</returns>
    public int Compute(IReadOnlyList<string> texts, Span<uint> signature)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (signature.Length != Permutations)
        {
            throw new ArgumentException($"Signature must have {Permutations} entries.", nameof(signature));
        }

        signature.Fill(uint.MaxValue);
        var shingler = new Shingler(this, signature, stackalloc ulong[ShingleSize]);
        foreach (var text in texts)
        {
            if (Unit == ShingleUnit.Word)
            {
                shingler.AddWords(text);
            }
            else
            {
                shingler.AddCharacters(text);
            }
        }

        shingler.Flush();
        return shingler.Count;
    }

    /// <summary>Estimated Jaccard similarity of two signatures of the same hasher.</summary>
    public static double Similarity(ReadOnlySpan<uint> a, ReadOnlySpan<uint> b)
    {
        var equal = 0;
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] == b[i])
            {
                equal++;
            }
        }

        return (double)equal / a.Length;
    }

    private void Apply(uint x, Span<uint> signature)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var vx = Vector256.Create(x);
            var mins = MemoryMarshal.Cast<uint, Vector256<uint>>(signature);
            var a = MemoryMarshal.Cast<uint, Vector256<uint>>(_a);
            var b = MemoryMarshal.Cast<uint, Vector256<uint>>(_b);
            for (var v = 0; v < mins.Length; v++)
            {
                var h = a[v] * vx + b[v];
                h ^= Vector256.ShiftRightLogical(h, 15);
                mins[v] = Vector256.Min(mins[v], h);
            }
        }
        else
        {
            for (var i = 0; i < signature.Length; i++)
            {
                var h = _a[i] * x + _b[i];
                h ^= h >> 15;
                if (h < signature[i])
                {
                    signature[i] = h;
                }
            }
        }
    }

    private static ulong Next(ref ulong state)
    {
        // SplitMix64.
        state += 0x9E3779B97F4A7C15;
        return TextHash.Mix(state);
    }

    /// <summary>Streams units into shingles; units from consecutive texts continue one sequence.</summary>
    private ref struct Shingler(MinHasher owner, Span<uint> signature, Span<ulong> ring)
    {
        private readonly Span<uint> _signature = signature;
        private readonly Span<ulong> _ring = ring;
        private int _seen;
        private int _pos;

        public int Count { get; private set; }

        public void AddWords(string text)
        {
            var h = 0UL;
            var inWord = false;
            foreach (var ch in text)
            {
                char c;
                if (ch < 128)
                {
                    if (ch is >= 'a' and <= 'z' or >= '0' and <= '9')
                    {
                        c = ch;
                    }
                    else if (ch is >= 'A' and <= 'Z')
                    {
                        c = (char)(ch | 0x20);
                    }
                    else
                    {
                        if (inWord)
                        {
                            AddUnit(h);
                            inWord = false;
                        }

                        continue;
                    }
                }
                else if (char.IsLetterOrDigit(ch))
                {
                    c = char.ToLowerInvariant(ch);
                }
                else
                {
                    if (inWord)
                    {
                        AddUnit(h);
                        inWord = false;
                    }

                    continue;
                }

                h = inWord ? (h ^ c) * 0x100000001B3 : (0xCBF29CE484222325 ^ c) * 0x100000001B3;
                inWord = true;
            }

            if (inWord)
            {
                AddUnit(h);
            }
        }

        public void AddCharacters(string text)
        {
            var lastWasSpace = true;
            foreach (var ch in text)
            {
                if (char.IsWhiteSpace(ch))
                {
                    if (lastWasSpace)
                    {
                        continue;
                    }

                    lastWasSpace = true;
                    AddUnit(' ');
                    continue;
                }

                lastWasSpace = false;
                AddUnit(char.ToLowerInvariant(ch));
            }

            if (!lastWasSpace)
            {
                AddUnit(' ');
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void AddUnit(ulong unit)
        {
            _ring[_pos] = unit;
            _pos = _pos + 1 == _ring.Length ? 0 : _pos + 1;
            _seen++;
            if (_seen >= _ring.Length)
            {
                Emit();
            }
        }

        private void Emit()
        {
            // Units in order, oldest first, so that "a b c" and "c b a" differ.
            var h = 0x27D4EB2F165667C5UL;
            var n = Math.Min(_seen, _ring.Length);
            var k = _seen >= _ring.Length ? _pos : 0;
            for (var i = 0; i < n; i++)
            {
                h = BitOperations.RotateLeft(h ^ (_ring[k] * 0xC2B2AE3D27D4EB4F), 27) * 0x9E3779B97F4A7C15;
                k = k + 1 == _ring.Length ? 0 : k + 1;
            }

            owner.Apply((uint)TextHash.Mix(h), _signature);
            Count++;
        }

        public void Flush()
        {
            // Fewer units than one shingle: the whole short text is the only shingle.
            if (_seen is > 0 && _seen < _ring.Length)
            {
                Emit();
            }
        }
    }
}

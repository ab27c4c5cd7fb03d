using System.Globalization;
using System.Text;

namespace Plumbline.Core.Preparation;

/// <summary>
/// The preparation step of an import, fed one record at a time: normalises and redacts texts, filters, and drops
/// exact and near-duplicates against earlier records and the project's existing ones.
/// </summary>
/// <remarks>
/// <para>Not thread-safe: the duplicate decisions depend on the order records arrive in, which keeps results
/// reproducible. A dry run is the same calls without storing the output.</para>
/// <para>Memory: only kept (and existing) records are remembered, each by its id, a 64-bit fingerprint, one byte per
/// MinHash permutation and one LSH slot per band: about 190 bytes plus the id with the defaults (see
/// <see cref="IndexedRecords"/>).</para>
/// </remarks>
public sealed class Preparer
{
    private readonly PreparationOptions _options;
    private readonly MinHasher? _minHasher;
    private readonly DuplicateIndex _index;
    private readonly int _declaredLanguage;
    private readonly List<PiiMatch> _matches = [];
    private readonly uint[] _signature;
    private readonly string[] _finalTexts = new string[64];

    /// <summary>Creates a preparer; <paramref name="options"/> defaults to all rules on.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public Preparer(PreparationOptions? options = null)
    {
        _options = options ?? new PreparationOptions();
        _options.Validate();
        Lsh = LshParameters.ForThreshold(_options.NearDuplicateThreshold, _options.Permutations);
        _minHasher = _options.DropNearDuplicates
            ? new MinHasher(_options.Permutations, _options.ShingleUnit, _options.ShingleSize, _options.MinHashSeed)
            : null;
        _signature = new uint[_options.Permutations];
        _index = new DuplicateIndex(_options.Permutations, Lsh);
        _declaredLanguage = _options.DeclaredLanguage is null ? -1 : LanguageDetector.IndexOf(_options.DeclaredLanguage);
    }

    /// <summary>The options in force.</summary>
    public PreparationOptions Options => _options;

    /// <summary>Bands and rows used for near-duplicate candidates, derived from the threshold.</summary>
    public LshParameters Lsh { get; }

    /// <summary>Records remembered for duplicate detection (kept and existing ones).</summary>
    public int IndexedRecords => _index.Count;

    /// <summary>
    /// Remembers a record the project already holds, so that imports duplicating it are dropped. Its texts go through
    /// the same normalisation and redaction, so stored (already prepared) texts match new raw ones.
    /// </summary>
    public void AddExisting(string recordId, IReadOnlyList<(string Path, string Text)> texts)
    {
        ArgumentNullException.ThrowIfNull(recordId);
        ArgumentNullException.ThrowIfNull(texts);
        var finals = new string[texts.Count];
        for (var i = 0; i < texts.Count; i++)
        {
            List<PiiFinding>? none = null;
            finals[i] = PrepareText(texts[i].Path, texts[i].Text ?? "", null, ref none, out _);
        }

        var hash = Fingerprint(texts, finals);
        var signature = ComputeSignature(finals) ? _signature : [];
        _index.Add(recordId, hash, signature);
    }

    /// <summary>Prepares one record.</summary>
    /// <param name="recordId">The record's id, reported back in duplicate clusters.</param>
    /// <param name="texts">Every string value of the record with its path, in a stable order.</param>
    public PreparedRecord Prepare(string recordId, IReadOnlyList<(string Path, string Text)> texts)
    {
        ArgumentNullException.ThrowIfNull(recordId);
        ArgumentNullException.ThrowIfNull(texts);

        var hits = new List<RuleHit>();
        List<PiiFinding>? findings = null;
        List<PreparedText>? changed = null;
        var finals = texts.Count <= _finalTexts.Length ? _finalTexts : new string[texts.Count];
        var length = 0;
        string? emptyPath = texts.Count == 0 ? "" : null;
        for (var i = 0; i < texts.Count; i++)
        {
            var (path, text) = texts[i];
            text ??= "";
            var final = PrepareText(path, text, hits, ref findings, out var normalized);
            if (emptyPath is null && _options.DropEmpty && string.IsNullOrWhiteSpace(normalized))
            {
                emptyPath = path;
            }

            finals[i] = final;
            length += final.Length;
            if (!ReferenceEquals(final, text) && !string.Equals(final, text, StringComparison.Ordinal))
            {
                (changed ??= []).Add(new PreparedText(path, final));
            }
        }

        IReadOnlyList<string> flags = _options.PiiAction == PiiAction.Flag && findings is { Count: > 0 }
            ? findings.Select(f => PreparationRules.ForPii(f.Type)).Distinct().ToArray()
            : [];

        PreparedRecord Result(Verdict verdict, string? rule = null, string? reason = null, string? duplicateOf = null, double? similarity = null)
        {
            if (rule is not null)
            {
                hits.Add(new RuleHit(rule, null, reason ?? rule));
            }

            return new PreparedRecord
            {
                RecordId = recordId,
                Verdict = verdict,
                Rule = rule,
                Reason = reason,
                DuplicateOf = duplicateOf,
                Similarity = similarity,
                ChangedTexts = (IReadOnlyList<PreparedText>?)changed ?? [],
                PiiFindings = findings is { Count: > 0 } ? findings : [],
                Hits = hits,
                Flags = flags,
            };
        }

        if (_options.DropEmpty && emptyPath is not null)
        {
            return Result(Verdict.Drop, PreparationRules.Empty, texts.Count == 0 ? "record has no text" : $"'{emptyPath}' is empty or whitespace only");
        }

        if (_options.MinLength > 0 && length < _options.MinLength)
        {
            return Result(Verdict.Drop, PreparationRules.MinLength, $"{length} characters, minimum {_options.MinLength}");
        }

        if (_options.MaxLength > 0 && length > _options.MaxLength)
        {
            return Result(Verdict.Drop, PreparationRules.MaxLength, $"{length} characters, maximum {_options.MaxLength}");
        }

        if (_declaredLanguage >= 0)
        {
            Span<double> scores = stackalloc double[LanguageDetector.SupportedLanguages.Count];
            var guess = LanguageDetector.Detect(new ArraySegment<string>(finals, 0, texts.Count), scores);
            var declared = LanguageDetector.SupportedLanguages[_declaredLanguage];
            if (guess.Language is not null && guess.Language != declared && scores[LanguageDetector.IndexOf(guess.Language)] - scores[_declaredLanguage] >= _options.LanguageMargin)
            {
                return Result(Verdict.Drop, PreparationRules.Language, string.Create(CultureInfo.InvariantCulture,
                    $"looks like '{guess.Language}' (lead {scores[LanguageDetector.IndexOf(guess.Language)] - scores[_declaredLanguage]:0.00} per trigram over '{declared}')"));
            }
        }

        var segment = new ArraySegment<string>(finals, 0, texts.Count);
        var hash = Fingerprint(texts, segment);
        if (_options.DropExactDuplicates && _index.TryGetExact(hash, out var original))
        {
            return Result(Verdict.DuplicateOf, PreparationRules.ExactDuplicate, $"same texts as '{original}'", original);
        }

        var hasSignature = ComputeSignature(segment);
        if (hasSignature)
        {
            var near = _index.FindNear(_signature, _options.NearDuplicateThreshold, out var similarity);
            if (near >= 0)
            {
                var id = _index.IdAt(near);
                return Result(Verdict.NearDuplicateOf, PreparationRules.NearDuplicate,
                    string.Create(CultureInfo.InvariantCulture, $"similar to '{id}' (Jaccard ≈ {similarity:0.00})"), id, Math.Round(similarity, 3));
            }
        }

        _index.Add(recordId, hash, hasSignature ? _signature : []);
        return Result(Verdict.Keep);
    }

    private bool ComputeSignature(IReadOnlyList<string> finals) =>
        _minHasher is not null && _minHasher.Compute(finals, _signature) > 0;

    private static ulong Fingerprint(IReadOnlyList<(string Path, string Text)> texts, IReadOnlyList<string> finals)
    {
        var h = 0xA0761D6478BD642FUL;
        for (var i = 0; i < finals.Count; i++)
        {
            h = TextHash.Hash(texts[i].Path, h);
            h = TextHash.Hash(finals[i], h);
        }

        return h;
    }

    private string PrepareText(string path, string text, List<RuleHit>? hits, ref List<PiiFinding>? findings, out string normalized)
    {
        var current = text;
        if (_options.Normalize)
        {
            current = TextNormalizer.Normalize(text, out var changes, out var repairs);
            if (hits is not null && changes != TextChanges.None)
            {
                if ((changes & TextChanges.Mojibake) != 0)
                {
                    hits.Add(new RuleHit(PreparationRules.Mojibake, path, repairs == 1 ? "1 garbled sequence repaired" : $"{repairs} garbled sequences repaired"));
                }

                if ((changes & TextChanges.ControlCharacters) != 0)
                {
                    hits.Add(new RuleHit(PreparationRules.ControlCharacters, path, "control or zero-width characters removed"));
                }

                if ((changes & TextChanges.Whitespace) != 0)
                {
                    hits.Add(new RuleHit(PreparationRules.Whitespace, path, "line breaks or spaces normalised"));
                }

                if ((changes & TextChanges.Nfc) != 0)
                {
                    hits.Add(new RuleHit(PreparationRules.Nfc, path, "composed to NFC"));
                }
            }
        }

        normalized = current;
        if (_options.PiiTypes.Count == 0)
        {
            return current;
        }

        PiiScanner.Scan(current, _options.PiiTypes, _matches);
        if (_matches.Count == 0)
        {
            return current;
        }

        if (hits is not null)
        {
            findings ??= [];
            foreach (var m in _matches)
            {
                var masked = PiiMasker.Mask(m.Type, current.AsSpan(m.Start, m.Length));
                findings.Add(new PiiFinding(m.Type, path, m.Start, m.Length, masked));
                hits.Add(new RuleHit(PreparationRules.ForPii(m.Type), path,
                    (_options.PiiAction == PiiAction.Redact ? "redacted " : "flagged ") + masked));
            }
        }

        return _options.PiiAction == PiiAction.Redact ? PiiMasker.Redact(current, _matches) : current;
    }
}

/// <summary>Placeholders and masks for private information.</summary>
public static class PiiMasker
{
    /// <summary>The placeholder that replaces a redacted span, such as "[EMAIL]".</summary>
    public static string Placeholder(PiiType type) => type switch
    {
        PiiType.Email => "[EMAIL]",
        PiiType.Phone => "[PHONE]",
        PiiType.CreditCard => "[CREDIT_CARD]",
        PiiType.Iban => "[IBAN]",
        PiiType.IpAddress => "[IP_ADDRESS]",
        PiiType.Ssn => "[SSN]",
        PiiType.Secret => "[SECRET]",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>Replaces each match (sorted, non-overlapping) with its placeholder.</summary>
    public static string Redact(string text, IReadOnlyList<PiiMatch> matches)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(matches);
        var sb = new StringBuilder(text.Length);
        var at = 0;
        foreach (var m in matches)
        {
            sb.Append(text, at, m.Start - at).Append(Placeholder(m.Type));
            at = m.End;
        }

        return sb.Append(text, at, text.Length - at).ToString();
    }

    /// <summary>
    /// A masked form of a found value that says what it was without revealing it: the e-mail's first letters and
    /// top-level domain, the last digits of numbers, the first group of an address, the well-known prefix of a key.
    /// </summary>
    public static string Mask(PiiType type, ReadOnlySpan<char> value)
    {
        switch (type)
        {
            case PiiType.Email:
            {
                var at = value.IndexOf('@');
                var dot = value.LastIndexOf('.');
                return $"{value[..1]}***@{value.Slice(at + 1, 1)}***{value[dot..]}";
            }

            case PiiType.CreditCard:
                return MaskAlnum(value, keepFirst: 0, keepLast: 4);
            case PiiType.Phone or PiiType.Ssn:
                return MaskAlnum(value, keepFirst: 0, keepLast: 2);
            case PiiType.Iban:
                return MaskAlnum(value, keepFirst: 2, keepLast: 2);
            case PiiType.IpAddress:
            {
                var separator = value.IndexOfAny('.', ':');
                return MaskAlnum(value, keepFirst: separator < 0 ? 0 : value[..separator].Length, keepLast: 0);
            }

            default:
            {
                // Known token prefixes say which service a key belongs to; a password's first letters would leak it.
                var prefix = value.StartsWith("-----BEGIN", StringComparison.Ordinal) ? "-----BEGIN" :
                    value.Length > 20 && value.IndexOfAny('_', '-') is > 1 and < 12 and var cut ? value[..(cut + 1)].ToString() : "";
                return string.Concat(prefix, "****", string.Create(CultureInfo.InvariantCulture, $" ({value.Length} chars)"));
            }
        }
    }

    private static string MaskAlnum(ReadOnlySpan<char> value, int keepFirst, int keepLast)
    {
        var total = 0;
        foreach (var c in value)
        {
            if (char.IsLetterOrDigit(c))
            {
                total++;
            }
        }

        var chars = value.ToArray();
        var seen = 0;
        for (var i = 0; i < chars.Length; i++)
        {
            if (!char.IsLetterOrDigit(chars[i]))
            {
                continue;
            }

            if (seen >= keepFirst && seen < total - keepLast)
            {
                chars[i] = '*';
            }

            seen++;
        }

        return new string(chars);
    }
}

using System.Globalization;
using System.Text;

namespace Plumbline.Core.Preparation;

/// <summary>
/// The preparation step of an import, fed one record at a time: normalises and redacts texts, filters, and drops
/// exact and near-duplicates against earlier records and the project's existing ones.
/// </summary>
/// <remarks>
/// <para><see cref="Analyze"/> is thread-safe; <see cref="Decide"/>, <see cref="Prepare"/> and <see cref="AddExisting"/>
/// are not: duplicate decisions depend on the order records arrive in, which keeps results reproducible. A dry run is
/// the same calls without storing the output.</para>
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

    // Scratch list per thread: Analyze runs concurrently.
    [ThreadStatic]
    private static List<PiiMatch>? t_matches;

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

        var signature = new uint[_options.Permutations];
        var hasSignature = _minHasher is not null && _minHasher.Compute(finals, signature) > 0;
        _index.Add(recordId, Fingerprint(texts, finals), hasSignature ? signature : []);
    }

    /// <summary>Prepares one record: <see cref="Analyze"/> then <see cref="Decide"/>.</summary>
    /// <param name="recordId">The record's id, reported back in duplicate clusters.</param>
    /// <param name="texts">Every string value of the record with its path, in a stable order.</param>
    public PreparedRecord Prepare(string recordId, IReadOnlyList<(string Path, string Text)> texts) => Decide(Analyze(recordId, texts));

    /// <summary>
    /// The part of preparation that depends on the record alone: normalisation, private information, filters,
    /// fingerprint and signature. Thread-safe, so an import can analyse records on several cores and then call
    /// <see cref="Decide"/> in arrival order.
    /// </summary>
    public RecordAnalysis Analyze(string recordId, IReadOnlyList<(string Path, string Text)> texts)
    {
        ArgumentNullException.ThrowIfNull(recordId);
        ArgumentNullException.ThrowIfNull(texts);

        var a = new RecordAnalysis(recordId);
        var finals = new string[texts.Count];
        var length = 0;
        string? emptyPath = texts.Count == 0 ? "" : null;
        List<PiiFinding>? findings = null;
        List<PreparedText>? changed = null;
        for (var i = 0; i < texts.Count; i++)
        {
            var (path, text) = texts[i];
            text ??= "";
            var final = PrepareText(path, text, a.Hits, ref findings, out var normalized);
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

        a.Changed = (IReadOnlyList<PreparedText>?)changed ?? [];
        a.Findings = (IReadOnlyList<PiiFinding>?)findings ?? [];
        a.Flags = _options.PiiAction == PiiAction.Flag && findings is { Count: > 0 }
            ? findings.Select(f => PreparationRules.ForPii(f.Type)).Distinct().ToArray()
            : [];

        if (_options.DropEmpty && emptyPath is not null)
        {
            (a.Rule, a.Reason) = (PreparationRules.Empty, texts.Count == 0 ? "record has no text" : $"'{emptyPath}' is empty or whitespace only");
        }
        else if (_options.MinLength > 0 && length < _options.MinLength)
        {
            (a.Rule, a.Reason) = (PreparationRules.MinLength, $"{length} characters, minimum {_options.MinLength}");
        }
        else if (_options.MaxLength > 0 && length > _options.MaxLength)
        {
            (a.Rule, a.Reason) = (PreparationRules.MaxLength, $"{length} characters, maximum {_options.MaxLength}");
        }
        else if (_declaredLanguage >= 0)
        {
            Span<double> scores = stackalloc double[LanguageDetector.SupportedLanguages.Count];
            var guess = LanguageDetector.Detect(finals, scores);
            var declared = LanguageDetector.SupportedLanguages[_declaredLanguage];
            if (guess.Language is not null && guess.Language != declared)
            {
                var lead = scores[LanguageDetector.IndexOf(guess.Language)] - scores[_declaredLanguage];
                if (lead >= _options.LanguageMargin)
                {
                    (a.Rule, a.Reason) = (PreparationRules.Language, string.Create(CultureInfo.InvariantCulture,
                        $"looks like '{guess.Language}' (lead {lead:0.00} per trigram over '{declared}')"));
                }
            }
        }

        if (a.Rule is null)
        {
            a.Hash = Fingerprint(texts, finals);
            if (_minHasher is not null)
            {
                var signature = new uint[_options.Permutations];
                if (_minHasher.Compute(finals, signature) > 0)
                {
                    a.Signature = signature;
                }
            }
        }

        return a;
    }

    /// <summary>
    /// Decides on an analysed record against the records seen so far, and remembers it if kept. Not thread-safe:
    /// call in arrival order, from one thread, so that the first of a cluster is the one kept.
    /// </summary>
    public PreparedRecord Decide(RecordAnalysis analysis)
    {
        ArgumentNullException.ThrowIfNull(analysis);
        if (analysis.Rule is not null)
        {
            return Result(analysis, Verdict.Drop, analysis.Rule, analysis.Reason);
        }

        if (_options.DropExactDuplicates && _index.TryGetExact(analysis.Hash, out var original))
        {
            return Result(analysis, Verdict.DuplicateOf, PreparationRules.ExactDuplicate, $"same texts as '{original}'", original);
        }

        if (analysis.Signature is { } signature)
        {
            var near = _index.FindNear(signature, _options.NearDuplicateThreshold, out var similarity);
            if (near >= 0)
            {
                var id = _index.IdAt(near);
                return Result(analysis, Verdict.NearDuplicateOf, PreparationRules.NearDuplicate,
                    string.Create(CultureInfo.InvariantCulture, $"similar to '{id}' (Jaccard ≈ {similarity:0.00})"), id, Math.Round(similarity, 3));
            }
        }

        _index.Add(analysis.RecordId, analysis.Hash, analysis.Signature ?? []);
        return Result(analysis, Verdict.Keep);
    }

    private static PreparedRecord Result(RecordAnalysis a, Verdict verdict, string? rule = null, string? reason = null, string? duplicateOf = null, double? similarity = null)
    {
        if (rule is not null)
        {
            a.Hits.Add(new RuleHit(rule, null, reason ?? rule));
        }

        return new PreparedRecord
        {
            RecordId = a.RecordId,
            Verdict = verdict,
            Rule = rule,
            Reason = reason,
            DuplicateOf = duplicateOf,
            Similarity = similarity,
            ChangedTexts = a.Changed,
            PiiFindings = a.Findings,
            Hits = a.Hits,
            Flags = a.Flags,
        };
    }

    private static ulong Fingerprint(IReadOnlyList<(string Path, string Text)> texts, string[] finals)
    {
        var h = 0xA0761D6478BD642FUL;
        for (var i = 0; i < finals.Length; i++)
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

        var matches = t_matches ??= [];
        PiiScanner.Scan(current, _options.PiiTypes, matches);
        if (matches.Count == 0)
        {
            return current;
        }

        if (hits is not null)
        {
            findings ??= [];
            foreach (var m in matches)
            {
                var masked = PiiMasker.Mask(m.Type, current.AsSpan(m.Start, m.Length));
                findings.Add(new PiiFinding(m.Type, path, m.Start, m.Length, masked));
                hits.Add(new RuleHit(PreparationRules.ForPii(m.Type), path,
                    (_options.PiiAction == PiiAction.Redact ? "redacted " : "flagged ") + masked));
            }
        }

        return _options.PiiAction == PiiAction.Redact ? PiiMasker.Redact(current, matches) : current;
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

/// <summary>
/// What <see cref="Preparer.Analyze"/> learned about one record, waiting for <see cref="Preparer.Decide"/>. Holds the
/// prepared texts only until then.
/// </summary>
public sealed class RecordAnalysis
{
    internal RecordAnalysis(string recordId) => RecordId = recordId;

    /// <summary>The record's id.</summary>
    public string RecordId { get; }

    internal List<RuleHit> Hits { get; } = [];

    internal IReadOnlyList<PreparedText> Changed { get; set; } = [];

    internal IReadOnlyList<PiiFinding> Findings { get; set; } = [];

    internal IReadOnlyList<string> Flags { get; set; } = [];

    internal string? Rule { get; set; }

    internal string? Reason { get; set; }

    internal ulong Hash { get; set; }

    internal uint[]? Signature { get; set; }
}

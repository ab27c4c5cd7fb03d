namespace Plumbline.Core.Preparation;

/// <summary>What to do with a span of private information.</summary>
public enum PiiAction
{
    /// <summary>Replace the span with a typed placeholder such as "[EMAIL]".</summary>
    Redact,

    /// <summary>Leave the text as it is and flag the record for review.</summary>
    Flag,
}

/// <summary>
/// Settings of the preparation step of one import. The defaults turn every rule on.
/// </summary>
/// <remarks>
/// Shingles default to 3 words rather than 5 characters: a 1 KB text has about 170 word shingles against about 1,000
/// character shingles, so MinHash costs six times less, and word shingles still move in proportion to inserted,
/// deleted or reordered sentences. Choose <see cref="ShingleUnit.Character"/> for very short texts or for languages
/// written without spaces.
/// </remarks>
public sealed record PreparationOptions
{
    /// <summary>Repair mojibake, apply NFC, remove control characters, normalise newlines and whitespace.</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>Drop records whose texts equal (after normalisation) those of an earlier or existing record.</summary>
    public bool DropExactDuplicates { get; init; } = true;

    /// <summary>Drop records whose estimated Jaccard similarity to a kept record reaches <see cref="NearDuplicateThreshold"/>.</summary>
    public bool DropNearDuplicates { get; init; } = true;

    /// <summary>Estimated Jaccard similarity at or above which two records are near-duplicates.</summary>
    public double NearDuplicateThreshold { get; init; } = 0.8;

    /// <summary>Units of a shingle.</summary>
    public ShingleUnit ShingleUnit { get; init; } = ShingleUnit.Word;

    /// <summary>Units per shingle (3 words; use about 5 with characters).</summary>
    public int ShingleSize { get; init; } = 3;

    /// <summary>MinHash signature length (a multiple of 8). Bands and rows follow from it and the threshold.</summary>
    public int Permutations { get; init; } = 128;

    /// <summary>Seed of the MinHash family; keep it fixed so that runs are reproducible.</summary>
    public int MinHashSeed { get; init; } = 42;

    /// <summary>Kinds of private information to look for; empty turns detection off.</summary>
    public IReadOnlySet<PiiType> PiiTypes { get; init; } = new HashSet<PiiType>(Enum.GetValues<PiiType>());

    /// <summary>What to do with what is found.</summary>
    public PiiAction PiiAction { get; init; } = PiiAction.Redact;

    /// <summary>Drop records that have no text or a text that is empty or whitespace only.</summary>
    public bool DropEmpty { get; init; } = true;

    /// <summary>Records with fewer characters in all their texts together are dropped; 0 turns the rule off.</summary>
    public int MinLength { get; init; } = 2;

    /// <summary>Records with more characters in all their texts together are dropped; 0 turns the rule off.</summary>
    /// <remarks>200,000 characters is about 50,000 tokens: beyond it a record is usually a pasted dump.</remarks>
    public int MaxLength { get; init; } = 200_000;

    /// <summary>ISO 639-1 code the texts should be in (en, de, fr, es, it, pt, nl), or null for no check.</summary>
    public string? DeclaredLanguage { get; init; }

    /// <summary>
    /// Mean log-likelihood lead per trigram another language needs over the declared one before a record is dropped.
    /// </summary>
    /// <remarks>Mixed or short texts sit close to zero; a text clearly in another language leads by more than 0.5.</remarks>
    public double LanguageMargin { get; init; } = 0.3;

    /// <summary>Throws <see cref="ArgumentException"/> when a setting is out of range.</summary>
    public void Validate()
    {
        if (NearDuplicateThreshold is <= 0 or > 1)
        {
            throw new ArgumentException("NearDuplicateThreshold must be in (0, 1].", nameof(NearDuplicateThreshold));
        }

        if (Permutations <= 0 || Permutations % 8 != 0)
        {
            throw new ArgumentException("Permutations must be a positive multiple of 8.", nameof(Permutations));
        }

        if (ShingleSize is < 1 or > 32)
        {
            throw new ArgumentException("ShingleSize must be between 1 and 32.", nameof(ShingleSize));
        }

        if (MinLength < 0 || MaxLength < 0 || (MaxLength > 0 && MinLength > MaxLength))
        {
            throw new ArgumentException("MinLength and MaxLength must be non-negative, with MinLength ≤ MaxLength.", nameof(MinLength));
        }

        if (DeclaredLanguage is not null && !LanguageDetector.IsSupported(DeclaredLanguage))
        {
            throw new ArgumentException(
                $"Language '{DeclaredLanguage}' has no profile; supported: {string.Join(", ", LanguageDetector.SupportedLanguages)}.",
                nameof(DeclaredLanguage));
        }
    }
}

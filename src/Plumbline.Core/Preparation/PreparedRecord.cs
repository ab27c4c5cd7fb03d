using System.Text.Json.Serialization;

namespace Plumbline.Core.Preparation;

/// <summary>Names of the preparation rules, as they appear in records and reports.</summary>
public static class PreparationRules
{
    /// <summary>Mojibake repaired.</summary>
    public const string Mojibake = "normalize.mojibake";

    /// <summary>Text put in NFC.</summary>
    public const string Nfc = "normalize.nfc";

    /// <summary>Control or zero-width characters removed.</summary>
    public const string ControlCharacters = "normalize.control";

    /// <summary>Newlines or whitespace normalised.</summary>
    public const string Whitespace = "normalize.whitespace";

    /// <summary>Record with no text, or an empty or whitespace-only text.</summary>
    public const string Empty = "filter.empty";

    /// <summary>Record shorter than the minimum length.</summary>
    public const string MinLength = "filter.min_length";

    /// <summary>Record longer than the maximum length.</summary>
    public const string MaxLength = "filter.max_length";

    /// <summary>Record not in the declared language.</summary>
    public const string Language = "filter.language";

    /// <summary>Exact duplicate of a kept or existing record.</summary>
    public const string ExactDuplicate = "dedup.exact";

    /// <summary>Near-duplicate of a kept or existing record.</summary>
    public const string NearDuplicate = "dedup.near";

    /// <summary>The rule name of a kind of private information, such as "pii.email".</summary>
    public static string ForPii(PiiType type) => type switch
    {
        PiiType.Email => "pii.email",
        PiiType.Phone => "pii.phone",
        PiiType.CreditCard => "pii.credit_card",
        PiiType.Iban => "pii.iban",
        PiiType.IpAddress => "pii.ip_address",
        PiiType.Ssn => "pii.ssn",
        PiiType.Secret => "pii.secret",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}

/// <summary>What happens to a record.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Verdict>))]
public enum Verdict
{
    /// <summary>Imported (possibly with changed texts).</summary>
    Keep,

    /// <summary>Dropped by a filter; see the rule and reason.</summary>
    Drop,

    /// <summary>Dropped as an exact duplicate of another record.</summary>
    DuplicateOf,

    /// <summary>Dropped as a near-duplicate of another record.</summary>
    NearDuplicateOf,
}

/// <summary>A text whose prepared value differs from the input.</summary>
/// <param name="Path">Where the text sits in the record, as the caller named it.</param>
/// <param name="Text">The normalised and, if configured, redacted text.</param>
public sealed record PreparedText(string Path, string Text);

/// <summary>A span of private information found in a record.</summary>
/// <param name="Type">What was found.</param>
/// <param name="Path">The text it was found in.</param>
/// <param name="Start">Offset in the normalised text, before redaction.</param>
/// <param name="Length">Length in characters.</param>
/// <param name="Masked">The value with its private parts masked, safe to show in reports.</param>
public sealed record PiiFinding(
    [property: JsonConverter(typeof(JsonStringEnumConverter<PiiType>))] PiiType Type,
    string Path,
    int Start,
    int Length,
    string Masked);

/// <summary>One application of a rule to a record.</summary>
/// <param name="Rule">A name from <see cref="PreparationRules"/>.</param>
/// <param name="Path">The text concerned, or null for the whole record.</param>
/// <param name="Detail">What happened, with private parts masked.</param>
public sealed record RuleHit(string Rule, string? Path, string Detail);

/// <summary>The outcome of preparing one record.</summary>
public sealed class PreparedRecord
{
    /// <summary>The caller's id of the record.</summary>
    public required string RecordId { get; init; }

    /// <summary>Keep, drop, or duplicate of another record.</summary>
    public required Verdict Verdict { get; init; }

    /// <summary>For anything but Keep: the rule that decided.</summary>
    public string? Rule { get; init; }

    /// <summary>For anything but Keep: why, in words.</summary>
    public string? Reason { get; init; }

    /// <summary>For duplicates: the id of the record that is kept.</summary>
    public string? DuplicateOf { get; init; }

    /// <summary>For near-duplicates: the estimated Jaccard similarity.</summary>
    public double? Similarity { get; init; }

    /// <summary>The texts whose prepared value differs from the input; the others are unchanged.</summary>
    public IReadOnlyList<PreparedText> ChangedTexts { get; init; } = [];

    /// <summary>Private information found, redacted or flagged according to the options.</summary>
    public IReadOnlyList<PiiFinding> PiiFindings { get; init; } = [];

    /// <summary>Every rule that applied, in order.</summary>
    public IReadOnlyList<RuleHit> Hits { get; init; } = [];

    /// <summary>Rules that ask for a person's review (private information in Flag mode).</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];

    /// <summary>True when the record is imported.</summary>
    [JsonIgnore]
    public bool IsKept => Verdict == Verdict.Keep;
}

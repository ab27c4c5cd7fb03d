using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core;
using Plumbline.Core.Releases;
using Plumbline.Core.Schema;

namespace Plumbline.Server.Features.Releases;

/// <summary>Which items go into a release.</summary>
/// <param name="Status"><c>any</c> (default: items with at least one usable submitted answer) or <c>complete</c> (items that reached the project's overlap).</param>
/// <param name="Metadata">Only items whose metadata has these values (compared as text), e.g. <c>{"lang": "en"}</c>.</param>
/// <param name="MinConfidence">Leave out items whose least confident question consensus is below this (0..1).</param>
/// <param name="ExcludeGold">Leave out items that carry gold answers (typically used to score annotators).</param>
/// <param name="OnlyReviewed">Use only responses a reviewer accepted or corrected; items left without any are left out.</param>
public sealed record ReleaseFilter(string? Status = null, Dictionary<string, string>? Metadata = null, double? MinConfidence = null,
    bool ExcludeGold = false, bool OnlyReviewed = false);

/// <summary>How items are split into train, validation and test.</summary>
/// <param name="Validation">Share of items in validation (default 0.05).</param>
/// <param name="Test">Share of items in test (default 0.05); train takes the rest.</param>
/// <param name="Seed">Seed of the assignment: the same seed puts each item in the same split in every release.</param>
/// <param name="StratifyBy">A metadata key: each of its values gets the requested shares exactly (up to rounding).</param>
public sealed record ReleaseSplit(double? Validation = null, double? Test = null, long? Seed = null, string? StratifyBy = null);

/// <summary>A request to build a release.</summary>
/// <param name="Formats">One or more formats: openai-chat, trl-sft, trl-prompt-completion, trl-preference, trl-preference-chat, kto, reward-pairs, ranking-pairs, alpaca, sharegpt, rubric, safety, raw, csv, hf or hf:FORMAT.</param>
/// <param name="Filter">Which items to include.</param>
/// <param name="Methods">Consensus method per question name; each type has a default (majority, median, borda, all).</param>
/// <param name="Split">Train/validation/test split.</param>
/// <param name="RealAnnotatorIds">Write annotators' e-mail addresses instead of per-release pseudonyms.</param>
/// <param name="S3">Also upload the release to S3-compatible storage at <c>s3://bucket/prefix</c>.</param>
public sealed record CreateReleaseRequest(List<string>? Formats, ReleaseFilter? Filter = null, Dictionary<string, string>? Methods = null,
    ReleaseSplit? Split = null, bool RealAnnotatorIds = false, string? S3 = null);

/// <summary>Settings after validation, with every default filled in: what the manifest records and the salt is derived from.</summary>
public sealed record ResolvedReleaseSettings(
    List<string> Formats, string Status, SortedDictionary<string, string> Metadata, double MinConfidence, bool ExcludeGold, bool OnlyReviewed,
    SortedDictionary<string, string> Methods, double Validation, double Test, long Seed, string? StratifyBy, bool RealAnnotatorIds)
{
    public const string StatusAny = "any";
    public const string StatusComplete = "complete";

    /// <summary>Checks a request against the project's schema; throws <see cref="ReleaseException"/> saying what to change.</summary>
    public static ResolvedReleaseSettings From(CreateReleaseRequest request, ProjectSchema schema)
    {
        var formats = (request.Formats ?? []).Select(f => f.Trim()).Where(f => f.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (formats.Count == 0)
        {
            throw new ReleaseException("give at least one format; formats that fit this project: " + string.Join(", ", Core.Releases.Formats.ReleaseFormats.Fitting(schema)));
        }
        var filter = request.Filter ?? new ReleaseFilter();
        var status = filter.Status ?? StatusAny;
        if (status is not (StatusAny or StatusComplete))
        {
            throw new ReleaseException($"filter.status '{status}' is not known; use '{StatusAny}' or '{StatusComplete}'");
        }
        if (filter.MinConfidence is < 0 or > 1)
        {
            throw new ReleaseException($"filter.minConfidence must be between 0 and 1, got {filter.MinConfidence}");
        }
        var methods = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, method) in request.Methods ?? [])
        {
            var q = schema.FindQuestion(name) ?? throw new ReleaseException(
                $"methods: the project has no question '{name}' (questions: {string.Join(", ", schema.Questions.Select(q => q.Name))})");
            methods[name] = ConsensusMethods.Resolve(q, method);
        }
        foreach (var q in schema.Questions)
        {
            if (!methods.ContainsKey(q.Name) && ConsensusMethods.For(q.Type).Count > 0)
            {
                methods[q.Name] = ConsensusMethods.Resolve(q, null);
            }
        }
        var split = request.Split ?? new ReleaseSplit();
        var validation = split.Validation ?? 0.05;
        var test = split.Test ?? 0.05;
        _ = new SplitAssigner(0, validation, test); // validates the shares
        var stratify = string.IsNullOrWhiteSpace(split.StratifyBy) ? null : split.StratifyBy.Trim();
        return new ResolvedReleaseSettings(formats, status, new SortedDictionary<string, string>(filter.Metadata ?? [], StringComparer.Ordinal),
            filter.MinConfidence ?? 0, filter.ExcludeGold, filter.OnlyReviewed, methods, validation, test, split.Seed ?? 0, stratify, request.RealAnnotatorIds);
    }

    /// <summary>The canonical JSON of these settings (fixed property order, no indentation).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, StoredJson.Options);

    public JsonNode ToNode() => JsonNode.Parse(ToJson())!;
}

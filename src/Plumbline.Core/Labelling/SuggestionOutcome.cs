using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core.Quality;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Labelling;

/// <summary>
/// What a person did with a suggested answer: kept it (<c>accepted</c>), changed part of it (<c>edited</c>), or
/// replaced or dropped it (<c>rejected</c>). Labels and ratings have no parts: any change rejects. A preference
/// with the same choice but another strength or rationale is edited; a multi-label set or span list that keeps
/// some of the suggestion is edited; a reordered ranking is edited; a text is edited while it keeps at least
/// half of the suggestion (edit similarity ≥ 0.5), else rejected. An unanswered question rejects its suggestion.
/// </summary>
public static class SuggestionOutcome
{
    public const string Accepted = "accepted";
    public const string Edited = "edited";
    public const string Rejected = "rejected";

    public const double TextEditedAtLeast = 0.5;

    public static string Classify(QuestionDefinition q, JsonNode? suggested, JsonNode? answered)
    {
        if (answered is null || suggested is null)
        {
            return Rejected;
        }
        if (JsonNode.DeepEquals(suggested, answered))
        {
            return Accepted;
        }
        if (q.PerTurn is not null)
        {
            return PerTurn(q with { PerTurn = null }, suggested, answered);
        }
        switch (q.Type)
        {
            case SchemaTypes.Preference:
                return suggested["choice"] is { } a && answered["choice"] is { } b && JsonNode.DeepEquals(a, b) ? Edited : Rejected;
            case SchemaTypes.MultiLabel:
            case SchemaTypes.Span:
                var s = Members(suggested);
                var t = Members(answered);
                if (s.SetEquals(t))
                {
                    return Accepted;
                }
                return s.Overlaps(t) ? Edited : Rejected;
            case SchemaTypes.Ranking:
                return Members(suggested).SetEquals(Members(answered)) ? Edited : Rejected;
            case SchemaTypes.TextAnswer:
                if (suggested.GetValueKind() != JsonValueKind.String || answered.GetValueKind() != JsonValueKind.String)
                {
                    return Rejected;
                }
                var before = suggested.GetValue<string>().ReplaceLineEndings("\n");
                var after = answered.GetValue<string>().ReplaceLineEndings("\n");
                return before == after ? Accepted : TextSimilarity.EditSimilarity(before, after) >= TextEditedAtLeast ? Edited : Rejected;
            default:
                return Rejected;
        }
    }

    /// <summary>Per-turn answers: accepted when every turn is, rejected when every turn is, else edited.</summary>
    private static string PerTurn(QuestionDefinition q, JsonNode suggested, JsonNode answered)
    {
        if (suggested is not JsonObject s || answered is not JsonObject a)
        {
            return Rejected;
        }
        var outcomes = s.Select(t => Classify(q, t.Value, a[t.Key])).Distinct().ToList();
        return outcomes.Count == 1 ? outcomes[0] : Edited;
    }

    private static HashSet<string> Members(JsonNode node) =>
        node is JsonArray list ? [.. list.Select(v => v?.ToJsonString() ?? "null")] : [];
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Core.Schema;

/// <summary>
/// Validates a response's values (keyed by question name) against the questions and the item they answer.
/// Every problem is reported against its question, so a page can show it next to the question.
/// </summary>
public static class AnswerValidator
{
    /// <summary>Preference choices other than a candidate id.</summary>
    public const string Tie = "tie";
    public const string BothBad = "both_bad";

    /// <summary>Longest free-text answer when a question sets no maxLength.</summary>
    public const int DefaultMaxTextLength = 100_000;

    /// <param name="schema">The project's schema.</param>
    /// <param name="item">The item's field values (for candidate ids, turns and text lengths).</param>
    /// <param name="values">The answers.</param>
    /// <param name="partial">Drafts: types are checked, required questions are not.</param>
    public static Dictionary<string, string> Validate(ProjectSchema schema, JsonObject item, JsonObject values, bool partial = false)
    {
        var errors = new Dictionary<string, string>();
        foreach (var (name, _) in values)
        {
            if (schema.FindQuestion(name) is null)
            {
                errors[name] = $"unknown question '{name}'";
            }
        }
        foreach (var q in schema.Questions)
        {
            var shown = IsShown(q, values);
            values.TryGetPropertyValue(q.Name, out var value);
            if (value is null)
            {
                if (shown && q.Required && !partial)
                {
                    errors[q.Name] = "an answer is required";
                }
                continue;
            }
            if (!shown)
            {
                errors[q.Name] = $"is shown only when '{q.ShowWhen!.Question}' is '{q.ShowWhen.EqualsValue}'";
                continue;
            }
            var problem = q.PerTurn is null ? CheckValue(schema, q, item, value) : CheckPerTurn(schema, q, item, value, partial);
            if (problem is not null)
            {
                errors[q.Name] = problem;
            }
        }
        if (!partial && EmptyLiveChat(schema, item) is { } field)
        {
            errors[field] = "the conversation is empty: send the model at least one message before submitting";
        }
        return errors;
    }

    /// <summary>
    /// With live chat on (red-team, conversation), the conversation is what an attempt is about: the name of its chat field
    /// when it holds no message of the person's yet, else null.
    /// </summary>
    private static string? EmptyLiveChat(ProjectSchema schema, JsonObject item)
    {
        if (schema.Workflow.Chat is null || SchemaValidator.ChatFieldOf(schema) is not { } field)
        {
            return null;
        }
        var spoke = item[field.Name] is JsonArray turns && turns.OfType<JsonObject>().Any(t =>
            t["role"] is JsonValue role && role.GetValueKind() == JsonValueKind.String && role.GetValue<string>() == "user"
            && t["content"] is JsonValue content && content.GetValueKind() == JsonValueKind.String && content.GetValue<string>().Trim().Length > 0);
        return spoke ? null : field.Name;
    }

    /// <summary>Whether a conditional question is visible given the other answers.</summary>
    public static bool IsShown(QuestionDefinition q, JsonObject values)
    {
        if (q.ShowWhen is null)
        {
            return true;
        }
        var other = values[q.ShowWhen.Question];
        return other switch
        {
            null => false,
            JsonArray many => many.Any(v => Scalar(v) == q.ShowWhen.EqualsValue),
            _ => Scalar(other) == q.ShowWhen.EqualsValue,
        };
    }

    private static string? Scalar(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.String => node.GetValue<string>(),
        JsonValueKind.Number => node.ToJsonString(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };

    private static string? CheckPerTurn(ProjectSchema schema, QuestionDefinition q, JsonObject item, JsonNode value, bool partial)
    {
        if (value is not JsonObject perTurn)
        {
            return $"expects an object keyed by assistant turn index, got {FieldValues.Describe(value)}";
        }
        var turns = FieldValues.AssistantTurns(item[q.PerTurn!]).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToHashSet();
        foreach (var (key, turnValue) in perTurn)
        {
            if (!turns.Contains(key))
            {
                return $"turn '{key}' is not an assistant turn of '{q.PerTurn}'";
            }
            if (turnValue is not null && CheckValue(schema, q, item, turnValue) is { } problem)
            {
                return $"turn {key}: {problem}";
            }
        }
        if (q.Required && !partial && turns.FirstOrDefault(t => perTurn[t] is null) is { } missing)
        {
            return $"turn {missing} needs an answer";
        }
        return null;
    }

    private static string? CheckValue(ProjectSchema schema, QuestionDefinition q, JsonObject item, JsonNode value) => q.Type switch
    {
        SchemaTypes.Label => value.GetValueKind() == JsonValueKind.String && q.Labels!.Contains(value.GetValue<string>())
            ? null : $"expects one of {string.Join(", ", q.Labels!)}, got {Show(value)}",
        SchemaTypes.MultiLabel => CheckMultiLabel(q, value),
        SchemaTypes.Rating => CheckRating(q, value),
        SchemaTypes.TextAnswer => CheckText(q, value),
        SchemaTypes.Ranking => CheckRanking(CandidateIds(schema, q, item), value),
        SchemaTypes.Preference => CheckPreference(q, CandidateIds(schema, q, item), value),
        SchemaTypes.Span => CheckSpans(q, item, value),
        _ => $"unknown question type '{q.Type}'",
    };

    private static List<string> CandidateIds(ProjectSchema schema, QuestionDefinition q, JsonObject item)
    {
        var field = schema.CandidatesFieldOf(q);
        return field is null ? [] : FieldValues.CandidateIds(item[field]);
    }

    private static string Show(JsonNode value)
    {
        var text = value.ToJsonString();
        return text.Length > 40 ? text[..40] + "…" : text;
    }

    private static string? CheckMultiLabel(QuestionDefinition q, JsonNode value)
    {
        if (value is not JsonArray list || list.Any(v => v?.GetValueKind() != JsonValueKind.String))
        {
            return $"expects a list of labels, got {FieldValues.Describe(value)}";
        }
        var seen = new HashSet<string>();
        foreach (var label in list.Select(v => v!.GetValue<string>()))
        {
            if (!q.Labels!.Contains(label))
            {
                return $"'{label}' is not one of {string.Join(", ", q.Labels!)}";
            }
            if (!seen.Add(label))
            {
                return $"'{label}' is listed twice";
            }
        }
        return q.Required && list.Count == 0 ? "choose at least one label" : null;
    }

    private static string? CheckRating(QuestionDefinition q, JsonNode value)
    {
        var scale = q.Scale ?? new RatingScale();
        if (value.GetValueKind() != JsonValueKind.Number || !value.AsValue().TryGetValue<int>(out var rating))
        {
            return $"expects a whole number from {scale.Min} to {scale.Max}, got {Show(value)}";
        }
        return rating < scale.Min || rating > scale.Max ? $"{rating} is outside the scale {scale.Min}..{scale.Max}" : null;
    }

    private static string? CheckText(QuestionDefinition q, JsonNode value)
    {
        if (value.GetValueKind() != JsonValueKind.String)
        {
            return $"expects text, got {FieldValues.Describe(value)}";
        }
        var text = value.GetValue<string>();
        var max = q.MaxLength ?? DefaultMaxTextLength;
        if (text.Length > max)
        {
            return $"is {text.Length} characters, over the limit of {max}";
        }
        return q.Required && string.IsNullOrWhiteSpace(text) ? "an answer is required" : null;
    }

    private static string? CheckRanking(List<string> ids, JsonNode value)
    {
        if (value is not JsonArray list || list.Any(v => v?.GetValueKind() != JsonValueKind.String))
        {
            return $"expects a list of candidate ids, best first, got {FieldValues.Describe(value)}";
        }
        var ranked = list.Select(v => v!.GetValue<string>()).ToList();
        if (ranked.Count != ids.Count || ranked.Distinct().Count() != ranked.Count || ranked.Except(ids).Any())
        {
            return $"must rank each candidate exactly once ({string.Join(", ", ids)})";
        }
        return null;
    }

    private static string? CheckPreference(QuestionDefinition q, List<string> ids, JsonNode value)
    {
        if (value is not JsonObject pref || pref["choice"]?.GetValueKind() != JsonValueKind.String)
        {
            return "expects {\"choice\": candidate id | \"tie\" | \"both_bad\"}";
        }
        var choice = pref["choice"]!.GetValue<string>();
        if (choice is not (Tie or BothBad) && !ids.Contains(choice))
        {
            return $"choice '{choice}' is not a candidate ({string.Join(", ", ids)}), '{Tie}' or '{BothBad}'";
        }
        foreach (var (key, v) in pref)
        {
            switch (key)
            {
                case "choice":
                    break;
                case "strength":
                    if (!q.Strength)
                    {
                        return "this question does not ask for a strength";
                    }
                    if (v?.GetValueKind() != JsonValueKind.Number || !v.AsValue().TryGetValue<int>(out var s) || s is < 1 or > 3)
                    {
                        return "strength must be 1 (slightly), 2 or 3 (much better)";
                    }
                    break;
                case "rationale":
                    if (!q.Rationale)
                    {
                        return "this question does not ask for a rationale";
                    }
                    if (v?.GetValueKind() != JsonValueKind.String || v.GetValue<string>().Length > DefaultMaxTextLength)
                    {
                        return "rationale must be text";
                    }
                    break;
                default:
                    return $"unknown key '{key}' (expected choice, strength, rationale)";
            }
        }
        return null;
    }

    private static string? CheckSpans(QuestionDefinition q, JsonObject item, JsonNode value)
    {
        if (value is not JsonArray spans)
        {
            return $"expects a list of {{start, end, label}}, got {FieldValues.Describe(value)}";
        }
        var length = item[q.Field!]?.GetValueKind() == JsonValueKind.String ? item[q.Field!]!.GetValue<string>().Length : 0;
        for (var i = 0; i < spans.Count; i++)
        {
            if (spans[i] is not JsonObject span
                || span["start"]?.GetValueKind() != JsonValueKind.Number || !span["start"]!.AsValue().TryGetValue<int>(out var start)
                || span["end"]?.GetValueKind() != JsonValueKind.Number || !span["end"]!.AsValue().TryGetValue<int>(out var end)
                || span["label"]?.GetValueKind() != JsonValueKind.String)
            {
                return $"span {i}: needs whole-number start and end and a label";
            }
            if (start < 0 || end <= start || end > length)
            {
                return $"span {i}: {start}..{end} is not inside the text (length {length})";
            }
            var label = span["label"]!.GetValue<string>();
            if (!q.Labels!.Contains(label))
            {
                return $"span {i}: '{label}' is not one of {string.Join(", ", q.Labels!)}";
            }
        }
        return q.Required && spans.Count == 0 ? "mark at least one span" : null;
    }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Labelling;

/// <summary>What came of one model answer: the answer values (keyed by question), or why there are none.</summary>
/// <param name="Values">Answers in the shape of a response's values; null when the output was refused.</param>
/// <param name="Error">What is wrong with the output, naming the question; null when it was accepted.</param>
public sealed record LabellerParseResult(JsonObject? Values, string? Error)
{
    public bool Ok => Values is not null;
}

/// <summary>
/// The bridge between a project's questions and a model's structured output. <see cref="JsonSchema"/> builds the
/// JSON schema for <c>response_format: {type: json_schema}</c> (OpenAI's strict subset: every property required,
/// no additional properties, optional answers as <c>anyOf [..., null]</c>); <see cref="Parse"/> reads the model's
/// JSON back into answer values and checks them with <see cref="AnswerValidator"/>, so a model's answer obeys the
/// same rules as a person's. Candidates are called A, B, … in stored order (the prompt shows them so), and the
/// letters are mapped back to candidate ids.
/// </summary>
public static class LabellerOutput
{
    public static string Letter(int index) => index < 26
        ? ((char)('A' + index)).ToString()
        : "R" + (index + 1).ToString(CultureInfo.InvariantCulture);

    /// <summary>The questions a labeller may answer: everything but spans, whose character offsets models get wrong more often than right.</summary>
    public static bool CanAnswer(QuestionDefinition q) => q.Type != SchemaTypes.Span || q.Field is not null;

    /// <summary>The JSON schema of the answer to <paramref name="questions"/> on one item (candidate letters and turns depend on the item).</summary>
    public static JsonObject JsonSchema(ProjectSchema schema, IReadOnlyList<QuestionDefinition> questions, JsonObject item)
    {
        var properties = new JsonObject();
        foreach (var q in questions)
        {
            JsonNode value;
            if (q.PerTurn is not null)
            {
                var turns = FieldValues.AssistantTurns(item[q.PerTurn]).Select(t => t.ToString(CultureInfo.InvariantCulture)).ToList();
                var perTurn = new JsonObject();
                foreach (var t in turns)
                {
                    perTurn[t] = ValueSchema(schema, q, item);
                }
                value = Object(perTurn);
            }
            else
            {
                value = ValueSchema(schema, q, item);
            }
            properties[q.Name] = q.Required && q.ShowWhen is null ? value : Nullable(value);
        }
        return Object(properties);
    }

    private static JsonObject Object(JsonObject properties) => new()
    {
        ["type"] = "object",
        ["properties"] = properties,
        ["required"] = new JsonArray(properties.Select(p => (JsonNode)p.Key).ToArray()),
        ["additionalProperties"] = false,
    };

    private static JsonObject Nullable(JsonNode value) => new() { ["anyOf"] = new JsonArray(value, new JsonObject { ["type"] = "null" }) };

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)v).ToArray());

    private static List<string> Letters(ProjectSchema schema, QuestionDefinition q, JsonObject item)
    {
        var field = schema.CandidatesFieldOf(q);
        var count = field is null ? 0 : FieldValues.CandidateIds(item[field]).Count;
        return [.. Enumerable.Range(0, count).Select(Letter)];
    }

    private static JsonObject ValueSchema(ProjectSchema schema, QuestionDefinition q, JsonObject item)
    {
        switch (q.Type)
        {
            case SchemaTypes.Label:
                return new JsonObject { ["type"] = "string", ["enum"] = Strings(q.Labels!) };
            case SchemaTypes.MultiLabel:
                return new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string", ["enum"] = Strings(q.Labels!) } };
            case SchemaTypes.Rating:
                var scale = q.Scale ?? new RatingScale();
                return new JsonObject { ["type"] = "integer", ["minimum"] = scale.Min, ["maximum"] = scale.Max };
            case SchemaTypes.TextAnswer:
                var text = new JsonObject { ["type"] = "string" };
                if (q.MaxLength is { } max)
                {
                    text["maxLength"] = max;
                }
                return text;
            case SchemaTypes.Ranking:
                var letters = Letters(schema, q, item);
                return new JsonObject
                {
                    ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string", ["enum"] = Strings(letters) },
                    ["minItems"] = letters.Count, ["maxItems"] = letters.Count,
                };
            case SchemaTypes.Preference:
                var choice = new JsonObject { ["choice"] = new JsonObject { ["type"] = "string", ["enum"] = Strings([.. Letters(schema, q, item), AnswerValidator.Tie, AnswerValidator.BothBad]) } };
                if (q.Strength)
                {
                    choice["strength"] = new JsonObject { ["type"] = "integer", ["minimum"] = 1, ["maximum"] = 3 };
                }
                if (q.Rationale)
                {
                    choice["rationale"] = new JsonObject { ["type"] = "string" };
                }
                return Object(choice);
            case SchemaTypes.Span:
                return new JsonObject
                {
                    ["type"] = "array",
                    ["items"] = Object(new JsonObject
                    {
                        ["start"] = new JsonObject { ["type"] = "integer", ["minimum"] = 0 },
                        ["end"] = new JsonObject { ["type"] = "integer", ["minimum"] = 1 },
                        ["label"] = new JsonObject { ["type"] = "string", ["enum"] = Strings(q.Labels!) },
                    }),
                };
            default:
                throw new ArgumentException($"unknown question type '{q.Type}'", nameof(q));
        }
    }

    /// <summary>
    /// Reads a model's answer. Code fences around the JSON are tolerated (models without structured output add
    /// them); keys that are not questions of the labeller are ignored; an answer to a question its condition hides
    /// is dropped, as the workspace drops it. Anything else that is wrong refuses the whole answer, with the reason.
    /// </summary>
    public static LabellerParseResult Parse(ProjectSchema schema, IReadOnlyList<QuestionDefinition> questions, JsonObject item, string? content)
    {
        var text = StripFences(content ?? "");
        if (text.Length == 0)
        {
            return new(null, "the model answered nothing");
        }
        JsonNode? parsed;
        try
        {
            parsed = JsonNode.Parse(text);
        }
        catch (JsonException ex)
        {
            return new(null, $"the output is not JSON ({ex.Message.Split(" Path:")[0]}): {Excerpt(text)}");
        }
        if (parsed is not JsonObject output)
        {
            return new(null, $"the output is not a JSON object: {Excerpt(text)}");
        }
        var values = new JsonObject();
        foreach (var q in questions)
        {
            var raw = output[q.Name];
            if (raw is null)
            {
                continue;
            }
            string? problem;
            JsonNode? value;
            if (q.PerTurn is not null)
            {
                (value, problem) = PerTurn(schema, q, item, raw);
            }
            else
            {
                (value, problem) = FromModel(schema, q, item, raw);
            }
            if (problem is not null)
            {
                return new(null, $"{q.Name}: {problem}");
            }
            values[q.Name] = value;
        }
        foreach (var q in questions.Where(q => q.ShowWhen is not null && !AnswerValidator.IsShown(q, values)))
        {
            values.Remove(q.Name);
        }
        var errors = AnswerValidator.Validate(schema, item, values, partial: true);
        if (errors.Count > 0)
        {
            return new(null, string.Join("; ", errors.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}: {e.Value}")));
        }
        foreach (var q in questions)
        {
            if (q.Required && AnswerValidator.IsShown(q, values) && values[q.Name] is null)
            {
                return new(null, $"{q.Name}: an answer is required");
            }
        }
        return new(values, null);
    }

    private static (JsonNode?, string?) PerTurn(ProjectSchema schema, QuestionDefinition q, JsonObject item, JsonNode raw)
    {
        if (raw is not JsonObject turns)
        {
            return (null, "expects an object keyed by assistant message number");
        }
        var result = new JsonObject();
        foreach (var (turn, value) in turns)
        {
            if (value is null)
            {
                continue;
            }
            var (converted, problem) = FromModel(schema, q, item, value);
            if (problem is not null)
            {
                return (null, $"turn {turn}: {problem}");
            }
            result[turn] = converted;
        }
        return (result, null);
    }

    /// <summary>Letters back to candidate ids; everything else is already in the shape of an answer.</summary>
    private static (JsonNode?, string?) FromModel(ProjectSchema schema, QuestionDefinition q, JsonObject item, JsonNode raw)
    {
        if (q.Type is not (SchemaTypes.Preference or SchemaTypes.Ranking))
        {
            return (raw.DeepClone(), null);
        }
        var field = schema.CandidatesFieldOf(q);
        var ids = field is null ? [] : FieldValues.CandidateIds(item[field]);
        string? Id(JsonNode? letter)
        {
            if (letter?.GetValueKind() != JsonValueKind.String)
            {
                return null;
            }
            var s = letter.GetValue<string>().Trim();
            for (var i = 0; i < ids.Count; i++)
            {
                if (string.Equals(Letter(i), s, StringComparison.OrdinalIgnoreCase))
                {
                    return ids[i];
                }
            }
            return null;
        }
        var letters = string.Join(", ", ids.Select((_, i) => Letter(i)));
        if (q.Type == SchemaTypes.Ranking)
        {
            if (raw is not JsonArray order)
            {
                return (null, $"expects a list of response letters ({letters}), best first");
            }
            var ranked = new JsonArray();
            foreach (var letter in order)
            {
                if (Id(letter) is not { } id)
                {
                    return (null, $"{Excerpt(letter?.ToJsonString() ?? "null")} is not a response letter ({letters})");
                }
                ranked.Add(id);
            }
            return (ranked, null);
        }
        var preference = raw is JsonObject o ? (JsonObject)o.DeepClone() : new JsonObject { ["choice"] = raw.DeepClone() };
        var choice = preference["choice"];
        if (choice?.GetValueKind() != JsonValueKind.String)
        {
            return (null, $"expects {{\"choice\": {letters}, tie or both_bad}}");
        }
        var c = choice.GetValue<string>().Trim();
        if (c is not (AnswerValidator.Tie or AnswerValidator.BothBad))
        {
            if (Id(choice) is not { } id)
            {
                return (null, $"choice '{Excerpt(c)}' is not a response letter ({letters}), tie or both_bad");
            }
            preference["choice"] = id;
        }
        // Strict schemas make the model send every key: a null strength or rationale means none.
        foreach (var key in preference.Where(p => p.Value is null).Select(p => p.Key).ToList())
        {
            preference.Remove(key);
        }
        return (preference, null);
    }

    private static string StripFences(string content)
    {
        var text = content.Trim();
        if (text.StartsWith("```", StringComparison.Ordinal))
        {
            var firstLine = text.IndexOf('\n');
            var end = text.LastIndexOf("```", StringComparison.Ordinal);
            if (firstLine > 0 && end > firstLine)
            {
                text = text[(firstLine + 1)..end].Trim();
            }
        }
        return text;
    }

    private static string Excerpt(string text) => text.Length > 80 ? text[..80] + "…" : text;
}

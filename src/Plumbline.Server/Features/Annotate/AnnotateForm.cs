using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core.Schema;

namespace Plumbline.Server.Features.Annotate;

/// <summary>
/// The names the workspace form gives each answer, and their reading back into response values (keyed by
/// question name, the shape <see cref="AnswerValidator"/> checks). <c>q.NAME</c> holds a question's answer,
/// <c>q.NAME.TURN</c> one assistant turn's answer of a per-turn question; a preference adds <c>.strength</c>
/// and <c>.rationale</c>.
/// </summary>
public static class AnnotateForm
{
    public static string Key(QuestionDefinition q, int? turn = null) =>
        turn is null ? $"q.{q.Name}" : $"q.{q.Name}.{turn.Value.ToString(CultureInfo.InvariantCulture)}";

    public static JsonObject ToValues(ProjectSchema schema, IFormCollection form)
    {
        var values = new JsonObject();
        foreach (var q in schema.Questions)
        {
            if (q.PerTurn is null)
            {
                if (Read(q, form, Key(q)) is { } value)
                {
                    values[q.Name] = value;
                }
                continue;
            }
            var prefix = Key(q) + ".";
            var turns = new JsonObject();
            foreach (var key in form.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                var rest = key[prefix.Length..];
                if (int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out var turn) && Read(q, form, key) is { } value)
                {
                    turns[turn.ToString(CultureInfo.InvariantCulture)] = value;
                }
            }
            if (turns.Count > 0)
            {
                values[q.Name] = turns;
            }
        }
        // A conditional question hidden by the other answers is dropped, as the page drops it: changing
        // "unsafe" back to "safe" must not leave stale categories behind.
        foreach (var q in schema.Questions.Where(q => q.ShowWhen is not null && !AnswerValidator.IsShown(q, values)))
        {
            values.Remove(q.Name);
        }
        return values;
    }

    private static JsonNode? Read(QuestionDefinition q, IFormCollection form, string key)
    {
        var raw = form[key].Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).ToList();
        switch (q.Type)
        {
            case SchemaTypes.MultiLabel:
            case SchemaTypes.Ranking:
                return raw.Count == 0 ? null : new JsonArray(raw.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
            case SchemaTypes.Rating:
                return raw.Count == 0 ? null
                    : int.TryParse(raw[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var rating) ? JsonValue.Create(rating) : JsonValue.Create(raw[0]);
            case SchemaTypes.TextAnswer:
                // Browsers send a textarea's line breaks as CRLF; the answer keeps what the person typed.
                var text = raw.Count == 0 ? null : raw[0].ReplaceLineEndings("\n");
                return string.IsNullOrWhiteSpace(text) ? null : JsonValue.Create(text);
            case SchemaTypes.Preference:
                if (raw.Count == 0)
                {
                    return null;
                }
                var preference = new JsonObject { ["choice"] = raw[0] };
                if (q.Strength && int.TryParse(form[key + ".strength"].FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var strength))
                {
                    preference["strength"] = strength;
                }
                if (q.Rationale && form[key + ".rationale"].FirstOrDefault() is { } rationale && !string.IsNullOrWhiteSpace(rationale))
                {
                    preference["rationale"] = rationale.ReplaceLineEndings("\n");
                }
                return preference;
            case SchemaTypes.Span:
                if (raw.Count == 0)
                {
                    return null;
                }
                try
                {
                    var spans = JsonNode.Parse(raw[0]);
                    return spans is JsonArray { Count: 0 } ? null : spans;
                }
                catch (JsonException)
                {
                    return JsonValue.Create(raw[0]);
                }
            default:
                return raw.Count == 0 ? null : JsonValue.Create(raw[0]);
        }
    }

    /// <summary>The answer's value as the form shows it: a label, a number, a text.</summary>
    public static string? Scalar(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.String => node.GetValue<string>(),
        JsonValueKind.Number => node.ToJsonString(),
        _ => null,
    };

    /// <summary>The value of a question (and turn) among <paramref name="values"/>.</summary>
    public static JsonNode? ValueOf(JsonObject values, QuestionDefinition q, int? turn) =>
        turn is null ? values[q.Name] : values[q.Name]?[turn.Value.ToString(CultureInfo.InvariantCulture)];
}

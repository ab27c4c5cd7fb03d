using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Labelling;

/// <summary>
/// A labeller's prompt template: text with <c>{{field}}</c> placeholders over the item's fields,
/// <c>{{metadata.KEY}}</c> over its metadata, and <c>{{questions}}</c> for the description of what to answer
/// (appended at the end when the template does not place it). Chat fields render one message per line, numbered
/// by their index (the key per-turn answers use); candidates render as "Response A", "Response B"… in stored
/// order, without model names, so a judge is not swayed by them.
/// </summary>
public sealed class LabellerPrompt
{
    public const string QuestionsPlaceholder = "questions";
    private const string MetadataPrefix = "metadata.";

    private readonly List<(bool IsPlaceholder, string Text)> parts;

    private LabellerPrompt(List<(bool, string)> parts) => this.parts = parts;

    /// <summary>The placeholders named in the template, in order of appearance.</summary>
    public IEnumerable<string> Placeholders => parts.Where(p => p.IsPlaceholder).Select(p => p.Text);

    /// <summary>Parses a template; throws <see cref="SchemaException"/> naming an unclosed or unknown placeholder.</summary>
    public static LabellerPrompt Parse(string template, ProjectSchema schema)
    {
        var parts = new List<(bool, string)>();
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0)
            {
                parts.Add((false, template[i..]));
                break;
            }
            if (open > i)
            {
                parts.Add((false, template[i..open]));
            }
            var close = template.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0)
            {
                throw new SchemaException($"prompt: '{{{{' at character {open} is never closed with '}}}}'");
            }
            var name = template[(open + 2)..close].Trim();
            if (name != QuestionsPlaceholder && !name.StartsWith(MetadataPrefix, StringComparison.Ordinal) && schema.FindField(name) is null)
            {
                throw new SchemaException($"prompt: {{{{{name}}}}} is not a field of the project (fields: {string.Join(", ", schema.Fields.Select(f => f.Name))}; also {{{{questions}}}} and {{{{metadata.KEY}}}})");
            }
            parts.Add((true, name));
            i = close + 2;
        }
        return new LabellerPrompt(parts);
    }

    /// <summary>The prompt for one item.</summary>
    public string Render(ProjectSchema schema, IReadOnlyList<QuestionDefinition> questions, JsonObject fields, JsonObject? metadata)
    {
        var sb = new StringBuilder();
        var placedQuestions = false;
        foreach (var (isPlaceholder, text) in parts)
        {
            if (!isPlaceholder)
            {
                sb.Append(text);
            }
            else if (text == QuestionsPlaceholder)
            {
                sb.Append(DescribeQuestions(schema, questions, fields));
                placedQuestions = true;
            }
            else if (text.StartsWith(MetadataPrefix, StringComparison.Ordinal))
            {
                sb.Append(Plain(metadata?[text[MetadataPrefix.Length..]]));
            }
            else
            {
                sb.Append(RenderField(schema.FindField(text)!, fields[text]));
            }
        }
        if (!placedQuestions)
        {
            sb.Append("\n\n").Append(DescribeQuestions(schema, questions, fields));
        }
        return sb.ToString();
    }

    private static string Plain(JsonNode? node) => node is null ? "" : node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();

    /// <summary>A field's value as prompt text.</summary>
    public static string RenderField(FieldDefinition field, JsonNode? value)
    {
        switch (field.Type)
        {
            case SchemaTypes.Chat when value is JsonArray turns:
                var chat = new StringBuilder();
                for (var t = 0; t < turns.Count; t++)
                {
                    chat.Append('[').Append(t.ToString(CultureInfo.InvariantCulture)).Append("] ")
                        .Append(Plain(turns[t]?["role"])).Append(": ").Append(Plain(turns[t]?["content"])).Append('\n');
                }
                return chat.ToString().TrimEnd('\n');
            case SchemaTypes.Candidates when value is JsonArray candidates:
                var list = new StringBuilder();
                for (var c = 0; c < candidates.Count; c++)
                {
                    if (c > 0)
                    {
                        list.Append("\n\n");
                    }
                    list.Append("Response ").Append(LabellerOutput.Letter(c)).Append(":\n").Append(Plain(candidates[c]?["content"]));
                }
                return list.ToString();
            default:
                return Plain(value);
        }
    }

    /// <summary>What to answer, question by question, in words: the JSON schema says the shape, this says the meaning.</summary>
    public static string DescribeQuestions(ProjectSchema schema, IReadOnlyList<QuestionDefinition> questions, JsonObject fields)
    {
        var sb = new StringBuilder("Answer with a JSON object with these keys:");
        foreach (var q in questions)
        {
            sb.Append("\n- ").Append(q.Name).Append(": ");
            if (q.Title is not null)
            {
                sb.Append(q.Title).Append(". ");
            }
            if (q.Description is not null)
            {
                sb.Append(q.Description).Append(' ');
            }
            sb.Append(q.Type switch
            {
                SchemaTypes.Label => $"one of {string.Join(", ", q.Labels!)}.",
                SchemaTypes.MultiLabel => $"a list of any of {string.Join(", ", q.Labels!)} (possibly empty).",
                SchemaTypes.Rating => RatingText(q.Scale ?? new RatingScale()),
                SchemaTypes.TextAnswer => "text.",
                SchemaTypes.Ranking => "the response letters, best first, each once.",
                SchemaTypes.Preference => $"{{\"choice\": the better response's letter, \"tie\" or \"both_bad\"}}{(q.Strength ? ", with \"strength\" 1 (slightly) to 3 (much better)" : "")}{(q.Rationale ? " and a short \"rationale\"" : "")}.",
                SchemaTypes.Span => $"a list of {{start, end, label}} character ranges of '{q.Field}' (end exclusive), labels {string.Join(", ", q.Labels!)}.",
                _ => "",
            });
            if (q.PerTurn is not null)
            {
                sb.Append(" Answer once per assistant message of '").Append(q.PerTurn).Append("', keyed by its number in brackets.");
            }
            if (q.ShowWhen is not null)
            {
                sb.Append(" Only when ").Append(q.ShowWhen.Question).Append(" is ").Append(q.ShowWhen.EqualsValue).Append("; otherwise null.");
            }
            else if (!q.Required)
            {
                sb.Append(" May be null.");
            }
        }
        return sb.ToString();
    }

    private static string RatingText(RatingScale scale)
    {
        var text = $"a whole number from {scale.Min} to {scale.Max}";
        if (scale.Anchors is { Count: > 0 } anchors)
        {
            text += " (" + string.Join(", ", anchors.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key} = {a.Value}")) + ")";
        }
        return text + ".";
    }
}

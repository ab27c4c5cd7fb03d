using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Core.Schema;

/// <summary>
/// Fits an imported record's fields to a project's fields. A field takes the value of the same name; failing
/// that, the canonical value of its type that the import readers produce (<c>prompt</c> or <c>conversation</c>
/// for chat, <c>candidates</c>, <c>response</c> for text). Obvious conversions are made: a plain string into a
/// chat field becomes one user message; a chat of one message into a text field becomes its content.
/// Fields the schema does not name are kept as they are, so nothing imported is lost.
/// </summary>
public static class FieldMapper
{
    /// <returns>The problem, or null when <paramref name="fields"/> now fits the schema.</returns>
    public static string? Map(ProjectSchema schema, JsonObject fields)
    {
        foreach (var def in schema.Fields)
        {
            var value = fields[def.Name] ?? Fallback(def, fields);
            if (value is null)
            {
                continue;
            }
            fields[def.Name] = Convert(def, value);
        }
        return FieldValues.Normalise(schema, fields);
    }

    private static JsonNode? Fallback(FieldDefinition def, JsonObject fields) => def.Type switch
    {
        SchemaTypes.Chat => (fields["prompt"] ?? fields["conversation"])?.DeepClone(),
        SchemaTypes.Candidates => fields["candidates"]?.DeepClone(),
        SchemaTypes.Text or SchemaTypes.Markdown => fields["response"]?.DeepClone(),
        _ => null,
    };

    private static JsonNode Convert(FieldDefinition def, JsonNode value)
    {
        var kind = value.GetValueKind();
        if (def.Type == SchemaTypes.Chat && kind == JsonValueKind.String)
        {
            return new JsonArray(new JsonObject { ["role"] = "user", ["content"] = value.GetValue<string>() });
        }
        if (def.Type is SchemaTypes.Text or SchemaTypes.Markdown && value is JsonArray { Count: 1 } single
            && single[0]?["content"] is JsonValue content && content.GetValueKind() == JsonValueKind.String)
        {
            return content.GetValue<string>();
        }
        return value.Parent is null ? value : value.DeepClone();
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Plumbline.Core.Models;

/// <summary>
/// A prompt written over an item: <c>{{field}}</c> is replaced by the item's field, <c>{{metadata.key}}</c> by a metadata
/// value and <c>{{external_id}}</c> by the item's id. Text fields go in as they are; a chat field as one
/// <c>role: content</c> line per message; candidates as <c>[id] content</c> blocks; anything else as JSON.
/// </summary>
public static partial class PromptTemplate
{
    public const string MetadataPrefix = "metadata.";
    public const string ExternalId = "external_id";

    [GeneratedRegex(@"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")]
    private static partial Regex Placeholder();

    /// <summary>The names the template refers to, in order of first use.</summary>
    public static List<string> Names(string template) =>
        Placeholder().Matches(template).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The template with every placeholder replaced; a missing field or metadata key becomes empty text.</summary>
    public static string Render(string template, string externalId, JsonObject fields, JsonObject? metadata) =>
        Placeholder().Replace(template, m =>
        {
            var name = m.Groups[1].Value;
            if (name == ExternalId)
            {
                return externalId;
            }
            var value = name.StartsWith(MetadataPrefix, StringComparison.Ordinal) ? metadata?[name[MetadataPrefix.Length..]] : fields[name];
            return Text(value);
        });

    /// <summary>A field value as prompt text.</summary>
    public static string Text(JsonNode? value)
    {
        switch (value)
        {
            case null:
                return "";
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return v.GetValue<string>();
            case JsonArray list when list.All(t => t is JsonObject o && o["role"] is not null && o["content"] is not null):
                return string.Join('\n', list.Select(t => $"{Text(t!["role"])}: {Text(t!["content"])}"));
            case JsonArray list when list.All(c => c is JsonObject o && o["content"] is not null):
                var text = new StringBuilder();
                foreach (var candidate in list)
                {
                    text.Append(text.Length == 0 ? "" : "\n\n").Append('[').Append(Text(candidate!["id"])).Append("] ").Append(Text(candidate["content"]));
                }
                return text.ToString();
            default:
                return value.ToJsonString(StoredJson.Options);
        }
    }
}

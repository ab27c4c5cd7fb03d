using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Core.Preparation;

/// <summary>
/// The texts of a record's fields as (path, text) pairs for the <see cref="Preparer"/>, and the way back.
/// Paths are slash-separated keys and indexes (<c>prompt/0/content</c>). Identifiers and roles are not
/// prose (a candidate id "a" would fail a length filter), so they are left out.
/// </summary>
public static class JsonTexts
{
    private static readonly HashSet<string> NotProse = new(StringComparer.Ordinal) { "id", "role", "model", "from" };

    public static List<(string Path, string Text)> Flatten(JsonObject fields)
    {
        var texts = new List<(string, string)>();
        foreach (var (key, value) in fields)
        {
            Collect(value, key, texts);
        }
        return texts;
    }

    private static void Collect(JsonNode? node, string path, List<(string, string)> texts)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    if (!NotProse.Contains(key))
                    {
                        Collect(value, path + "/" + key, texts);
                    }
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    Collect(array[i], path + "/" + i.ToString(CultureInfo.InvariantCulture), texts);
                }
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                texts.Add((path, value.GetValue<string>()));
                break;
        }
    }

    /// <summary>Replaces the string at <paramref name="path"/> (as produced by <see cref="Flatten"/>).</summary>
    public static void Replace(JsonObject fields, string path, string text)
    {
        var parts = path.Split('/');
        JsonNode parent = fields;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            parent = Child(parent, parts[i]) ?? throw new ArgumentException($"path '{path}' is not in the record", nameof(path));
        }
        var last = parts[^1];
        if (parent is JsonArray array)
        {
            array[int.Parse(last, CultureInfo.InvariantCulture)] = text;
        }
        else
        {
            parent.AsObject()[last] = text;
        }
    }

    private static JsonNode? Child(JsonNode node, string part) =>
        node is JsonArray array ? array[int.Parse(part, CultureInfo.InvariantCulture)] : node.AsObject()[part];
}

using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Core.Import;

/// <summary>Conversions from a parsed (pooled, short-lived) document to standalone nodes the caller may keep.</summary>
internal static class JsonNodes
{
    /// <summary>A deep, standalone copy: the nodes never point back into the document, which is disposed after mapping.</summary>
    public static JsonNode? From(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var obj = new JsonObject();
                foreach (var property in element.EnumerateObject())
                {
                    obj[property.Name] = From(property.Value);
                }

                return obj;
            case JsonValueKind.Array:
                var array = new JsonArray();
                foreach (var item in element.EnumerateArray())
                {
                    array.Add(From(item));
                }

                return array;
            case JsonValueKind.String:
                return JsonValue.Create(element.GetString()!);
            case JsonValueKind.Number:
                // Integers are common and exact as long; anything else keeps its original text.
                return IsPlainInteger(element) && element.TryGetInt64(out long n) ? JsonValue.Create(n) : JsonValue.Create(element.Clone());
            case JsonValueKind.True:
                return JsonValue.Create(true);
            case JsonValueKind.False:
                return JsonValue.Create(false);
            default:
                return null;
        }
    }

    /// <summary>True for "12" or "-3"; false for "1.0", "1e3" or "-0", whose text a long would not reproduce.</summary>
    private static bool IsPlainInteger(JsonElement element)
    {
        var raw = JsonMarshal.GetRawUtf8Value(element);
        if (raw.Length is 0 or > 18 || raw.IndexOfAny((byte)'.', (byte)'e', (byte)'E') >= 0)
        {
            return false;
        }

        return !(raw.Length == 2 && raw[0] == (byte)'-' && raw[1] == (byte)'0');
    }

    /// <summary>
    /// The first string value longer than <paramref name="max"/> UTF-8 bytes, with its path ("messages[2].content").
    /// The escaped length bounds the real one from above, so most strings are ruled out without decoding.
    /// </summary>
    public static (string Path, long Bytes)? FindLongString(JsonElement element, int max)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (FindLongString(property.Value, max) is { } found)
                    {
                        return ("." + property.Name + found.Path, found.Bytes);
                    }
                }

                return null;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FindLongString(item, max) is { } found)
                    {
                        return ($"[{i}]{found.Path}", found.Bytes);
                    }

                    i++;
                }

                return null;
            case JsonValueKind.String when JsonMarshal.GetRawUtf8Value(element).Length > max:
                long bytes = Encoding.UTF8.GetByteCount(element.GetString()!);
                return bytes > max ? ("", bytes) : null;
            default:
                return null;
        }
    }
}

using System.Text;
using System.Text.Json.Nodes;
using Plumbline.Core.Releases;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Tests.Releases;

/// <summary>Builds release items from plain answers and writes releases into memory, to read the files back.</summary>
internal static class ReleaseTestData
{
    public static ProjectSchema Template(string name) => Templates.Get(name)!;

    public static JsonObject Chat(string user) => new() { ["prompt"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = user }) };

    /// <summary>Fields as a release reads them in place.</summary>
    public static System.Text.Json.JsonElement Element(JsonObject fields) => System.Text.Json.JsonSerializer.SerializeToElement(fields);

    public static JsonObject Pair(string prompt, string a, string b)
    {
        var fields = Chat(prompt);
        fields["candidates"] = new JsonArray(
            new JsonObject { ["id"] = "a", ["content"] = a },
            new JsonObject { ["id"] = "b", ["content"] = b });
        return fields;
    }

    /// <summary>An item whose answers are <paramref name="values"/> (one per annotator u1, u2, …), consensus by the defaults.</summary>
    public static ReleaseItem Item(ProjectSchema schema, long id, JsonObject fields, params JsonObject[] values) =>
        Item(schema, id, fields, new Dictionary<string, string>(), values);

    public static ReleaseItem Item(ProjectSchema schema, long id, JsonObject fields, IReadOnlyDictionary<string, string> methods, params JsonObject[] values)
    {
        var answers = values.Select((v, i) => new ReleaseAnswer(id * 10 + i, "u" + (i + 1), 1, v)).ToList();
        var item = new ReleaseItem { ItemId = id, ExternalId = "item-" + id, Fields = fields, Answers = answers };
        item.Consensus = ReleaseBuilder.Consensus(schema, methods, item.FieldsElement, answers);
        return item;
    }

    public static JsonObject Prefer(string choice, int? strength = null)
    {
        var pref = new JsonObject { ["choice"] = choice };
        if (strength is { } s)
        {
            pref["strength"] = s;
        }
        return new JsonObject { ["preference"] = pref };
    }

    /// <summary>Writes a release of <paramref name="items"/> in <paramref name="formats"/> into memory; returns the files and the manifest.</summary>
    public static (Dictionary<string, byte[]> Files, ReleaseManifest Manifest) Write(ProjectSchema schema, IEnumerable<ReleaseItem> items, params string[] formats)
    {
        var streams = new Dictionary<string, MemoryStream>();
        var manifest = new ReleaseManifest { ProjectName = "Test project", Version = 1, Software = "test" };
        using (var builder = new ReleaseBuilder(schema, formats, new Dictionary<string, string>(), lineage: true, path =>
        {
            var s = new MemoryStream();
            streams.Add(path, s);
            return s;
        }))
        {
            foreach (var item in items)
            {
                builder.Add(item);
            }
            builder.Complete(manifest);
        }
        return (streams.ToDictionary(p => p.Key, p => p.Value.ToArray()), manifest);
    }

    /// <summary>The records of a JSONL file, each line parsed on its own (so a line break inside a record fails).</summary>
    public static List<JsonObject> Lines(byte[] file)
    {
        var text = Encoding.UTF8.GetString(file);
        text.ShouldNotStartWith("\uFEFF");
        if (text.Length == 0)
        {
            return [];
        }
        text.ShouldEndWith("\n");
        return text[..^1].Split('\n').Select(line => JsonNode.Parse(line)!.AsObject()).ToList();
    }
}

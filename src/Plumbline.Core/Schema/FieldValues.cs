using System.Text.Json.Nodes;

namespace Plumbline.Core.Schema;

/// <summary>Checks and normalises an item's field values against the project's fields.</summary>
public static class FieldValues
{
    private static readonly string[] ChatRoles = ["system", "user", "assistant", "tool"];

    /// <summary>
    /// Returns the first problem with <paramref name="fields"/>, or null when they fit the schema.
    /// Candidates without ids get "a", "b", … by position, so answers can refer to them.
    /// </summary>
    public static string? Normalise(ProjectSchema schema, JsonObject fields)
    {
        foreach (var def in schema.Fields)
        {
            if (!fields.TryGetPropertyValue(def.Name, out var value) || value is null)
            {
                if (def.Required)
                {
                    return $"missing field '{def.Name}' ({def.Type})";
                }
                continue;
            }
            var problem = def.Type switch
            {
                SchemaTypes.Text or SchemaTypes.Markdown => value.GetValueKind() == System.Text.Json.JsonValueKind.String
                    ? null : $"field '{def.Name}' must be a string, got {Describe(value)}",
                SchemaTypes.Chat => CheckChat(def.Name, value),
                SchemaTypes.Candidates => CheckCandidates(def.Name, value),
                _ => null,
            };
            if (problem is not null)
            {
                return problem;
            }
        }
        return null;
    }

    /// <summary>Index of each assistant turn in a chat field: per-turn questions are keyed by it.</summary>
    public static IEnumerable<int> AssistantTurns(JsonNode? chat)
    {
        if (chat is not JsonArray turns)
        {
            yield break;
        }
        for (var i = 0; i < turns.Count; i++)
        {
            if (turns[i]?["role"]?.GetValue<string>() == "assistant")
            {
                yield return i;
            }
        }
    }

    /// <summary>
    /// The draft a text question prefilled from <paramref name="value"/> starts with: a text field's value, or the content
    /// of a chat's last assistant turn (the answer the person rewrites, as in red-teaming); null when there is none.
    /// </summary>
    public static string? PrefillText(JsonNode? value)
    {
        if (value is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String)
        {
            return v.GetValue<string>();
        }
        return value is JsonArray { Count: > 0 } turns && turns[^1] is JsonObject last && last["role"]?.GetValueKind() == System.Text.Json.JsonValueKind.String
            && last["role"]!.GetValue<string>() == "assistant" && last["content"] is JsonValue c && c.GetValueKind() == System.Text.Json.JsonValueKind.String
            ? c.GetValue<string>() : null;
    }

    /// <summary>
    /// Whether <paramref name="text"/> is an unedited copy of an assistant turn of <paramref name="chat"/> before its last
    /// one: in a live chat the rewrite box follows the model's latest answer until the person edits it, and a draft saved
    /// while it followed an earlier answer must not pin that answer.
    /// </summary>
    public static bool IsEarlierAnswer(JsonNode? chat, string text)
    {
        if (chat is not JsonArray turns)
        {
            return false;
        }
        var last = turns.Count - 1;
        while (last >= 0 && turns[last]?["role"]?.GetValue<string>() != "assistant")
        {
            last--;
        }
        for (var i = 0; i < last; i++)
        {
            if (turns[i]?["role"]?.GetValue<string>() == "assistant" && turns[i]?["content"] is JsonValue c
                && c.GetValueKind() == System.Text.Json.JsonValueKind.String && c.GetValue<string>() == text)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>The ids of a candidates field, in stored order.</summary>
    public static List<string> CandidateIds(JsonNode? candidates) =>
        candidates is JsonArray list ? list.Select(c => c?["id"]?.GetValue<string>() ?? "").ToList() : [];

    /// <summary>The ids of the candidates field <paramref name="field"/> of stored fields read in place, in stored order.</summary>
    public static List<string> CandidateIds(System.Text.Json.JsonElement fields, string field)
    {
        if (fields.ValueKind != System.Text.Json.JsonValueKind.Object || !fields.TryGetProperty(field, out var list)
            || list.ValueKind != System.Text.Json.JsonValueKind.Array)
        {
            return [];
        }
        var ids = new List<string>(list.GetArrayLength());
        foreach (var c in list.EnumerateArray())
        {
            ids.Add(c.ValueKind == System.Text.Json.JsonValueKind.Object && c.TryGetProperty("id", out var id)
                && id.ValueKind == System.Text.Json.JsonValueKind.String ? id.GetString()! : "");
        }
        return ids;
    }

    internal static string Describe(JsonNode? node) => node is null ? "null" : node.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.Array => "an array",
        System.Text.Json.JsonValueKind.Object => "an object",
        System.Text.Json.JsonValueKind.String => "a string",
        System.Text.Json.JsonValueKind.Number => "a number",
        System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static string? CheckChat(string name, JsonNode value)
    {
        if (value is not JsonArray turns)
        {
            return $"field '{name}' must be a list of {{role, content}} messages, got {Describe(value)}";
        }
        for (var i = 0; i < turns.Count; i++)
        {
            if (turns[i] is not JsonObject turn
                || turn["role"]?.GetValueKind() != System.Text.Json.JsonValueKind.String
                || turn["content"]?.GetValueKind() != System.Text.Json.JsonValueKind.String)
            {
                return $"field '{name}' message {i}: needs string 'role' and 'content'";
            }
            var role = turn["role"]!.GetValue<string>();
            if (!ChatRoles.Contains(role))
            {
                return $"field '{name}' message {i}: unknown role '{role}' (expected {string.Join(", ", ChatRoles)})";
            }
        }
        return null;
    }

    private static string? CheckCandidates(string name, JsonNode value)
    {
        if (value is not JsonArray list)
        {
            return $"field '{name}' must be a list of candidates {{id, content, model}}, got {Describe(value)}";
        }
        if (list.Count < 2)
        {
            return $"field '{name}' needs at least two candidates, got {list.Count}";
        }
        var ids = new HashSet<string>();
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is JsonValue plain && plain.GetValueKind() == System.Text.Json.JsonValueKind.String)
            {
                // A bare string is a candidate's content: give it an object with a positional id.
                list[i] = new JsonObject { ["id"] = PositionalId(i), ["content"] = plain.GetValue<string>() };
            }
            if (list[i] is not JsonObject candidate
                || candidate["content"]?.GetValueKind() != System.Text.Json.JsonValueKind.String)
            {
                return $"field '{name}' candidate {i}: needs a string 'content'";
            }
            if (candidate["id"] is null)
            {
                candidate["id"] = PositionalId(i);
            }
            var idNode = candidate["id"]!;
            var id = idNode.GetValueKind() == System.Text.Json.JsonValueKind.Number ? idNode.ToJsonString() : idNode.GetValue<string>();
            candidate["id"] = id;
            if (!ids.Add(id))
            {
                return $"field '{name}' candidate {i}: id '{id}' is used twice";
            }
        }
        return null;
    }

    private static string PositionalId(int i) => i < 26 ? ((char)('a' + i)).ToString() : $"c{i}";
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Core.Import;

/// <summary>
/// Turns one parsed record (a JSON object, or a CSV row already shaped like one) into the canonical
/// <see cref="ImportRecord"/>: recognises the LLM layout by its keys, validates it and maps it.
/// </summary>
internal sealed class RecordMapper(ImportOptions options)
{
    /// <summary>Maps <paramref name="obj"/>, taking ownership of its child nodes; <paramref name="raw"/> feeds the content id.</summary>
    public ImportEntry Map(JsonObject obj, ReadOnlySpan<byte> raw, long line)
    {
        // Detach the children once so they can be moved into the output objects without copying.
        KeyValuePair<string, JsonNode?>[] props = [.. obj];
        obj.Clear();
        try
        {
            return new ImportEntry(Build(props, raw, line), null);
        }
        catch (RecordException ex)
        {
            return ImportEntry.Fail(line, ex.Message);
        }
    }

    private ImportRecord Build(KeyValuePair<string, JsonNode?>[] props, ReadOnlySpan<byte> raw, long line)
    {
        var keys = new Keys(props);
        string externalId = ReadId(keys.Get("external_id"), "external_id")
            ?? ReadId(keys.Get("id"), "id")
            ?? ContentId(raw);
        var metadataIn = ReadObject(keys.Get("metadata"), "metadata");
        var gold = ReadObject(keys.Get("gold"), "gold");

        var shape = options.RecognizeShapes ? Recognise(keys) : RecordShape.Generic;
        var fields = new JsonObject();
        if (shape == RecordShape.Generic)
        {
            foreach (var (key, value) in props)
            {
                if (!IsReserved(key))
                {
                    fields[key] = value;
                }
            }

            return new ImportRecord(line, externalId, shape, fields, metadataIn ?? new JsonObject(), gold);
        }

        var metadata = new JsonObject();
        var extra = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        Span<bool> consumed = props.Length <= 128 ? stackalloc bool[props.Length] : new bool[props.Length];
        switch (shape)
        {
            case RecordShape.OpenAiChat:
                MapChat(fields, ReadMessages(keys.Get("messages"), "messages", shareGpt: false));
                keys.Consume(consumed, "messages");
                break;
            case RecordShape.ShareGpt:
                MapChat(fields, ReadMessages(keys.Get("conversations"), "conversations", shareGpt: true));
                keys.Consume(consumed, "conversations");
                break;
            case RecordShape.TrlPreference:
                MapTrlPreference(keys, fields, extra, externalId);
                keys.Consume(consumed, "prompt", "chosen", "rejected");
                break;
            case RecordShape.AnthropicHh:
                MapHh(keys, fields, extra, externalId);
                keys.Consume(consumed, "chosen", "rejected");
                break;
            case RecordShape.TrlPromptCompletion:
                fields["prompt"] = ChatTurn.ToJson(CollectionsMarshalAsSpan(ReadPrompt(keys.Get("prompt"))));
                fields["response"] = ReadAnswer(keys.Get("completion"), "completion");
                keys.Consume(consumed, "prompt", "completion");
                break;
            case RecordShape.Alpaca:
                MapAlpaca(keys, fields);
                keys.Consume(consumed, "instruction", "input", "output");
                break;
        }

        // Unknown top-level keys are kept, not lost: they go to metadata, and the record's own metadata wins on a clash.
        for (int i = 0; i < props.Length; i++)
        {
            if (!consumed[i] && !IsReserved(props[i].Key))
            {
                metadata[props[i].Key] = props[i].Value;
            }
        }

        if (metadataIn is not null)
        {
            KeyValuePair<string, JsonNode?>[] own = [.. metadataIn];
            metadataIn.Clear();
            foreach (var (key, value) in own)
            {
                metadata[key] = value;
            }
        }

        metadata["source_format"] = shape.SourceFormatName();
        foreach (var (key, value) in extra)
        {
            metadata[key] = value;
        }

        return new ImportRecord(line, externalId, shape, fields, metadata, gold);
    }

    private static RecordShape Recognise(Keys keys)
    {
        if (keys.Get("messages") is JsonArray)
        {
            return RecordShape.OpenAiChat;
        }

        if (keys.Get("conversations") is JsonArray)
        {
            return RecordShape.ShareGpt;
        }

        if (keys.Has("chosen") && keys.Has("rejected"))
        {
            if (keys.Has("prompt"))
            {
                return RecordShape.TrlPreference;
            }

            var chosen = keys.Get("chosen");
            if (TryGetString(chosen, out var text) && ChatTurn.ParseTranscript(text) is not null)
            {
                return RecordShape.AnthropicHh;
            }

            if (chosen is JsonArray && keys.Get("rejected") is JsonArray)
            {
                return RecordShape.TrlPreference; // conversational form with an implicit prompt
            }
        }

        if (keys.Has("prompt") && keys.Has("completion"))
        {
            return RecordShape.TrlPromptCompletion;
        }

        if (keys.Has("instruction") && keys.Has("output"))
        {
            return RecordShape.Alpaca;
        }

        return RecordShape.Generic;
    }

    private static void MapChat(JsonObject fields, List<ChatTurn> turns)
    {
        var all = CollectionsMarshalAsSpan(turns);
        if (all[^1].Role == ChatTurn.Assistant)
        {
            fields["prompt"] = ChatTurn.ToJson(all[..^1]);
            fields["response"] = all[^1].Content;
        }
        else
        {
            fields["prompt"] = ChatTurn.ToJson(all);
        }

        fields["conversation"] = ChatTurn.ToJson(all);
    }

    private static void MapTrlPreference(Keys keys, JsonObject fields, Dictionary<string, JsonNode?> extra, string externalId)
    {
        if (keys.Has("prompt"))
        {
            var prompt = ReadPrompt(keys.Get("prompt"));
            fields["prompt"] = ChatTurn.ToJson(CollectionsMarshalAsSpan(prompt));
            AddCandidates(fields, extra, externalId, ReadAnswer(keys.Get("chosen"), "chosen"), ReadAnswer(keys.Get("rejected"), "rejected"));
            return;
        }

        var chosen = ReadMessages(keys.Get("chosen"), "chosen", shareGpt: false);
        var rejected = ReadMessages(keys.Get("rejected"), "rejected", shareGpt: false);
        MapPair(fields, extra, externalId, chosen, rejected, "chosen", "rejected", withConversation: false);
    }

    private static void MapHh(Keys keys, JsonObject fields, Dictionary<string, JsonNode?> extra, string externalId)
    {
        var chosen = ChatTurn.ParseTranscript(keys.GetString("chosen"))!;
        var rejectedText = TryGetString(keys.Get("rejected"), out var r) ? r
            : throw new RecordException($"'rejected' is {ImportText.Kind(keys.Get("rejected"))}, not a string like 'chosen'");
        var rejected = ChatTurn.ParseTranscript(rejectedText)
            ?? throw new RecordException("'rejected' is not a \"Human: … Assistant: …\" transcript like 'chosen'");
        MapPair(fields, extra, externalId, chosen, rejected, "chosen", "rejected", withConversation: true);
    }

    /// <summary>
    /// Two full chats that end in different answers: the shared turns are the prompt, the final answers the candidates.
    /// </summary>
    private static void MapPair(
        JsonObject fields, Dictionary<string, JsonNode?> extra, string externalId,
        List<ChatTurn> chosen, List<ChatTurn> rejected, string chosenKey, string rejectedKey, bool withConversation)
    {
        var c = CollectionsMarshalAsSpan(chosen);
        var r = CollectionsMarshalAsSpan(rejected);
        if (c[^1].Role != ChatTurn.Assistant)
        {
            throw new RecordException($"'{chosenKey}' does not end with an assistant turn");
        }

        if (r[^1].Role != ChatTurn.Assistant)
        {
            throw new RecordException($"'{rejectedKey}' does not end with an assistant turn");
        }

        var cPrefix = c[..^1];
        var rPrefix = r[..^1];
        int shared = ChatTurn.CommonPrefix(cPrefix, rPrefix);
        var prompt = cPrefix[..shared];
        fields["prompt"] = ChatTurn.ToJson(prompt);
        if (withConversation)
        {
            fields["conversation"] = ChatTurn.ToJson(prompt);
        }

        AddCandidates(fields, extra, externalId, c[^1].Content, r[^1].Content);
        if (shared != cPrefix.Length || shared != rPrefix.Length)
        {
            // Some published pairs diverge before the last answer; keep the common part but say so.
            extra["transcript_mismatch"] = true;
        }
    }

    private static void AddCandidates(JsonObject fields, Dictionary<string, JsonNode?> extra, string externalId, string chosen, string rejected)
    {
        bool chosenFirst = ChosenFirst(externalId);
        fields["candidates"] = new JsonArray(
            Candidate("a", chosenFirst ? chosen : rejected),
            Candidate("b", chosenFirst ? rejected : chosen));
        extra["preferred"] = chosenFirst ? "a" : "b";
    }

    private static JsonObject Candidate(string id, string content) => new() { ["id"] = id, ["model"] = null, ["content"] = content };

    /// <summary>
    /// Position is shuffled to avoid position bias, but from a hash of the external id, not a random source,
    /// so re-importing the same file shows every pair the same way.
    /// </summary>
    internal static bool ChosenFirst(string externalId)
    {
        int max = Encoding.UTF8.GetMaxByteCount(externalId.Length);
        Span<byte> bytes = max <= 512 ? stackalloc byte[max] : new byte[max];
        int n = Encoding.UTF8.GetBytes(externalId, bytes);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..n], hash);
        return (hash[0] & 1) == 0;
    }

    internal static string ContentId(ReadOnlySpan<byte> raw)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(raw, hash);
        return "sha256:" + Convert.ToHexStringLower(hash[..12]);
    }

    private static void MapAlpaca(Keys keys, JsonObject fields)
    {
        string instruction = RequireString(keys.Get("instruction"), "instruction");
        var inputNode = keys.Get("input");
        string input = inputNode is null ? "" : RequireString(inputNode, "input");
        string output = RequireString(keys.Get("output"), "output");
        string content = input.Length == 0 ? instruction : instruction + "\n\n" + input;
        fields["prompt"] = ChatTurn.ToJson([new ChatTurn(ChatTurn.User, content)]);
        fields["response"] = output;
    }

    private static List<ChatTurn> ReadPrompt(JsonNode? node)
    {
        if (TryGetString(node, out var text))
        {
            return [new ChatTurn(ChatTurn.User, text)];
        }

        if (node is JsonArray)
        {
            return ReadMessages(node, "prompt", shareGpt: false);
        }

        throw new RecordException($"'prompt' is {ImportText.Kind(node)}; expected a string or a list of messages");
    }

    /// <summary>An answer given as a string, or conversationally as a list holding one assistant message.</summary>
    private static string ReadAnswer(JsonNode? node, string key)
    {
        if (TryGetString(node, out var text))
        {
            return text;
        }

        if (node is JsonArray)
        {
            var turns = ReadMessages(node, key, shareGpt: false);
            if (turns.Count != 1 || turns[0].Role != ChatTurn.Assistant)
            {
                throw new RecordException($"'{key}' has {turns.Count} message(s); expected one assistant message");
            }

            return turns[0].Content;
        }

        throw new RecordException($"'{key}' is {ImportText.Kind(node)}; expected a string or a list with one assistant message");
    }

    private static List<ChatTurn> ReadMessages(JsonNode? node, string key, bool shareGpt)
    {
        if (node is not JsonArray array)
        {
            throw new RecordException($"'{key}' is {ImportText.Kind(node)}; expected a list of messages");
        }

        if (array.Count == 0)
        {
            throw new RecordException($"'{key}' is an empty list");
        }

        string roleKey = shareGpt ? "from" : "role";
        string contentKey = shareGpt ? "value" : "content";
        var turns = new List<ChatTurn>(array.Count);
        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject message)
            {
                throw new RecordException($"{key}[{i}] is {ImportText.Kind(array[i])}; expected an object with '{roleKey}' and '{contentKey}'");
            }

            if (!message.TryGetPropertyValue(roleKey, out var roleNode) || roleNode is null)
            {
                throw new RecordException($"{key}[{i}] has no '{roleKey}'");
            }

            if (!TryGetString(roleNode, out var rawRole))
            {
                throw new RecordException($"{key}[{i}].{roleKey} is {ImportText.Kind(roleNode)}, not a string");
            }

            string? role = shareGpt ? ShareGptRole(rawRole) : ChatRole(rawRole);
            if (role is null)
            {
                string allowed = shareGpt ? "human, gpt, system" : "system, user, assistant";
                throw new RecordException($"{key}[{i}].{roleKey} '{Clip(rawRole)}' is not one of {allowed}");
            }

            if (!message.TryGetPropertyValue(contentKey, out var contentNode))
            {
                throw new RecordException($"{key}[{i}] has no '{contentKey}'");
            }

            if (!TryGetString(contentNode, out var content))
            {
                throw new RecordException($"{key}[{i}].{contentKey} is {ImportText.Kind(contentNode)}, not a string");
            }

            turns.Add(new ChatTurn(role, content));
        }

        return turns;
    }

    private static string? ChatRole(string role) => role switch
    {
        ChatTurn.System => ChatTurn.System,
        ChatTurn.User => ChatTurn.User,
        ChatTurn.Assistant => ChatTurn.Assistant,
        _ => null,
    };

    private static string? ShareGptRole(string role) => role switch
    {
        "human" or "user" => ChatTurn.User,
        "gpt" or "assistant" => ChatTurn.Assistant,
        "system" => ChatTurn.System,
        _ => null,
    };

    private static string? ReadId(JsonNode? node, string key)
    {
        if (node is null)
        {
            return null;
        }

        switch (node.GetValueKind())
        {
            case JsonValueKind.String:
                var id = node.GetValue<string>();
                return id.Length > 0 ? id : throw new RecordException($"'{key}' is an empty string");
            case JsonValueKind.Number:
                return node.ToJsonString();
            default:
                throw new RecordException($"'{key}' is {ImportText.Kind(node)}; expected a string or a number");
        }
    }

    private static JsonObject? ReadObject(JsonNode? node, string key) => node switch
    {
        null => null,
        JsonObject o => o,
        _ => throw new RecordException($"'{key}' is {ImportText.Kind(node)}; expected an object"),
    };

    private static string RequireString(JsonNode? node, string key) =>
        TryGetString(node, out var s) ? s : throw new RecordException($"'{key}' is {ImportText.Kind(node)}, not a string");

    internal static bool TryGetString(JsonNode? node, out string value)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            value = v.GetValue<string>();
            return true;
        }

        value = "";
        return false;
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private static bool IsReserved(string key) => key is "external_id" or "id" or "metadata" or "gold";

    private static ReadOnlySpan<ChatTurn> CollectionsMarshalAsSpan(List<ChatTurn> list) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);

    /// <summary>Lookup of the few top-level keys by name; records are small, so a linear scan beats hashing.</summary>
    private readonly struct Keys(KeyValuePair<string, JsonNode?>[] props)
    {
        public bool Has(string key) => IndexOf(key) >= 0;

        public JsonNode? Get(string key)
        {
            int i = IndexOf(key);
            return i >= 0 ? props[i].Value : null;
        }

        public string GetString(string key) => TryGetString(Get(key), out var s) ? s : "";

        public void Consume(Span<bool> consumed, params ReadOnlySpan<string> keys)
        {
            foreach (var key in keys)
            {
                int i = IndexOf(key);
                if (i >= 0)
                {
                    consumed[i] = true;
                }
            }
        }

        private int IndexOf(string key)
        {
            for (int i = 0; i < props.Length; i++)
            {
                if (string.Equals(props[i].Key, key, StringComparison.Ordinal))
                {
                    return i;
                }
            }

            return -1;
        }
    }
}

/// <summary>A record-level validation failure; its message is the user-facing error.</summary>
internal sealed class RecordException(string message) : Exception(message);

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
    /// <summary>Maps the object <paramref name="root"/>; <paramref name="raw"/> feeds the content id.</summary>
    public ImportEntry Map(JsonElement root, ReadOnlySpan<byte> raw, long line)
    {
        try
        {
            return new ImportEntry(Build(root, raw, line), null);
        }
        catch (RecordException ex)
        {
            return ImportEntry.Fail(line, ex.Message);
        }
    }

    private ImportRecord Build(JsonElement root, ReadOnlySpan<byte> raw, long line)
    {
        var props = new Property[root.GetPropertyCount()];
        int count = 0;
        foreach (var property in root.EnumerateObject())
        {
            props[count++] = new Property(property.Name, property.Value);
        }

        var keys = new Keys(props);
        string externalId = ReadId(keys, "external_id") ?? ReadId(keys, "id") ?? ContentId(raw);
        var metadataIn = ReadObject(keys, "metadata");
        var gold = ReadObject(keys, "gold") is { } g ? (JsonObject)JsonNodes.From(g)! : null;

        var shape = options.RecognizeShapes ? Recognise(keys) : RecordShape.Generic;
        var fields = new JsonObject();
        if (shape == RecordShape.Generic)
        {
            foreach (var (key, value) in props)
            {
                if (!IsReserved(key))
                {
                    fields[key] = JsonNodes.From(value);
                }
            }

            var own = metadataIn is { } m ? (JsonObject)JsonNodes.From(m)! : new JsonObject();
            return new ImportRecord(line, externalId, shape, fields, own, gold);
        }

        var pair = default(PairInfo);
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
                pair = MapTrlPreference(keys, fields, externalId);
                keys.Consume(consumed, "prompt", "chosen", "rejected");
                break;
            case RecordShape.AnthropicHh:
                pair = MapHh(keys, fields, externalId);
                keys.Consume(consumed, "chosen", "rejected");
                break;
            case RecordShape.TrlPromptCompletion:
                fields["prompt"] = ChatTurn.ToJson(AsSpan(ReadPrompt(keys.Get("prompt"))));
                fields["response"] = ReadAnswer(keys.Get("completion"), "completion");
                keys.Consume(consumed, "prompt", "completion");
                break;
            case RecordShape.Alpaca:
                MapAlpaca(keys, fields);
                keys.Consume(consumed, "instruction", "input", "output");
                break;
            case RecordShape.ModelResponses:
                MapModelResponses(keys, fields);
                keys.Consume(consumed, "prompt", "responses");
                break;
            case RecordShape.ChatbotArena:
                pair = MapArena(keys, fields);
                keys.Consume(consumed, "model_a", "model_b", "conversation_a", "conversation_b");
                break;
        }

        // Unknown top-level keys are kept, not lost: they go to metadata, and the record's own metadata wins on a clash.
        var metadata = new JsonObject();
        for (int i = 0; i < props.Length; i++)
        {
            if (!consumed[i] && !IsReserved(props[i].Name))
            {
                metadata[props[i].Name] = JsonNodes.From(props[i].Value);
            }
        }

        if (metadataIn is { } own2)
        {
            foreach (var property in own2.EnumerateObject())
            {
                metadata[property.Name] = JsonNodes.From(property.Value);
            }
        }

        metadata["source_format"] = shape.SourceFormatName();
        if (pair.Preferred is not null)
        {
            metadata["preferred"] = pair.Preferred;
        }

        if (pair.Mismatch)
        {
            // Some published pairs diverge before the last answer; the prompt keeps the common part, and we say so.
            metadata["transcript_mismatch"] = true;
        }

        return new ImportRecord(line, externalId, shape, fields, metadata, gold);
    }

    private static RecordShape Recognise(Keys keys)
    {
        if (keys.Get("responses").ValueKind == JsonValueKind.Array && keys.Has("prompt"))
        {
            return RecordShape.ModelResponses;
        }

        if (keys.Has("model_a") && keys.Has("model_b") && keys.Get("conversation_a").ValueKind == JsonValueKind.Array
            && keys.Get("conversation_b").ValueKind == JsonValueKind.Array)
        {
            return RecordShape.ChatbotArena;
        }

        if (keys.Get("messages").ValueKind == JsonValueKind.Array)
        {
            return RecordShape.OpenAiChat;
        }

        if (keys.Get("conversations").ValueKind == JsonValueKind.Array)
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

            if (chosen.ValueKind == JsonValueKind.Array && keys.Get("rejected").ValueKind == JsonValueKind.Array)
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
        var all = AsSpan(turns);
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

    private static PairInfo MapTrlPreference(Keys keys, JsonObject fields, string externalId)
    {
        if (keys.Has("prompt"))
        {
            var prompt = ReadPrompt(keys.Get("prompt"));
            fields["prompt"] = ChatTurn.ToJson(AsSpan(prompt));
            return AddCandidates(fields, externalId, ReadAnswer(keys.Get("chosen"), "chosen"), ReadAnswer(keys.Get("rejected"), "rejected"));
        }

        var chosen = ReadMessages(keys.Get("chosen"), "chosen", shareGpt: false);
        var rejected = ReadMessages(keys.Get("rejected"), "rejected", shareGpt: false);
        return MapPair(fields, externalId, chosen, rejected, withConversation: false);
    }

    private static PairInfo MapHh(Keys keys, JsonObject fields, string externalId)
    {
        var chosen = ChatTurn.ParseTranscript(keys.Get("chosen").GetString()!)!;
        var rejectedElement = keys.Get("rejected");
        var rejectedText = TryGetString(rejectedElement, out var r) ? r
            : throw new RecordException($"'rejected' is {ImportText.Kind(rejectedElement.ValueKind)}, not a string like 'chosen'");
        var rejected = ChatTurn.ParseTranscript(rejectedText)
            ?? throw new RecordException("'rejected' is not a \"Human: … Assistant: …\" transcript like 'chosen'");
        return MapPair(fields, externalId, chosen, rejected, withConversation: true);
    }

    /// <summary>
    /// Two full chats that end in different answers: the shared turns are the prompt, the final answers the candidates.
    /// </summary>
    private static PairInfo MapPair(JsonObject fields, string externalId, List<ChatTurn> chosen, List<ChatTurn> rejected, bool withConversation)
    {
        var c = AsSpan(chosen);
        var r = AsSpan(rejected);
        if (c[^1].Role != ChatTurn.Assistant)
        {
            throw new RecordException("'chosen' does not end with an assistant turn");
        }

        if (r[^1].Role != ChatTurn.Assistant)
        {
            throw new RecordException("'rejected' does not end with an assistant turn");
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

        var info = AddCandidates(fields, externalId, c[^1].Content, r[^1].Content);
        return info with { Mismatch = shared != cPrefix.Length || shared != rPrefix.Length };
    }

    private static PairInfo AddCandidates(JsonObject fields, string externalId, string chosen, string rejected)
    {
        bool chosenFirst = ChosenFirst(externalId);
        fields["candidates"] = new JsonArray(
            Candidate("a", chosenFirst ? chosen : rejected),
            Candidate("b", chosenFirst ? rejected : chosen));
        return new PairInfo(chosenFirst ? "a" : "b", false);
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

    /// <summary>Each named model's answer becomes a candidate with a positional id (a, b, …) and the model's name.</summary>
    private static void MapModelResponses(Keys keys, JsonObject fields)
    {
        fields["prompt"] = ChatTurn.ToJson(AsSpan(ReadPrompt(keys.Get("prompt"))));
        var responses = keys.Get("responses");
        var candidates = new JsonArray();
        var i = 0;
        foreach (var response in responses.EnumerateArray())
        {
            if (response.ValueKind != JsonValueKind.Object)
            {
                throw new RecordException($"responses[{i}] is {ImportText.Kind(response.ValueKind)}; expected {{\"model\": …, \"text\": …}}");
            }
            var model = response.TryGetProperty("model", out var m) && TryGetString(m, out var name) && name.Length > 0 ? name
                : throw new RecordException($"responses[{i}] has no 'model' name (a non-empty string)");
            var text = response.TryGetProperty("text", out var t) ? t : response.TryGetProperty("content", out var c) ? c : default;
            if (!TryGetString(text, out var content))
            {
                throw new RecordException($"responses[{i}] ({Clip(model)}) has no 'text' (or 'content') string");
            }
            candidates.Add(new JsonObject { ["id"] = i < 26 ? ((char)('a' + i)).ToString() : $"c{i}", ["model"] = model, ["content"] = content });
            i++;
        }
        if (i < 2)
        {
            throw new RecordException($"'responses' has {i} answer(s); side-by-side needs at least two models");
        }
        fields["candidates"] = candidates;
    }

    /// <summary>
    /// A Chatbot Arena or MT-Bench battle: the turns both conversations share are the prompt, the two final answers the
    /// candidates <c>a</c> (model_a) and <c>b</c> (model_b), in the order the original voters saw them.
    /// </summary>
    private static PairInfo MapArena(Keys keys, JsonObject fields)
    {
        var modelA = RequireString(keys.Get("model_a"), "model_a");
        var modelB = RequireString(keys.Get("model_b"), "model_b");
        var a = AsSpan(ReadMessages(keys.Get("conversation_a"), "conversation_a", shareGpt: false));
        var b = AsSpan(ReadMessages(keys.Get("conversation_b"), "conversation_b", shareGpt: false));
        if (a[^1].Role != ChatTurn.Assistant || b[^1].Role != ChatTurn.Assistant)
        {
            throw new RecordException($"'{(a[^1].Role != ChatTurn.Assistant ? "conversation_a" : "conversation_b")}' does not end with an assistant turn");
        }
        var shared = ChatTurn.CommonPrefix(a[..^1], b[..^1]);
        fields["prompt"] = ChatTurn.ToJson(a[..shared]);
        fields["candidates"] = new JsonArray(
            new JsonObject { ["id"] = "a", ["model"] = modelA, ["content"] = a[^1].Content },
            new JsonObject { ["id"] = "b", ["model"] = modelB, ["content"] = b[^1].Content });
        // Multi-turn battles differ before the last answer; the prompt keeps the common part, as for HH pairs.
        return new PairInfo(null, shared != a.Length - 1 || shared != b.Length - 1);
    }

    private static void MapAlpaca(Keys keys, JsonObject fields)
    {
        string instruction = RequireString(keys.Get("instruction"), "instruction");
        var inputElement = keys.Get("input");
        string input = inputElement.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? "" : RequireString(inputElement, "input");
        string output = RequireString(keys.Get("output"), "output");
        string content = input.Length == 0 ? instruction : instruction + "\n\n" + input;
        fields["prompt"] = ChatTurn.ToJson([new ChatTurn(ChatTurn.User, content)]);
        fields["response"] = output;
    }

    private static List<ChatTurn> ReadPrompt(JsonElement element)
    {
        if (TryGetString(element, out var text))
        {
            return [new ChatTurn(ChatTurn.User, text)];
        }

        if (element.ValueKind == JsonValueKind.Array)
        {
            return ReadMessages(element, "prompt", shareGpt: false);
        }

        throw new RecordException($"'prompt' is {ImportText.Kind(element.ValueKind)}; expected a string or a list of messages");
    }

    /// <summary>An answer given as a string, or conversationally as a list holding one assistant message.</summary>
    private static string ReadAnswer(JsonElement element, string key)
    {
        if (TryGetString(element, out var text))
        {
            return text;
        }

        if (element.ValueKind == JsonValueKind.Array)
        {
            var turns = ReadMessages(element, key, shareGpt: false);
            if (turns.Count != 1 || turns[0].Role != ChatTurn.Assistant)
            {
                throw new RecordException($"'{key}' has {turns.Count} message(s); expected one assistant message");
            }

            return turns[0].Content;
        }

        throw new RecordException($"'{key}' is {ImportText.Kind(element.ValueKind)}; expected a string or a list with one assistant message");
    }

    private static List<ChatTurn> ReadMessages(JsonElement element, string key, bool shareGpt)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new RecordException($"'{key}' is {ImportText.Kind(element.ValueKind)}; expected a list of messages");
        }

        int length = element.GetArrayLength();
        if (length == 0)
        {
            throw new RecordException($"'{key}' is an empty list");
        }

        string roleKey = shareGpt ? "from" : "role";
        string contentKey = shareGpt ? "value" : "content";
        var turns = new List<ChatTurn>(length);
        int i = 0;
        foreach (var message in element.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw new RecordException($"{key}[{i}] is {ImportText.Kind(message.ValueKind)}; expected an object with '{roleKey}' and '{contentKey}'");
            }

            if (!message.TryGetProperty(roleKey, out var roleElement) || roleElement.ValueKind == JsonValueKind.Null)
            {
                throw new RecordException($"{key}[{i}] has no '{roleKey}'");
            }

            if (roleElement.ValueKind != JsonValueKind.String)
            {
                throw new RecordException($"{key}[{i}].{roleKey} is {ImportText.Kind(roleElement.ValueKind)}, not a string");
            }

            string? role = shareGpt ? ShareGptRole(roleElement) : ChatRole(roleElement);
            if (role is null)
            {
                string allowed = shareGpt ? "human, gpt, system" : "system, user, assistant";
                throw new RecordException($"{key}[{i}].{roleKey} '{Clip(roleElement.GetString()!)}' is not one of {allowed}");
            }

            if (!message.TryGetProperty(contentKey, out var contentElement))
            {
                throw new RecordException($"{key}[{i}] has no '{contentKey}'");
            }

            if (!TryGetString(contentElement, out var content))
            {
                throw new RecordException($"{key}[{i}].{contentKey} is {ImportText.Kind(contentElement.ValueKind)}, not a string");
            }

            turns.Add(new ChatTurn(role, content));
            i++;
        }

        return turns;
    }

    // Compared as UTF-8 in place: the role names are interned constants, never allocated per message.
    private static string? ChatRole(JsonElement role) =>
        role.ValueEquals("user"u8) ? ChatTurn.User
        : role.ValueEquals("assistant"u8) ? ChatTurn.Assistant
        : role.ValueEquals("system"u8) ? ChatTurn.System
        : null;

    private static string? ShareGptRole(JsonElement role) =>
        role.ValueEquals("human"u8) || role.ValueEquals("user"u8) ? ChatTurn.User
        : role.ValueEquals("gpt"u8) || role.ValueEquals("assistant"u8) ? ChatTurn.Assistant
        : role.ValueEquals("system"u8) ? ChatTurn.System
        : null;

    private static string? ReadId(Keys keys, string key)
    {
        var element = keys.Get(key);
        switch (element.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                var id = element.GetString()!;
                return id.Length > 0 ? id : throw new RecordException($"'{key}' is an empty string");
            case JsonValueKind.Number:
                return element.GetRawText();
            default:
                throw new RecordException($"'{key}' is {ImportText.Kind(element.ValueKind)}; expected a string or a number");
        }
    }

    private static JsonElement? ReadObject(Keys keys, string key)
    {
        var element = keys.Get(key);
        return element.ValueKind switch
        {
            JsonValueKind.Undefined or JsonValueKind.Null => null,
            JsonValueKind.Object => element,
            _ => throw new RecordException($"'{key}' is {ImportText.Kind(element.ValueKind)}; expected an object"),
        };
    }

    private static string RequireString(JsonElement element, string key) =>
        TryGetString(element, out var s) ? s : throw new RecordException($"'{key}' is {ImportText.Kind(element.ValueKind)}, not a string");

    private static bool TryGetString(JsonElement element, out string value)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            value = element.GetString()!;
            return true;
        }

        value = "";
        return false;
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private static bool IsReserved(string key) => key is "external_id" or "id" or "metadata" or "gold";

    private static ReadOnlySpan<ChatTurn> AsSpan(List<ChatTurn> list) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);

    private readonly record struct Property(string Name, JsonElement Value);

    /// <summary>What a preference mapping adds to metadata.</summary>
    private readonly record struct PairInfo(string? Preferred, bool Mismatch);

    /// <summary>Lookup of the few top-level keys by name; records are small, so a linear scan beats hashing.</summary>
    private readonly struct Keys(Property[] props)
    {
        public bool Has(string key) => IndexOf(key) >= 0;

        /// <summary>The value, or an element of kind Undefined when the key is absent.</summary>
        public JsonElement Get(string key)
        {
            int i = IndexOf(key);
            return i >= 0 ? props[i].Value : default;
        }

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
                if (string.Equals(props[i].Name, key, StringComparison.Ordinal))
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

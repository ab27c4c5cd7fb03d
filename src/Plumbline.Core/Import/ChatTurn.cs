using System.Text.Json.Nodes;

namespace Plumbline.Core.Import;

/// <summary>One message of a chat in canonical roles (system, user, assistant).</summary>
internal readonly record struct ChatTurn(string Role, string Content)
{
    public const string System = "system";
    public const string User = "user";
    public const string Assistant = "assistant";

    public static JsonArray ToJson(ReadOnlySpan<ChatTurn> turns)
    {
        var array = new JsonArray();
        foreach (var turn in turns)
        {
            array.Add(new JsonObject { ["role"] = turn.Role, ["content"] = turn.Content });
        }

        return array;
    }

    /// <summary>Number of leading turns two chats share.</summary>
    public static int CommonPrefix(ReadOnlySpan<ChatTurn> a, ReadOnlySpan<ChatTurn> b)
    {
        int n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n])
        {
            n++;
        }

        return n;
    }

    /// <summary>
    /// Parses an Anthropic HH transcript ("\n\nHuman: …\n\nAssistant: …") into turns, or null when the text is not one.
    /// Turn boundaries are only a blank line followed by "Human:" or "Assistant:", as in the published data set;
    /// an inline "Human:" inside an answer stays part of that answer.
    /// </summary>
    public static List<ChatTurn>? ParseTranscript(string text)
    {
        const string human = "Human:";
        const string assistant = "Assistant:";

        int i = 0;
        while (i < text.Length && char.IsWhiteSpace(text[i]))
        {
            i++;
        }

        if (!text.AsSpan(i).StartsWith(human, StringComparison.Ordinal))
        {
            return null;
        }

        var turns = new List<ChatTurn>();
        string role = User;
        int contentStart = i + human.Length;
        int search = contentStart;
        while (true)
        {
            int k = text.IndexOf("\n\n", search, StringComparison.Ordinal);
            if (k < 0)
            {
                turns.Add(new ChatTurn(role, text[contentStart..].Trim()));
                break;
            }

            var rest = text.AsSpan(k + 2);
            string? next = rest.StartsWith(human, StringComparison.Ordinal) ? User
                : rest.StartsWith(assistant, StringComparison.Ordinal) ? Assistant
                : null;
            if (next is null)
            {
                // k + 1, not k + 2: in "\n\n\nHuman:" the marker's blank line starts one byte later.
                search = k + 1;
                continue;
            }

            turns.Add(new ChatTurn(role, text[contentStart..k].Trim()));
            role = next;
            contentStart = k + 2 + (next == User ? human.Length : assistant.Length);
            search = contentStart;
        }

        return turns.Exists(t => t.Role == Assistant) ? turns : null;
    }
}

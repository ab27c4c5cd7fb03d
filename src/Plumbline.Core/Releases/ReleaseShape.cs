using System.Text;
using System.Text.Json;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Releases;

/// <summary>
/// What a project's schema offers to training formats: which field is the prompt, which the model response
/// under evaluation, and which questions give completions, preferences, rankings, scores and labels.
/// Formats ask this rather than the schema, so every format reads a project the same way.
/// </summary>
public sealed class ReleaseShape
{
    public ProjectSchema Schema { get; }
    /// <summary>The field the model is prompted with: one named <c>prompt</c>, else the first chat field, else the first text field.</summary>
    public FieldDefinition? Prompt { get; }
    /// <summary>A model response shown for evaluation or editing (text/markdown, not the prompt).</summary>
    public FieldDefinition? Response { get; }
    /// <summary>The free-text question whose answers are completions: one that edits a field, else the first required one.</summary>
    public QuestionDefinition? Completion { get; }
    public QuestionDefinition? Preference { get; }
    public QuestionDefinition? Ranking { get; }
    /// <summary>Rating questions asked once per item (per-turn ratings are left to the raw format).</summary>
    public IReadOnlyList<QuestionDefinition> Ratings { get; }
    /// <summary>Single-label questions.</summary>
    public IReadOnlyList<QuestionDefinition> Labels { get; }
    public IReadOnlyList<QuestionDefinition> MultiLabels { get; }

    public ReleaseShape(ProjectSchema schema)
    {
        Schema = schema;
        Prompt = schema.FindField("prompt") is { Type: not SchemaTypes.Candidates } named ? named
            : schema.Fields.Find(f => f.Type == SchemaTypes.Chat)
              ?? schema.Fields.Find(f => f.Type is SchemaTypes.Text or SchemaTypes.Markdown);
        var questions = schema.Questions.Where(q => q.PerTurn is null).ToList();
        Completion = questions.Find(q => q.Type == SchemaTypes.TextAnswer && q.Prefill is not null)
            ?? questions.Find(q => q.Type == SchemaTypes.TextAnswer && q.Required && q.ShowWhen is null);
        Response = (Completion?.Prefill is { } prefill && schema.FindField(prefill) is { Type: not SchemaTypes.Chat } prefilled ? prefilled : null)
            ?? schema.Fields.Find(f => f != Prompt && f.Type is SchemaTypes.Text or SchemaTypes.Markdown);
        Preference = questions.Find(q => q.Type == SchemaTypes.Preference);
        Ranking = questions.Find(q => q.Type == SchemaTypes.Ranking);
        Ratings = questions.Where(q => q.Type == SchemaTypes.Rating).ToList();
        Labels = questions.Where(q => q.Type == SchemaTypes.Label).ToList();
        MultiLabels = questions.Where(q => q.Type == SchemaTypes.MultiLabel).ToList();
    }

    /// <summary>Whether the completion rewrites the last assistant turn of the chat prompt (its question prefills from that chat).</summary>
    public bool RewritesLastTurn => PromptIsChat && Completion?.Prefill is { } prefill && prefill == Prompt!.Name;

    /// <summary>Whether the prompt is a conversation (chat field) rather than one text.</summary>
    public bool PromptIsChat => Prompt?.Type == SchemaTypes.Chat;

    /// <summary>Where completions come from, in order of preference; null when the project has none.</summary>
    public string? CompletionSource => Completion is not null ? "text answer '" + Completion.Name + "'"
        : Preference is not null ? "preferred candidate of '" + Preference.Name + "'"
        : Ranking is not null ? "top-ranked candidate of '" + Ranking.Name + "'"
        : null;

    /// <summary>The prompt as chat messages (a text prompt becomes one user message); only role and content are kept.</summary>
    public void WritePromptMessages(Utf8JsonWriter json, JsonElement fields)
    {
        json.WriteStartArray();
        foreach (var (role, content) in PromptTurnValues(fields))
        {
            WriteMessage(json, role, content);
        }
        json.WriteEndArray();
    }

    /// <summary>
    /// Writes the property <paramref name="name"/> with the prompt as one text (<see cref="PromptText"/>). A prompt that is
    /// one stored string (a text field, or a chat of one user message) is copied from the stored bytes without a string.
    /// </summary>
    public void WritePromptText(Utf8JsonWriter json, string name, JsonElement fields)
    {
        json.WritePropertyName(name);
        if (SingleStoredPrompt(fields) is { } stored)
        {
            WriteText(json, stored);
        }
        else
        {
            json.WriteStringValue(PromptText(fields));
        }
    }

    /// <summary>The stored value <see cref="PromptText"/> is made of alone, when it is one: a string, or the content of a chat's only (user) turn.</summary>
    private JsonElement? SingleStoredPrompt(JsonElement fields)
    {
        if (Prompt is null || !TryGet(fields, Prompt.Name, out var value))
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.String)
        {
            return value;
        }
        if (!PromptIsChat || value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != 1)
        {
            return null;
        }
        var turn = value[0];
        var role = TryGet(turn, "role", out var r) && r.ValueKind == JsonValueKind.String ? r : default;
        if (role.ValueKind == JsonValueKind.String && !role.ValueEquals("user"u8))
        {
            return null;
        }
        return TryGet(turn, "content", out var content) ? content : default(JsonElement);
    }

    /// <summary>
    /// The prompt as one text: a text field as it is; a chat of one user message (after an optional system
    /// message, which is kept as a first paragraph) as its content; a longer chat as "User: …", "Assistant: …"
    /// paragraphs.
    /// </summary>
    public string PromptText(JsonElement fields)
    {
        var turns = PromptTurns(fields);
        if (!PromptIsChat)
        {
            return turns.Count == 0 ? "" : turns[0].Content;
        }
        var users = turns.Count(t => t.Role == "user");
        var others = turns.Count(t => t.Role is not ("user" or "system"));
        if (users == 1 && others == 0)
        {
            return string.Join("\n\n", turns.Select(t => t.Content));
        }
        var sb = new StringBuilder();
        foreach (var (role, content) in turns)
        {
            if (sb.Length > 0)
            {
                sb.Append("\n\n");
            }
            sb.Append(char.ToUpperInvariant(role[0])).Append(role, 1, role.Length - 1).Append(": ").Append(content);
        }
        return sb.ToString();
    }

    /// <summary>(role, content) of each prompt message.</summary>
    public List<(string Role, string Content)> PromptTurns(JsonElement fields) =>
        PromptTurnValues(fields).ConvertAll(t => (Str(t.Role) ?? "user", Str(t.Content) ?? ""));

    /// <summary>
    /// The stored role and content of each prompt message (either may be missing or not a string: then the role is
    /// <c>user</c> and the content empty, as <see cref="WriteMessage(Utf8JsonWriter, JsonElement, JsonElement)"/> writes them).
    /// </summary>
    private List<(JsonElement Role, JsonElement Content)> PromptTurnValues(JsonElement fields)
    {
        var turns = new List<(JsonElement, JsonElement)>();
        if (Prompt is null || !TryGet(fields, Prompt.Name, out var value))
        {
            return turns;
        }
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var turn in value.EnumerateArray())
            {
                turns.Add((TryGet(turn, "role", out var role) ? role : default, TryGet(turn, "content", out var content) ? content : default));
            }
            // A completion that rewrites the chat's last answer (red-teaming: prefilled from the chat) takes that answer's
            // place: the prompt is the conversation before it, so the released record ends with the ideal answer.
            if (RewritesLastTurn && turns.Count > 0 && turns[^1].Item1 is { ValueKind: JsonValueKind.String } last && last.ValueEquals("assistant"u8))
            {
                turns.RemoveAt(turns.Count - 1);
            }
        }
        else if (value.ValueKind == JsonValueKind.String)
        {
            turns.Add((default, value));
        }
        return turns;
    }

    /// <summary>
    /// The stored content of candidate <paramref name="id"/> of the field <paramref name="question"/> is about (written
    /// with <see cref="WriteText(Utf8JsonWriter, JsonElement)"/>, read with <see cref="Text"/>); undefined when there is none.
    /// </summary>
    public JsonElement CandidateContent(JsonElement fields, QuestionDefinition question, string id)
    {
        var field = Schema.CandidatesFieldOf(question);
        if (field is not null && TryGet(fields, field, out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var c in list.EnumerateArray())
            {
                if (TryGet(c, "id", out var candidate) && candidate.ValueKind == JsonValueKind.String && candidate.ValueEquals(id))
                {
                    return TryGet(c, "content", out var content) ? content : default;
                }
            }
        }
        return default;
    }

    /// <summary>The model response under evaluation, or null when the project shows none.</summary>
    public string? ResponseText(JsonElement fields) => Response is null || !TryGet(fields, Response.Name, out var value) ? null : Str(value);

    /// <summary>
    /// The completions an item yields for supervised fine-tuning: the kept text answers, else the consensus
    /// winner of the preference, else the consensus top of the ranking.
    /// </summary>
    public IEnumerable<string> Completions(ReleaseItem item)
    {
        if (Completion is not null)
        {
            if (item.ConsensusOf<TextConsensus>(Completion.Name) is { } texts)
            {
                foreach (var (text, _) in texts.Texts)
                {
                    yield return text;
                }
            }
            yield break;
        }
        if (Preference is not null)
        {
            if (item.ConsensusOf<PreferenceConsensus>(Preference.Name) is { Chosen: { } chosen })
            {
                yield return Text(CandidateContent(item.FieldsElement, Preference, chosen));
            }
            yield break;
        }
        if (Ranking is not null && item.ConsensusOf<RankingConsensus>(Ranking.Name) is { Order.Count: > 0 } ranking)
        {
            yield return Text(CandidateContent(item.FieldsElement, Ranking, ranking.Order[0]));
        }
    }

    /// <summary>
    /// Preference pairs an item yields: the decisive preference (margin = mean strength, or the vote margin when
    /// strength is not asked), or every ordered pair of the consensus ranking (margin = difference of mean ranks).
    /// </summary>
    public IEnumerable<PreferencePair> Pairs(ReleaseItem item, bool allRankingPairs)
    {
        var fields = item.FieldsElement;
        if (Preference is not null)
        {
            if (item.ConsensusOf<PreferenceConsensus>(Preference.Name) is { Chosen: { } chosen, Rejected: { } rejected } p)
            {
                var margin = p.Strength;
                if (double.IsNaN(margin))
                {
                    int forChosen = 0, forRejected = 0;
                    foreach (var (choice, count) in p.Votes)
                    {
                        forChosen += choice == chosen ? count : 0;
                        forRejected += choice == rejected ? count : 0;
                    }
                    margin = (forChosen - forRejected) / (double)p.Answers;
                }
                yield return new PreferencePair(CandidateContent(fields, Preference, chosen), CandidateContent(fields, Preference, rejected),
                    chosen, rejected, margin, 1, 2);
            }
            yield break;
        }
        if (Ranking is null || item.ConsensusOf<RankingConsensus>(Ranking.Name) is not { Order.Count: >= 2 } r)
        {
            yield break;
        }
        if (!allRankingPairs)
        {
            var last = r.Order.Count - 1;
            yield return new PreferencePair(CandidateContent(fields, Ranking, r.Order[0]), CandidateContent(fields, Ranking, r.Order[last]),
                r.Order[0], r.Order[last], r.MeanRanks[last] - r.MeanRanks[0], 1, last + 1);
            yield break;
        }
        for (var i = 0; i < r.Order.Count; i++)
        {
            for (var j = i + 1; j < r.Order.Count; j++)
            {
                yield return new PreferencePair(CandidateContent(fields, Ranking, r.Order[i]), CandidateContent(fields, Ranking, r.Order[j]),
                    r.Order[i], r.Order[j], r.MeanRanks[j] - r.MeanRanks[i], i + 1, j + 1);
            }
        }
    }

    public static void WriteMessage(Utf8JsonWriter json, string role, string content)
    {
        json.WriteStartObject();
        json.WriteString("role", role);
        json.WriteString("content", content);
        json.WriteEndObject();
    }

    /// <summary>A message with a stored content (see <see cref="WriteText(Utf8JsonWriter, JsonElement)"/>).</summary>
    public static void WriteMessage(Utf8JsonWriter json, string role, JsonElement content)
    {
        json.WriteStartObject();
        json.WriteString("role", role);
        json.WritePropertyName("content");
        WriteText(json, content);
        json.WriteEndObject();
    }

    /// <summary>A message from stored values: a role that is not a string is <c>user</c>, content that is not a string is empty.</summary>
    public static void WriteMessage(Utf8JsonWriter json, JsonElement role, JsonElement content)
    {
        json.WriteStartObject();
        json.WritePropertyName("role");
        if (role.ValueKind == JsonValueKind.String)
        {
            role.WriteTo(json);
        }
        else
        {
            json.WriteStringValue("user");
        }
        json.WritePropertyName("content");
        WriteText(json, content);
        json.WriteEndObject();
    }

    /// <summary>
    /// Writes a stored text value: a string goes from the stored bytes to the writer, which escapes it exactly as it
    /// would the same string; anything else (missing, not a string) is written as an empty string.
    /// </summary>
    public static void WriteText(Utf8JsonWriter json, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            value.WriteTo(json);
        }
        else
        {
            json.WriteStringValue(""u8);
        }
    }

    /// <summary>Writes the property <paramref name="name"/> with a stored text value (see <see cref="WriteText(Utf8JsonWriter, JsonElement)"/>).</summary>
    public static void WriteText(Utf8JsonWriter json, string name, JsonElement value)
    {
        json.WritePropertyName(name);
        WriteText(json, value);
    }

    /// <summary>A stored text value as a string: empty when it is missing or not a string.</summary>
    public static string Text(JsonElement value) => Str(value) ?? "";

    private static string? Str(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            return element.TryGetProperty(name, out value);
        }
        value = default;
        return false;
    }
}

/// <summary>
/// A chosen/rejected pair (the stored contents of the two candidates, see <see cref="ReleaseShape.WriteText(Utf8JsonWriter, JsonElement)"/>) with their ids, a
/// margin, and their consensus ranks.
/// </summary>
public readonly record struct PreferencePair(JsonElement Chosen, JsonElement Rejected, string ChosenId, string RejectedId, double Margin, int ChosenRank, int RejectedRank);

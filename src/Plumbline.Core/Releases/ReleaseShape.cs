using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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
    public void WritePromptMessages(Utf8JsonWriter json, JsonObject fields)
    {
        json.WriteStartArray();
        foreach (var (role, content) in PromptTurns(fields))
        {
            WriteMessage(json, role, content);
        }
        json.WriteEndArray();
    }

    /// <summary>
    /// The prompt as one text: a text field as it is; a chat of one user message (after an optional system
    /// message, which is kept as a first paragraph) as its content; a longer chat as "User: …", "Assistant: …"
    /// paragraphs.
    /// </summary>
    public string PromptText(JsonObject fields)
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
    public List<(string Role, string Content)> PromptTurns(JsonObject fields)
    {
        var turns = new List<(string, string)>();
        if (Prompt is null)
        {
            return turns;
        }
        var value = fields[Prompt.Name];
        if (value is JsonArray chat)
        {
            foreach (var turn in chat)
            {
                turns.Add((Str(turn?["role"]) ?? "user", Str(turn?["content"]) ?? ""));
            }
            // A completion that rewrites the chat's last answer (red-teaming: prefilled from the chat) takes that answer's
            // place: the prompt is the conversation before it, so the released record ends with the ideal answer.
            if (RewritesLastTurn && turns.Count > 0 && turns[^1].Item1 == "assistant")
            {
                turns.RemoveAt(turns.Count - 1);
            }
        }
        else if (Str(value) is { } text)
        {
            turns.Add(("user", text));
        }
        return turns;
    }

    /// <summary>The content of candidate <paramref name="id"/> of the field <paramref name="question"/> is about.</summary>
    public string CandidateContent(JsonObject fields, QuestionDefinition question, string id)
    {
        var field = Schema.CandidatesFieldOf(question);
        if (field is not null && fields[field] is JsonArray list)
        {
            foreach (var c in list)
            {
                if (Str(c?["id"]) == id)
                {
                    return Str(c?["content"]) ?? "";
                }
            }
        }
        return "";
    }

    /// <summary>The model response under evaluation, or null when the project shows none.</summary>
    public string? ResponseText(JsonObject fields) => Response is null ? null : Str(fields[Response.Name]);

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
                yield return CandidateContent(item.Fields, Preference, chosen);
            }
            yield break;
        }
        if (Ranking is not null && item.ConsensusOf<RankingConsensus>(Ranking.Name) is { Order.Count: > 0 } ranking)
        {
            yield return CandidateContent(item.Fields, Ranking, ranking.Order[0]);
        }
    }

    /// <summary>
    /// Preference pairs an item yields: the decisive preference (margin = mean strength, or the vote margin when
    /// strength is not asked), or every ordered pair of the consensus ranking (margin = difference of mean ranks).
    /// </summary>
    public IEnumerable<PreferencePair> Pairs(ReleaseItem item, bool allRankingPairs)
    {
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
                yield return new PreferencePair(CandidateContent(item.Fields, Preference, chosen), CandidateContent(item.Fields, Preference, rejected),
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
            yield return new PreferencePair(CandidateContent(item.Fields, Ranking, r.Order[0]), CandidateContent(item.Fields, Ranking, r.Order[last]),
                r.Order[0], r.Order[last], r.MeanRanks[last] - r.MeanRanks[0], 1, last + 1);
            yield break;
        }
        for (var i = 0; i < r.Order.Count; i++)
        {
            for (var j = i + 1; j < r.Order.Count; j++)
            {
                yield return new PreferencePair(CandidateContent(item.Fields, Ranking, r.Order[i]), CandidateContent(item.Fields, Ranking, r.Order[j]),
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

    private static string? Str(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
}

/// <summary>A chosen/rejected pair with the ids of the two candidates, a margin, and their consensus ranks.</summary>
public readonly record struct PreferencePair(string Chosen, string Rejected, string ChosenId, string RejectedId, double Margin, int ChosenRank, int RejectedRank);

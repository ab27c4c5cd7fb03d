using System.Text.Json;

namespace Plumbline.Core.Releases.Formats;

/// <summary>
/// OpenAI chat fine-tuning: <c>{"messages": [...prompt, {"role": "assistant", "content": completion}]}</c>,
/// one line per completion.
/// </summary>
public class OpenAiChatFormat : JsonlFormat
{
    public const string FormatName = "openai-chat";

    public OpenAiChatFormat(ReleaseShape shape) : base(shape) => ReleaseFormats.RequireCompletions(shape, Name);

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        foreach (var completion in Shape.Completions(item))
        {
            var json = output.Json;
            json.WriteStartObject();
            json.WritePropertyName("messages");
            json.WriteStartArray();
            foreach (var (role, content) in Shape.PromptTurns(item.FieldsElement))
            {
                ReleaseShape.WriteMessage(json, role, content);
            }
            ReleaseShape.WriteMessage(json, "assistant", completion);
            json.WriteEndArray();
            WriteLineageProperty(output, item);
            json.WriteEndObject();
            output.EndRecord();
        }
    }
}

/// <summary>TRL's conversational SFT dataset: <c>{"messages": [...]}</c>, the same shape as OpenAI's.</summary>
public sealed class SftMessagesFormat(ReleaseShape shape) : OpenAiChatFormat(shape)
{
    public new const string FormatName = "trl-sft";

    public override string Name => FormatName;
}

/// <summary>
/// TRL's prompt-completion SFT dataset. A text prompt gives plain strings, <c>{"prompt": "…", "completion": "…"}</c>;
/// a chat prompt gives the conversational form, <c>{"prompt": [messages], "completion": [{"role": "assistant", …}]}</c>,
/// so one file never mixes the two (a dataset column has one type).
/// </summary>
public sealed class PromptCompletionFormat : JsonlFormat
{
    public const string FormatName = "trl-prompt-completion";

    public PromptCompletionFormat(ReleaseShape shape) : base(shape) => ReleaseFormats.RequireCompletions(shape, Name);

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        foreach (var completion in Shape.Completions(item))
        {
            var json = output.Json;
            json.WriteStartObject();
            if (Shape.PromptIsChat)
            {
                json.WritePropertyName("prompt");
                Shape.WritePromptMessages(json, item.FieldsElement);
                json.WriteStartArray("completion");
                ReleaseShape.WriteMessage(json, "assistant", completion);
                json.WriteEndArray();
            }
            else
            {
                Shape.WritePromptText(json, "prompt", item.FieldsElement);
                json.WriteString("completion", completion);
            }
            WriteLineageProperty(output, item);
            json.WriteEndObject();
            output.EndRecord();
        }
    }
}

/// <summary>
/// TRL's preference dataset (DPO and friends): <c>{"prompt", "chosen", "rejected"}</c> from the consensus preference,
/// or from the best and the worst of the consensus ranking. Plain: strings. Conversational: the prompt as messages
/// and each answer as one assistant message.
/// </summary>
public sealed class PreferenceFormat : JsonlFormat
{
    public const string PlainName = "trl-preference";
    public const string ChatName = "trl-preference-chat";
    private readonly bool conversational;

    public PreferenceFormat(ReleaseShape shape, bool conversational) : base(shape)
    {
        this.conversational = conversational;
        ReleaseFormats.RequirePairs(shape, Name);
    }

    public override string Name => conversational ? ChatName : PlainName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        foreach (var pair in Shape.Pairs(item, allRankingPairs: false))
        {
            var json = output.Json;
            json.WriteStartObject();
            if (conversational)
            {
                json.WritePropertyName("prompt");
                Shape.WritePromptMessages(json, item.FieldsElement);
                json.WriteStartArray("chosen");
                ReleaseShape.WriteMessage(json, "assistant", pair.Chosen);
                json.WriteEndArray();
                json.WriteStartArray("rejected");
                ReleaseShape.WriteMessage(json, "assistant", pair.Rejected);
                json.WriteEndArray();
            }
            else
            {
                Shape.WritePromptText(json, "prompt", item.FieldsElement);
                ReleaseShape.WriteText(json, "chosen", pair.Chosen);
                ReleaseShape.WriteText(json, "rejected", pair.Rejected);
            }
            WriteLineageProperty(output, item);
            json.WriteEndObject();
            output.EndRecord();
        }
    }
}

/// <summary>
/// KTO's unpaired preference dataset: <c>{"prompt", "completion", "label"}</c>, label true for a desirable completion.
/// From a preference: the chosen answer true and the rejected one false (both false when both are bad, nothing for a
/// tie); from a ranking: the best true and the worst false; from written answers: true; from ratings of the
/// response shown: true when the mean normalised consensus of the ratings is above the middle of the scale.
/// </summary>
public sealed class KtoFormat : JsonlFormat
{
    public const string FormatName = "kto";

    public KtoFormat(ReleaseShape shape) : base(shape)
    {
        if (shape.Prompt is null)
        {
            throw new ReleaseException($"format '{Name}' needs a prompt: the project has no chat or text field");
        }
        if (shape.CompletionSource is null && (shape.Ratings.Count == 0 || shape.Response is null))
        {
            throw new ReleaseException($"format '{Name}' needs completions with a judgement: a preference, a ranking, written answers, or ratings of a response field");
        }
    }

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        var prompt = Shape.PromptText(item.FieldsElement);
        if (Shape.Completion is not null)
        {
            foreach (var text in Shape.Completions(item))
            {
                Write(output, item, prompt, text, true);
            }
            return;
        }
        if (Shape.Preference is not null)
        {
            if (item.ConsensusOf<PreferenceConsensus>(Shape.Preference.Name) is not { } p)
            {
                return;
            }
            if (p.IsDecisive)
            {
                Write(output, item, prompt, ReleaseShape.Text(Shape.CandidateContent(item.FieldsElement, Shape.Preference, p.Chosen!)), true);
                Write(output, item, prompt, ReleaseShape.Text(Shape.CandidateContent(item.FieldsElement, Shape.Preference, p.Rejected!)), false);
            }
            else if (p.Choice == Schema.AnswerValidator.BothBad)
            {
                var field = Shape.Schema.CandidatesFieldOf(Shape.Preference);
                foreach (var id in field is null ? [] : Schema.FieldValues.CandidateIds(item.FieldsElement, field))
                {
                    Write(output, item, prompt, ReleaseShape.Text(Shape.CandidateContent(item.FieldsElement, Shape.Preference, id)), false);
                }
            }
            return;
        }
        if (Shape.Ranking is not null)
        {
            foreach (var pair in Shape.Pairs(item, allRankingPairs: false))
            {
                Write(output, item, prompt, ReleaseShape.Text(pair.Chosen), true);
                Write(output, item, prompt, ReleaseShape.Text(pair.Rejected), false);
            }
            return;
        }
        var ratings = Shape.Ratings.Select(q => item.ConsensusOf<RatingConsensus>(q.Name)).OfType<RatingConsensus>().ToList();
        if (ratings.Count > 0 && Shape.ResponseText(item.FieldsElement) is { } response)
        {
            Write(output, item, prompt, response, ratings.Average(r => r.Normalised) > 0.5);
        }
    }

    private void Write(JsonlOutput output, ReleaseItem item, string prompt, string completion, bool label)
    {
        var json = output.Json;
        json.WriteStartObject();
        json.WriteString("prompt", prompt);
        json.WriteString("completion", completion);
        json.WriteBoolean("label", label);
        WriteLineageProperty(output, item);
        json.WriteEndObject();
        output.EndRecord();
    }
}

/// <summary>
/// Pairs for a reward model with a margin (as in Llama 2's margin loss): <c>{"prompt", "chosen", "rejected", "margin"}</c>.
/// The margin of a preference is the consensus strength (1 slightly … 3 much better) or, when strength is not asked,
/// the vote margin (share of answers for the chosen minus for the rejected); of a ranking, the difference of the two
/// candidates' mean ranks, for every ordered pair.
/// </summary>
public sealed class RewardPairsFormat : JsonlFormat
{
    public const string FormatName = "reward-pairs";

    public RewardPairsFormat(ReleaseShape shape) : base(shape) => ReleaseFormats.RequirePairs(shape, Name);

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        foreach (var pair in Shape.Pairs(item, allRankingPairs: true))
        {
            var json = output.Json;
            json.WriteStartObject();
            Shape.WritePromptText(json, "prompt", item.FieldsElement);
            ReleaseShape.WriteText(json, "chosen", pair.Chosen);
            ReleaseShape.WriteText(json, "rejected", pair.Rejected);
            json.WriteNumber("margin", Math.Round(pair.Margin, 6));
            WriteLineageProperty(output, item);
            json.WriteEndObject();
            output.EndRecord();
        }
    }
}

/// <summary>
/// Every consensus ranking expanded to all its ordered pairs, better first: n candidates give n(n−1)/2 records
/// <c>{"prompt", "chosen", "rejected", "chosen_id", "rejected_id", "chosen_rank", "rejected_rank", "margin"}</c>.
/// </summary>
public sealed class RankingPairsFormat : JsonlFormat
{
    public const string FormatName = "ranking-pairs";

    public RankingPairsFormat(ReleaseShape shape) : base(shape)
    {
        if (shape.Ranking is null || shape.Prompt is null)
        {
            throw new ReleaseException($"format '{Name}' needs a ranking question and a prompt; this project has "
                + (shape.Preference is not null ? "a preference instead (use trl-preference or reward-pairs)" : "no ranking"));
        }
    }

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        foreach (var pair in Shape.Pairs(item, allRankingPairs: true))
        {
            var json = output.Json;
            json.WriteStartObject();
            Shape.WritePromptText(json, "prompt", item.FieldsElement);
            ReleaseShape.WriteText(json, "chosen", pair.Chosen);
            ReleaseShape.WriteText(json, "rejected", pair.Rejected);
            json.WriteString("chosen_id", pair.ChosenId);
            json.WriteString("rejected_id", pair.RejectedId);
            json.WriteNumber("chosen_rank", pair.ChosenRank);
            json.WriteNumber("rejected_rank", pair.RejectedRank);
            json.WriteNumber("margin", Math.Round(pair.Margin, 6));
            WriteLineageProperty(output, item);
            json.WriteEndObject();
            output.EndRecord();
        }
    }
}

/// <summary>
/// Alpaca: <c>{"instruction", "input", "output"}</c>. The instruction is the last user message (or the text prompt);
/// the input holds the conversation before it, as "Role: content" paragraphs, and is empty for a single-turn prompt.
/// </summary>
public sealed class AlpacaFormat : JsonlFormat
{
    public const string FormatName = "alpaca";

    public AlpacaFormat(ReleaseShape shape) : base(shape) => ReleaseFormats.RequireCompletions(shape, Name);

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        var turns = Shape.PromptTurns(item.FieldsElement);
        var last = turns.FindLastIndex(t => t.Role == "user");
        var instruction = last >= 0 ? turns[last].Content : string.Join("\n\n", turns.Select(t => t.Content));
        var context = last > 0
            ? string.Join("\n\n", turns.Take(last).Select(t => char.ToUpperInvariant(t.Role[0]) + t.Role[1..] + ": " + t.Content))
            : "";
        foreach (var completion in Shape.Completions(item))
        {
            var json = output.Json;
            json.WriteStartObject();
            json.WriteString("instruction", instruction);
            json.WriteString("input", context);
            json.WriteString("output", completion);
            WriteLineageProperty(output, item);
            json.WriteEndObject();
            output.EndRecord();
        }
    }
}

/// <summary>ShareGPT: <c>{"conversations": [{"from": "system" | "human" | "gpt", "value"}]}</c>.</summary>
public sealed class ShareGptFormat : JsonlFormat
{
    public const string FormatName = "sharegpt";

    public ShareGptFormat(ReleaseShape shape) : base(shape) => ReleaseFormats.RequireCompletions(shape, Name);

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        foreach (var completion in Shape.Completions(item))
        {
            var json = output.Json;
            json.WriteStartObject();
            json.WriteStartArray("conversations");
            foreach (var (role, content) in Shape.PromptTurns(item.FieldsElement))
            {
                Turn(json, role switch { "assistant" => "gpt", "system" => "system", "tool" => "tool", _ => "human" }, content);
            }
            Turn(json, "gpt", completion);
            json.WriteEndArray();
            WriteLineageProperty(output, item);
            json.WriteEndObject();
            output.EndRecord();
        }
    }

    private static void Turn(Utf8JsonWriter json, string from, string value)
    {
        json.WriteStartObject();
        json.WriteString("from", from);
        json.WriteString("value", value);
        json.WriteEndObject();
    }
}

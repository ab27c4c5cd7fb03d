using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Core.Import;

/// <summary>Container format of an import file.</summary>
public enum ImportFormat
{
    /// <summary>
    /// Detect from the content: first non-whitespace byte <c>[</c> is a JSON array, <c>{</c> is JSON Lines,
    /// anything else is CSV. A <c>.csv</c>, <c>.jsonl</c> or <c>.ndjson</c> file name settles it first.
    /// </summary>
    Auto,

    /// <summary>One JSON object per line.</summary>
    Jsonl,

    /// <summary>A JSON array of objects, or a sequence of whitespace-separated objects (e.g. one pretty-printed object).</summary>
    Json,

    /// <summary>RFC 4180 CSV, comma-separated, with a header row.</summary>
    Csv,
}

/// <summary>The LLM dataset layout a record was recognised as.</summary>
public enum RecordShape
{
    /// <summary>No known layout: top-level keys become fields unchanged.</summary>
    Generic,

    /// <summary><c>messages</c>: a list of <c>{role, content}</c>.</summary>
    OpenAiChat,

    /// <summary>TRL preference: <c>prompt</c> + <c>chosen</c> + <c>rejected</c> (strings or message lists).</summary>
    TrlPreference,

    /// <summary>TRL prompt-completion: <c>prompt</c> + <c>completion</c>.</summary>
    TrlPromptCompletion,

    /// <summary>Anthropic HH-RLHF: <c>chosen</c> + <c>rejected</c> as "\n\nHuman: … \n\nAssistant: …" transcripts.</summary>
    AnthropicHh,

    /// <summary>Alpaca: <c>instruction</c> (+ <c>input</c>) + <c>output</c>.</summary>
    Alpaca,

    /// <summary>ShareGPT: <c>conversations</c> of <c>{from, value}</c> with human/gpt/system.</summary>
    ShareGpt,

    /// <summary>
    /// Answers of named models to one prompt, for side-by-side evaluation: <c>prompt</c> + <c>responses</c>, a list of
    /// <c>{model, text}</c> (or <c>{model, content}</c>); the answers become candidates carrying their model's name.
    /// </summary>
    ModelResponses,

    /// <summary>
    /// Chatbot Arena / MT-Bench human judgments: <c>model_a</c>, <c>model_b</c>, <c>conversation_a</c>,
    /// <c>conversation_b</c> (OpenAI messages); the original <c>winner</c>, <c>judge</c> and the rest go to metadata.
    /// </summary>
    ChatbotArena,
}

/// <summary>Helpers for <see cref="RecordShape"/>.</summary>
public static class RecordShapeNames
{
    /// <summary>
    /// The snake-case name written to <c>Metadata["source_format"]</c>, e.g. <c>open_ai_chat</c>, <c>anthropic_hh</c>.
    /// </summary>
    public static string SourceFormatName(this RecordShape shape) => shape switch
    {
        RecordShape.Generic => "generic",
        RecordShape.OpenAiChat => "open_ai_chat",
        RecordShape.TrlPreference => "trl_preference",
        RecordShape.TrlPromptCompletion => "trl_prompt_completion",
        RecordShape.AnthropicHh => "anthropic_hh",
        RecordShape.Alpaca => "alpaca",
        RecordShape.ShareGpt => "share_gpt",
        RecordShape.ModelResponses => "model_responses",
        RecordShape.ChatbotArena => "chatbot_arena",
        _ => JsonNamingPolicy.SnakeCaseLower.ConvertName(shape.ToString()),
    };
}

/// <summary>Limits and hints for <see cref="ImportReader.ReadAsync"/>.</summary>
public sealed record ImportOptions
{
    /// <summary>Largest allowed string value (UTF-8 bytes, after unescaping); a longer one rejects the record.</summary>
    public int MaxFieldBytes { get; init; } = 1_048_576;

    /// <summary>Largest allowed record (raw UTF-8 bytes of the line, array element or CSV row). Bounds memory.</summary>
    public int MaxRecordBytes { get; init; } = 8_388_608;

    /// <summary>Original file name, used as a format hint by <see cref="ImportFormat.Auto"/> (e.g. <c>data.csv</c>, <c>x.jsonl.gz</c>).</summary>
    public string? FileName { get; init; }

    /// <summary>When false, every record is read as <see cref="RecordShape.Generic"/> (no LLM layout mapping).</summary>
    public bool RecognizeShapes { get; init; } = true;
}

/// <summary>One imported record in canonical form.</summary>
/// <param name="Line">1-based line of the file where the record starts.</param>
/// <param name="ExternalId">From <c>external_id</c> or <c>id</c>, else <c>sha256:</c> + 24 hex chars of the record's raw bytes.</param>
/// <param name="Shape">The layout the record was recognised as.</param>
/// <param name="Fields">Canonical fields (<c>prompt</c>, <c>response</c>, <c>conversation</c>, <c>candidates</c>) or, for generic records, the record's own keys.</param>
/// <param name="Metadata">Record metadata; for recognised layouts also <c>source_format</c>, <c>preferred</c> and unknown top-level keys.</param>
/// <param name="Gold">Gold answers keyed by question name, or null.</param>
public sealed record ImportRecord(long Line, string ExternalId, RecordShape Shape, JsonObject Fields, JsonObject Metadata, JsonObject? Gold);

/// <summary>A record (or the whole file, when the error is fatal) that could not be read.</summary>
/// <param name="Line">1-based line where the bad record starts, or where reading stopped.</param>
/// <param name="Message">What is wrong and where, e.g. "field 'prompt' is 2.1 MB, over the 1 MB limit".</param>
public sealed record ImportError(long Line, string Message);

/// <summary>One input record's outcome: exactly one of <see cref="Record"/> and <see cref="Error"/> is set.</summary>
public readonly record struct ImportEntry(ImportRecord? Record, ImportError? Error)
{
    internal static ImportEntry Fail(long line, string message) => new(null, new ImportError(line, message));
}

using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Releases.Formats;

/// <summary>
/// A training or analysis format of a release. A format is bound to one project's <see cref="ReleaseShape"/>;
/// <see cref="ReleaseFormats.Create"/> refuses one that does not fit the project, saying why.
/// </summary>
public abstract class ReleaseFormat(ReleaseShape shape)
{
    protected ReleaseShape Shape { get; } = shape;

    /// <summary>The name used in settings, on the command line and as the folder of its files.</summary>
    public abstract string Name { get; }

    /// <summary>File extension of each split's file, with the dot.</summary>
    public virtual string Extension => ".jsonl";

    /// <summary>Opens one output file (one split) of this format over <paramref name="output"/>.</summary>
    public abstract FormatFile Open(Stream output);

    /// <summary>
    /// Extension (with the dot) of a file written beside each split's file with one lineage line per record, in the
    /// same order, for formats whose consumers reject unknown keys; null when lineage, if any, is inline.
    /// </summary>
    public virtual string? LineageSidecarExtension => null;

    /// <summary>Opens one split's file with its lineage sidecar (see <see cref="LineageSidecarExtension"/>).</summary>
    public virtual FormatFile Open(Stream output, Stream lineage) =>
        throw new NotSupportedException($"format '{Name}' writes no lineage sidecar");
}

/// <summary>One split's file of a format: items go in, records come out, as they arrive.</summary>
public abstract class FormatFile : IDisposable
{
    /// <summary>Records written so far.</summary>
    public long Records { get; protected set; }

    /// <summary>Writes the records <paramref name="item"/> yields in this format (possibly none).</summary>
    public abstract void Write(ReleaseItem item);

    /// <summary>Writes out everything buffered; the file is complete afterwards.</summary>
    public abstract void Complete();

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>
/// A JSON Lines file: one object per record, each on its own line, UTF-8 without a byte-order mark, non-ASCII
/// text unescaped. Records are built in one buffer and written out in 64 KiB chunks.
/// </summary>
public sealed class JsonlOutput : IDisposable
{
    private const int ChunkSize = 64 * 1024;
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false };
    private readonly Stream stream;
    private readonly ArrayBufferWriter<byte> buffer = new(ChunkSize * 2);

    public JsonlOutput(Stream stream)
    {
        this.stream = stream;
        Json = new Utf8JsonWriter(buffer, Options);
    }

    /// <summary>The writer of the current record: write exactly one JSON value, then call <see cref="EndRecord"/>.</summary>
    public Utf8JsonWriter Json { get; }

    /// <summary>The lineage sidecar of this file, when its format keeps lineage out of the records.</summary>
    public JsonlOutput? Lineage { get; init; }

    public long Records { get; private set; }

    public void EndRecord()
    {
        Json.Flush();
        buffer.GetSpan(1)[0] = (byte)'\n';
        buffer.Advance(1);
        Json.Reset();
        Records++;
        if (buffer.WrittenCount >= ChunkSize)
        {
            FlushBuffer();
        }
    }

    public void Complete()
    {
        FlushBuffer();
        stream.Flush();
    }

    private void FlushBuffer()
    {
        stream.Write(buffer.WrittenSpan);
        buffer.ResetWrittenCount();
    }

    public void Dispose() => Json.Dispose();
}

/// <summary>A format whose records are JSON objects, one per line.</summary>
public abstract class JsonlFormat(ReleaseShape shape) : ReleaseFormat(shape)
{
    /// <summary>Whether records carry a <c>lineage</c> object (item, responses, annotators).</summary>
    public bool WriteLineage { get; init; } = true;

    /// <summary>
    /// Whether lineage goes to a sidecar file (<c>{split}.lineage.jsonl</c>, one line per record in the same order)
    /// instead of a key of each record.
    /// </summary>
    public bool LineageInSidecar { get; init; }

    public override string? LineageSidecarExtension => WriteLineage && LineageInSidecar ? ".lineage.jsonl" : null;

    public sealed override FormatFile Open(Stream output) => new File(this, output, null);

    public sealed override FormatFile Open(Stream output, Stream lineage) => LineageSidecarExtension is null
        ? throw new NotSupportedException($"format '{Name}' writes its lineage inline") : new File(this, output, new JsonlOutput(lineage));

    /// <summary>Writes the records of one item, calling <see cref="JsonlOutput.EndRecord"/> after each.</summary>
    protected abstract void WriteRecords(ReleaseItem item, JsonlOutput output);

    /// <summary>
    /// The <c>lineage</c> property of the record being written: the item, the responses whose answers went in, and
    /// their annotators; or, for a format with a sidecar, the same object as the sidecar's next line.
    /// </summary>
    protected void WriteLineageProperty(JsonlOutput output, ReleaseItem item)
    {
        if (!WriteLineage)
        {
            return;
        }
        if (output.Lineage is { } sidecar)
        {
            WriteLineageObject(sidecar.Json, item);
            sidecar.EndRecord();
            return;
        }
        output.Json.WritePropertyName("lineage");
        WriteLineageObject(output.Json, item);
    }

    private static void WriteLineageObject(Utf8JsonWriter json, ReleaseItem item)
    {
        json.WriteStartObject();
        json.WriteNumber("item_id", item.ItemId);
        json.WriteString("external_id", item.ExternalId);
        json.WriteString("split", item.Split);
        json.WriteStartArray("response_ids");
        foreach (var a in item.Answers)
        {
            json.WriteNumberValue(a.ResponseId);
        }
        json.WriteEndArray();
        json.WriteStartArray("annotators");
        foreach (var a in item.Answers)
        {
            json.WriteStringValue(a.Annotator);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private sealed class File(JsonlFormat format, Stream stream, JsonlOutput? lineage) : FormatFile
    {
        private readonly JsonlOutput output = new(stream) { Lineage = lineage };

        public override void Write(ReleaseItem item)
        {
            format.WriteRecords(item, output);
            Records = output.Records;
        }

        public override void Complete()
        {
            output.Complete();
            lineage?.Complete();
        }

        protected override void Dispose(bool disposing)
        {
            output.Dispose();
            lineage?.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>The formats a release can be written in, by name.</summary>
public static class ReleaseFormats
{
    /// <summary>Every format name with what it holds, for help texts and error messages.</summary>
    public static readonly IReadOnlyList<(string Name, string Description)> All =
    [
        (OpenAiChatFormat.FormatName, "OpenAI chat fine-tuning JSONL: {messages}"),
        (SftMessagesFormat.FormatName, "TRL SFT, conversational: {messages}"),
        (PromptCompletionFormat.FormatName, "TRL SFT, prompt-completion: {prompt, completion}"),
        (PreferenceFormat.PlainName, "TRL preference (DPO), plain text: {prompt, chosen, rejected}"),
        (PreferenceFormat.ChatName, "TRL preference (DPO), conversational: {prompt, chosen, rejected} as messages"),
        (KtoFormat.FormatName, "KTO unpaired preference: {prompt, completion, label}"),
        (RewardPairsFormat.FormatName, "reward-model pairs with a margin: {prompt, chosen, rejected, margin}"),
        (RankingPairsFormat.FormatName, "each consensus ranking expanded to all ordered pairs"),
        (AlpacaFormat.FormatName, "Alpaca: {instruction, input, output}"),
        (ShareGptFormat.FormatName, "ShareGPT: {conversations: [{from, value}]}"),
        (RubricFormat.FormatName, "rubric scores per dimension with their consensus and spread"),
        (SafetyFormat.FormatName, "safety labels: verdict and categories with confidence"),
        (RawFormat.FormatName, "every field, answer and consensus of each item"),
        (CsvFormat.FormatName, "one CSV row per item: fields, consensus, confidence"),
        (HuggingFaceFolder.FormatName, "Hugging Face dataset folder (hf or hf:FORMAT): data/{split}.jsonl and a README.md dataset card"),
    ];

    /// <summary>Format names that a project of this schema can be released in.</summary>
    public static IEnumerable<string> Fitting(ProjectSchema schema)
    {
        foreach (var (name, _) in All)
        {
            var fits = true;
            try
            {
                Create(name == HuggingFaceFolder.FormatName ? RawFormat.FormatName : name, schema);
            }
            catch (ReleaseException)
            {
                fits = false;
            }
            if (fits)
            {
                yield return name;
            }
        }
    }

    /// <summary>
    /// The record format named <paramref name="name"/>, bound to the project's schema.
    /// Throws <see cref="ReleaseException"/> for an unknown name or a format the project cannot fill.
    /// </summary>
    /// <param name="name">The format's name.</param>
    /// <param name="schema">The project's schema.</param>
    /// <param name="lineage">Whether records carry lineage.</param>
    /// <param name="sidecars">Whether formats whose consumers reject unknown keys put lineage in a sidecar file (not in a Hugging Face folder, where any extra file would be read as data).</param>
    public static ReleaseFormat Create(string name, ProjectSchema schema, bool lineage = true, bool sidecars = true)
    {
        var shape = new ReleaseShape(schema);
        ReleaseFormat format = name switch
        {
            // OpenAI's fine-tuning file validator rejects records with keys it does not know ("Example N contains an
            // extra ..."), so its file holds messages only and lineage goes beside it; trl-sft has the same records inline.
            OpenAiChatFormat.FormatName => new OpenAiChatFormat(shape) { WriteLineage = lineage, LineageInSidecar = sidecars },
            SftMessagesFormat.FormatName => new SftMessagesFormat(shape) { WriteLineage = lineage },
            PromptCompletionFormat.FormatName => new PromptCompletionFormat(shape) { WriteLineage = lineage },
            PreferenceFormat.PlainName => new PreferenceFormat(shape, conversational: false) { WriteLineage = lineage },
            PreferenceFormat.ChatName => new PreferenceFormat(shape, conversational: true) { WriteLineage = lineage },
            KtoFormat.FormatName => new KtoFormat(shape) { WriteLineage = lineage },
            RewardPairsFormat.FormatName => new RewardPairsFormat(shape) { WriteLineage = lineage },
            RankingPairsFormat.FormatName => new RankingPairsFormat(shape) { WriteLineage = lineage },
            AlpacaFormat.FormatName => new AlpacaFormat(shape) { WriteLineage = lineage },
            ShareGptFormat.FormatName => new ShareGptFormat(shape) { WriteLineage = lineage },
            RubricFormat.FormatName => new RubricFormat(shape) { WriteLineage = lineage },
            SafetyFormat.FormatName => new SafetyFormat(shape) { WriteLineage = lineage },
            RawFormat.FormatName => new RawFormat(shape) { WriteLineage = lineage },
            CsvFormat.FormatName => new CsvFormat(shape),
            _ => throw new ReleaseException($"unknown format '{name}'; formats: {string.Join(", ", All.Select(f => f.Name))}"),
        };
        return format;
    }

    /// <summary>Throws unless the project has a prompt and completions (the supervised fine-tuning formats).</summary>
    internal static void RequireCompletions(ReleaseShape shape, string format)
    {
        if (shape.Prompt is null)
        {
            throw new ReleaseException($"format '{format}' needs a prompt: the project has no chat or text field");
        }
        if (shape.CompletionSource is null)
        {
            throw new ReleaseException($"format '{format}' needs completions: a text question, a preference or a ranking; this project asks none (try rubric, safety, raw or csv)");
        }
    }

    /// <summary>Throws unless the project yields chosen/rejected pairs.</summary>
    internal static void RequirePairs(ReleaseShape shape, string format)
    {
        if (shape.Prompt is null)
        {
            throw new ReleaseException($"format '{format}' needs a prompt: the project has no chat or text field");
        }
        if (shape.Preference is null && shape.Ranking is null)
        {
            throw new ReleaseException($"format '{format}' needs pairs of candidates: a preference or ranking question; this project asks none"
                + (shape.Completion is not null ? " (for its written answers use trl-sft, openai-chat, alpaca or kto)" : ""));
        }
    }
}

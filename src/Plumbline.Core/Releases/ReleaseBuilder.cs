using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core.Releases.Formats;
using Plumbline.Core.Schema;

namespace Plumbline.Core.Releases;

/// <summary>
/// Writes a release as items stream in: every requested format, one file per split, an item index for diffs
/// (<c>index.jsonl</c>), and for Hugging Face folders a dataset card at the end. Files are hashed as they are
/// written. Memory holds one item at a time; agreement figures accumulate in matrices over the distinct answer values.
/// </summary>
public sealed class ReleaseBuilder : IDisposable
{
    public const string IndexPath = "index.jsonl";
    private readonly ProjectSchema schema;
    private readonly IReadOnlyDictionary<string, string> methods;
    private readonly List<Output> outputs = [];
    private readonly List<(string Folder, string BaseFormat)> cards = [];
    private readonly Func<string, Stream> create;
    private readonly HashingStream indexStream;
    private readonly JsonlOutput index;
    private readonly ReleaseCounts counts = new();
    private readonly SortedDictionary<int, long> guidelines = [];
    private readonly Dictionary<string, int> raters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, QuestionTally> tallies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, QuestionDefinition> questions;
    private readonly System.Buffers.ArrayBufferWriter<byte> contentBuffer = new(4096);
    private readonly Utf8JsonWriter contentJson;
    private readonly IncrementalHash contentHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <param name="schema">The project's schema.</param>
    /// <param name="formats">Format names; <c>hf</c> or <c>hf:FORMAT</c> for a Hugging Face dataset folder.</param>
    /// <param name="methods">Consensus method per question name (see <see cref="ConsensusMethods.Resolve"/>).</param>
    /// <param name="lineage">Whether records carry their lineage.</param>
    /// <param name="create">Creates a file at a path inside the release (forward slashes) and returns it for writing.</param>
    public ReleaseBuilder(ProjectSchema schema, IReadOnlyList<string> formats, IReadOnlyDictionary<string, string> methods, bool lineage,
        Func<string, Stream> create)
    {
        this.schema = schema;
        this.methods = methods;
        this.create = create;
        questions = schema.Questions.ToDictionary(q => q.Name, StringComparer.Ordinal);
        if (formats.Count == 0)
        {
            throw new ReleaseException("give at least one format; formats that fit this project: " + string.Join(", ", ReleaseFormats.Fitting(schema)));
        }
        // Validate every format before the first file is created, so a bad one leaves nothing behind.
        var bound = formats.Distinct(StringComparer.Ordinal).Select(name => Bind(name, lineage)).ToList();
        foreach (var (name, format, folder, isCard) in bound)
        {
            if (isCard)
            {
                cards.Add((folder, format.Name));
            }
            foreach (var split in Splits.All)
            {
                var path = isCard ? $"{folder}/data/{split}{format.Extension}" : $"{folder}/{split}{format.Extension}";
                var stream = new HashingStream(create(path));
                if (format.LineageSidecarExtension is { } sidecarExtension)
                {
                    var sidecarPath = $"{folder}/{split}{sidecarExtension}";
                    var sidecar = new HashingStream(create(sidecarPath));
                    outputs.Add(new Output(name, split, path, stream, format.Open(stream, sidecar), new Sidecar(sidecarPath, sidecar)));
                }
                else
                {
                    outputs.Add(new Output(name, split, path, stream, format.Open(stream), null));
                }
            }
        }
        indexStream = new HashingStream(create(IndexPath));
        index = new JsonlOutput(indexStream);
        contentJson = new Utf8JsonWriter(contentBuffer);
    }

    /// <summary>The format a Hugging Face folder holds when none is named: what the project's questions are best used for.</summary>
    public static string DefaultHuggingFaceFormat(ProjectSchema schema)
    {
        var shape = new ReleaseShape(schema);
        return shape.Prompt is not null && (shape.Preference is not null || shape.Ranking is not null) ? PreferenceFormat.PlainName
            : shape.Prompt is not null && shape.Completion is not null ? SftMessagesFormat.FormatName
            : shape.Ratings.Count > 0 ? RubricFormat.FormatName
            : shape.Labels.Count > 0 ? SafetyFormat.FormatName
            : RawFormat.FormatName;
    }

    private (string Name, ReleaseFormat Format, string Folder, bool Card) Bind(string name, bool lineage)
    {
        if (name == HuggingFaceFolder.FormatName || name.StartsWith(HuggingFaceFolder.FormatName + ":", StringComparison.Ordinal))
        {
            var inner = name.Length > 3 ? name[3..] : DefaultHuggingFaceFormat(schema);
            if (inner == CsvFormat.FormatName || inner.StartsWith(HuggingFaceFolder.FormatName, StringComparison.Ordinal))
            {
                throw new ReleaseException($"format '{name}': a Hugging Face folder holds a JSONL format, not '{inner}'");
            }
            return (name, ReleaseFormats.Create(inner, schema, lineage, sidecars: false), "hf-" + inner, true);
        }
        var format = ReleaseFormats.Create(name, schema, lineage);
        return (name, format, format.Name, false);
    }

    /// <summary>
    /// Builds an item's consensus for every question from its answers, with the release's methods; where an expert
    /// decided a question (<paramref name="decisions"/>, by question name), the decided value replaces the computed one.
    /// </summary>
    public static IReadOnlyDictionary<string, QuestionConsensus> Consensus(ProjectSchema schema, IReadOnlyDictionary<string, string> methods,
        JsonElement fields, IReadOnlyList<ReleaseAnswer> answers, IReadOnlyDictionary<string, JsonNode?>? decisions = null)
    {
        var result = new ConsensusSet(schema.Questions.Count);
        foreach (var q in schema.Questions)
        {
            var method = methods.TryGetValue(q.Name, out var m) ? m : ConsensusMethods.Resolve(q, null);
            var computed = ItemConsensus.Compute(schema, q, fields, answers, method);
            if (decisions is not null && decisions.TryGetValue(q.Name, out var decided)
                && ItemConsensus.Decide(schema, q, fields, computed, decided, method) is { } d)
            {
                result.Add(q.Name, d);
            }
            else if (computed is not null)
            {
                result.Add(q.Name, computed);
            }
        }
        return result;
    }

    /// <summary>Counts an item the filter matched but the release leaves out.</summary>
    public void Skip(string reason)
    {
        counts.ItemsMatched++;
        counts.Excluded[reason] = counts.Excluded.GetValueOrDefault(reason) + 1;
    }

    /// <summary>Writes one item to every format's file of its split and to the index.</summary>
    public void Add(ReleaseItem item)
    {
        counts.ItemsMatched++;
        counts.Items++;
        counts.Splits[item.Split] = counts.Splits.GetValueOrDefault(item.Split) + 1;
        counts.Responses += item.Answers.Count;
        foreach (var a in item.Answers)
        {
            guidelines[a.GuidelineVersion] = guidelines.GetValueOrDefault(a.GuidelineVersion) + 1;
            raters.TryAdd(a.Annotator, raters.Count);
        }
        foreach (var o in outputs)
        {
            if (o.Split == item.Split)
            {
                o.File.Write(item);
            }
        }
        Tally(item);
        WriteIndex(item);
    }

    /// <summary>
    /// Finishes every file, writes the dataset cards, and fills the manifest's counts, question figures and file
    /// list. The caller writes the manifest itself.
    /// </summary>
    public void Complete(ReleaseManifest manifest)
    {
        counts.Annotators = raters.Count;
        manifest.Counts = counts;
        manifest.GuidelineVersions = guidelines;
        foreach (var q in schema.Questions)
        {
            if (tallies.TryGetValue(q.Name, out var t))
            {
                manifest.Questions[q.Name] = t.Figures(q, methods.TryGetValue(q.Name, out var m) ? m : ConsensusMethods.Resolve(q, null));
            }
        }
        foreach (var o in outputs)
        {
            o.File.Complete();
            o.Stream.Flush();
            manifest.Files.Add(new ReleaseFileEntry
            {
                Path = o.Path, Format = o.Format, Split = o.Split, Records = o.File.Records, Bytes = o.Stream.BytesWritten, Sha256 = o.Stream.Sha256(),
            });
            if (o.Lineage is { } l)
            {
                l.Stream.Flush();
                // One lineage line per record of the format's file, in the same order.
                manifest.Files.Add(new ReleaseFileEntry
                {
                    Path = l.Path, Format = o.Format + ":lineage", Split = o.Split, Records = o.File.Records, Bytes = l.Stream.BytesWritten,
                    Sha256 = l.Stream.Sha256(),
                });
            }
        }
        index.Complete();
        manifest.Files.Add(new ReleaseFileEntry
        {
            Path = IndexPath, Format = "index", Records = index.Records, Bytes = indexStream.BytesWritten, Sha256 = indexStream.Sha256(),
        });
        foreach (var (folder, baseFormat) in cards)
        {
            var path = folder + "/README.md";
            var text = HuggingFaceFolder.DatasetCard(manifest, folder, baseFormat);
            using var stream = new HashingStream(create(path));
            var bytes = new System.Text.UTF8Encoding(false).GetBytes(text);
            stream.Write(bytes);
            stream.Flush();
            manifest.Files.Add(new ReleaseFileEntry { Path = path, Format = "card", Bytes = stream.BytesWritten, Sha256 = stream.Sha256() });
        }
    }

    /// <summary>
    /// One line per item: its ids, split and a SHA-256 of its content (fields, metadata, answers and consensus,
    /// not the annotators' pseudonyms), so two releases can be compared without re-reading their formats.
    /// </summary>
    private void WriteIndex(ReleaseItem item)
    {
        // One buffer and one writer for every item: the index line is the per-item cost every release pays.
        contentBuffer.ResetWrittenCount();
        contentJson.Reset(contentBuffer);
        contentJson.WriteStartObject();
        // Stored JSON text goes in as stored (it is valid JSON, written by this server): re-serialising the parsed trees
        // was most of the index's cost, and the hash only has to change when the content does.
        contentJson.WritePropertyName("f");
        contentJson.WriteRawValue(item.FieldsUtf8.Span, skipInputValidation: true);
        contentJson.WritePropertyName("m");
        WriteStored(item.MetadataUtf8, item, static i => i.Metadata);
        contentJson.WriteStartArray("a");
        foreach (var a in item.Answers)
        {
            contentJson.WriteNumberValue(a.ResponseId);
            WriteStored(a.ValuesUtf8, a, static answer => answer.Values);
        }
        contentJson.WriteEndArray();
        contentJson.WriteStartObject("c");
        foreach (var q in schema.Questions)
        {
            if (item.Consensus.TryGetValue(q.Name, out var c))
            {
                contentJson.WritePropertyName(q.Name);
                ConsensusJson.Write(contentJson, c);
            }
        }
        contentJson.WriteEndObject();
        contentJson.WriteEndObject();
        contentJson.Flush();
        // One reused hash object: the one-shot SHA256.HashData sets up and frees an OpenSSL context per item.
        Span<byte> digest = stackalloc byte[32];
        contentHash.AppendData(contentBuffer.WrittenSpan);
        contentHash.GetHashAndReset(digest);
        Span<char> hex = stackalloc char[64];
        Convert.TryToHexStringLower(digest, hex, out _);
        var w = index.Json;
        w.WriteStartObject();
        w.WriteNumber("item_id", item.ItemId);
        w.WriteString("external_id", item.ExternalId);
        w.WriteString("split", item.Split);
        w.WriteString("sha256", hex);
        w.WriteEndObject();
        index.EndRecord();
    }

    /// <summary>
    /// The stored text when there is one; otherwise the tree, asked for only then: metadata and answer values are parsed
    /// lazily, and a preference release never needs their trees.
    /// </summary>
    private void WriteStored<T>(ReadOnlyMemory<byte>? stored, T source, Func<T, JsonNode> tree)
    {
        if (stored is { } text)
        {
            contentJson.WriteRawValue(text.Span, skipInputValidation: true);
        }
        else
        {
            tree(source).WriteTo(contentJson);
        }
    }

    private void Tally(ReleaseItem item)
    {
        foreach (var (name, c) in item.Consensus)
        {
            if (!tallies.TryGetValue(name, out var t))
            {
                tallies[name] = t = new QuestionTally();
            }
            t.Items++;
            t.Answers += c.Answers;
            if (!double.IsNaN(c.Confidence))
            {
                t.ConfidenceSum += c.Confidence;
                t.ConfidenceCount++;
            }
            var q = questions[name];
            switch (c)
            {
                case RankingConsensus when c.Answers > 1:
                    t.KendallSum += c.Confidence;
                    t.KendallItems++;
                    break;
                case LabelConsensus:
                case RatingConsensus:
                case PreferenceConsensus:
                    var candidates = q.Type == SchemaTypes.Preference && schema.CandidatesFieldOf(q) is { } field
                        ? FieldValues.CandidateIds(item.FieldsElement, field) : null;
                    t.Values.Clear();
                    foreach (var a in item.Answers)
                    {
                        if (q.Type == SchemaTypes.Preference)
                        {
                            // Agreement is about which candidate won, not where it was stored: candidate indices, then tie and
                            // both bad (any other text counts as both bad). Read from the stored text, as consensus does.
                            var ids = candidates ?? [];
                            if (PreferenceAnswer.TryRead(a, name, ids, out var index, out _))
                            {
                                t.Values.Add(index >= 0 && index < ids.Count ? index : index == ids.Count ? 1000 : 1001);
                            }
                        }
                        else if (Code(q, a.Values[name]) is { } value)
                        {
                            t.Values.Add(value);
                        }
                    }
                    (t.Alpha ??= new StreamingAlpha(q.Type == SchemaTypes.Rating)).AddItem(t.Values);
                    break;
            }
        }
    }

    /// <summary>An answer as a number for agreement: the label's index, or the rating (preferences: see <see cref="Tally"/>).</summary>
    private static double? Code(QuestionDefinition q, JsonNode? value)
    {
        switch (q.Type)
        {
            case SchemaTypes.Rating:
                return JsonNumbers.Of(value);
            case SchemaTypes.Label:
                var label = value is JsonValue l && l.GetValueKind() == JsonValueKind.String ? (q.Labels ?? []).IndexOf(l.GetValue<string>()) : -1;
                return label >= 0 ? label : null;
            default:
                return null;
        }
    }

    public void Dispose()
    {
        foreach (var o in outputs)
        {
            o.File.Dispose();
            o.Stream.Dispose();
            o.Lineage?.Stream.Dispose();
        }
        index.Dispose();
        indexStream.Dispose();
        contentJson.Dispose();
        contentHash.Dispose();
    }

    private sealed record Output(string Format, string Split, string Path, HashingStream Stream, FormatFile File, Sidecar? Lineage);

    private sealed record Sidecar(string Path, HashingStream Stream);

    private sealed class QuestionTally
    {
        public long Items;
        public long Answers;
        public double ConfidenceSum;
        public long ConfidenceCount;
        public double KendallSum;
        public long KendallItems;
        /// <summary>Krippendorff's alpha, accumulated item by item.</summary>
        public StreamingAlpha? Alpha;
        /// <summary>One item's coded answers (reused).</summary>
        public List<double> Values { get; } = [];

        public QuestionFigures Figures(QuestionDefinition q, string method)
        {
            var figures = new QuestionFigures
            {
                Type = q.Type, Method = method, Items = Items, Answers = Answers,
                MeanConfidence = ConfidenceCount == 0 ? null : Math.Round(ConfidenceSum / ConfidenceCount, 6),
            };
            if (q.Type == SchemaTypes.Ranking)
            {
                figures.AgreementMetric = "mean_kendall_w";
                figures.Agreement = KendallItems == 0 ? null : Math.Round(KendallSum / KendallItems, 6);
            }
            else if (Alpha is not null)
            {
                figures.AgreementMetric = q.Type == SchemaTypes.Rating ? "krippendorff_alpha_interval" : "krippendorff_alpha_nominal";
                var alpha = Alpha.Value();
                figures.Agreement = double.IsNaN(alpha) ? null : Math.Round(alpha, 6);
            }
            return figures;
        }
    }
}

using System.Text;
using System.Text.Json;

namespace Plumbline.Core.Releases.Formats;

/// <summary>Writes a question's consensus as JSON: the same shape in the raw and rubric formats and in the CSV cells.</summary>
public static class ConsensusJson
{
    public static void Write(Utf8JsonWriter json, QuestionConsensus c)
    {
        json.WriteStartObject();
        switch (c)
        {
            case LabelConsensus l:
                json.WriteString("value", l.Label);
                WriteVotes(json, l.Votes);
                break;
            case MultiLabelConsensus m:
                json.WriteStartArray("value");
                foreach (var label in m.Labels)
                {
                    json.WriteStringValue(label);
                }
                json.WriteEndArray();
                json.WriteStartObject("shares");
                foreach (var (label, share) in m.Shares)
                {
                    json.WriteNumber(label, Math.Round(share, 6));
                }
                json.WriteEndObject();
                break;
            case RatingConsensus r:
                json.WriteNumber("value", Math.Round(r.Value, 6));
                json.WriteStartArray("ratings");
                foreach (var v in r.Ratings)
                {
                    json.WriteNumberValue(v);
                }
                json.WriteEndArray();
                break;
            case PreferenceConsensus p:
                json.WriteString("value", p.Choice);
                if (!double.IsNaN(p.Strength))
                {
                    json.WriteNumber("strength", Math.Round(p.Strength, 6));
                }
                WriteVotes(json, p.Votes);
                break;
            case RankingConsensus k:
                json.WriteStartArray("value");
                foreach (var id in k.Order)
                {
                    json.WriteStringValue(id);
                }
                json.WriteEndArray();
                json.WriteStartArray("mean_ranks");
                foreach (var m in k.MeanRanks)
                {
                    json.WriteNumberValue(Math.Round(m, 6));
                }
                json.WriteEndArray();
                break;
            case TextConsensus t:
                json.WriteStartArray("value");
                foreach (var (text, _) in t.Texts)
                {
                    json.WriteStringValue(text);
                }
                json.WriteEndArray();
                break;
        }
        if (!double.IsNaN(c.Confidence))
        {
            json.WriteNumber("confidence", Math.Round(c.Confidence, 6));
        }
        json.WriteNumber("answers", c.Answers);
        json.WriteString("method", c.Method);
        if (c.Decided)
        {
            // Only when true, so releases without decisions keep their bytes.
            json.WriteBoolean("decided", true);
        }
        json.WriteEndObject();
    }

    private static void WriteVotes(Utf8JsonWriter json, IReadOnlyList<KeyValuePair<string, int>> votes)
    {
        json.WriteStartObject("votes");
        foreach (var (key, count) in votes)
        {
            json.WriteNumber(key, count);
        }
        json.WriteEndObject();
    }
}

/// <summary>
/// Rubric scores per dimension: <c>{"prompt", "response", "scores": {dimension: {value, ratings, confidence, …}},
/// "overall"}</c>, where overall is the mean of the dimensions' consensus normalised to 0..1.
/// </summary>
public sealed class RubricFormat : JsonlFormat
{
    public const string FormatName = "rubric";

    public RubricFormat(ReleaseShape shape) : base(shape)
    {
        if (shape.Ratings.Count == 0)
        {
            throw new ReleaseException($"format '{Name}' needs rating questions (the rubric's dimensions); this project asks none");
        }
    }

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        var scores = Shape.Ratings.Select(q => item.ConsensusOf<RatingConsensus>(q.Name)).OfType<RatingConsensus>().ToList();
        if (scores.Count == 0)
        {
            return;
        }
        var json = output.Json;
        json.WriteStartObject();
        if (Shape.Prompt is not null)
        {
            Shape.WritePromptText(json, "prompt", item.FieldsElement);
        }
        if (Shape.ResponseText(item.FieldsElement) is { } response)
        {
            json.WriteString("response", response);
        }
        json.WriteStartObject("scores");
        foreach (var s in scores)
        {
            json.WritePropertyName(s.Question);
            ConsensusJson.Write(json, s);
        }
        json.WriteEndObject();
        json.WriteNumber("overall", Math.Round(scores.Average(s => s.Normalised), 6));
        WriteLineageProperty(output, item);
        json.WriteEndObject();
        output.EndRecord();
    }
}

/// <summary>
/// Safety labels: <c>{"prompt", "response", "label", "confidence", "categories", "labels"}</c>. The label is the
/// consensus of the first single-label question, categories that of the first multi-label question (empty when
/// it was not asked), and labels holds every label question's consensus.
/// </summary>
public sealed class SafetyFormat : JsonlFormat
{
    public const string FormatName = "safety";

    public SafetyFormat(ReleaseShape shape) : base(shape)
    {
        if (shape.Labels.Count == 0)
        {
            throw new ReleaseException($"format '{Name}' needs a label question (such as safe/unsafe); this project asks none");
        }
    }

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        if (item.ConsensusOf<LabelConsensus>(Shape.Labels[0].Name) is not { } verdict)
        {
            return;
        }
        var json = output.Json;
        json.WriteStartObject();
        if (Shape.Prompt is not null)
        {
            Shape.WritePromptText(json, "prompt", item.FieldsElement);
        }
        if (Shape.ResponseText(item.FieldsElement) is { } response)
        {
            json.WriteString("response", response);
        }
        json.WriteString("label", verdict.Label);
        json.WriteNumber("confidence", Math.Round(verdict.Confidence, 6));
        json.WriteStartArray("categories");
        if (Shape.MultiLabels.Count > 0 && item.ConsensusOf<MultiLabelConsensus>(Shape.MultiLabels[0].Name) is { } categories)
        {
            foreach (var c in categories.Labels)
            {
                json.WriteStringValue(c);
            }
        }
        json.WriteEndArray();
        json.WriteStartObject("labels");
        foreach (var q in Shape.Labels.Concat(Shape.MultiLabels))
        {
            if (item.Consensus.TryGetValue(q.Name, out var c))
            {
                json.WritePropertyName(q.Name);
                ConsensusJson.Write(json, c);
            }
        }
        json.WriteEndObject();
        WriteLineageProperty(output, item);
        json.WriteEndObject();
        output.EndRecord();
    }
}

/// <summary>
/// Everything about each item: <c>{"item_id", "external_id", "split", "fields", "metadata", "answers":
/// [{response_id, annotator, guideline_version, values}], "consensus": {question: …}}</c>. Fits every project.
/// </summary>
public sealed class RawFormat(ReleaseShape shape) : JsonlFormat(shape)
{
    public const string FormatName = "raw";

    public override string Name => FormatName;

    protected override void WriteRecords(ReleaseItem item, JsonlOutput output)
    {
        var json = output.Json;
        json.WriteStartObject();
        json.WriteNumber("item_id", item.ItemId);
        json.WriteString("external_id", item.ExternalId);
        json.WriteString("split", item.Split);
        json.WritePropertyName("fields");
        item.FieldsElement.WriteTo(json);
        json.WritePropertyName("metadata");
        item.Metadata.WriteTo(json);
        json.WriteStartArray("answers");
        foreach (var a in item.Answers)
        {
            json.WriteStartObject();
            json.WriteNumber("response_id", a.ResponseId);
            json.WriteString("annotator", a.Annotator);
            json.WriteNumber("guideline_version", a.GuidelineVersion);
            json.WritePropertyName("values");
            a.Values.WriteTo(json);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartObject("consensus");
        foreach (var q in Shape.Schema.Questions)
        {
            if (item.Consensus.TryGetValue(q.Name, out var c))
            {
                json.WritePropertyName(q.Name);
                ConsensusJson.Write(json, c);
            }
        }
        json.WriteEndObject();
        json.WriteEndObject();
        output.EndRecord();
    }
}

/// <summary>
/// One CSV row per item (RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a comma, a quote
/// or a line break). Columns: item_id, external_id, split, each field (chat and candidates as JSON), then for each
/// question its consensus value and confidence, then the response ids and annotators separated by spaces.
/// </summary>
public sealed class CsvFormat(ReleaseShape shape) : ReleaseFormat(shape)
{
    public const string FormatName = "csv";

    public override string Name => FormatName;

    public override string Extension => ".csv";

    public override FormatFile Open(Stream output) => new File(Shape, output);

    private sealed class File : FormatFile
    {
        private readonly ReleaseShape shape;
        private readonly StreamWriter writer;
        private readonly StringBuilder row = new();

        public File(ReleaseShape shape, Stream stream)
        {
            this.shape = shape;
            writer = new StreamWriter(stream, new UTF8Encoding(false), 64 * 1024, leaveOpen: true) { NewLine = "\r\n" };
            var header = new List<string> { "item_id", "external_id", "split" };
            header.AddRange(shape.Schema.Fields.Select(f => f.Name));
            foreach (var q in shape.Schema.Questions)
            {
                header.Add(q.Name);
                header.Add(q.Name + "_confidence");
            }
            header.Add("response_ids");
            header.Add("annotators");
            writer.WriteLine(string.Join(',', header.Select(Quote)));
        }

        public override void Write(ReleaseItem item)
        {
            row.Clear();
            Append(item.ItemId.ToString(System.Globalization.CultureInfo.InvariantCulture), first: true);
            Append(item.ExternalId);
            Append(item.Split);
            foreach (var f in shape.Schema.Fields)
            {
                var value = item.Fields[f.Name];
                Append(value is null ? "" : value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString(StoredJson.Options));
            }
            foreach (var q in shape.Schema.Questions)
            {
                item.Consensus.TryGetValue(q.Name, out var c);
                Append(c is null ? "" : Cell(c));
                Append(c is null || double.IsNaN(c.Confidence) ? "" : Math.Round(c.Confidence, 6).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
            }
            Append(string.Join(' ', item.Answers.Select(a => a.ResponseId.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            Append(string.Join(' ', item.Answers.Select(a => a.Annotator)));
            writer.WriteLine(row);
            Records++;
        }

        private static string Cell(QuestionConsensus c) => c switch
        {
            LabelConsensus l => l.Label,
            MultiLabelConsensus m => string.Join(';', m.Labels),
            RatingConsensus r => Math.Round(r.Value, 6).ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            PreferenceConsensus p => p.Choice,
            RankingConsensus k => string.Join('>', k.Order),
            TextConsensus t => t.Texts[0].Text,
            _ => "",
        };

        private void Append(string value, bool first = false)
        {
            if (!first)
            {
                row.Append(',');
            }
            row.Append(Quote(value));
        }

        private static string Quote(string value) =>
            value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

        public override void Complete() => writer.Flush();

        protected override void Dispose(bool disposing)
        {
            writer.Dispose();
            base.Dispose(disposing);
        }
    }
}

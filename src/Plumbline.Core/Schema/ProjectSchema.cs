using System.Text.Json;
using System.Text.Json.Serialization;

namespace Plumbline.Core.Schema;

/// <summary>
/// What a project shows and asks: its fields, its questions and its workflow settings.
/// The same JSON document is accepted by <c>project create --schema</c> and printed by <c>project show --json</c>.
/// </summary>
public sealed record ProjectSchema
{
    public List<FieldDefinition> Fields { get; init; } = [];
    public List<QuestionDefinition> Questions { get; init; } = [];
    public WorkflowSettings Workflow { get; init; } = new();

    /// <summary>camelCase, enums as strings, nulls omitted: the shape users write by hand.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
        RespectNullableAnnotations = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses and validates a schema document; throws <see cref="SchemaException"/> naming what is wrong.</summary>
    public static ProjectSchema Parse(string json)
    {
        ProjectSchema? schema;
        try
        {
            schema = JsonSerializer.Deserialize<ProjectSchema>(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            var where = ex.Path is null ? "" : $" at {ex.Path}";
            throw new SchemaException($"schema is not valid JSON for a project schema{where}: {ex.Message.Split(" Path:")[0]}");
        }
        if (schema is null)
        {
            throw new SchemaException("schema is empty");
        }
        SchemaValidator.ThrowIfInvalid(schema);
        return schema;
    }

    public FieldDefinition? FindField(string name) => Fields.Find(f => f.Name == name);

    public QuestionDefinition? FindQuestion(string name) => Questions.Find(q => q.Name == name);

    /// <summary>The candidates field a ranking or preference question is about: its own, or the project's first.</summary>
    public string? CandidatesFieldOf(QuestionDefinition question) =>
        question.Field ?? Fields.Find(f => f.Type == SchemaTypes.Candidates)?.Name;
}

/// <summary>Something the annotator reads.</summary>
public sealed record FieldDefinition
{
    public required string Name { get; init; }
    /// <summary><c>text</c>, <c>markdown</c>, <c>chat</c> or <c>candidates</c>.</summary>
    public required string Type { get; init; }
    public string? Title { get; init; }
    public bool Required { get; init; } = true;
}

/// <summary>Something the annotator answers.</summary>
public sealed record QuestionDefinition
{
    public required string Name { get; init; }
    /// <summary><c>label</c>, <c>multi_label</c>, <c>rating</c>, <c>text</c>, <c>ranking</c>, <c>preference</c> or <c>span</c>.</summary>
    public required string Type { get; init; }
    public string? Title { get; init; }
    public string? Description { get; init; }
    public bool Required { get; init; } = true;
    /// <summary>Allowed labels for <c>label</c>, <c>multi_label</c> and <c>span</c>.</summary>
    public List<string>? Labels { get; init; }
    /// <summary>Scale of a <c>rating</c>.</summary>
    public RatingScale? Scale { get; init; }
    /// <summary>For <c>text</c>: the field whose value pre-fills the box (edit mode).</summary>
    public string? Prefill { get; init; }
    /// <summary>The field a <c>ranking</c>/<c>preference</c> (candidates) or a <c>span</c> (text) question is about.</summary>
    public string? Field { get; init; }
    /// <summary>When set, the question is asked once per assistant turn of this chat field.</summary>
    public string? PerTurn { get; init; }
    /// <summary>The question is shown (and may be answered) only when another answer has a given value.</summary>
    public ShowWhen? ShowWhen { get; init; }
    /// <summary>For <c>preference</c>: ask how strong the preference is (1 slightly … 3 much better).</summary>
    public bool Strength { get; init; }
    /// <summary>For <c>preference</c>: offer a free-text rationale.</summary>
    public bool Rationale { get; init; }
    /// <summary>For <c>text</c>: longest answer accepted, in characters.</summary>
    public int? MaxLength { get; init; }
}

/// <summary>A rating scale with optional anchor texts per point.</summary>
public sealed record RatingScale
{
    public int Min { get; init; } = 1;
    public int Max { get; init; } = 5;
    public Dictionary<string, string>? Anchors { get; init; }
}

/// <summary>Condition on another question's answer.</summary>
public sealed record ShowWhen
{
    public required string Question { get; init; }
    /// <summary>The value (a label, or a number for ratings) that makes the question visible.</summary>
    [JsonPropertyName("equals")]
    public required string EqualsValue { get; init; }
}

/// <summary>How work flows through the project.</summary>
public sealed record WorkflowSettings
{
    /// <summary>How many people answer each item (K).</summary>
    public int Overlap { get; init; } = 1;
    /// <summary>How long a leased item stays with one person before it returns to the queue.</summary>
    public int LeaseMinutes { get; init; } = 30;
    /// <summary>
    /// <c>sequential</c> (import order), <c>random</c>, or <c>finish_overlap_first</c> (items that already have
    /// responses come before fresh ones). Within an order, higher <see cref="PriorityKey"/> values come first
    /// (except <c>random</c>).
    /// </summary>
    public string QueueOrder { get; init; } = "sequential";
    /// <summary>An item metadata key holding a number; items with higher values are served first.</summary>
    public string? PriorityKey { get; init; }
    /// <summary>
    /// An item metadata key naming who may answer the item: an e-mail address, <c>group:NAME</c> (see
    /// <see cref="Groups"/>), or a list of them. Items without it are distributed to everyone.
    /// </summary>
    public string? PinKey { get; init; }
    /// <summary>Named groups of annotators (e-mail addresses), for <see cref="PinKey"/>.</summary>
    public Dictionary<string, List<string>>? Groups { get; init; }
    /// <summary>At most this many submitted items per annotator.</summary>
    public int? MaxItemsPerAnnotator { get; init; }
    /// <summary>At most this percentage of the project's items per annotator.</summary>
    public double? MaxPercentPerAnnotator { get; init; }
    /// <summary>Show the model name of each candidate to annotators.</summary>
    public bool ShowModelNames { get; init; }
    /// <summary>Randomise candidate order per annotator (the order shown is stored with the response).</summary>
    public bool ShuffleCandidates { get; init; } = true;
    /// <summary>Gold items, pausing, review sampling and review thresholds.</summary>
    public QualitySettings Quality { get; init; } = new();
    /// <summary>Live chat with a target model in the workspace (conversation and red-team projects); null when off.</summary>
    public ChatSettings? Chat { get; init; }
}

/// <summary>
/// The target model an annotator talks to inside a task. The conversation is stored as the item's chat field; the
/// system prompt is sent to the model but never stored in the item or shown to annotators (extracting it is an attack).
/// </summary>
public sealed record ChatSettings
{
    /// <summary>The model provider's name (an admin registers providers).</summary>
    public required string Provider { get; init; }
    /// <summary>Sent first, as the system message, with every request.</summary>
    public string? SystemPrompt { get; init; }
    /// <summary>The chat field the conversation is stored in; default: the first chat field.</summary>
    public string? Field { get; init; }
    /// <summary>Most messages (the person's and the model's) a conversation may hold.</summary>
    public int MaxMessages { get; init; } = 40;
}

/// <summary>A schema or answer that breaks the rules; the message says what and where.</summary>
public sealed class SchemaException(string message) : Exception(message);

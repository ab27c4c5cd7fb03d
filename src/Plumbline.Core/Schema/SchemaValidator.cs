namespace Plumbline.Core.Schema;

/// <summary>The vocabulary of field and question types.</summary>
public static class SchemaTypes
{
    public const string Text = "text";
    public const string Markdown = "markdown";
    public const string Chat = "chat";
    public const string Candidates = "candidates";

    public const string Label = "label";
    public const string MultiLabel = "multi_label";
    public const string Rating = "rating";
    public const string TextAnswer = "text";
    public const string Ranking = "ranking";
    public const string Preference = "preference";
    public const string Span = "span";

    public static readonly string[] FieldTypes = [Text, Markdown, Chat, Candidates];
    public static readonly string[] QuestionTypes = [Label, MultiLabel, Rating, TextAnswer, Ranking, Preference, Span];
}

/// <summary>Checks that a schema is coherent before a project is created or changed.</summary>
public static class SchemaValidator
{
    private static readonly System.Buffers.SearchValues<char> NameChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");

    public static List<string> Validate(ProjectSchema schema)
    {
        var errors = new List<string>();
        if (schema.Fields.Count == 0)
        {
            errors.Add("fields: a project needs at least one field");
        }
        if (schema.Questions.Count == 0)
        {
            errors.Add("questions: a project needs at least one question");
        }
        var fieldNames = new HashSet<string>();
        for (var i = 0; i < schema.Fields.Count; i++)
        {
            var f = schema.Fields[i];
            var where = $"fields[{i}]";
            CheckName(f.Name, where, errors);
            if (!fieldNames.Add(f.Name))
            {
                errors.Add($"{where}: field name '{f.Name}' is used twice");
            }
            if (!SchemaTypes.FieldTypes.Contains(f.Type))
            {
                errors.Add($"{where}: unknown field type '{f.Type}' (expected one of {string.Join(", ", SchemaTypes.FieldTypes)})");
            }
        }
        var questionNames = new HashSet<string>();
        for (var i = 0; i < schema.Questions.Count; i++)
        {
            var q = schema.Questions[i];
            var where = $"questions[{i}] '{q.Name}'";
            CheckName(q.Name, $"questions[{i}]", errors);
            if (!questionNames.Add(q.Name))
            {
                errors.Add($"{where}: question name is used twice");
            }
            CheckQuestion(schema, q, where, errors);
        }
        foreach (var q in schema.Questions.Where(q => q.ShowWhen is not null))
        {
            var target = schema.FindQuestion(q.ShowWhen!.Question);
            if (target is null || target.Name == q.Name)
            {
                errors.Add($"question '{q.Name}': showWhen refers to unknown question '{q.ShowWhen.Question}'");
            }
        }
        var w = schema.Workflow;
        if (w.Overlap is < 1 or > 100)
        {
            errors.Add($"workflow.overlap: {w.Overlap} is out of range 1..100");
        }
        if (w.LeaseMinutes is < 1 or > 10080)
        {
            errors.Add($"workflow.leaseMinutes: {w.LeaseMinutes} is out of range 1..10080");
        }
        if (w.QueueOrder is not ("sequential" or "random" or "finish_overlap_first"))
        {
            errors.Add($"workflow.queueOrder: '{w.QueueOrder}' is not 'sequential', 'random' or 'finish_overlap_first'");
        }
        errors.AddRange(w.Quality.Problems());
        CheckQueuePolicy(w, errors);
        CheckChat(schema, errors);
        return errors;
    }

    private static void CheckQueuePolicy(WorkflowSettings w, List<string> errors)
    {
        if (w.PriorityKey is not null)
        {
            CheckMetadataKey(w.PriorityKey, "workflow.priorityKey", errors);
            if (w.QueueOrder == "random")
            {
                errors.Add("workflow.priorityKey: priorities need queueOrder 'sequential' or 'finish_overlap_first'; 'random' ignores them");
            }
        }
        if (w.PinKey is not null)
        {
            CheckMetadataKey(w.PinKey, "workflow.pinKey", errors);
        }
        foreach (var (name, members) in w.Groups ?? [])
        {
            CheckName(name, $"workflow.groups.{name}", errors);
            if (members is null || members.Count == 0 || members.Exists(m => string.IsNullOrWhiteSpace(m) || !m.Contains('@', StringComparison.Ordinal)))
            {
                errors.Add($"workflow.groups.{name}: list the members' e-mail addresses");
            }
        }
        if (w.MaxItemsPerAnnotator is < 1)
        {
            errors.Add($"workflow.maxItemsPerAnnotator: {w.MaxItemsPerAnnotator} must be at least 1");
        }
        if (w.MaxPercentPerAnnotator is { } percent && (double.IsNaN(percent) || percent is <= 0 or > 100))
        {
            errors.Add($"workflow.maxPercentPerAnnotator: {percent} is out of range (0, 100]");
        }
    }

    private static void CheckChat(ProjectSchema schema, List<string> errors)
    {
        if (schema.Workflow.Chat is { } chat)
        {
            if (string.IsNullOrWhiteSpace(chat.Provider))
            {
                errors.Add("workflow.chat.provider: name the model provider the annotators talk to");
            }
            if (ChatFieldOf(schema) is null)
            {
                errors.Add(chat.Field is null ? "workflow.chat: live chat needs a chat field to store the conversation in"
                    : $"workflow.chat.field: '{chat.Field}' is not a chat field of this project");
            }
            if (chat.MaxMessages is < 2 or > 1000)
            {
                errors.Add($"workflow.chat.maxMessages: {chat.MaxMessages} must be 2 to 1000");
            }
        }
    }

    /// <summary>The chat field live chat stores its conversation in: the one named in the settings, else the first.</summary>
    public static FieldDefinition? ChatFieldOf(ProjectSchema schema) => schema.Workflow.Chat?.Field is { } name
        ? schema.Fields.Find(f => f.Name == name && f.Type == SchemaTypes.Chat)
        : schema.Fields.Find(f => f.Type == SchemaTypes.Chat);

    private static void CheckMetadataKey(string key, string where, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(key) || key.Length > 100)
        {
            errors.Add($"{where}: '{key}' must name a metadata key (1-100 characters)");
        }
    }

    public static void ThrowIfInvalid(ProjectSchema schema)
    {
        var errors = Validate(schema);
        if (errors.Count > 0)
        {
            throw new SchemaException(string.Join("; ", errors));
        }
    }

    private static void CheckName(string name, string where, List<string> errors)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || name.AsSpan().ContainsAnyExcept(NameChars))
        {
            errors.Add($"{where}: name '{name}' must be 1-64 letters, digits, '_' or '-'");
        }
    }

    private static void CheckQuestion(ProjectSchema schema, QuestionDefinition q, string where, List<string> errors)
    {
        if (!SchemaTypes.QuestionTypes.Contains(q.Type))
        {
            errors.Add($"{where}: unknown question type '{q.Type}' (expected one of {string.Join(", ", SchemaTypes.QuestionTypes)})");
            return;
        }
        switch (q.Type)
        {
            case SchemaTypes.Label or SchemaTypes.MultiLabel or SchemaTypes.Span:
                if (q.Labels is null || q.Labels.Count == 0)
                {
                    errors.Add($"{where}: a {q.Type} question needs labels");
                }
                else if (q.Labels.Distinct().Count() != q.Labels.Count)
                {
                    errors.Add($"{where}: labels repeat");
                }
                break;
            case SchemaTypes.Rating:
                var scale = q.Scale ?? new RatingScale();
                if (scale.Min >= scale.Max || scale.Max - scale.Min > 100)
                {
                    errors.Add($"{where}: rating scale {scale.Min}..{scale.Max} is not a valid range");
                }
                break;
        }
        if (q.Type == SchemaTypes.Span)
        {
            RequireField(schema, q.Field, [SchemaTypes.Text, SchemaTypes.Markdown], where, errors);
        }
        if (q.Type is SchemaTypes.Ranking or SchemaTypes.Preference)
        {
            RequireField(schema, schema.CandidatesFieldOf(q),
                [SchemaTypes.Candidates], where, errors);
        }
        if (q.Prefill is not null)
        {
            // A chat field prefills with its last assistant turn: the answer being rewritten.
            RequireField(schema, q.Prefill, [SchemaTypes.Text, SchemaTypes.Markdown, SchemaTypes.Chat], where, errors);
        }
        if (q.PerTurn is not null)
        {
            RequireField(schema, q.PerTurn, [SchemaTypes.Chat], where, errors);
        }
        if (q.MaxLength is < 1)
        {
            errors.Add($"{where}: maxLength must be positive");
        }
    }

    private static void RequireField(ProjectSchema schema, string? name, string[] types, string where, List<string> errors)
    {
        var field = name is null ? null : schema.FindField(name);
        if (field is null)
        {
            errors.Add($"{where}: needs a field of type {string.Join(" or ", types)}{(name is null ? "" : $" (no field '{name}')")}");
        }
        else if (!types.Contains(field.Type))
        {
            errors.Add($"{where}: field '{name}' is {field.Type}, expected {string.Join(" or ", types)}");
        }
    }
}

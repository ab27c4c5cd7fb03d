using System.Text.Json.Nodes;
using Plumbline.Core.Schema;
using Plumbline.Server.Features.Queue;

namespace Plumbline.Server.Features.Annotate;

/// <summary>Everything the workspace fragment shows: the task (or none left), the answers so far, errors per question.</summary>
public sealed record WorkspaceModel
{
    public required long ProjectId { get; init; }
    public required string ProjectName { get; init; }
    public required ProjectSchema Schema { get; init; }
    public TaskDto? Task { get; init; }
    /// <summary>Answers to show: what was just posted (after an error), else the saved draft.</summary>
    public JsonObject Values { get; init; } = [];
    public Dictionary<string, string> Errors { get; init; } = [];
    public string? Notice { get; init; }
    public bool NoticeIsError { get; init; }

    public string Base => $"/projects/{ProjectId}/annotate";

    /// <summary>Letters by position shown (A, B, C …): the names candidates go by on screen and on the keyboard.</summary>
    public static string Letter(int index) => index < 26 ? ((char)('A' + index)).ToString() : $"#{index + 1}";

    /// <summary>The candidates of a field in the order this person sees them.</summary>
    public List<JsonObject> Candidates(string? field) =>
        field is not null && Task?.Fields[field] is JsonArray list ? list.OfType<JsonObject>().ToList() : [];

    /// <summary>The draft a text question starts from: its answer so far, else the field it is prefilled from.</summary>
    public string TextValue(QuestionDefinition q, int? turn)
    {
        if (AnnotateForm.ValueOf(Values, q, turn) is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String)
        {
            var text = v.GetValue<string>();
            return q.Prefill is not null && FieldValues.IsEarlierAnswer(Task?.Fields[q.Prefill], text) ? PrefillText(q) ?? text : text;
        }
        return PrefillText(q) ?? "";
    }

    public string? PrefillText(QuestionDefinition q) => q.Prefill is not null ? FieldValues.PrefillText(Task?.Fields[q.Prefill]) : null;
}

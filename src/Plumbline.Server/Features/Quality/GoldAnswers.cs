using System.Text.Json;
using System.Text.Json.Nodes;
using Plumbline.Core.Schema;

namespace Plumbline.Server.Features.Quality;

/// <summary>Whether an answer equals a gold answer, by what the question type means by "the same answer".</summary>
public static class GoldAnswers
{
    /// <summary>
    /// Labels and ratings compare by value, multi-labels and spans as sets, rankings as sequences, preferences by
    /// their choice (a gold preference may be the bare choice), free text after trimming and collapsing whitespace.
    /// </summary>
    public static bool Matches(QuestionDefinition question, JsonNode? answer, JsonNode? gold)
    {
        if (answer is null || gold is null)
        {
            return false;
        }
        switch (question.Type)
        {
            case SchemaTypes.Preference:
                return Choice(answer) is { } a && a == Choice(gold);
            case SchemaTypes.Rating:
                return answer.GetValueKind() == JsonValueKind.Number && gold.GetValueKind() == JsonValueKind.Number
                    && answer.GetValue<double>() == gold.GetValue<double>();
            case SchemaTypes.MultiLabel:
                return answer is JsonArray x && gold is JsonArray y
                    && x.Select(v => v?.ToJsonString()).ToHashSet().SetEquals(y.Select(v => v?.ToJsonString()));
            case SchemaTypes.Span:
                return answer is JsonArray s && gold is JsonArray t
                    && s.Select(Span).ToHashSet().SetEquals(t.Select(Span));
            case SchemaTypes.TextAnswer:
                return answer.GetValueKind() == JsonValueKind.String && gold.GetValueKind() == JsonValueKind.String
                    && Collapse(answer.GetValue<string>()) == Collapse(gold.GetValue<string>());
            default:
                return JsonNode.DeepEquals(answer, gold);
        }
    }

    private static string? Choice(JsonNode node) => node switch
    {
        JsonObject o => o["choice"]?.GetValueKind() == JsonValueKind.String ? o["choice"]!.GetValue<string>() : null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => null,
    };

    private static string Span(JsonNode? node) => $"{node?["start"]?.ToJsonString()}:{node?["end"]?.ToJsonString()}:{node?["label"]?.ToJsonString()}";

    private static string Collapse(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}

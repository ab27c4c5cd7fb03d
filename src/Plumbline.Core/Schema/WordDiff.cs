using System.Text.Json;
using System.Text.Json.Nodes;
using DiffPlex;

namespace Plumbline.Core.Schema;

/// <summary>One run of a word-level diff: text kept, removed from the draft, or added by the person.</summary>
public readonly record struct DiffPiece(DiffKind Kind, string Text);

public enum DiffKind
{
    Same,
    Deleted,
    Inserted,
}

/// <summary>How far an edited answer moved from the draft it started from, counted in words.</summary>
/// <param name="Distance">Word-level edit distance: per changed region, the larger of words removed and words added
/// (a replaced word counts once, as in Levenshtein distance over words).</param>
/// <param name="Inserted">Words added.</param>
/// <param name="Deleted">Words removed.</param>
/// <param name="DraftWords">Words in the draft, so a distance can be read as a share of it.</param>
public sealed record EditStats(int Distance, int Inserted, int Deleted, int DraftWords);

/// <summary>
/// Word-level diff of an edited text against its draft (Myers' algorithm, via DiffPlex). Whitespace and
/// punctuation are their own tokens, so re-wrapping a line is a change but does not shift every word after it.
/// </summary>
public static class WordDiff
{
    private static readonly Differ Differ = new();

    public static List<DiffPiece> Pieces(string draft, string edited)
    {
        var result = Differ.CreateCustomDiffs(draft, edited, ignoreWhiteSpace: false, Tokens);
        var a = result.PiecesOld;
        var b = result.PiecesNew;
        var pieces = new List<DiffPiece>();
        int ia = 0, ib = 0;
        foreach (var block in result.DiffBlocks)
        {
            Add(pieces, DiffKind.Same, a, ia, block.DeleteStartA - ia);
            Add(pieces, DiffKind.Deleted, a, block.DeleteStartA, block.DeleteCountA);
            Add(pieces, DiffKind.Inserted, b, block.InsertStartB, block.InsertCountB);
            ia = block.DeleteStartA + block.DeleteCountA;
            ib = block.InsertStartB + block.InsertCountB;
        }
        Add(pieces, DiffKind.Same, a, ia, a.Length - ia);
        return pieces;
    }

    public static EditStats Stats(string draft, string edited)
    {
        var result = Differ.CreateCustomDiffs(draft, edited, ignoreWhiteSpace: false, Tokens);
        int distance = 0, inserted = 0, deleted = 0;
        foreach (var block in result.DiffBlocks)
        {
            var del = Words(result.PiecesOld, block.DeleteStartA, block.DeleteCountA);
            var ins = Words(result.PiecesNew, block.InsertStartB, block.InsertCountB);
            deleted += del;
            inserted += ins;
            distance += Math.Max(del, ins);
        }
        return new EditStats(distance, inserted, deleted, Words(result.PiecesOld, 0, result.PiecesOld.Length));
    }

    /// <summary>Splits text into runs of letters and digits, runs of whitespace, and single other characters.</summary>
    public static string[] Tokens(string text)
    {
        var tokens = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            if (char.IsLetterOrDigit(text[i]))
            {
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || char.GetUnicodeCategory(text[i]) is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.SpacingCombiningMark))
                {
                    i++;
                }
            }
            else if (char.IsWhiteSpace(text[i]))
            {
                while (i < text.Length && char.IsWhiteSpace(text[i]))
                {
                    i++;
                }
            }
            else
            {
                i += char.IsHighSurrogate(text[i]) && i + 1 < text.Length ? 2 : 1;
            }
            tokens.Add(text[start..i]);
        }
        return [.. tokens];
    }

    /// <summary>Tokens that hold a letter or digit; whitespace and punctuation alone are not words.</summary>
    private static int Words(string[] tokens, int start, int count)
    {
        var n = 0;
        for (var i = start; i < start + count; i++)
        {
            if (tokens[i].Length > 0 && char.IsLetterOrDigit(tokens[i][0]))
            {
                n++;
            }
        }
        return n;
    }

    private static void Add(List<DiffPiece> pieces, DiffKind kind, string[] tokens, int start, int count)
    {
        if (count <= 0)
        {
            return;
        }
        var text = string.Concat(tokens.Skip(start).Take(count));
        if (pieces.Count > 0 && pieces[^1].Kind == kind)
        {
            pieces[^1] = new DiffPiece(kind, pieces[^1].Text + text);
        }
        else
        {
            pieces.Add(new DiffPiece(kind, text));
        }
    }
}

/// <summary>The figures stored beside a response's values (its metadata), derived from the values and the item.</summary>
public static class ResponseMetadata
{
    /// <summary>
    /// <c>{"edits": {question: {distance, inserted, deleted, draftWords}}}</c> for every answered text question that
    /// was prefilled from a field (edit mode), or null when there is nothing to record.
    /// </summary>
    public static JsonObject? Build(ProjectSchema schema, JsonObject item, JsonObject values)
    {
        JsonObject? edits = null;
        foreach (var q in schema.Questions)
        {
            if (q.Type != SchemaTypes.TextAnswer || q.Prefill is null || q.PerTurn is not null
                || values[q.Name] is not JsonValue answer || answer.GetValueKind() != JsonValueKind.String
                || FieldValues.PrefillText(item[q.Prefill]) is not { } draft)
            {
                continue;
            }
            var stats = WordDiff.Stats(draft, answer.GetValue<string>());
            edits ??= [];
            edits[q.Name] = new JsonObject
            {
                ["distance"] = stats.Distance,
                ["inserted"] = stats.Inserted,
                ["deleted"] = stats.Deleted,
                ["draftWords"] = stats.DraftWords,
            };
        }
        return edits is null ? null : new JsonObject { ["edits"] = edits };
    }
}

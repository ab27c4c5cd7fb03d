using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Core.Import;

/// <summary>Wording shared by all readers, so every error reads the same way.</summary>
internal static class ImportText
{
    public static string Size(long bytes) => bytes switch
    {
        >= 1_048_576 => (bytes / 1_048_576.0).ToString("0.#", CultureInfo.InvariantCulture) + " MB",
        >= 1024 => (bytes / 1024.0).ToString("0.#", CultureInfo.InvariantCulture) + " KB",
        1 => "1 byte",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " bytes",
    };

    public static string RecordTooLarge(long bytes, int max) => $"record is {Size(bytes)}, over the {Size(max)} limit";

    public static string FieldTooLarge(string path, long bytes, int max) => $"field '{path}' is {Size(bytes)}, over the {Size(max)} limit";

    public static string Kind(JsonNode? node) => node is null ? "null" : Kind(node.GetValueKind());

    public static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>A byte shown in a message: the character when printable ASCII, else its hex code.</summary>
    public static string Byte(byte b) => b is >= 0x21 and < 0x7F ? $"'{(char)b}'" : $"byte 0x{b:X2}";

    /// <summary>
    /// The reader's own explanation without its position suffix (positions are rewritten as file lines),
    /// so the message never quotes the record.
    /// </summary>
    public static string JsonReason(JsonException ex)
    {
        var message = ex.Message;
        foreach (var marker in (ReadOnlySpan<string>)[" LineNumber:", " Path:"])
        {
            int i = message.IndexOf(marker, StringComparison.Ordinal);
            if (i >= 0)
            {
                message = message[..i];
            }
        }

        return message.TrimEnd();
    }

    /// <summary>Index of the first byte that is not valid UTF-8, or -1.</summary>
    public static int InvalidUtf8Index(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes))
        {
            return -1;
        }

        int i = 0;
        while (i < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[i..], out _, out int consumed) != OperationStatus.Done)
            {
                return i;
            }

            i += consumed;
        }

        return -1;
    }

    public static string InvalidUtf8(long absoluteOffset) =>
        $"invalid UTF-8 at byte offset {absoluteOffset.ToString(CultureInfo.InvariantCulture)} of the file; save the file as UTF-8";

    public static bool IsJsonWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';

    public static void TrimJsonWhitespace(ReadOnlySpan<byte> bytes, out int leading, out int length)
    {
        int start = 0;
        while (start < bytes.Length && IsJsonWhitespace(bytes[start]))
        {
            start++;
        }

        int end = bytes.Length;
        while (end > start && IsJsonWhitespace(bytes[end - 1]))
        {
            end--;
        }

        leading = start;
        length = end - start;
    }
}

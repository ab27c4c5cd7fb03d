using System.Text.Encodings.Web;
using System.Text.Json;

namespace Plumbline.Core;

/// <summary>
/// How JSON is written into the database and into data files: non-ASCII text stays as it is (not \uXXXX),
/// which keeps stored rows smaller and exports readable. Safe because it is never embedded in HTML unescaped.
/// </summary>
public static class StoredJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}

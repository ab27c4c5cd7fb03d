using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Plumbline.Core.Releases.Formats;

/// <summary>
/// A Hugging Face dataset folder: <c>data/{split}.jsonl</c> in one of the JSONL formats, and a <c>README.md</c>
/// dataset card whose YAML header declares the splits (the hub's <c>configs</c>/<c>data_files</c> keys), so
/// <c>datasets.load_dataset(folder)</c> and the hub read it as it is. The card's text carries the manifest's figures.
/// </summary>
public static class HuggingFaceFolder
{
    public const string FormatName = "hf";

    /// <summary>The README.md of the folder <paramref name="folder"/>, holding <paramref name="baseFormat"/> records.</summary>
    public static string DatasetCard(ReleaseManifest manifest, string folder, string baseFormat)
    {
        var files = manifest.Files.Where(f => f.Path.StartsWith(folder + "/data/", StringComparison.Ordinal) && f.Records > 0).ToList();
        var records = files.Sum(f => f.Records);
        var sb = new StringBuilder();
        sb.Append("---\n");
        // No release number here or below: the same project state and settings must give the same bytes in v1 and v2.
        sb.Append("pretty_name: ").Append(Yaml(manifest.ProjectName)).Append('\n');
        sb.Append("tags:\n- plumbline\n- human-feedback\n- ").Append(baseFormat).Append('\n');
        sb.Append("task_categories:\n- ").Append(baseFormat is "safety" ? "text-classification" : "text-generation").Append('\n');
        sb.Append("size_categories:\n- ").Append(SizeCategory(records)).Append('\n');
        sb.Append("configs:\n- config_name: default\n  data_files:\n");
        foreach (var f in files)
        {
            sb.Append("  - split: ").Append(f.Split).Append('\n');
            sb.Append("    path: ").Append(f.Path[(folder.Length + 1)..]).Append('\n');
        }
        sb.Append("---\n\n");
        sb.Append("# ").Append(manifest.ProjectName).Append("\n\n");
        sb.Append("Built by Plumbline ").Append(manifest.Software).Append(" from the consensus of human annotations. Format: `")
            .Append(baseFormat).Append("`.\n\n");
        sb.Append("| split | records |\n|---|---|\n");
        foreach (var f in files)
        {
            sb.Append("| ").Append(f.Split).Append(" | ").Append(f.Records.ToString(CultureInfo.InvariantCulture)).Append(" |\n");
        }
        sb.Append('\n');
        var c = manifest.Counts;
        sb.Append("Items: ").Append(c.Items.ToString(CultureInfo.InvariantCulture)).Append(" of ").Append(c.ItemsMatched.ToString(CultureInfo.InvariantCulture))
            .Append(" matched by the filter; responses: ").Append(c.Responses.ToString(CultureInfo.InvariantCulture))
            .Append(" from ").Append(c.Annotators.ToString(CultureInfo.InvariantCulture)).Append(" annotators.");
        foreach (var (reason, count) in c.Excluded)
        {
            sb.Append(' ').Append(count.ToString(CultureInfo.InvariantCulture)).Append(" left out: ").Append(reason).Append('.');
        }
        sb.Append("\n\n");
        if (manifest.Questions.Count > 0)
        {
            sb.Append("| question | type | consensus | items | answers | mean confidence | agreement |\n|---|---|---|---|---|---|---|\n");
            foreach (var (name, q) in manifest.Questions)
            {
                sb.Append("| ").Append(name).Append(" | ").Append(q.Type).Append(" | ").Append(q.Method).Append(" | ")
                    .Append(q.Items.ToString(CultureInfo.InvariantCulture)).Append(" | ").Append(q.Answers.ToString(CultureInfo.InvariantCulture)).Append(" | ")
                    .Append(q.MeanConfidence?.ToString("0.###", CultureInfo.InvariantCulture) ?? "—").Append(" | ")
                    .Append(q.Agreement is { } a ? $"{a.ToString("0.###", CultureInfo.InvariantCulture)} ({q.AgreementMetric})" : "—").Append(" |\n");
            }
            sb.Append('\n');
        }
        if (manifest.GuidelineVersions.Count > 0)
        {
            sb.Append("Guideline versions: ")
                .Append(string.Join(", ", manifest.GuidelineVersions.Select(g => $"v{g.Key} ({g.Value.ToString(CultureInfo.InvariantCulture)} responses)")))
                .Append(".\n\n");
        }
        sb.Append("Each record's `lineage` names the item, the responses and the annotators (pseudonymised per release) it comes from. ")
            .Append("`manifest.json` in the release names its version and lists every file with its SHA-256.\n");
        return sb.ToString();
    }

    /// <summary>The hub's size buckets.</summary>
    public static string SizeCategory(long n) => n switch
    {
        < 1_000 => "n<1K",
        < 10_000 => "1K<n<10K",
        < 100_000 => "10K<n<100K",
        < 1_000_000 => "100K<n<1M",
        < 10_000_000 => "1M<n<10M",
        < 100_000_000 => "10M<n<100M",
        _ => "100M<n<1B",
    };

    /// <summary>A YAML double-quoted scalar (JSON string syntax is valid YAML).</summary>
    private static string Yaml(string text) => JsonSerializer.Serialize(text);
}

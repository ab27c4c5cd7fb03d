using Plumbline.Data;

namespace Plumbline.Server.Features.Releases;

/// <summary>
/// Where release folders live: <c>PLUMBLINE_RELEASES</c> when set, else a <c>releases</c> folder next to the SQLite
/// file (./plumbline-data/releases by default), else ./plumbline-data/releases for PostgreSQL. Each release is
/// <c>project-{id}/v{n}/</c> under it.
/// </summary>
public sealed class ReleaseStorage(IConfiguration configuration, DatabaseSettings database)
{
    public const string Setting = "PLUMBLINE_RELEASES";

    public string Root { get; } = Path.GetFullPath(ResolveRoot(configuration[Setting], database));

    public string FolderOf(long projectId, int version) => Path.Combine(Root, $"project-{projectId}", $"v{version}");

    private static string ResolveRoot(string? configured, DatabaseSettings database) =>
        string.IsNullOrWhiteSpace(configured) ? Path.Combine(database.DataFolder(), "releases") : configured;

    /// <summary>
    /// The full path of <paramref name="relative"/> inside <paramref name="folder"/>, or null when it would leave the
    /// folder (a path with .. or an absolute path).
    /// </summary>
    public static string? Inside(string folder, string relative)
    {
        var full = Path.GetFullPath(Path.Combine(folder, relative));
        var root = Path.GetFullPath(folder) + Path.DirectorySeparatorChar;
        return full.StartsWith(root, StringComparison.Ordinal) ? full : null;
    }
}

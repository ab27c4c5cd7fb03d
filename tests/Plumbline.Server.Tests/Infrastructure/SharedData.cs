namespace Plumbline.Server.Tests.Infrastructure;

/// <summary>The public data sets beside the repository (../shared/data, see its README), found from the test binary.</summary>
public static class SharedData
{
    public static string PathOf(params string[] parts)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Plumbline.slnx")))
        {
            dir = dir.Parent;
        }
        var path = dir is null ? null : Path.GetFullPath(Path.Combine([dir.FullName, "..", "shared", "data", .. parts]));
        if (path is null || !File.Exists(path))
        {
            throw new FileNotFoundException($"the shared data set is missing: expected ../shared/data/{string.Join('/', parts)} beside the repository (looked for {path})");
        }
        return path;
    }
}

using System.Globalization;
using System.Security.Cryptography;
using Plumbline.Cli;

namespace Plumbline.Server.Tests;

/// <summary><c>plumbline release …</c> in-process against the app on its real port.</summary>
public class ReleaseCliTests
{
    internal static async Task<(int Exit, string Out, string Err)> RunAsync(TestApp app, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync([.. args, "--server", app.BaseAddress.ToString(), "--token", TestApp.AdminToken], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task CreateListShowDiff_DownloadsVerifiedFilesAndReports(string provider)
    {
        var (s, project, _) = await ReleaseTests.AnsweredPairsAsync(provider, items: 5);
        var id = project.ToString(CultureInfo.InvariantCulture);
        var folder = Directory.CreateTempSubdirectory("plumbline-release-cli-").FullName;

        var (exit, output, error) = await RunAsync(s.App, "release", "create", id, "--format", "trl-preference", "--format", "csv",
            "--filter", "min-confidence=0.5", "--filter", "status=complete", "--validation", "0", "--test", "0.2", "--seed", "3", "-o", folder);

        exit.ShouldBe(0, error);
        output.ShouldContain("v1: 5 of 5 matched items, 15 responses from 3 annotators");
        output.ShouldContain("majority");
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "manifest.json")))!;
        manifest["version"]!.GetValue<int>().ShouldBe(1);
        manifest["settings"]!["minConfidence"]!.GetValue<double>().ShouldBe(0.5);
        foreach (var f in manifest["files"]!.AsArray())
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(folder, f!["path"]!.GetValue<string>()));
            Convert.ToHexStringLower(SHA256.HashData(bytes)).ShouldBe(f["sha256"]!.GetValue<string>());
        }
        var train = await File.ReadAllLinesAsync(Path.Combine(folder, "trl-preference", "train.jsonl"));
        var testLines = await File.ReadAllLinesAsync(Path.Combine(folder, "trl-preference", "test.jsonl"));
        (train.Length + testLines.Length).ShouldBe(5);

        (exit, _, error) = await RunAsync(s.App, "release", "create", id, "-f", "raw", "--validation", "0", "--test", "0.2", "--seed", "3");
        exit.ShouldBe(0, error);
        (exit, output, _) = await RunAsync(s.App, "release", "list", id);
        exit.ShouldBe(0);
        output.ShouldContain("v1");
        output.ShouldContain("v2");
        (exit, output, _) = await RunAsync(s.App, "release", "show", id, "v2", "--json");
        exit.ShouldBe(0);
        JsonNode.Parse(output)!["release"]!["formats"]![0]!.GetValue<string>().ShouldBe("raw");
        (exit, output, _) = await RunAsync(s.App, "release", "diff", id, "1", "2");
        exit.ShouldBe(0);
        output.ShouldContain("v1 → v2: 0 added, 0 removed, 0 changed, 5 unchanged");

        (exit, output, error) = await RunAsync(s.App, "release", "create", id, "-f", "csv", "--detach");
        exit.ShouldBe(0, error);
        output.ShouldContain($"v3 queued; follow it with: plumbline release show {id} v3");
        await ReleaseTests.WaitAsync(s.Admin, $"api/v1/projects/{id}/releases/3");
        (exit, output, _) = await RunAsync(s.App, "release", "list", id);
        output.ShouldContain("ready");
    }

    [Fact]
    public async Task Create_BadFilterOrFormat_OneLineErrorAndNonZeroExit()
    {
        var s = new Scenario(SharedApps.Get("sqlite"));
        var project = (await s.CreateProjectAsync("rubric")).ToString(CultureInfo.InvariantCulture);

        var (exit, _, error) = await RunAsync(s.App, "release", "create", project, "--format", "raw", "--filter", "colour=blue");
        exit.ShouldNotBe(0);
        error.ShouldContain("--filter 'colour=blue' is not understood");

        (exit, _, error) = await RunAsync(s.App, "release", "create", project, "--format", "trl-preference");
        exit.ShouldNotBe(0);
        error.ShouldContain("needs pairs of candidates");
        error.ShouldContain("HTTP 400");
    }
}

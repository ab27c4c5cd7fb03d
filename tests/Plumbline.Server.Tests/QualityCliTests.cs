using System.Globalization;
using Plumbline.Cli;

namespace Plumbline.Server.Tests;

/// <summary>`plumbline annotations import` and `plumbline quality`, in-process against the app on its real port.</summary>
public class QualityCliTests
{
    private static async Task<(int Exit, string Out, string Err)> RunAsync(TestApp app, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync([.. args, "--server", app.BaseAddress.ToString(), "--token", TestApp.AdminToken], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task AnnotationsImportThenQuality_PrintsAgreementScorecardsAndItemsToReview()
    {
        var app = SharedApps.Get("sqlite");
        var s = new Scenario(app);
        var project = await s.CreateProjectAsync("labels", schema: QualityTests.BinaryLabelSchema(3));
        var id = project.ToString(CultureInfo.InvariantCulture);
        await (await s.ImportAsync(project, "{\"id\":\"i0\",\"text\":\"zero\"}\n{\"id\":\"i1\",\"text\":\"one\"}")).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var file = Path.Combine(Directory.CreateTempSubdirectory("plumbline-cli-").FullName, "labels.csv");
        await File.WriteAllTextAsync(file, $"item,annotator,question,value\ni0,{tag}-a,label,1\ni0,{tag}-b,label,0\ni0,{tag}-c,label,1\ni1,{tag}-a,label,0\ni1,{tag}-b,label,0\ni1,{tag}-c,label,0\n");

        var (exit, output, _) = await RunAsync(app, "annotations", "import", id, file);
        exit.ShouldBe(0);
        output.ShouldContain("6 rows: created 6, updated 0, unchanged 0 responses; 3 new annotator(s)");

        (exit, output, _) = await RunAsync(app, "quality", id, "--method", "majority");
        exit.ShouldBe(0);
        output.ShouldContain("6 responses on 2 items; labels by majority");
        output.ShouldContain("1 item(s) need review");
        output.ShouldContain("i0: label=1 (0.6667)");

        (exit, output, _) = await RunAsync(app, "quality", id, "--json", "--items", "all");
        exit.ShouldBe(0);
        var report = JsonNode.Parse(output)!;
        report["items"]!.AsArray().Count.ShouldBe(2);
        report["questions"]![0]!["metric"]!.GetValue<string>().ShouldBe("KrippendorffNominal");
        report["annotators"]!.AsArray().Select(a => a!["email"]!.GetValue<string>()).ShouldContain($"{tag}-a@annotators.invalid");

        await File.WriteAllTextAsync(file, "item,annotator,question,value\nnope,x,label,1\n");
        string error;
        (exit, _, error) = await RunAsync(app, "annotations", "import", id, file);
        exit.ShouldBe(1);
        error.ShouldContain("line 2: no item with external id 'nope'");
    }
}

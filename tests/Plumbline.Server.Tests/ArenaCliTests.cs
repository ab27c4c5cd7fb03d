using System.Globalization;
using System.Text;
using Plumbline.Cli;

namespace Plumbline.Server.Tests;

/// <summary>`plumbline leaderboard` and `plumbline findings`, in-process against the app on its real port.</summary>
public class ArenaCliTests
{
    private static async Task<(int Exit, string Out, string Err)> RunAsync(TestApp app, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync([.. args, "--server", app.BaseAddress.ToString(), "--token", TestApp.AdminToken], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Leaderboard_SideBySideVotes_PrintsRatingsAndJsonHasTheBoard()
    {
        var app = SharedApps.Get("sqlite");
        var s = new Scenario(app);
        var project = await s.CreateProjectAsync("side-by-side", overlap: 3);
        var id = project.ToString(CultureInfo.InvariantCulture);
        await (await s.ImportAsync(project, """
            {"id":"q1","prompt":"p1","responses":[{"model":"alpha","text":"x"},{"model":"beta","text":"y"}],"category":"math"}
            {"id":"q2","prompt":"p2","responses":[{"model":"beta","text":"y"},{"model":"alpha","text":"x"}],"category":"math"}
            """)).ShouldHaveStatusAsync(HttpStatusCode.OK);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var votes = new StringBuilder("item,annotator,question,value\n")
            .Append(CultureInfo.InvariantCulture, $"q1,{tag}-a,vote,a\nq1,{tag}-b,vote,a\nq1,{tag}-c,vote,tie\nq2,{tag}-a,vote,b\nq2,{tag}-b,vote,a\nq2,{tag}-c,vote,b\n");
        await (await QualityTests.ImportAnnotationsAsync(s, project, votes.ToString())).ShouldHaveStatusAsync(HttpStatusCode.OK);

        var (exit, output, error) = await RunAsync(app, "leaderboard", id, "--rounds", "50");
        exit.ShouldBe(0, error);
        output.ShouldContain("6 votes on 'vote'");
        output.ShouldContain("alpha");
        output.ShouldContain("category = math: 6 votes");

        (exit, output, _) = await RunAsync(app, "leaderboard", id, "--json", "--rounds", "50");
        exit.ShouldBe(0);
        var board = JsonNode.Parse(output)!["board"]!;
        // alpha: 4 wins, 1 loss, 1 tie = 4.5 of 6 half-wins; beta 1.5. Two models: p_alpha / p_beta = 4.5 / 1.5 = 3,
        // so the ratings sit 400·log10(3) apart around 1000.
        var models = board["models"]!.AsArray();
        models[0]!["model"]!.GetValue<string>().ShouldBe("alpha");
        models[0]!["rating"]!.GetValue<double>().ShouldBe(1000 + (200 * Math.Log10(3)), 1e-6);
        models[1]!["rating"]!.GetValue<double>().ShouldBe(1000 - (200 * Math.Log10(3)), 1e-6);
        models[0]!["ties"]!.GetValue<int>().ShouldBe(1);
    }

    [Fact]
    public async Task Findings_ProjectWithoutRedTeamQuestions_ExplainsAndFails()
    {
        var app = SharedApps.Get("sqlite");
        var project = await new Scenario(app).CreateProjectAsync("pairwise");

        var (exit, _, error) = await RunAsync(app, "findings", project.ToString(CultureInfo.InvariantCulture));

        exit.ShouldNotBe(0);
        error.ShouldContain("red-team template");
    }
}

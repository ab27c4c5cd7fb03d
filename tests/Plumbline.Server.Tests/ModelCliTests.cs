using System.Globalization;
using Plumbline.Cli;

namespace Plumbline.Server.Tests;

/// <summary><c>plumbline provider …</c> and <c>plumbline generate</c> in-process against the app on its real port.</summary>
public class ModelCliTests
{
    private static async Task<(int Exit, string Out, string Err)> RunAsync(TestApp app, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync([.. args, "--server", app.BaseAddress.ToString(), "--token", TestApp.AdminToken], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task ProviderAddThenGenerate_WaitsForTheJobAndReportsTokensAndCost(string provider)
    {
        var app = SharedApps.Get(provider);
        await using var fake = await FakeOpenAi.StartAsync();
        var key = ProviderTests.NewKey();
        var variable = "PLUMBLINE_TEST_KEY_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, key);
        fake.RequiredApiKey = key;
        var name = "c" + Guid.NewGuid().ToString("N")[..6];

        var (exit, output, error) = await RunAsync(app, "provider", "add", name, "--base-url", fake.BaseUrl, "--model", "fake-model-1",
            "--api-key-env", variable, "--price-in", "1", "--price-out", "2", "--rate-limit", "6000", "--param", "temperature=0.5", "--param", "stop=[\"\\n\\n\"]");
        exit.ShouldBe(0, error);
        long.Parse(output.Trim(), CultureInfo.InvariantCulture).ShouldBeGreaterThan(0);

        (exit, output, _) = await RunAsync(app, "provider", "list");
        exit.ShouldBe(0);
        output.ShouldMatch($@"│ {name}\s+│ fake-model-1\s+│ …{key[^4..]}\s+│ 6000/min\s+│ 1 / 2");
        output.ShouldNotContain(key[8..]);
        (exit, output, _) = await RunAsync(app, "provider", "list", "--json");
        var added = JsonNode.Parse(output)!.AsArray().Single(p => p!["name"]!.GetValue<string>() == name)!;
        added["parameters"]!["temperature"]!.GetValue<double>().ShouldBe(0.5);
        added["parameters"]!["stop"]![0]!.GetValue<string>().ShouldBe("\n\n");
        added["rateLimitPerMinute"]!.GetValue<int>().ShouldBe(6000);

        (exit, output, error) = await RunAsync(app, "provider", "test", name, "--prompt", "ping");
        exit.ShouldBe(0, error);
        output.Trim().ShouldBe("Echo: ping");

        var project = await GenerationTests.ProjectWithItemsAsync(new Scenario(app), 4);
        var id = project.ToString(CultureInfo.InvariantCulture);
        (exit, output, error) = await RunAsync(app, "generate", id, "--provider", name, "--n", "2", "--filter", "id=item-1", "--filter", "id=item-2");
        exit.ShouldBe(0, error);
        // 2 items × 2 answers, each 2 prompt tokens and 3 completion tokens, at 1 and 2 per million.
        error.ShouldContain("succeeded: 2 done, 0 skipped, 0 failed of 2; 8 prompt + 12 completion tokens, cost 0.000032");
        var jobId = long.Parse(output.Trim(), CultureInfo.InvariantCulture);
        (await app.Client().GetFromJsonAsync<JsonObject>($"api/v1/jobs/{jobId}"))!["done"]!.GetValue<int>().ShouldBe(2);

        (exit, output, error) = await RunAsync(app, "generate", id, "--provider", name, "--detach", "--json");
        exit.ShouldBe(0, error);
        var detached = JsonNode.Parse(output)!;
        detached["status"]!.GetValue<string>().ShouldBe("queued");
        var finished = await GenerationTests.WaitForJobAsync(app.Client(), detached["id"]!.GetValue<long>());
        // item-1 and item-2 have their candidates already: only item-0 and item-3 are asked.
        finished["done"]!.GetValue<int>().ShouldBe(2);
        finished["skipped"]!.GetValue<int>().ShouldBe(2);
        Environment.SetEnvironmentVariable(variable, null);
    }

    [Fact]
    public async Task ProviderAddAndGenerate_WithBadInput_OneLineErrorAndNonZeroExit()
    {
        var app = SharedApps.Get("sqlite");
        var (exit, _, error) = await RunAsync(app, "provider", "add", "x", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--api-key-env", "PLUMBLINE_NOT_SET_ANYWHERE");
        exit.ShouldBe(1);
        error.Trim().ShouldBe("error: environment variable PLUMBLINE_NOT_SET_ANYWHERE is not set; export it with the API key first");

        (exit, _, error) = await RunAsync(app, "generate", "1", "--provider", "p", "--filter", "colour=blue");
        exit.ShouldBe(1);
        error.ShouldContain("--filter 'colour=blue' is not understood");

        (exit, _, error) = await RunAsync(app, "generate", "1", "--provider", "no-such-provider-anywhere");
        exit.ShouldBe(1);
        error.ShouldContain("there is no model provider 'no-such-provider-anywhere'");
    }
}

using Plumbline.Cli;

namespace Plumbline.Server.Tests;

/// <summary>The `plumbline` command, run in-process against the app on its real port.</summary>
public class CliTests
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
    public async Task ProjectCreateImportExport_RoundTripThroughTheCli(string provider)
    {
        var app = SharedApps.Get(provider);
        var folder = Directory.CreateTempSubdirectory("plumbline-cli-").FullName;
        var (exit, output, _) = await RunAsync(app, "project", "create", "CLI pairs", "--template", "pairwise", "--overlap", "2");
        exit.ShouldBe(0);
        var id = long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);

        var file = Path.Combine(folder, "pairs.jsonl");
        await File.WriteAllLinesAsync(file, ["""{"id":"c1","prompt":"Hi","chosen":"Hello!","rejected":"Go away."}""", """{"id":"c2","prompt":"Bye","chosen":"Goodbye!","rejected":"..."}"""]);
        (exit, output, _) = await RunAsync(app, "import", id.ToString(System.Globalization.CultureInfo.InvariantCulture), file);
        exit.ShouldBe(0);
        output.ShouldContain("created 2, updated 0, unchanged 0, dropped 0, rejected 0");

        (exit, output, _) = await RunAsync(app, "project", "show", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        exit.ShouldBe(0);
        output.ShouldContain("2 (0 complete)");

        var exported = Path.Combine(folder, "out.jsonl");
        (exit, _, _) = await RunAsync(app, "export", id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--format", "raw", "-o", exported);
        exit.ShouldBe(0);
        var lines = await File.ReadAllLinesAsync(exported);
        lines.Length.ShouldBe(2);
        JsonNode.Parse(lines[0])!["external_id"]!.GetValue<string>().ShouldBe("c1");
    }

    [Fact]
    public async Task ProjectShowJson_IsTheSchemaDocumentThatCreateAccepts()
    {
        var app = SharedApps.Get("sqlite");
        var folder = Directory.CreateTempSubdirectory("plumbline-cli-").FullName;
        var (_, created, _) = await RunAsync(app, "project", "create", "Original", "--template", "conversation", "--overlap", "4");
        var (exit, schema, _) = await RunAsync(app, "project", "show", created.Trim(), "--json");
        exit.ShouldBe(0);
        var schemaFile = Path.Combine(folder, "schema.json");
        await File.WriteAllTextAsync(schemaFile, schema);

        var (copyExit, copy, _) = await RunAsync(app, "project", "create", "Copy", "--schema", schemaFile);
        copyExit.ShouldBe(0);
        var (_, copiedSchema, _) = await RunAsync(app, "project", "show", copy.Trim(), "--json");
        copiedSchema.ShouldBe(schema);
        JsonNode.Parse(schema)!["workflow"]!["overlap"]!.GetValue<int>().ShouldBe(4);
        JsonNode.Parse(schema)!["questions"]![0]!["perTurn"]!.GetValue<string>().ShouldBe("conversation");
    }

    [Fact]
    public async Task UsersTokensAndMembers_AreManagedFromTheCli()
    {
        var app = SharedApps.Get("sqlite");
        var email = Scenario.UniqueEmail("cli");
        (await RunAsync(app, "user", "create", email, "--password", "long-enough-1")).Exit.ShouldBe(0);
        var (_, project, _) = await RunAsync(app, "project", "create", "Members", "--template", "sft-write");
        var (exit, output, _) = await RunAsync(app, "project", "member", "add", project.Trim(), email, "--role", "annotator");
        exit.ShouldBe(0);
        output.ShouldContain("annotator");

        var (tokenExit, token, _) = await RunAsync(app, "token", "create", "--user", email);
        tokenExit.ShouldBe(0);
        var me = await app.Client(token.Trim()).GetFromJsonAsync<JsonObject>("api/v1/me");
        me!["email"]!.GetValue<string>().ShouldBe(email);

        (exit, output, _) = await RunAsync(app, "token", "list", "--user", email, "--json");
        exit.ShouldBe(0);
        var tokenId = JsonNode.Parse(output)!.AsArray().Single()!["id"]!.ToJsonString();
        (await RunAsync(app, "token", "revoke", tokenId)).Exit.ShouldBe(0);
        (await app.Client(token.Trim()).GetAsync("api/v1/me")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Errors_AreOneClearLineAndANonZeroExit()
    {
        var app = SharedApps.Get("sqlite");
        var (exit, _, error) = await RunAsync(app, "project", "create", "Bad", "--template", "no-such-template");
        exit.ShouldBe(1);
        error.ShouldContain("unknown template 'no-such-template'");

        var folder = Directory.CreateTempSubdirectory("plumbline-cli-").FullName;
        var (_, project, _) = await RunAsync(app, "project", "create", "Bad lines", "--template", "sft-write");
        var file = Path.Combine(folder, "bad.jsonl");
        await File.WriteAllTextAsync(file, "{\"id\":\"1\",\"prompt\":\"ok\"}\n{not json}\n");
        (exit, var output, error) = await RunAsync(app, "import", project.Trim(), file);
        exit.ShouldBe(1);
        error.ShouldContain("line 2:");
        output.ShouldContain("nothing was imported");

        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var unreachable = await CliApp.RunAsync(["project", "list", "--server", "http://127.0.0.1:9", "--token", "x"], stdout, stderr);
        unreachable.ShouldBe(2);
        stderr.ToString().ShouldContain("cannot reach the server");
    }
}

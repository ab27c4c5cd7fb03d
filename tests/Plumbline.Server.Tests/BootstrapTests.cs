using Microsoft.EntityFrameworkCore;
using Plumbline.Server.Hosting;

namespace Plumbline.Server.Tests;

public class BootstrapTests
{
    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task FirstStart_AdminTokenFromEnvironment_AuthenticatesAndDemoProjectHasItems(string provider)
    {
        var app = SharedApps.Get(provider);
        var me = await app.Client().GetFromJsonAsync<JsonObject>("api/v1/me");
        me!["email"]!.GetValue<string>().ShouldBe(Bootstrap.DefaultAdminEmail);
        me["isAdmin"]!.GetValue<bool>().ShouldBeTrue();

        var projects = await app.Client().GetFromJsonAsync<JsonArray>("api/v1/projects");
        var demo = projects!.Single(p => p!["name"]!.GetValue<string>() == Bootstrap.DemoProjectName)!;
        demo["counts"]!["items"]!.GetValue<int>().ShouldBeGreaterThanOrEqualTo(24);
        demo["guidelineVersion"]!.GetValue<int>().ShouldBe(1);
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task FirstStart_OnAnEmptyDatabase_LogsNoError(string provider)
    {
        // Data Protection reads its key ring from the database as the host starts: before the migrations ran,
        // that logged "no such table: data_protection_keys" on every first start.
        using var app = new TestApp(provider, captureLogs: true);
        (await app.Client().GetAsync("api/v1/me")).StatusCode.ShouldBe(HttpStatusCode.OK);
        app.Logs!.Lines.Where(line => line.StartsWith("Error ", StringComparison.Ordinal) || line.StartsWith("Critical ", StringComparison.Ordinal))
            .ShouldBeEmpty();
    }

    [Fact]
    public async Task Sqlite_Database_IsInWalMode()
    {
        await using var db = SharedApps.Get("sqlite").NewDbContext();
        var mode = await db.Database.SqlQueryRaw<string>("PRAGMA journal_mode").ToListAsync();
        mode.Single().ShouldBe("wal");
    }

    [Theory]
    [MemberData(nameof(SharedApps.Providers), MemberType = typeof(SharedApps))]
    public async Task Model_HasNoChangesMissingFromMigrations(string provider)
    {
        // A model change without `tools/ef/add-migration.sh` would leave one provider's schema behind.
        await using var db = SharedApps.Get(provider).NewDbContext();
        db.Database.HasPendingModelChanges().ShouldBeFalse();
    }

    [Fact]
    public async Task Request_WithoutToken_Is401_AndWithRevokedToken_Is401()
    {
        var app = SharedApps.Get("sqlite");
        (await app.Client(token: null).GetAsync("api/v1/projects")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var created = await (await app.Client().PostAsJsonAsync("api/v1/tokens", new { name = "short-lived" })).Content.ReadFromJsonAsync<JsonObject>();
        var token = created!["token"]!.GetValue<string>();
        (await app.Client(token).GetAsync("api/v1/me")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await app.Client().DeleteAsync($"api/v1/tokens/{created["id"]}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await app.Client(token).GetAsync("api/v1/me")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheQueueEndpoints()
    {
        var doc = await SharedApps.Get("sqlite").Client(token: null).GetFromJsonAsync<JsonObject>("openapi/v1.json");
        var paths = doc!["paths"]!.AsObject();
        paths.ContainsKey("/api/v1/projects/{id}/queue/next").ShouldBeTrue();
        paths.ContainsKey("/api/v1/assignments/{id}/submit").ShouldBeTrue();
        paths.ContainsKey("/api/v1/projects/{id}/import").ShouldBeTrue();
    }
}

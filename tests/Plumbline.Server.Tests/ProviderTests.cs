using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Plumbline.Data;
using Plumbline.Server.Features.Models;

namespace Plumbline.Server.Tests;

public class ProviderTests
{
    public static TheoryData<string> Providers => SharedApps.Providers;

    internal static string NewKey() => "sk-test-" + Guid.NewGuid().ToString("N");

    internal static async Task<JsonObject> CreateProviderAsync(HttpClient admin, string baseUrl, string? apiKey = null, object? extra = null,
        string? name = null)
    {
        var body = new JsonObject
        {
            ["name"] = name ?? "fake-" + Guid.NewGuid().ToString("N")[..10], ["baseUrl"] = baseUrl, ["model"] = "fake-model-1", ["apiKey"] = apiKey,
        };
        foreach (var (key, value) in extra is null ? [] : JsonSerializer.SerializeToNode(extra, JsonSerializerOptions.Web)!.AsObject())
        {
            body[key] = value?.DeepClone();
        }
        var response = await admin.PostAsJsonAsync("api/v1/providers", body);
        await response.ShouldHaveStatusAsync(HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task CreateProvider_WithApiKey_StoresItEncryptedAndNeverReturnsIt(string provider)
    {
        var app = SharedApps.Get(provider);
        var admin = app.Client();
        var key = NewKey();

        var created = await CreateProviderAsync(admin, "http://127.0.0.1:9/v1", key,
            new { parameters = new { temperature = 0.2, max_tokens = 64 }, rateLimitPerMinute = 120, pricePerMillionInput = 0.15, pricePerMillionOutput = 0.6 });
        created["hasApiKey"]!.GetValue<bool>().ShouldBeTrue();
        created["apiKeyHint"]!.GetValue<string>().ShouldBe(key[^4..]);
        created["parameters"]!["max_tokens"]!.GetValue<int>().ShouldBe(64);
        created["rateLimitPerMinute"]!.GetValue<int>().ShouldBe(120);
        created.ToJsonString().ShouldNotContain(key);
        var id = created["id"]!.GetValue<long>();
        var name = created["name"]!.GetValue<string>();

        (await admin.GetStringAsync("api/v1/providers")).ShouldNotContain(key[..20]);
        var byName = await admin.GetStringAsync($"api/v1/providers/{name}");
        byName.ShouldContain(name);
        byName.ShouldNotContain(key[..20]);

        using var db = app.NewDbContext();
        var row = await db.Set<ModelProvider>().AsNoTracking().SingleAsync(p => p.Id == id);
        row.ApiKeyProtected.ShouldNotBeNull();
        row.ApiKeyProtected.ShouldNotContain(key[8..]);
        // Only the purpose string opens it: the key is bound to what it protects.
        var protection = app.Services.GetRequiredService<IDataProtectionProvider>();
        protection.CreateProtector(ModelProviders.ApiKeyPurpose).Unprotect(row.ApiKeyProtected).ShouldBe(key);
        Should.Throw<System.Security.Cryptography.CryptographicException>(() => protection.CreateProtector("another purpose").Unprotect(row.ApiKeyProtected));
        (await db.AuditEvents.AsNoTracking().Where(e => e.Action == "provider.create" && e.EntityId == id.ToString()).SingleAsync())
            .DataJson!.ShouldNotContain(key[8..]);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task UpdateProvider_ChangesOnlyWhatIsGiven_AndEmptyKeyRemovesIt(string provider)
    {
        var admin = SharedApps.Get(provider).Client();
        var created = await CreateProviderAsync(admin, "http://127.0.0.1:9/v1", NewKey(), new { rateLimitPerMinute = 30 });
        var id = created["id"]!.GetValue<long>();

        var patched = await admin.PatchAsJsonAsync($"api/v1/providers/{id}", new { model = "fake-model-2", timeoutSeconds = 30 });
        await patched.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var after = (await patched.Content.ReadFromJsonAsync<JsonObject>())!;
        after["model"]!.GetValue<string>().ShouldBe("fake-model-2");
        after["timeoutSeconds"]!.GetValue<int>().ShouldBe(30);
        after["rateLimitPerMinute"]!.GetValue<int>().ShouldBe(30);
        after["hasApiKey"]!.GetValue<bool>().ShouldBeTrue();

        var removed = (await (await admin.PatchAsJsonAsync($"api/v1/providers/{id}", new { apiKey = "", rateLimitPerMinute = 0 })).Content.ReadFromJsonAsync<JsonObject>())!;
        removed["hasApiKey"]!.GetValue<bool>().ShouldBeFalse();
        removed["apiKeyHint"].ShouldBeNull();
        removed["rateLimitPerMinute"].ShouldBeNull();

        (await admin.DeleteAsync($"api/v1/providers/{id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await admin.GetAsync($"api/v1/providers/{id}")).StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task CreateProvider_WithBadSettings_SaysWhatIsWrong()
    {
        var admin = SharedApps.Get("sqlite").Client();
        async Task<string> RefusedAsync(object body, HttpStatusCode status = HttpStatusCode.BadRequest)
        {
            var response = await admin.PostAsJsonAsync("api/v1/providers", body);
            await response.ShouldHaveStatusAsync(status);
            return (await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"]!.GetValue<string>();
        }

        (await RefusedAsync(new { name = "x", baseUrl = "ftp://example.com", model = "m" })).ShouldContain("not an http(s) URL");
        (await RefusedAsync(new { name = "x", baseUrl = "https://user:pw@example.com/v1", model = "m" })).ShouldContain("credentials go in the API key");
        (await RefusedAsync(new { name = "has space", baseUrl = "https://example.com/v1", model = "m" })).ShouldContain("not a usable provider name");
        (await RefusedAsync(new { name = "123", baseUrl = "https://example.com/v1", model = "m" })).ShouldContain("only digits");
        (await RefusedAsync(new { name = "x", baseUrl = "https://example.com/v1" })).ShouldContain("needs a model");
        (await RefusedAsync(new { name = "x", baseUrl = "https://example.com/v1", model = "m", parameters = new { stream = true } }))
            .ShouldContain("'stream' is set by Plumbline");
        (await RefusedAsync(new { name = "x", baseUrl = "https://example.com/v1", model = "m", timeoutSeconds = 0 })).ShouldContain("timeoutSeconds");

        var existing = await CreateProviderAsync(admin, "https://example.com/v1");
        (await RefusedAsync(new { name = existing["name"]!.GetValue<string>(), baseUrl = "https://example.com/v1", model = "m" }, HttpStatusCode.Conflict))
            .ShouldContain("exists already");
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task ProviderEndpoints_ForNonAdmin_AreForbidden(string provider)
    {
        var app = SharedApps.Get(provider);
        var admin = app.Client();
        var created = await CreateProviderAsync(admin, "http://127.0.0.1:9/v1", NewKey());
        var id = created["id"]!.GetValue<long>();
        var email = Scenario.UniqueEmail("user");
        (await admin.PostAsJsonAsync("api/v1/users", new { email })).EnsureSuccessStatusCode();
        var token = (await (await admin.PostAsJsonAsync("api/v1/tokens", new { userEmail = email })).Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        var user = app.Client(token);

        (await user.GetAsync("api/v1/providers")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await user.GetAsync($"api/v1/providers/{id}")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await user.PostAsJsonAsync("api/v1/providers", new { name = "mine", baseUrl = "https://example.com/v1", model = "m" })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await user.PatchAsJsonAsync($"api/v1/providers/{id}", new { baseUrl = "https://attacker.example/v1" })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await user.PostAsJsonAsync($"api/v1/providers/{id}/test", new { })).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await user.DeleteAsync($"api/v1/providers/{id}")).StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await app.Client(token: null).GetAsync("api/v1/providers")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await admin.GetFromJsonAsync<JsonObject>($"api/v1/providers/{id}"))!["baseUrl"]!.GetValue<string>().ShouldBe("http://127.0.0.1:9/v1");
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task TestProvider_AgainstFakeServer_SendsTheKeyAndReportsTokensAndCost(string provider)
    {
        await using var fake = await FakeOpenAi.StartAsync();
        var admin = SharedApps.Get(provider).Client();
        var key = NewKey();
        fake.RequiredApiKey = key;
        var created = await CreateProviderAsync(admin, fake.BaseUrl, key,
            new { parameters = new { temperature = 0.3 }, pricePerMillionInput = 2.0, pricePerMillionOutput = 10.0 });
        var id = created["id"]!.GetValue<long>();

        var response = await admin.PostAsJsonAsync($"api/v1/providers/{id}/test", new { prompt = "Say hello to the tests" });
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        var result = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        result["content"]!.GetValue<string>().ShouldBe("Echo: Say hello to the tests");
        result["model"]!.GetValue<string>().ShouldBe("fake-model-1");
        result["promptTokens"]!.GetValue<int>().ShouldBe(5);
        result["completionTokens"]!.GetValue<int>().ShouldBe(6);
        // 5 prompt tokens at 2 per million plus 6 completion tokens at 10 per million.
        result["cost"]!.GetValue<double>().ShouldBe((5 * 2.0 + 6 * 10.0) / 1_000_000, 1e-12);

        var received = fake.Requests.Single();
        received.Authorization.ShouldBe("Bearer " + key);
        received.Body["temperature"]!.GetValue<double>().ShouldBe(0.3);
        received.Stream.ShouldBeFalse();

        var streamed = (await (await admin.PostAsJsonAsync($"api/v1/providers/{id}/test", new { prompt = "one two three", stream = true }))
            .Content.ReadFromJsonAsync<JsonObject>())!;
        streamed["content"]!.GetValue<string>().ShouldBe("Echo: one two three");
        streamed["chunks"]!.GetValue<int>().ShouldBe(4);
        streamed["completionTokens"]!.GetValue<int>().ShouldBe(4);
        fake.Requests.Last().Stream.ShouldBeTrue();
    }

    [Fact]
    public async Task ApiKey_IsNeverInApiAnswersLogsOrPages()
    {
        using var app = new TestApp("sqlite", captureLogs: true);
        await using var fake = await FakeOpenAi.StartAsync();
        var admin = app.Client();
        var key = NewKey();
        var created = await CreateProviderAsync(admin, fake.BaseUrl, key);
        var id = created["id"]!.GetValue<long>();
        var answers = new List<string> { created.ToJsonString() };

        // A success, a stream, retries after 429 and 500, and a provider that quotes the wrong key back in its error.
        answers.Add(await (await admin.PostAsJsonAsync($"api/v1/providers/{id}/test", new { })).Content.ReadAsStringAsync());
        answers.Add(await (await admin.PostAsJsonAsync($"api/v1/providers/{id}/test", new { stream = true })).Content.ReadAsStringAsync());
        fake.FailNext(1, HttpStatusCode.TooManyRequests, TimeSpan.FromSeconds(1), "Rate limit reached");
        fake.FailNext(1, HttpStatusCode.InternalServerError);
        answers.Add(await (await admin.PostAsJsonAsync($"api/v1/providers/{id}/test", new { })).Content.ReadAsStringAsync());
        fake.RequiredApiKey = "sk-the-right-one";
        var refused = await admin.PostAsJsonAsync($"api/v1/providers/{id}/test", new { });
        await refused.ShouldHaveStatusAsync(HttpStatusCode.BadGateway);
        var refusal = await refused.Content.ReadAsStringAsync();
        refusal.ShouldContain("401");
        refusal.ShouldContain("Incorrect API key provided: [api key]");
        answers.Add(refusal);
        answers.Add(await admin.GetStringAsync("api/v1/providers"));
        answers.Add(await admin.GetStringAsync($"api/v1/providers/{id}"));
        answers.Add(await admin.GetStringAsync("openapi/v1.json"));
        fake.Requests.Count(r => r.Authorization == "Bearer " + key).ShouldBe(6);

        using var handler = new HttpClientHandler { UseCookies = true };
        using var browser = new HttpClient(handler) { BaseAddress = app.BaseAddress };
        await SignInAsync(browser);
        foreach (var page in new[] { "/", "/projects/new" })
        {
            answers.Add(await browser.GetStringAsync(page));
        }

        foreach (var answer in answers)
        {
            answer.ShouldNotContain(key[8..]);
        }
        app.Logs!.Lines.Count.ShouldBeGreaterThan(50);
        app.Logs.Text.ShouldContain("Model request retried");
        app.Logs.Text.ShouldNotContain(key[8..]);
    }

    internal static async Task SignInAsync(HttpClient browser)
    {
        var form = await browser.GetStringAsync("/login");
        var token = System.Text.RegularExpressions.Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        using var body = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token, ["email"] = "admin@localhost", ["password"] = "admin-password-123",
        });
        (await browser.PostAsync("/login", body)).EnsureSuccessStatusCode();
    }
}

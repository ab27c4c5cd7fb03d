using System.Text;

namespace Plumbline.Server.Tests.Infrastructure;

/// <summary>Intent-level helpers over the HTTP API: create a project, a user with a token, import, claim, submit.</summary>
public sealed class Scenario(TestApp app)
{
    public TestApp App { get; } = app;
    public HttpClient Admin { get; } = app.Client();

    public static string UniqueEmail(string who) => $"{who}-{Guid.NewGuid():N}@example.com";

    public async Task<long> CreateProjectAsync(string template, int? overlap = null, JsonNode? schema = null)
    {
        var response = await Admin.PostAsJsonAsync("api/v1/projects", new
        {
            name = $"{template} {Guid.NewGuid():N}", template = schema is null ? template : null, schema, overlap,
        });
        await response.ShouldHaveStatusAsync(HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<long>();
    }

    /// <summary>A new user who is a member of <paramref name="projectId"/> with <paramref name="role"/>; returns a client with their token.</summary>
    public async Task<(HttpClient Client, string Email)> MemberAsync(long projectId, string role = "annotator")
    {
        var email = UniqueEmail(role);
        (await Admin.PostAsJsonAsync("api/v1/users", new { email })).EnsureSuccessStatusCode();
        (await Admin.PostAsJsonAsync($"api/v1/projects/{projectId}/members", new { email, role })).EnsureSuccessStatusCode();
        var token = (await (await Admin.PostAsJsonAsync("api/v1/tokens", new { userEmail = email })).Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        return (App.Client(token), email);
    }

    public async Task<HttpResponseMessage> ImportAsync(long projectId, string content, string format = "auto")
    {
        using var body = new ByteArrayContent(Encoding.UTF8.GetBytes(content));
        return await Admin.PostAsync($"api/v1/projects/{projectId}/import?format={format}", body);
    }

    public async Task<HttpResponseMessage> ImportBytesAsync(long projectId, byte[] content, string format = "auto")
    {
        using var body = new ByteArrayContent(content);
        return await Admin.PostAsync($"api/v1/projects/{projectId}/import?format={format}", body);
    }

    /// <summary>Imports <paramref name="count"/> pairwise items with ids item-0 …</summary>
    public async Task ImportPairsAsync(long projectId, int count)
    {
        var lines = Enumerable.Range(0, count).Select(i =>
            $$"""{"id":"item-{{i}}","prompt":"Question {{i}}?","chosen":"Good answer {{i}}","rejected":"Bad answer {{i}}"}""");
        var response = await ImportAsync(projectId, string.Join('\n', lines));
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
    }

    public static async Task<JsonObject?> NextAsync(HttpClient annotator, long projectId)
    {
        var response = await annotator.PostAsync($"api/v1/projects/{projectId}/queue/next", null);
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }
        await response.ShouldHaveStatusAsync(HttpStatusCode.OK);
        return await response.Content.ReadFromJsonAsync<JsonObject>();
    }

    public static Task<HttpResponseMessage> SubmitAsync(HttpClient annotator, long assignmentId, JsonObject values, bool next = false) =>
        annotator.PostAsJsonAsync($"api/v1/assignments/{assignmentId}/submit{(next ? "?next=true" : "")}", new { values });

    public static JsonObject Prefer(string choice) => new() { ["preference"] = new JsonObject { ["choice"] = choice } };
}

public static class ResponseAssertions
{
    /// <summary>Asserts the status, showing the body when it differs (a ProblemDetails says why).</summary>
    public static async Task ShouldHaveStatusAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            throw new Shouldly.ShouldAssertException($"expected HTTP {(int)expected} but got {(int)response.StatusCode}: {body}");
        }
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Cli;

/// <summary>A failure the user can act on; printed as one line, with a non-zero exit code.</summary>
public sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Talks to a Plumbline server over its HTTP API with a bearer token.</summary>
public sealed class ApiClient : IDisposable
{
    private readonly HttpClient http;

    public Uri Server { get; }

    public ApiClient(string server, string? token)
    {
        Server = new Uri(server.TrimEnd('/') + "/");
        // Imports and exports stream for as long as the file is; Ctrl+C cancels them.
        http = new HttpClient { BaseAddress = Server, Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(token))
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public Task<JsonNode?> GetAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Get, path, null, ct);

    public Task<JsonNode?> PostAsync(string path, object? body, CancellationToken ct) => SendAsync(HttpMethod.Post, path, body, ct);

    public Task<JsonNode?> DeleteAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Delete, path, null, ct);

    public async Task<JsonNode?> SendAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: JsonSerializerOptions.Web);
        }
        using var response = await SendRawAsync(request, ct);
        return await ReadAsync(response, ct);
    }

    /// <summary>Sends a request and returns the response as it starts; errors are turned into <see cref="CliException"/>.</summary>
    public async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, CancellationToken ct, bool allowUnprocessable = false)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new CliException($"cannot reach the server at {Server} ({ex.Message}); is `plumbline serve` running? Set --server or PLUMBLINE_URL.", 2);
        }
        if (response.IsSuccessStatusCode || (allowUnprocessable && response.StatusCode == HttpStatusCode.UnprocessableEntity))
        {
            return response;
        }
        using (response)
        {
            throw new CliException(await DescribeErrorAsync(response, ct));
        }
    }

    private static async Task<JsonNode?> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }
        var text = await response.Content.ReadAsStringAsync(ct);
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }

    private static async Task<string> DescribeErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            return "not signed in: pass --token or set PLUMBLINE_TOKEN (create one with `plumbline login` or `plumbline token create`)";
        }
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            var problem = JsonNode.Parse(text);
            var detail = problem?["detail"]?.GetValue<string>() ?? problem?["title"]?.GetValue<string>() ?? text;
            if (problem?["errors"] is JsonObject errors)
            {
                detail += ": " + string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value!.AsArray().Select(v => v!.GetValue<string>()))}"));
            }
            return $"{detail} (HTTP {status})";
        }
        catch (JsonException)
        {
            return $"the server answered HTTP {status}{(text.Length > 0 ? ": " + text[..Math.Min(text.Length, 300)] : "")}";
        }
    }

    public void Dispose() => http.Dispose();
}

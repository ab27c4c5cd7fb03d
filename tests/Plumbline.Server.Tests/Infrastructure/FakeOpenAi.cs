using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Plumbline.Server.Tests.Infrastructure;

/// <summary>One request the fake received, as it arrived.</summary>
/// <param name="Body">The JSON body.</param>
/// <param name="Authorization">The Authorization header, e.g. <c>Bearer sk-…</c>; null when none was sent.</param>
public sealed record FakeRequest(JsonObject Body, string? Authorization)
{
    public string Model => Body["model"]?.GetValue<string>() ?? "";
    public bool Stream => Body["stream"]?.GetValue<bool>() == true;
    public JsonArray Messages => Body["messages"] as JsonArray ?? [];

    /// <summary>The content of the last <c>user</c> message.</summary>
    public string LastUserMessage => Messages.OfType<JsonObject>().LastOrDefault(m => m["role"]?.GetValue<string>() == "user")?["content"]?.GetValue<string>() ?? "";

    /// <summary>The JSON schema of <c>response_format: {type: json_schema}</c>, when the client asked for structured output.</summary>
    public JsonObject? ResponseSchema => Body["response_format"]?["type"]?.GetValue<string>() == "json_schema"
        ? Body["response_format"]?["json_schema"]?["schema"] as JsonObject
        : null;
}

/// <summary>
/// A server that speaks the OpenAI chat-completions protocol on a real 127.0.0.1 port (<c>POST /v1/chat/completions</c>,
/// streaming and not), with scripted behaviour: answers by rule from the request, JSON that follows a requested
/// schema, failures (429 with Retry-After, 500, 401 for a wrong key), answers held back until released, and a record
/// of every request with its Authorization header. Usage counts one token per whitespace-separated word, so tests
/// can compute expected token counts and costs by hand.
/// </summary>
public sealed class FakeOpenAi : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentQueue<(int Status, TimeSpan? RetryAfter, string Message)> failures = new();
    private volatile TaskCompletionSource held = Released();
    private int answered;
    private int admitted;
    private volatile int admitLimit;

    private FakeOpenAi(WebApplication app) => this.app = app;

    /// <summary>The API root to give a provider (<c>http://127.0.0.1:PORT/v1</c>).</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>Every request received (failed ones too), in arrival order.</summary>
    public ConcurrentQueue<FakeRequest> Requests { get; } = new();

    /// <summary>The answer's text for a request; by default <c>Echo: {last user message}</c>, or JSON following the requested schema.</summary>
    public Func<FakeRequest, string>? Answer { get; set; }

    /// <summary>When set, requests without <c>Authorization: Bearer {RequiredApiKey}</c> get 401 as OpenAI answers it.</summary>
    public string? RequiredApiKey { get; set; }

    /// <summary>Words per streamed chunk.</summary>
    public int WordsPerChunk { get; set; } = 1;

    /// <summary>
    /// A stalled answer: 200 and its headers are sent (and, when streaming, this many chunks), then nothing more until the
    /// client gives up or the fake is disposed. Null (the default) answers normally.
    /// </summary>
    public int? StallAfterChunks { get; set; }

    /// <summary>Requests answered with 200 so far.</summary>
    public int Answered => Volatile.Read(ref answered);

    public static async Task<FakeOpenAi> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var fake = new FakeOpenAi(app);
        app.MapPost("/v1/chat/completions", fake.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.BaseUrl = address.TrimEnd('/') + "/v1";
        return fake;
    }

    /// <summary>The next <paramref name="count"/> requests fail with <paramref name="status"/> (and a Retry-After header when given).</summary>
    public void FailNext(int count, HttpStatusCode status, TimeSpan? retryAfter = null, string message = "The server had an error while processing your request.")
    {
        for (var i = 0; i < count; i++)
        {
            failures.Enqueue(((int)status, retryAfter, message));
        }
    }

    /// <summary>Requests wait (they are recorded first) until <see cref="Release"/>: a slow model, without timing.</summary>
    public void Hold()
    {
        held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref admitted, 0);
        admitLimit = 0;
    }

    /// <summary>The first <paramref name="answers"/> requests from now are answered; later ones wait until <see cref="Release"/>.</summary>
    public void HoldAfter(int answers)
    {
        Hold();
        admitLimit = answers;
    }

    public void Release() => held.TrySetResult();

    /// <summary>How many requests have arrived (held ones included).</summary>
    public int Received => Requests.Count;

    /// <summary>Waits until <paramref name="count"/> requests have arrived; fails after a minute so a broken test cannot hang.</summary>
    public async Task WaitForRequestsAsync(int count)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        while (Requests.Count < count)
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    private async Task HandleAsync(HttpContext http)
    {
        var body = await JsonNode.ParseAsync(http.Request.Body) as JsonObject ?? [];
        var request = new FakeRequest(body, http.Request.Headers.Authorization.FirstOrDefault());
        Requests.Enqueue(request);
        if (RequiredApiKey is { } key && request.Authorization != "Bearer " + key)
        {
            // OpenAI quotes part of the wrong key back; a client must not pass that on.
            await ErrorAsync(http, 401, null, $"Incorrect API key provided: {request.Authorization?.Replace("Bearer ", "", StringComparison.Ordinal)}.");
            return;
        }
        if (failures.TryDequeue(out var failure))
        {
            await ErrorAsync(http, failure.Status, failure.RetryAfter, failure.Message);
            return;
        }
        try
        {
            if (Interlocked.Increment(ref admitted) > admitLimit)
            {
                await held.Task.WaitAsync(http.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var content = Answer?.Invoke(request) ?? (request.ResponseSchema is { } schema ? (Instance(schema)?.ToJsonString() ?? "null") : "Echo: " + request.LastUserMessage);
        var promptTokens = request.Messages.OfType<JsonObject>().Sum(m => Words(m["content"]?.GetValue<string>() ?? ""));
        var usage = new JsonObject
        {
            ["prompt_tokens"] = promptTokens, ["completion_tokens"] = Words(content), ["total_tokens"] = promptTokens + Words(content),
        };
        Interlocked.Increment(ref answered);
        if (StallAfterChunks is { } stallAfter)
        {
            await StallAsync(http, request, content, stallAfter);
            return;
        }
        if (!request.Stream)
        {
            await http.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = "chatcmpl-" + Guid.NewGuid().ToString("N"), ["object"] = "chat.completion", ["created"] = 1_700_000_000, ["model"] = request.Model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content }, ["finish_reason"] = "stop",
                }),
                ["usage"] = usage,
            });
            return;
        }
        http.Response.ContentType = "text/event-stream";
        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        JsonObject Chunk(JsonObject? delta, string? finish) => new()
        {
            ["id"] = id, ["object"] = "chat.completion.chunk", ["created"] = 1_700_000_000, ["model"] = request.Model,
            ["choices"] = delta is null ? new JsonArray() : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish }),
        };
        await SendAsync(http, Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null));
        foreach (var piece in Pieces(content, WordsPerChunk))
        {
            await SendAsync(http, Chunk(new JsonObject { ["content"] = piece }, null));
        }
        await SendAsync(http, Chunk(new JsonObject(), "stop"));
        if (request.Body["stream_options"]?["include_usage"]?.GetValue<bool>() == true)
        {
            var last = Chunk(null, null);
            last["usage"] = usage;
            await SendAsync(http, last);
        }
        await http.Response.WriteAsync("data: [DONE]\n\n");
    }

    private readonly TaskCompletionSource stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Headers (and a few chunks) out, then silence: the connection stays open, as with a hung model server.</summary>
    private async Task StallAsync(HttpContext http, FakeRequest request, string content, int chunks)
    {
        http.Response.ContentType = request.Stream ? "text/event-stream" : "application/json";
        await http.Response.StartAsync();
        await http.Response.Body.FlushAsync();
        foreach (var piece in Pieces(content, WordsPerChunk).Take(request.Stream ? chunks : 0))
        {
            await SendAsync(http, new JsonObject
            {
                ["id"] = "chatcmpl-stall", ["object"] = "chat.completion.chunk", ["created"] = 1_700_000_000, ["model"] = request.Model,
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { ["content"] = piece }, ["finish_reason"] = null }),
            });
        }
        try
        {
            await stopping.Task.WaitAsync(http.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            // The client gave up: what a stall should lead to.
        }
    }

    private static async Task SendAsync(HttpContext http, JsonObject chunk)
    {
        await http.Response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n");
        await http.Response.Body.FlushAsync();
    }

    private static async Task ErrorAsync(HttpContext http, int status, TimeSpan? retryAfter, string message)
    {
        http.Response.StatusCode = status;
        if (retryAfter is { } after)
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        await http.Response.WriteAsJsonAsync(new JsonObject
        {
            ["error"] = new JsonObject { ["message"] = message, ["type"] = status == 429 ? "rate_limit_error" : "server_error", ["code"] = null },
        });
    }

    /// <summary>Splits text into pieces of <paramref name="words"/> words, keeping the spaces, so the pieces join back to the text.</summary>
    public static IEnumerable<string> Pieces(string text, int words)
    {
        var start = 0;
        var seen = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == ' ' && ++seen % words == 0)
            {
                yield return text[start..(i + 1)];
                start = i + 1;
            }
        }
        if (start < text.Length)
        {
            yield return text[start..];
        }
    }

    /// <summary>The fake's token count: whitespace-separated words.</summary>
    public static int Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>A small document that follows <paramref name="schema"/>: first enum values, "text" for strings, 1 for numbers.</summary>
    public static JsonNode? Instance(JsonNode? schema)
    {
        if (schema is not JsonObject s)
        {
            return null;
        }
        if (s["enum"] is JsonArray { Count: > 0 } options)
        {
            return options[0]?.DeepClone();
        }
        var type = s["type"] is JsonArray types ? types.FirstOrDefault()?.GetValue<string>() : s["type"]?.GetValue<string>();
        switch (type)
        {
            case "object":
                var result = new JsonObject();
                foreach (var (name, property) in s["properties"] as JsonObject ?? [])
                {
                    result[name] = Instance(property);
                }
                return result;
            case "array":
                var minimum = s["minItems"]?.GetValue<int>() ?? 1;
                var array = new JsonArray();
                for (var i = 0; i < Math.Max(1, minimum); i++)
                {
                    array.Add(Instance(s["items"]));
                }
                return array;
            case "integer":
            case "number":
                return JsonValue.Create(s["minimum"]?.GetValue<double>() is { } min ? (int)Math.Ceiling(min) : 1);
            case "boolean":
                return JsonValue.Create(true);
            case "null":
                return null;
            default:
                return JsonValue.Create("text");
        }
    }

    private static TaskCompletionSource Released()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        stopping.TrySetResult();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

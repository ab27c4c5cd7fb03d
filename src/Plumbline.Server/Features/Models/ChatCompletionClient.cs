using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.RateLimiting;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Plumbline.Server.Features.Models;

/// <summary>One message of a chat: <c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>What to ask a model.</summary>
public sealed class ChatRequest
{
    public required IReadOnlyList<ChatMessage> Messages { get; init; }

    /// <summary>Request parameters laid over the provider's defaults (temperature, max_tokens, seed …).</summary>
    public JsonObject? Parameters { get; init; }

    /// <summary>A JSON schema the answer must follow (OpenAI structured output, <c>response_format: json_schema</c>).</summary>
    public JsonObject? ResponseSchema { get; init; }

    /// <summary>The schema's name as the protocol asks for one (letters, digits, _ and -).</summary>
    public string ResponseSchemaName { get; init; } = "answer";
}

/// <summary>Tokens as the provider counted them.</summary>
public sealed record ChatUsage(int PromptTokens, int CompletionTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>A finished answer.</summary>
/// <param name="Content">The assistant's text (for structured output, the JSON document).</param>
/// <param name="Model">The model that answered, as the provider named it.</param>
/// <param name="FinishReason"><c>stop</c>, <c>length</c> …, as the provider said.</param>
/// <param name="Usage">Tokens, when the provider reported them.</param>
/// <param name="Latency">From sending the first attempt to the last byte of the answer, retries included.</param>
/// <param name="FirstTokenLatency">Streaming only: until the first piece of content.</param>
/// <param name="Cost">From <see cref="Usage"/> and the provider's prices; null when either is unknown.</param>
/// <param name="Attempts">1 when the first attempt succeeded.</param>
public sealed record ChatCompletion(string Content, string Model, string? FinishReason, ChatUsage? Usage, TimeSpan Latency,
    TimeSpan? FirstTokenLatency, double? Cost, int Attempts);

/// <summary>A piece of a streamed answer; the last event carries the whole answer in <see cref="Completed"/>.</summary>
public sealed record ChatStreamEvent(string Delta, ChatCompletion? Completed);

/// <summary>
/// The provider could not give an answer: the message says which provider, what it answered (status and its own error
/// message) and how many attempts were made. It never contains the API key.
/// </summary>
public sealed class ModelProviderException(string message, HttpStatusCode? status = null, Exception? inner = null) : Exception(message, inner)
{
    public HttpStatusCode? Status { get; } = status;
}

/// <summary>Retry settings, from configuration (<c>PLUMBLINE_MODEL_MAX_RETRIES</c>, <c>PLUMBLINE_MODEL_RETRY_BASE_MS</c>).</summary>
public sealed class ModelClientOptions
{
    /// <summary>Retries after the first attempt on 408, 429, 5xx, timeouts and connection failures.</summary>
    public int MaxRetries { get; init; } = 4;

    /// <summary>The first backoff delay; it doubles each retry, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A provider's <c>Retry-After</c> is honoured up to this long.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(60);

    public static ModelClientOptions From(IConfiguration configuration) => new()
    {
        MaxRetries = configuration.GetValue("PLUMBLINE_MODEL_MAX_RETRIES", 4),
        RetryBaseDelay = TimeSpan.FromMilliseconds(configuration.GetValue("PLUMBLINE_MODEL_RETRY_BASE_MS", 1000)),
    };
}

/// <summary>
/// Speaks the OpenAI chat-completions protocol (<c>POST {base}/chat/completions</c>), with and without streaming, to any
/// compatible server. Each call is rate limited per provider, retried with exponential backoff and jitter on 408, 429,
/// 5xx, timeouts and connection failures (honouring <c>Retry-After</c>), and bounded by the provider's timeout per attempt.
/// </summary>
/// <remarks>
/// A plain <see cref="HttpClient"/> rather than IHttpClientFactory: the factory's logging handlers write request
/// URIs and, at trace level, headers; this client logs only what it chooses (provider name, status, timing), so the
/// Authorization header cannot reach a log.
/// </remarks>
public sealed class ChatCompletionClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpClient http;
    private readonly ModelClientOptions options;
    private readonly TimeProvider clock;
    private readonly ILogger<ChatCompletionClient> logger;
    private readonly ConcurrentDictionary<long, (int PerMinute, RateLimiter Limiter)> limiters = new();
    private readonly ConcurrentDictionary<TimeSpan, ResiliencePipeline> pipelines = new();

    public ChatCompletionClient(ModelClientOptions options, TimeProvider clock, ILogger<ChatCompletionClient> logger)
        : this(new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }), options, clock, logger)
    {
    }

    internal ChatCompletionClient(HttpClient http, ModelClientOptions options, TimeProvider clock, ILogger<ChatCompletionClient> logger)
    {
        this.http = http;
        // Each attempt has the provider's own timeout (a Polly strategy); the client's would cut across retries.
        this.http.Timeout = Timeout.InfiniteTimeSpan;
        this.options = options;
        this.clock = clock;
        this.logger = logger;
    }

    /// <summary>Asks for one whole answer.</summary>
    public async Task<ChatCompletion> CompleteAsync(ModelEndpoint endpoint, ChatRequest request, CancellationToken ct)
    {
        var body = Body(endpoint, request, stream: false);
        var started = clock.GetTimestamp();
        var attempts = 0;
        var answer = await ExecuteAsync(endpoint, body, async (response, token) =>
        {
            using (response)
            {
                var document = await JsonNode.ParseAsync(await response.Content.ReadAsStreamAsync(token), cancellationToken: token);
                return document as JsonObject ?? throw new ModelProviderException($"provider '{endpoint.Name}' answered with JSON that is not an object");
            }
        }, () => attempts++, ct);

        var choice = (answer["choices"] as JsonArray)?.FirstOrDefault() as JsonObject;
        var message = choice?["message"] as JsonObject;
        if (message is null)
        {
            throw new ModelProviderException($"provider '{endpoint.Name}' answered without choices[0].message: {Shorten(answer.ToJsonString())}");
        }
        var content = Text(message["content"]) ?? Text(message["refusal"]) ?? "";
        var usage = Usage(answer["usage"]);
        return new ChatCompletion(content, Text(answer["model"]) ?? endpoint.Model, Text(choice!["finish_reason"]), usage,
            clock.GetElapsedTime(started), null, endpoint.Cost(usage), attempts);
    }

    /// <summary>
    /// Streams an answer as it is written (server-sent events). Retries happen only before the first byte; the last
    /// event carries the whole answer with usage (asked for with <c>stream_options.include_usage</c>) and cost.
    /// </summary>
    public async IAsyncEnumerable<ChatStreamEvent> StreamAsync(ModelEndpoint endpoint, ChatRequest request,
        [EnumeratorCancellation] CancellationToken ct)
    {
        var body = Body(endpoint, request, stream: true);
        var started = clock.GetTimestamp();
        var attempts = 0;
        using var response = await ExecuteAsync(endpoint, body, (response, _) => ValueTask.FromResult(response), () => attempts++, ct);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct), Encoding.UTF8);
        // After the headers the provider's timeout bounds each silence, not the whole answer: a long answer that keeps
        // coming is fine, a stream that stops sending fails instead of holding its caller (and a job's item) forever.
        using var silence = new CancellationTokenSource(Timeout.InfiniteTimeSpan, clock);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(ct, silence.Token);
        var content = new StringBuilder();
        string? model = null, finishReason = null;
        ChatUsage? usage = null;
        TimeSpan? firstToken = null;
        while (await ReadLineAsync(reader, endpoint, silence, reading.Token) is { } line)
        {
            // SSE: "data: {...}" lines separated by blank lines; comments (":") and other fields are ignored.
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }
            var data = line.AsSpan(5).Trim();
            if (data.SequenceEqual("[DONE]"))
            {
                break;
            }
            JsonObject chunk;
            try
            {
                chunk = JsonNode.Parse(data.ToString()) as JsonObject ?? [];
            }
            catch (JsonException e)
            {
                throw new ModelProviderException($"provider '{endpoint.Name}' streamed a chunk that is not JSON: {Shorten(data.ToString())}", inner: e);
            }
            if (chunk["error"] is { } error)
            {
                throw new ModelProviderException($"provider '{endpoint.Name}' failed while streaming: {Redact(endpoint, ErrorText(error))}");
            }
            model ??= Text(chunk["model"]);
            usage = Usage(chunk["usage"]) ?? usage;
            if ((chunk["choices"] as JsonArray)?.FirstOrDefault() is JsonObject choice)
            {
                finishReason = Text(choice["finish_reason"]) ?? finishReason;
                if (Text((choice["delta"] as JsonObject)?["content"]) is { Length: > 0 } delta)
                {
                    firstToken ??= clock.GetElapsedTime(started);
                    content.Append(delta);
                    yield return new ChatStreamEvent(delta, null);
                }
            }
        }
        var completed = new ChatCompletion(content.ToString(), model ?? endpoint.Model, finishReason, usage,
            clock.GetElapsedTime(started), firstToken, endpoint.Cost(usage), attempts);
        yield return new ChatStreamEvent("", completed);
    }

    /// <summary>The next line of a stream, or a <see cref="ModelProviderException"/> when nothing comes within the provider's timeout.</summary>
    private static async Task<string?> ReadLineAsync(StreamReader reader, ModelEndpoint endpoint, CancellationTokenSource silence, CancellationToken token)
    {
        silence.CancelAfter(endpoint.Timeout);
        try
        {
            return await reader.ReadLineAsync(token);
        }
        catch (OperationCanceledException e) when (silence.IsCancellationRequested)
        {
            throw new ModelProviderException(
                $"provider '{endpoint.Name}' sent nothing for {endpoint.Timeout.TotalSeconds:0.#} s in the middle of a streamed answer; raise its timeout if the model is slow",
                inner: e);
        }
    }

    private async Task<T> ExecuteAsync<T>(ModelEndpoint endpoint, byte[] body, Func<HttpResponseMessage, CancellationToken, ValueTask<T>> read,
        Action countAttempt, CancellationToken ct)
    {
        var url = endpoint.ChatCompletionsUrl;
        var limiter = Limiter(endpoint);
        var attempts = 0;
        try
        {
            return await Pipeline(endpoint.Timeout).ExecuteAsync(async token =>
            {
                attempts++;
                countAttempt();
                if (limiter is not null)
                {
                    using var lease = await limiter.AcquireAsync(1, token);
                    if (!lease.IsAcquired)
                    {
                        throw new ModelProviderException($"the rate limiter of provider '{endpoint.Name}' refused the request");
                    }
                }
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = Json;
                if (endpoint.ApiKey is { Length: > 0 } key)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                }
                var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
                if (response.IsSuccessStatusCode)
                {
                    return await read(response, token);
                }
                using (response)
                {
                    var detail = Redact(endpoint, await ErrorMessageAsync(response, token));
                    var status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
                    if (IsTransient(response.StatusCode))
                    {
                        throw new TransientStatusException(response.StatusCode, status, detail, RetryAfter(response));
                    }
                    throw new ModelProviderException($"provider '{endpoint.Name}' answered {status}: {detail}", response.StatusCode);
                }
            }, ct);
        }
        catch (TransientStatusException e)
        {
            throw new ModelProviderException($"provider '{endpoint.Name}' answered {e.StatusText} after {attempts} attempts: {e.Detail}", e.Status, e);
        }
        catch (TimeoutRejectedException e)
        {
            throw new ModelProviderException(
                $"provider '{endpoint.Name}' did not answer within {endpoint.Timeout.TotalSeconds:0.#} s ({attempts} attempts); raise its timeout if the model is slow", inner: e);
        }
        catch (HttpRequestException e)
        {
            throw new ModelProviderException($"provider '{endpoint.Name}' could not be reached at {url.GetLeftPart(UriPartial.Authority)} ({attempts} attempts): {e.Message}", inner: e);
        }
    }

    private ResiliencePipeline Pipeline(TimeSpan timeout) => pipelines.GetOrAdd(timeout, t => new ResiliencePipelineBuilder { TimeProvider = clock }
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<TransientStatusException>().Handle<TimeoutRejectedException>().Handle<HttpRequestException>(),
            MaxRetryAttempts = Math.Max(0, options.MaxRetries),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.RetryBaseDelay,
            MaxDelay = options.MaxRetryAfter,
            // The provider knows best when it can take the next request.
            DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is TransientStatusException { RetryAfter: { } after }
                ? (TimeSpan?)(after > options.MaxRetryAfter ? options.MaxRetryAfter : after)
                : null),
            OnRetry = args =>
            {
                logger.LogWarning("Model request retried in {Delay} ms (attempt {Attempt}): {Reason}", (long)args.RetryDelay.TotalMilliseconds,
                    args.AttemptNumber + 2, args.Outcome.Exception is TransientStatusException s ? s.StatusText : args.Outcome.Exception?.GetType().Name);
                return ValueTask.CompletedTask;
            },
        })
        .AddTimeout(t)
        .Build());

    private RateLimiter? Limiter(ModelEndpoint endpoint)
    {
        if (endpoint.RateLimitPerMinute is not { } rpm || rpm <= 0)
        {
            return null;
        }
        var entry = limiters.AddOrUpdate(endpoint.ProviderId,
            _ => (rpm, NewLimiter(rpm)),
            (_, existing) => existing.PerMinute == rpm ? existing : (rpm, NewLimiter(rpm)));
        return entry.Limiter;
    }

    /// <summary>A token bucket refilled evenly over the minute, bursting at most a second's worth (one request at least).</summary>
    private static TokenBucketRateLimiter NewLimiter(int perMinute) => new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = Math.Max(1, perMinute / 60),
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromMinutes(1) / perMinute,
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        AutoReplenishment = true,
    });

    internal static byte[] Body(ModelEndpoint endpoint, ChatRequest request, bool stream)
    {
        var body = new JsonObject();
        foreach (var parameters in new[] { endpoint.Parameters, request.Parameters })
        {
            foreach (var (name, value) in parameters ?? [])
            {
                body[name] = value?.DeepClone();
            }
        }
        body["model"] = endpoint.Model;
        var messages = new JsonArray();
        foreach (var message in request.Messages)
        {
            messages.Add(new JsonObject { ["role"] = message.Role, ["content"] = message.Content });
        }
        body["messages"] = messages;
        body["stream"] = stream;
        if (stream)
        {
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        if (request.ResponseSchema is { } schema)
        {
            body["response_format"] = new JsonObject
            {
                ["type"] = "json_schema",
                ["json_schema"] = new JsonObject { ["name"] = request.ResponseSchemaName, ["schema"] = schema.DeepClone(), ["strict"] = true },
            };
        }
        return JsonSerializer.SerializeToUtf8Bytes(body);
    }

    private static bool IsTransient(HttpStatusCode status) => status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    private TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - clock.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>The provider's own error message (OpenAI's <c>{"error": {"message": …}}</c>), or the start of the body.</summary>
    private static async Task<string> ErrorMessageAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        var length = 0;
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        while (length < buffer.Length && await stream.ReadAsync(buffer.AsMemory(length), ct) is > 0 and var read)
        {
            length += read;
        }
        var text = Encoding.UTF8.GetString(buffer, 0, length);
        try
        {
            if (JsonNode.Parse(text) is JsonObject json && json["error"] is { } error)
            {
                return ErrorText(error);
            }
        }
        catch (JsonException)
        {
            // Not JSON: the text itself is the best there is.
        }
        return text.Length == 0 ? "(no message)" : Shorten(text);
    }

    private static string ErrorText(JsonNode error) =>
        error is JsonObject o ? Text(o["message"]) ?? Shorten(o.ToJsonString()) : Text(error) ?? Shorten(error.ToJsonString());

    /// <summary>Some providers quote the key they were sent in their error message; it goes no further.</summary>
    private static string Redact(ModelEndpoint endpoint, string text) =>
        endpoint.ApiKey is { Length: >= 4 } key ? text.Replace(key, "[api key]", StringComparison.Ordinal) : text;

    private static string Shorten(string text) => text.Length <= 500 ? text : text[..500] + "…";

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static ChatUsage? Usage(JsonNode? node) => node is JsonObject u
        ? new ChatUsage(Int(u["prompt_tokens"]), Int(u["completion_tokens"]))
        : null;

    private static int Int(JsonNode? node) => node is JsonValue v && v.TryGetValue<int>(out var i) ? i : 0;

    public void Dispose()
    {
        http.Dispose();
        foreach (var (_, limiter) in limiters.Values)
        {
            limiter.Dispose();
        }
    }

    private sealed class TransientStatusException(HttpStatusCode status, string statusText, string detail, TimeSpan? retryAfter) : Exception(statusText)
    {
        public HttpStatusCode Status { get; } = status;
        public string StatusText { get; } = statusText;
        public string Detail { get; } = detail;
        public TimeSpan? RetryAfter { get; } = retryAfter;
    }
}

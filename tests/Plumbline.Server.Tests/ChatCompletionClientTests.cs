using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Plumbline.Server.Features.Models;

namespace Plumbline.Server.Tests;

/// <summary>The chat-completions client against the fake OpenAI-protocol server on a real port.</summary>
public class ChatCompletionClientTests
{
    private static ChatCompletionClient NewClient(int maxRetries = 4) =>
        new(new ModelClientOptions { MaxRetries = maxRetries, RetryBaseDelay = TimeSpan.FromMilliseconds(10) }, TimeProvider.System,
            NullLogger<ChatCompletionClient>.Instance);

    private static ModelEndpoint Endpoint(FakeOpenAi fake, string? key = null, int timeoutSeconds = 30, int? rateLimit = null) => new()
    {
        ProviderId = Random.Shared.NextInt64(1, long.MaxValue), Name = "fake", BaseUrl = new Uri(fake.BaseUrl), Model = "fake-model-1", ApiKey = key,
        Parameters = new JsonObject { ["temperature"] = 0.7, ["max_tokens"] = 100 },
        Timeout = TimeSpan.FromSeconds(timeoutSeconds), RateLimitPerMinute = rateLimit, PricePerMillionInput = 1.0, PricePerMillionOutput = 4.0,
    };

    private static ChatRequest Ask(string text, JsonObject? parameters = null) => new()
    {
        Messages = [new ChatMessage("system", "Be brief."), new ChatMessage("user", text)], Parameters = parameters,
    };

    [Fact]
    public async Task CompleteAsync_NonStreaming_ReturnsContentUsageAndCost()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient();

        var answer = await client.CompleteAsync(Endpoint(fake, "sk-abc"), Ask("What is two plus two?", new JsonObject { ["temperature"] = 0 }), TestContext.Current.CancellationToken);

        answer.Content.ShouldBe("Echo: What is two plus two?");
        answer.Model.ShouldBe("fake-model-1");
        answer.FinishReason.ShouldBe("stop");
        answer.Usage.ShouldBe(new ChatUsage(7, 6));
        answer.Cost!.Value.ShouldBe((7 * 1.0 + 6 * 4.0) / 1_000_000, 1e-12);
        answer.Attempts.ShouldBe(1);
        var sent = fake.Requests.Single();
        sent.Authorization.ShouldBe("Bearer sk-abc");
        // The request's parameters win over the provider's defaults; the rest of the defaults stay.
        sent.Body["temperature"]!.GetValue<double>().ShouldBe(0);
        sent.Body["max_tokens"]!.GetValue<int>().ShouldBe(100);
        sent.Messages.Count.ShouldBe(2);
        sent.Messages[0]!["role"]!.GetValue<string>().ShouldBe("system");
    }

    [Fact]
    public async Task StreamAsync_YieldsDeltasThenTheWholeAnswerWithUsage()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient();

        var deltas = new List<string>();
        ChatCompletion? completed = null;
        await foreach (var e in client.StreamAsync(Endpoint(fake), Ask("stream these five words"), TestContext.Current.CancellationToken))
        {
            if (e.Completed is null)
            {
                deltas.Add(e.Delta);
            }
            completed = e.Completed ?? completed;
        }

        deltas.ShouldBe(["Echo: ", "stream ", "these ", "five ", "words"]);
        completed!.Content.ShouldBe("Echo: stream these five words");
        completed.Usage.ShouldBe(new ChatUsage(6, 5));
        completed.FirstTokenLatency.ShouldNotBeNull();
        completed.FinishReason.ShouldBe("stop");
        var sent = fake.Requests.Single();
        sent.Stream.ShouldBeTrue();
        sent.Body["stream_options"]!["include_usage"]!.GetValue<bool>().ShouldBeTrue();
        sent.Authorization.ShouldBeNull();
    }

    [Fact]
    public async Task CompleteAsync_WithResponseSchema_AsksForStructuredOutput()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient();
        var schema = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["label"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("safe", "unsafe") },
                ["score"] = new JsonObject { ["type"] = "integer", ["minimum"] = 1 },
            },
            ["required"] = new JsonArray("label", "score"),
            ["additionalProperties"] = false,
        };

        var answer = await client.CompleteAsync(Endpoint(fake), new ChatRequest { Messages = [new ChatMessage("user", "Classify.")], ResponseSchema = schema, ResponseSchemaName = "verdict" },
            TestContext.Current.CancellationToken);

        var json = JsonNode.Parse(answer.Content)!;
        json["label"]!.GetValue<string>().ShouldBe("safe");
        json["score"]!.GetValue<int>().ShouldBe(1);
        var format = fake.Requests.Single().Body["response_format"]!;
        format["type"]!.GetValue<string>().ShouldBe("json_schema");
        format["json_schema"]!["name"]!.GetValue<string>().ShouldBe("verdict");
        format["json_schema"]!["strict"]!.GetValue<bool>().ShouldBeTrue();
        JsonNode.DeepEquals(format["json_schema"]!["schema"], schema).ShouldBeTrue();
    }

    [Fact]
    public async Task CompleteAsync_After500sAnd429_RetriesThenSucceeds()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient();
        fake.FailNext(2, HttpStatusCode.InternalServerError);
        fake.FailNext(1, HttpStatusCode.TooManyRequests, TimeSpan.FromSeconds(1), "Rate limit reached for requests");

        var answer = await client.CompleteAsync(Endpoint(fake), Ask("retry me"), TestContext.Current.CancellationToken);

        answer.Content.ShouldBe("Echo: retry me");
        answer.Attempts.ShouldBe(4);
        fake.Received.ShouldBe(4);
        // The 429's Retry-After (1 s) was waited out although the backoff here starts at 10 ms.
        answer.Latency.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task StreamAsync_After503_RetriesBeforeTheFirstByte()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient();
        fake.FailNext(1, HttpStatusCode.ServiceUnavailable);

        var events = await client.StreamAsync(Endpoint(fake), Ask("again"), TestContext.Current.CancellationToken).ToListAsync(TestContext.Current.CancellationToken);

        events[^1].Completed!.Content.ShouldBe("Echo: again");
        events[^1].Completed!.Attempts.ShouldBe(2);
    }

    [Fact]
    public async Task CompleteAsync_WhenEveryAttemptFails_SaysStatusMessageAndAttempts()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient(maxRetries: 2);
        fake.FailNext(5, HttpStatusCode.BadGateway, message: "upstream model crashed");

        var error = await Should.ThrowAsync<ModelProviderException>(() => client.CompleteAsync(Endpoint(fake), Ask("x"), TestContext.Current.CancellationToken));

        error.Message.ShouldBe("provider 'fake' answered 502 Bad Gateway after 3 attempts: upstream model crashed");
        error.Status.ShouldBe(HttpStatusCode.BadGateway);
        fake.Received.ShouldBe(3);
    }

    [Fact]
    public async Task CompleteAsync_WithAWrongKey_FailsAtOnceWithoutTheKey()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient();
        fake.RequiredApiKey = "sk-right-key-0000";
        var wrongKey = "sk-wrong-key-" + Guid.NewGuid().ToString("N");

        var error = await Should.ThrowAsync<ModelProviderException>(() => client.CompleteAsync(Endpoint(fake, wrongKey), Ask("x"), TestContext.Current.CancellationToken));

        error.Status.ShouldBe(HttpStatusCode.Unauthorized);
        error.Message.ShouldBe("provider 'fake' answered 401 Unauthorized: Incorrect API key provided: [api key].");
        error.ToString().ShouldNotContain(wrongKey);
        fake.Received.ShouldBe(1);
    }

    [Fact]
    public async Task CompleteAsync_WhenTheModelIsTooSlow_TimesOutEachAttempt()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient(maxRetries: 1);
        fake.Hold();

        var error = await Should.ThrowAsync<ModelProviderException>(() => client.CompleteAsync(Endpoint(fake, timeoutSeconds: 1), Ask("x"), TestContext.Current.CancellationToken));

        error.Message.ShouldBe("provider 'fake' did not answer within 1 s (2 attempts); raise its timeout if the model is slow");
        fake.Received.ShouldBe(2);
        fake.Answered.ShouldBe(0);
    }

    [Fact]
    public async Task StreamAsync_WhenTheStreamStallsAfterTheHeaders_FailsAfterTheProviderTimeout()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient(maxRetries: 1);
        fake.StallAfterChunks = 0;

        var error = await Should.ThrowAsync<ModelProviderException>(async () =>
        {
            await foreach (var _ in client.StreamAsync(Endpoint(fake, timeoutSeconds: 1), Ask("x"), TestContext.Current.CancellationToken))
            {
            }
        });

        error.Message.ShouldBe("provider 'fake' sent nothing for 1 s in the middle of a streamed answer; raise its timeout if the model is slow");
        // Headers had come: the answer had started, so it is not asked for again.
        fake.Received.ShouldBe(1);
    }

    [Fact]
    public async Task StreamAsync_WhenTheStreamStallsAfterSomeChunks_YieldsThemThenFails()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient();
        fake.StallAfterChunks = 2;

        var deltas = new List<string>();
        var error = await Should.ThrowAsync<ModelProviderException>(async () =>
        {
            await foreach (var e in client.StreamAsync(Endpoint(fake, timeoutSeconds: 1), Ask("one two three four"), TestContext.Current.CancellationToken))
            {
                deltas.Add(e.Delta);
            }
        });

        string.Concat(deltas).ShouldBe("Echo: one ");
        error.Message.ShouldStartWith("provider 'fake' sent nothing for 1 s");
    }

    [Fact]
    public async Task CompleteAsync_WhenTheBodyStallsAfterTheHeaders_TimesOutEachAttempt()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient(maxRetries: 1);
        fake.StallAfterChunks = 0;

        var error = await Should.ThrowAsync<ModelProviderException>(() => client.CompleteAsync(Endpoint(fake, timeoutSeconds: 1), Ask("x"), TestContext.Current.CancellationToken));

        error.Message.ShouldBe("provider 'fake' did not answer within 1 s (2 attempts); raise its timeout if the model is slow");
        fake.Received.ShouldBe(2);
    }

    [Fact]
    public async Task CompleteAsync_WhenNothingListens_SaysItCannotReachTheProvider()
    {
        using var client = NewClient(maxRetries: 1);
        var endpoint = new ModelEndpoint { ProviderId = 1, Name = "nowhere", BaseUrl = new Uri("http://127.0.0.1:9/v1"), Model = "m" };

        var error = await Should.ThrowAsync<ModelProviderException>(() => client.CompleteAsync(endpoint, Ask("x"), TestContext.Current.CancellationToken));

        error.Message.ShouldStartWith("provider 'nowhere' could not be reached at http://127.0.0.1:9 (2 attempts)");
    }

    [Fact]
    public async Task CompleteAsync_WithARateLimit_SpacesRequestsEvenly()
    {
        await using var fake = await FakeOpenAi.StartAsync();
        using var client = NewClient();
        var endpoint = Endpoint(fake, rateLimit: 120);
        var watch = Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(0, 3).Select(i => client.CompleteAsync(endpoint, Ask($"n{i}"), TestContext.Current.CancellationToken)));

        fake.Answered.ShouldBe(3);
        // 120 a minute is one each 500 ms with a burst of a second's worth (two): the third waits for the next token.
        watch.Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(490));
    }
}

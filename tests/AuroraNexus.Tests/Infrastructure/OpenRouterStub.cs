using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using AuroraNexus.Grains.Llm;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AuroraNexus.Tests.Infrastructure;

/// <summary>One HTTP request as the stub received it.</summary>
public sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public string? Authorization => Header("Authorization");

    public string? Referer => Header("HTTP-Referer");

    public string? Title => Header("X-Title");

    public bool IsChat => Path.EndsWith("/chat/completions", StringComparison.Ordinal);
}

/// <summary>
/// A loopback OpenRouter: <c>POST /chat/completions</c> (JSON or SSE), <c>GET /key</c>, <c>GET /models</c>, replaying the
/// real response and error shapes (PROTOCOL.md): error bodies <c>{"error": {code, message, metadata?}}</c> with the status
/// equal to the code, errors inside a 200 once the model started, mid-stream error events with
/// <c>finish_reason: "error"</c> and a numeric or word code, keep-alive comments, <c>[DONE]</c>, Retry-After, and the
/// 401 "No cookie auth credentials found" when no usable bearer token arrives (empty, whitespace, quotes, control
/// characters). Chat calls take the next scripted behaviour from a queue; with the queue empty they answer
/// <see cref="DefaultReply"/>, a compliant answer ending with a SUIVI block of four sections. Every request is recorded,
/// so a test can assert which headers were sent or that no call was made at all. Being on 127.0.0.1, it is OpenRouter
/// only to an endpoint that declares it (<see cref="Endpoint"/> does by default); with <c>kind: null</c> the host
/// decides, and the stub then stands for any other OpenAI-compatible provider.
/// </summary>
public sealed class OpenRouterStub : IAsyncDisposable
{
    public const string ValidKey = "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";

    public const string DefaultModel = "openai/gpt-4o-mini";

    public const string NoCookieMessage = "No cookie auth credentials found";

    public const string InvalidKeyMessage = "User not found.";

    public const string CompliantAnswer =
        """
        ## 1. Contexte
        Les documents fournis décrivent le contexte de la question [1].

        ## 2. Points clés
        Les points essentiels figurent dans les passages cités [1].

        ## 3. Mise en œuvre
        Les étapes de mise en œuvre sont détaillées dans la documentation [1].

        ## 4. Limites
        Les passages ne couvrent pas tous les cas particuliers [1].

        SUIVI
        [S1] Contexte
        [S2] Points clés
        [S3] Mise en œuvre
        [S4] Limites
        """;

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Func<HttpContext, ChatCall, Task>> _chat = new();
    private readonly ConcurrentQueue<(int Status, string Message)> _keyErrors = new();
    private readonly ConcurrentDictionary<string, (int Status, string Message)> _rejectedKeys = new(StringComparer.Ordinal);
    private readonly List<RecordedRequest> _requests = [];
    private int _chatCalls;
    private int _generation;

    private OpenRouterStub(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    /// <summary>Like https://openrouter.ai/api/v1, on a free loopback port.</summary>
    public string BaseUrl { get; }

    /// <summary>What a chat call answers when nothing is queued.</summary>
    public string DefaultReply { get; set; } = CompliantAnswer;

    /// <summary>When false, <c>GET /key</c> is a 404, as on OpenAI-compatible servers that are not OpenRouter.</summary>
    public bool KeyEndpointAvailable { get; set; } = true;

    /// <summary>
    /// When true, <c>GET /models</c> needs a bearer token and answers <see cref="EnqueueKeyError"/>'s errors, as on OpenAI
    /// and most self-hosted servers; OpenRouter's model list is public (false, the default).
    /// </summary>
    public bool ModelsRequireKey { get; set; }

    /// <summary>
    /// When true, every chat call is held open without a byte of answer until the client gives up, queued behaviours
    /// included: a provider that accepts connections and never answers.
    /// </summary>
    public bool NeverAnswers { get; set; }

    /// <summary>Chat completion requests received, whatever they were answered.</summary>
    public int ChatCalls => Volatile.Read(ref _chatCalls);

    public int PendingBehaviours => _chat.Count;

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public IReadOnlyList<RecordedRequest> ChatRequests => [.. Requests.Where(r => r.IsChat)];

    public static async Task<OpenRouterStub> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
        OpenRouterStub? stub = null;
        app.Run(context => stub!.HandleAsync(context));
        await app.StartAsync();
        stub = new OpenRouterStub(app, address.Addresses.First().TrimEnd('/') + "/api/v1");
        return stub;
    }

    /// <summary>
    /// An endpoint aimed at this stub; the key defaults to a well-formed OpenRouter key and the kind to OpenRouter (the
    /// loopback host would otherwise make it a plain OpenAI-compatible provider; pass <c>kind: null</c> for that).
    /// No credential label means the key stands for OPENROUTER_API_KEY.
    /// </summary>
    public LlmEndpoint Endpoint(
        string apiKey = ValidKey, string? publicDomain = "rag.example.test", string appTitle = "Aurora Nexus", string model = DefaultModel,
        LlmProviderKind? kind = LlmProviderKind.OpenRouter, string? tenantId = null, string? credentialLabel = null) =>
        new(BaseUrl, apiKey, model, publicDomain, appTitle) { Kind = kind, TenantId = tenantId, CredentialLabel = credentialLabel };

    /// <summary>Answers the next chat call with this content (as JSON, or as a stream when the call asks for one).</summary>
    public void EnqueueReply(string content, string finishReason = "stop") =>
        _chat.Enqueue((context, call) => call.Stream
            ? WriteStreamAsync(context, call, Split(content), finishReason, done: true)
            : WriteCompletionAsync(context, call, content, finishReason));

    /// <summary>Streams these pieces, with keep-alive comments around them, a finish_reason and [DONE].</summary>
    public void EnqueueStream(params string[] deltas) =>
        _chat.Enqueue((context, call) => call.Stream
            ? WriteStreamAsync(context, call, deltas, "stop", done: true)
            : WriteCompletionAsync(context, call, string.Concat(deltas), "stop"));

    /// <summary>Fails the next chat call with OpenRouter's error body, as a request error (HTTP status = error.code).</summary>
    public void EnqueueError(int status, string message, TimeSpan? retryAfter = null) =>
        _chat.Enqueue((context, _) => WriteErrorAsync(context, status, message, null, retryAfter));

    public void EnqueueInvalidKey() => EnqueueError(401, InvalidKeyMessage);

    /// <summary>A 403 moderation refusal whose metadata carries the reasons and the flagged input.</summary>
    public void EnqueueModeration(string flaggedInput, params string[] reasons) =>
        _chat.Enqueue((context, call) => WriteErrorAsync(context, 403, $"{call.Model} requires moderation on OpenAI. Your input was flagged for \"{string.Join(", ", reasons)}\".",
            new Dictionary<string, object?>
            {
                ["reasons"] = reasons,
                ["flagged_input"] = flaggedInput,
                ["provider_name"] = "OpenAI",
                ["model_slug"] = call.Model,
            }, null));

    /// <summary>
    /// HTTP 200 whose body is an error: the model started, then failed (in a stream: an error event first). The code is
    /// OpenRouter's number, or a word such as "server_error".
    /// </summary>
    public void EnqueueErrorInBody(object code, string message, TimeSpan? retryAfter = null) =>
        _chat.Enqueue((context, call) =>
        {
            if (retryAfter is { } wait)
            {
                context.Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            }

            return call.Stream
                ? WriteStreamAsync(context, call, [], null, done: false, error: (code, message))
                : WriteJsonAsync(context, 200, ErrorBody(code, message, new Dictionary<string, object?> { ["provider_name"] = "Stub" }));
        });

    /// <summary>
    /// Streams these pieces, then OpenRouter's mid-stream error event (top-level <c>error</c> with a numeric or word code,
    /// choice with <c>finish_reason: "error"</c>), and closes.
    /// </summary>
    public void EnqueueStreamError(object code, string message, params string[] deltasBefore) =>
        _chat.Enqueue((context, call) => call.Stream
            ? WriteStreamAsync(context, call, deltasBefore, null, done: false, error: (code, message))
            : WriteJsonAsync(context, 200, ErrorBody(code, message, null)));

    /// <summary>Streams these pieces, then <c>[DONE]</c> without any finish_reason: a complete stream, if a terse one.</summary>
    public void EnqueueStreamDoneWithoutFinishReason(params string[] deltas) =>
        _chat.Enqueue((context, call) => WriteStreamAsync(context, call, deltas, null, done: true));

    /// <summary>Streams these pieces and ends the response cleanly but without finish_reason or [DONE].</summary>
    public void EnqueueStreamCutOff(params string[] deltasBefore) =>
        _chat.Enqueue((context, call) => WriteStreamAsync(context, call, deltasBefore, null, done: false));

    /// <summary>Streams these pieces and then drops the connection.</summary>
    public void EnqueueStreamAbort(params string[] deltasBefore) =>
        _chat.Enqueue(async (context, call) =>
        {
            await WriteStreamAsync(context, call, deltasBefore, null, done: false);

            // An abort is a TCP reset, which drops bytes the client has not read yet: give it time to read them.
            await Task.Delay(TimeSpan.FromMilliseconds(200));
            context.Abort();
        });

    /// <summary>Streams these pieces, then goes silent (no keep-alive either) for this long, then closes.</summary>
    public void EnqueueStreamStall(TimeSpan silence, params string[] deltasBefore) =>
        _chat.Enqueue(async (context, call) =>
        {
            await WriteStreamAsync(context, call, deltasBefore, null, done: false);
            try
            {
                await Task.Delay(silence, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
        });

    /// <summary>Streams these pieces, then only keep-alive comments, one per <paramref name="interval"/>, until the client leaves.</summary>
    public void EnqueueStreamKeepAliveForever(TimeSpan interval, params string[] deltasBefore) =>
        _chat.Enqueue(async (context, call) =>
        {
            await WriteStreamAsync(context, call, deltasBefore, null, done: false);
            try
            {
                while (true)
                {
                    await Task.Delay(interval, context.RequestAborted);
                    await context.Response.WriteAsync(": OPENROUTER PROCESSING\n\n", context.RequestAborted);
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
            }
        });

    /// <summary>Waits before answering (honouring the client giving up), then replies with content or the default.</summary>
    public void EnqueueSlow(TimeSpan delay, string? content = null) =>
        _chat.Enqueue(async (context, call) =>
        {
            try
            {
                await Task.Delay(delay, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var text = content ?? DefaultReply;
            await (call.Stream
                ? WriteStreamAsync(context, call, Split(text), "stop", done: true)
                : WriteCompletionAsync(context, call, text, "stop"));
        });

    /// <summary>Answers the next chat call with an arbitrary body, e.g. the HTML page of a misrouted proxy.</summary>
    public void EnqueueRaw(int status, string contentType, string body) =>
        _chat.Enqueue(async (context, _) =>
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            await context.Response.WriteAsync(body);
        });

    /// <summary>Answers the next chat call with a redirect to <paramref name="location"/>.</summary>
    public void EnqueueRedirect(int status, string location) =>
        _chat.Enqueue((context, _) =>
        {
            context.Response.StatusCode = status;
            context.Response.Headers.Location = location;
            return Task.CompletedTask;
        });

    /// <summary>Fails the next <c>GET /key</c> (or <c>GET /models</c> when <see cref="ModelsRequireKey"/>).</summary>
    public void EnqueueKeyError(int status, string message) => _keyErrors.Enqueue((status, message));

    /// <summary>Answers every <c>GET /key</c> made with <paramref name="key"/> with this error, whatever the order of calls.</summary>
    public void RejectKey(string key, int status = 401, string message = InvalidKeyMessage) => _rejectedKeys[key] = (status, message);

    /// <summary>Forgets queued behaviours and recorded requests.</summary>
    public void Reset()
    {
        _chat.Clear();
        _keyErrors.Clear();
        _rejectedKeys.Clear();
        lock (_requests)
        {
            _requests.Clear();
        }

        Interlocked.Exchange(ref _chatCalls, 0);
        DefaultReply = CompliantAnswer;
        KeyEndpointAvailable = true;
        ModelsRequireKey = false;
        NeverAnswers = false;
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var path = request.Path.Value ?? "/";
        lock (_requests)
        {
            _requests.Add(new RecordedRequest(request.Method, path, headers, body));
        }

        var isChat = HttpMethods.IsPost(request.Method) && path == "/api/v1/chat/completions";
        if (isChat)
        {
            Interlocked.Increment(ref _chatCalls);
        }

        var isModels = HttpMethods.IsGet(request.Method) && path == "/api/v1/models";
        var isKey = HttpMethods.IsGet(request.Method) && path == "/api/v1/key" && KeyEndpointAvailable;
        if (!isChat && !isModels && !isKey)
        {
            await WriteErrorAsync(context, 404, "Not Found", null, null);
            return;
        }

        // OpenRouter's model list is public; everything else needs a bearer token, and without a usable one (empty,
        // whitespace, quotes or control characters around or inside it) OpenRouter falls back to cookie auth and says so.
        var authorization = request.Headers.Authorization.ToString();
        var token = authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : "";
        var usable = token.Length > 0 && !token.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '"' or '\'');
        if ((!isModels || ModelsRequireKey) && !usable)
        {
            await WriteErrorAsync(context, 401, NoCookieMessage, null, null);
            return;
        }

        if (isModels)
        {
            if (ModelsRequireKey && _keyErrors.TryDequeue(out var modelsError))
            {
                await WriteErrorAsync(context, modelsError.Status, modelsError.Message, null, null);
                return;
            }

            await WriteJsonAsync(context, 200, new
            {
                data = new object[]
                {
                    new { id = DefaultModel, name = "OpenAI: GPT-4o-mini", context_length = 128000 },
                    new { id = "mistralai/mistral-small", name = "Mistral: Mistral Small", context_length = 32000 },
                },
            });
            return;
        }

        if (isKey)
        {
            if (_rejectedKeys.TryGetValue(token, out var keyError) || _keyErrors.TryDequeue(out keyError))
            {
                await WriteErrorAsync(context, keyError.Status, keyError.Message, null, null);
                return;
            }

            await WriteJsonAsync(context, 200, new
            {
                data = new
                {
                    label = token.Length > 12 ? $"{token[..11]}...{token[^3..]}" : "sk-or-v1-...",
                    limit = (decimal?)null,
                    usage = 0.0123m,
                    is_free_tier = false,
                    limit_remaining = (decimal?)null,
                    rate_limit = new { requests = -1, interval = "10s" },
                },
            });
            return;
        }

        ChatCall call;
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            call = new ChatCall(
                root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String ? model.GetString()! : DefaultModel,
                root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True,
                body.Length);
        }
        catch (JsonException)
        {
            await WriteErrorAsync(context, 400, "Invalid JSON body", null, null);
            return;
        }

        if (NeverAnswers)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }

            return;
        }

        if (_chat.TryDequeue(out var behaviour))
        {
            await behaviour(context, call);
            return;
        }

        await (call.Stream
            ? WriteStreamAsync(context, call, Split(DefaultReply), "stop", done: true)
            : WriteCompletionAsync(context, call, DefaultReply, "stop"));
    }

    private string NextGenerationId() =>
        $"gen-{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}-{Interlocked.Increment(ref _generation):D4}stub";

    private Task WriteCompletionAsync(HttpContext context, ChatCall call, string content, string finishReason)
    {
        var id = NextGenerationId();
        context.Response.Headers["X-Generation-Id"] = id;
        return WriteJsonAsync(context, 200, new
        {
            id,
            provider = "OpenAI",
            model = call.Model,
            @object = "chat.completion",
            created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            choices = new[]
            {
                new
                {
                    logprobs = (object?)null,
                    finish_reason = finishReason,
                    native_finish_reason = finishReason,
                    index = 0,
                    message = new { role = "assistant", content, refusal = (string?)null, reasoning = (string?)null },
                },
            },
            usage = Usage(call, content),
        });
    }

    private async Task WriteStreamAsync(
        HttpContext context, ChatCall call, IReadOnlyList<string> deltas, string? finishReason, bool done,
        (object Code, string Message)? error = null)
    {
        var id = NextGenerationId();
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Generation-Id"] = id;

        await WriteSseAsync(context, ": OPENROUTER PROCESSING\n\n");

        object Chunk(string content, string? finish, object? usage = null, bool failing = false)
        {
            var choices = new[]
            {
                new
                {
                    index = 0,
                    delta = new { role = "assistant", content },
                    finish_reason = finish,
                    native_finish_reason = finish,
                    logprobs = (object?)null,
                },
            };

            // Real chunks only carry "error" when something failed.
            return failing && error is { } failed
                ? (object)new { id, provider = "OpenAI", model = call.Model, @object = "chat.completion.chunk", created,
                    error = new { code = failed.Code, message = failed.Message }, choices }
                : new { id, provider = "OpenAI", model = call.Model, @object = "chat.completion.chunk", created, choices, usage };
        }

        for (var i = 0; i < deltas.Count; i++)
        {
            await WriteSseAsync(context, Data(Chunk(deltas[i], null)));
            if (i == 0)
            {
                await WriteSseAsync(context, ": OPENROUTER PROCESSING\n\n");
            }
        }

        if (error is not null)
        {
            await WriteSseAsync(context, Data(Chunk("", "error", failing: true)));
            return;
        }

        if (finishReason is not null)
        {
            await WriteSseAsync(context, Data(Chunk("", finishReason, Usage(call, string.Concat(deltas)))));
        }

        if (done)
        {
            await WriteSseAsync(context, "data: [DONE]\n\n");
        }
    }

    private static async Task WriteSseAsync(HttpContext context, string text)
    {
        await context.Response.WriteAsync(text, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static string Data(object chunk) => "data: " + JsonSerializer.Serialize(chunk) + "\n\n";

    private static Task WriteErrorAsync(
        HttpContext context, int status, string message, IReadOnlyDictionary<string, object?>? metadata, TimeSpan? retryAfter)
    {
        if (retryAfter is { } wait)
        {
            context.Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        return WriteJsonAsync(context, status, ErrorBody(status, message, metadata));
    }

    private static object ErrorBody(object code, string message, IReadOnlyDictionary<string, object?>? metadata) =>
        metadata is null ? new { error = new { code, message } } : new { error = new { code, message, metadata } };

    private static async Task WriteJsonAsync(HttpContext context, int status, object body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(body), context.RequestAborted);
    }

    private static object Usage(ChatCall call, string content)
    {
        var prompt = Math.Max(1, call.BodyLength / 4);
        var completion = Math.Max(1, content.Length / 4);
        return new { prompt_tokens = prompt, completion_tokens = completion, total_tokens = prompt + completion };
    }

    private static string[] Split(string content)
    {
        var pieces = new List<string>();
        for (var i = 0; i < content.Length; i += 16)
        {
            pieces.Add(content.Substring(i, Math.Min(16, content.Length - i)));
        }

        return [.. pieces];
    }

    private sealed record ChatCall(string Model, bool Stream, int BodyLength);
}

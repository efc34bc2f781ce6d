using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace AuroraNexus.Grains.Llm;

/// <summary>
/// Client of the OpenAI-compatible chat-completions protocol as OpenRouter speaks it. The key is checked before
/// anything is sent, every failure becomes an <see cref="LlmException"/> with one of the stable codes of
/// <see cref="LlmErrorCode"/>, and no message ever carries the key. Retries (bounded by <see cref="ChatOptions.MaxRetries"/>
/// and by the call's one time budget, <see cref="ChatOptions.Timeout"/>) cover rate limits, 5xx/408, timeouts and
/// unreachable endpoints, and a 402 that came with a short Retry-After; a stream is only retried before its first byte of
/// content.
/// </summary>
public sealed class ChatCompletionsClient(HttpClient http)
{
    private static readonly ChatOptions KeyCheckOptions =
        ChatOptions.Default with { Timeout = TimeSpan.FromSeconds(15), MaxRetries = 1, TimeoutSetting = null };

    public async Task<ChatResult> CompleteAsync(
        LlmEndpoint ep, IReadOnlyList<ChatMessage> messages, ChatOptions options, CancellationToken ct)
    {
        var body = Preflight(ep, messages, options, stream: false);
        var (result, attempts) = await WithRetriesAsync(ep, options, async (attempt, left) =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(left);
            return await GuardAsync(ep, options, attempt, ct, async () =>
            {
                using var request = NewRequest(ep, HttpMethod.Post, "chat/completions", body, "application/json");
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var text = await response.Content.ReadAsStringAsync(timeout.Token);
                if (!response.IsSuccessStatusCode)
                {
                    throw StatusError(ep, response, text, "/chat/completions");
                }

                return ReadCompletion(ep, response, text);
            });
        }, ct);

        return result with { Attempts = attempts };
    }

    public async IAsyncEnumerable<ChatDelta> StreamAsync(
        LlmEndpoint ep, IReadOnlyList<ChatMessage> messages, ChatOptions options,
        [EnumeratorCancellation] CancellationToken ct)
    {
        var body = Preflight(ep, messages, options, stream: true);

        var (response, _) = await WithRetriesAsync(ep, options, async (attempt, left) =>
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(ct);
            connect.CancelAfter(left);
            return await GuardAsync(ep, options, attempt, ct, async () =>
            {
                var request = NewRequest(ep, HttpMethod.Post, "chat/completions", body, "text/event-stream");
                HttpResponseMessage? pending = null;
                try
                {
                    pending = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, connect.Token);
                    if (!pending.IsSuccessStatusCode)
                    {
                        var text = await pending.Content.ReadAsStringAsync(connect.Token);
                        throw StatusError(ep, pending, text, "/chat/completions");
                    }

                    var opened = pending;
                    pending = null;
                    return opened;
                }
                finally
                {
                    pending?.Dispose();
                    request.Dispose();
                }
            });
        }, ct);

        // Re-armed on every received line, so keep-alive comments hold a slow generation open.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        idle.CancelAfter(options.Timeout);
        using (response)
        {
            var generationId = HeaderOf(response, "X-Generation-Id");
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (mediaType is not null && mediaType.Contains("json", StringComparison.OrdinalIgnoreCase))
            {
                // Some OpenAI-compatible servers ignore "stream": true, and errors may come as a plain JSON body.
                string text;
                try
                {
                    text = await response.Content.ReadAsStringAsync(idle.Token);
                }
                catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
                {
                    throw ProviderErrors.Timeout(ep, options.Timeout, options.TimeoutSetting, midStream: true, 0, ex);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException)
                {
                    throw ProviderErrors.CutOff(ep, 0, ex);
                }

                var whole = ReadCompletion(ep, response, text);
                if (whole.Content.Length > 0)
                {
                    yield return new ChatDelta(whole.Content);
                }

                yield return Final(ep, whole.FinishReason, whole.Model, whole.GenerationId, whole.Usage);
                yield break;
            }

            if (mediaType is not null && !mediaType.Contains("event-stream", StringComparison.OrdinalIgnoreCase))
            {
                throw ProviderErrors.NotJson(ep, mediaType, "/chat/completions");
            }

            Stream stream;
            try
            {
                stream = await response.Content.ReadAsStreamAsync(idle.Token);
            }
            catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
            {
                throw ProviderErrors.Timeout(ep, options.Timeout, options.TimeoutSetting, midStream: true, 0, ex);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                throw ProviderErrors.CutOff(ep, 0, ex);
            }

            using var reader = new StreamReader(stream, Encoding.UTF8);
            var deadline = DateTime.UtcNow + options.StreamMaxDuration;
            var received = 0;
            string? finishReason = null;
            string? model = null;
            LlmUsage? usage = null;
            var done = false;
            while (!done)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    throw ProviderErrors.Timeout(ep, options.StreamMaxDuration, null, midStream: true, received,
                        new TimeoutException($"the stream lasted longer than {options.StreamMaxDuration.TotalSeconds:0} s"));
                }

                idle.CancelAfter(left < options.Timeout ? left : options.Timeout);
                string? line;
                try
                {
                    line = await reader.ReadLineAsync(idle.Token);
                }
                catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
                {
                    throw ProviderErrors.Timeout(ep, options.Timeout, options.TimeoutSetting, midStream: true, received, ex);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException)
                {
                    if (finishReason is not null)
                    {
                        break;
                    }

                    throw ProviderErrors.CutOff(ep, received, ex);
                }

                if (line is null)
                {
                    break;
                }

                // Each data line is taken as one event: chat-completion servers never split a chunk over several data
                // lines, and some omit the blank separator line. Lines starting with ':' are keep-alive comments
                // (": OPENROUTER PROCESSING") and other SSE fields carry nothing for us.
                if (!line.StartsWith("data:", StringComparison.Ordinal))
                {
                    continue;
                }

                var payload = line.AsSpan(5).Trim();
                if (payload.IsEmpty)
                {
                    continue;
                }

                if (payload.SequenceEqual("[DONE]"))
                {
                    done = true;
                    break;
                }

                var chunk = ParseChunk(ep, payload.ToString());
                // OpenRouter's mid-stream failure: a data event with a top-level "error" (and finish_reason "error").
                if (chunk.Error is not null)
                {
                    throw ProviderErrors.FromErrorInBody(ep, chunk.Error, received, streaming: true);
                }

                model ??= chunk.Model;
                generationId ??= chunk.Id;
                if (chunk.Usage is { } u)
                {
                    usage = new LlmUsage(u.PromptTokens, u.CompletionTokens, u.TotalTokens);
                }

                if (chunk.Choices is not { Count: > 0 } choices)
                {
                    continue;
                }

                var choice = choices[0];
                if (choice.Error is not null)
                {
                    throw ProviderErrors.FromErrorInBody(ep, choice.Error, received, streaming: true);
                }

                if (choice.Delta?.Content is { Length: > 0 } content)
                {
                    received += content.Length;
                    yield return new ChatDelta(content);
                }

                if (choice.FinishReason is { } reason)
                {
                    if (reason == "error")
                    {
                        throw ProviderErrors.FinishedWithError(ep, received, streaming: true);
                    }

                    finishReason = reason;
                }
            }

            if (!done && finishReason is null)
            {
                throw ProviderErrors.CutOff(ep, received);
            }

            yield return Final(ep, finishReason, model ?? ep.Model, generationId, usage);
        }
    }

    /// <summary>
    /// A cheap "test connection": <c>GET {base}/key</c> on OpenRouter (whose <c>/models</c> answers without a key, so it
    /// would prove nothing), <c>GET {base}/models</c> on any other OpenAI-compatible provider (which has no <c>/key</c>).
    /// </summary>
    public async Task<KeyCheckResult> CheckKeyAsync(LlmEndpoint ep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(ep);
        CheckEndpoint(ep);
        if (!ep.IsOpenRouter)
        {
            var models = await GetJsonAsync(ep, "models", LlmJsonContext.Default.WireModels, ct);
            var ids = (models.Data ?? [])
                .Where(m => m.ValueKind == JsonValueKind.Object && m.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
                .Select(m => m.GetProperty("id").GetString()!)
                .ToList();
            return new KeyCheckResult("/models", null, null, null, null, null, models.Data?.Count ?? 0, ep.Warnings, ids);
        }

        var key = await GetJsonAsync(ep, "key", LlmJsonContext.Default.WireKey, ct);
        if (key.Data is null)
        {
            throw ProviderErrors.Malformed(ep, "GET /key without a data object");
        }

        return new KeyCheckResult("/key", key.Data.Label, key.Data.Limit, key.Data.LimitRemaining, key.Data.Usage,
            key.Data.IsFreeTier, null, ep.Warnings);
    }

    private async Task<T> GetJsonAsync<T>(
        LlmEndpoint ep, string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        var (result, _) = await WithRetriesAsync(ep, KeyCheckOptions, async (attempt, left) =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(left);
            return await GuardAsync(ep, KeyCheckOptions, attempt, ct, async () =>
            {
                using var request = NewRequest(ep, HttpMethod.Get, path, null, "application/json");
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                var text = await response.Content.ReadAsStringAsync(timeout.Token);
                if (!response.IsSuccessStatusCode)
                {
                    throw StatusError(ep, response, text, "/" + path);
                }

                if (!LooksLikeJson(text))
                {
                    throw ProviderErrors.NotJson(ep, response.Content.Headers.ContentType?.MediaType, "/" + path);
                }

                try
                {
                    return JsonSerializer.Deserialize(text, type) ?? throw ProviderErrors.Malformed(ep, $"GET /{path} returned null");
                }
                catch (JsonException ex)
                {
                    throw ProviderErrors.Malformed(ep, $"GET /{path} is not the expected JSON", ex);
                }
            });
        }, ct);
        return result;
    }

    private static byte[] Preflight(LlmEndpoint ep, IReadOnlyList<ChatMessage> messages, ChatOptions options, bool stream)
    {
        ArgumentNullException.ThrowIfNull(ep);
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(options);
        if (messages.Count == 0)
        {
            throw new ArgumentException("At least one message is needed.", nameof(messages));
        }

        CheckEndpoint(ep);
        if (string.IsNullOrWhiteSpace(ep.Model))
        {
            throw ProviderErrors.MissingModel(ep);
        }

        var request = new WireChatRequest(
            ep.Model.Trim(),
            messages.Select(m => new WireMessage(m.Role, m.Content)).ToList(),
            stream,
            options.Temperature,
            options.MaxTokens,
            stream ? new WireStreamOptions(true) : null);
        return JsonSerializer.SerializeToUtf8Bytes(request, LlmJsonContext.Default.WireChatRequest);
    }

    private static void CheckEndpoint(LlmEndpoint ep)
    {
        if (ProviderErrors.CheckCredential(ep) is { } credentialError)
        {
            throw credentialError;
        }

        if (!Uri.TryCreate(ep.BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw ProviderErrors.InvalidBaseUrl(ep);
        }
    }

    private static HttpRequestMessage NewRequest(LlmEndpoint ep, HttpMethod method, string path, byte[]? json, string accept)
    {
        var request = new HttpRequestMessage(method, ep.BaseUrl.TrimEnd('/') + "/" + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ep.ApiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));

        // Attribution is an OpenRouter feature: other providers get neither header (they would only leak the deployment).
        if (ep.IsOpenRouter)
        {
            if (ep.Referer is { } referer)
            {
                request.Headers.TryAddWithoutValidation("HTTP-Referer", referer);
            }

            request.Headers.TryAddWithoutValidation("X-Title", ep.Title);
        }

        if (json is not null)
        {
            request.Content = new ByteArrayContent(json);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        }

        return request;
    }

    private static ChatResult ReadCompletion(LlmEndpoint ep, HttpResponseMessage response, string text)
    {
        if (!LooksLikeJson(text))
        {
            throw ProviderErrors.NotJson(ep, response.Content.Headers.ContentType?.MediaType, "/chat/completions");
        }

        WireCompletion completion;
        try
        {
            completion = JsonSerializer.Deserialize(text, LlmJsonContext.Default.WireCompletion)
                ?? throw ProviderErrors.Malformed(ep, "null completion");
        }
        catch (JsonException ex)
        {
            throw ProviderErrors.Malformed(ep, "completion is not the expected JSON", ex);
        }

        // A 200 whose body is {"error": {...}}: the model started, then failed. Never an empty success.
        if (completion.Error is not null)
        {
            throw ProviderErrors.FromErrorInBody(ep, completion.Error, 0, streaming: false, RetryAfterOf(response));
        }

        if (completion.Choices is not { Count: > 0 } choices)
        {
            throw ProviderErrors.NoChoices(ep);
        }

        var choice = choices[0];
        if (choice.Error is not null)
        {
            throw ProviderErrors.FromErrorInBody(ep, choice.Error, 0, streaming: false, RetryAfterOf(response));
        }

        if (choice.FinishReason == "error")
        {
            throw ProviderErrors.FinishedWithError(ep, 0, streaming: false);
        }

        var usage = completion.Usage is { } u ? new LlmUsage(u.PromptTokens, u.CompletionTokens, u.TotalTokens) : null;
        return new ChatResult(
            choice.Message?.Content ?? "",
            completion.Model ?? ep.Model,
            choice.FinishReason,
            completion.Id ?? HeaderOf(response, "X-Generation-Id"),
            usage,
            1,
            ep.Warnings);
    }

    private static WireCompletion ParseChunk(LlmEndpoint ep, string payload)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, LlmJsonContext.Default.WireCompletion)
                ?? throw ProviderErrors.Malformed(ep, "null stream chunk");
        }
        catch (JsonException ex)
        {
            throw ProviderErrors.Malformed(ep, "a stream chunk is not JSON", ex);
        }
    }

    private static ChatDelta Final(LlmEndpoint ep, string? finishReason, string? model, string? generationId, LlmUsage? usage) =>
        new("")
        {
            FinishReason = finishReason,
            Model = model,
            GenerationId = generationId,
            Usage = usage,
            IsFinal = true,
            Warnings = ep.Warnings,
        };

    /// <summary>Runs one attempt and turns transport failures into <see cref="LlmException"/>.</summary>
    private static async Task<T> GuardAsync<T>(
        LlmEndpoint ep, ChatOptions options, int attemptNumber, CancellationToken ct, Func<Task<T>> attempt)
    {
        try
        {
            return await attempt();
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            // An attempt gets what is left of the budget, so its timeout is the whole call's.
            throw ProviderErrors.Timeout(ep, options.Timeout, options.TimeoutSetting, midStream: false, 0, ex, attemptNumber);
        }
        catch (HttpRequestException ex) when (ex.InnerException is ProviderAddressRefusedException refused)
        {
            throw ProviderConnections.Refused(ep, refused);
        }
        catch (HttpRequestException ex)
        {
            throw ProviderErrors.Unreachable(ep, ex);
        }
        catch (IOException ex)
        {
            throw ProviderErrors.Unreachable(ep, new HttpRequestException(HttpRequestError.ResponseEnded, ex.Message, ex));
        }
    }

    /// <summary>
    /// Runs attempts, each given the number it is and what is left of <see cref="ChatOptions.Timeout"/>, until one
    /// succeeds, the error is not worth another try, the retries are spent, or the wait before the next one would use up
    /// the budget.
    /// </summary>
    private static async Task<(T Result, int Attempts)> WithRetriesAsync<T>(
        LlmEndpoint ep, ChatOptions options, Func<int, TimeSpan, Task<T>> attempt, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        for (var n = 1; ; n++)
        {
            var left = options.Timeout - clock.Elapsed;
            try
            {
                return (await attempt(n, left > TimeSpan.Zero ? left : TimeSpan.Zero), n);
            }
            catch (LlmException ex)
            {
                ex.Attempts = n;
                ex.Warnings = ep.Warnings;
                if (n > options.MaxRetries || RetryDelay(ex, n, options) is not { } delay ||
                    delay >= options.Timeout - clock.Elapsed)
                {
                    throw;
                }

                await Task.Delay(delay, ct);
            }
        }
    }

    private static TimeSpan? RetryDelay(LlmException ex, int attempt, ChatOptions options)
    {
        // 402 is not a wait-and-retry case unless the provider says when to come back (OpenRouter's in-flight budget).
        var retryable = ex.Code is LlmErrorCode.ProviderRateLimited or LlmErrorCode.ProviderUnavailable ||
            (ex.Code == LlmErrorCode.ProviderPaymentRequired && ex.RetryAfter is not null);
        if (!retryable)
        {
            return null;
        }

        var jitter = options.RetryBaseDelay * (0.5 * Random.Shared.NextDouble());
        if (ex.RetryAfter is { } retryAfter)
        {
            // Waiting less than the provider asked only earns another 429; a longer wait belongs to the caller.
            return retryAfter > options.MaxRetryDelay ? null : retryAfter + jitter;
        }

        var backoff = options.RetryBaseDelay * Math.Pow(2, attempt - 1) * (0.5 + Random.Shared.NextDouble());
        return backoff > options.MaxRetryDelay ? options.MaxRetryDelay : backoff;
    }

    // Redirects are not followed (see ProviderConnections): a 3xx is the provider URL to correct, not a failure to retry.
    private static LlmException StatusError(LlmEndpoint ep, HttpResponseMessage response, string text, string path) =>
        (int)response.StatusCode is >= 300 and < 400
            ? ProviderErrors.Redirected(ep, (int)response.StatusCode, RedirectTarget(response), path)
            : ProviderErrors.FromStatus(ep, (int)response.StatusCode, text, RetryAfterOf(response), path);

    private static Uri? RedirectTarget(HttpResponseMessage response) =>
        response.Headers.Location is not { } location ? null
        : location.IsAbsoluteUri ? location
        : response.RequestMessage?.RequestUri is { } requested && Uri.TryCreate(requested, location, out var resolved) ? resolved
        : null;

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Retry-After", out var values) || values.FirstOrDefault()?.Trim() is not { Length: > 0 } raw)
        {
            return null;
        }

        if (double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            return seconds <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(seconds, TimeSpan.FromDays(1).TotalSeconds));
        }

        if (DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }

    private static string? HeaderOf(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static bool LooksLikeJson(string text)
    {
        var trimmed = text.AsSpan().TrimStart();
        return !trimmed.IsEmpty && trimmed[0] == '{';
    }
}

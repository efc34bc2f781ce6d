using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Tests.Infrastructure;

namespace AuroraNexus.Tests.Llm;

public sealed class ChatCompletionsClientTests : IAsyncLifetime
{
    private static readonly IReadOnlyList<ChatMessage> Question =
        [ChatMessage.System("Réponds à partir des passages."), ChatMessage.User("Comment configurer PUBLIC_DOMAIN ?")];

    private static readonly ChatOptions Fast = ChatOptions.Default with
    {
        Timeout = TimeSpan.FromSeconds(5),
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
    };

    private static readonly ChatOptions NoRetry = Fast with { MaxRetries = 0 };

    private readonly HttpClient _http = new();
    private OpenRouterStub _stub = null!;

    private ChatCompletionsClient Client => new(_http);

    public async Task InitializeAsync() => _stub = await OpenRouterStub.StartAsync();

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        _http.Dispose();
    }

    [Fact]
    public async Task Completion_returns_content_model_finish_reason_generation_id_and_usage()
    {
        _stub.EnqueueReply("Réponse fondée [1].");

        var result = await Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None);

        Assert.Equal("Réponse fondée [1].", result.Content);
        Assert.Equal(OpenRouterStub.DefaultModel, result.Model);
        Assert.Equal("stop", result.FinishReason);
        Assert.StartsWith("gen-", result.GenerationId);
        Assert.NotNull(result.Usage);
        Assert.True(result.Usage.TotalTokens == result.PromptTokens + result.CompletionTokens && result.PromptTokens > 0);
        Assert.Equal(1, result.Attempts);
        Assert.True(result.IsComplete);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public async Task Every_call_sends_bearer_key_referer_title_and_the_tenant_model()
    {
        var ep = _stub.Endpoint(publicDomain: "rag.auroramind.fr", appTitle: "Aurora Nexus");

        await Client.CompleteAsync(ep, Question, Fast, CancellationToken.None);
        await foreach (var _ in Client.StreamAsync(ep, Question, Fast, CancellationToken.None))
        {
        }

        await Client.CheckKeyAsync(ep, CancellationToken.None);

        Assert.Equal(3, _stub.Requests.Count);
        Assert.All(_stub.Requests, r =>
        {
            Assert.Equal("Bearer " + OpenRouterStub.ValidKey, r.Authorization);
            Assert.Equal("https://rag.auroramind.fr", r.Referer);
            Assert.Equal("Aurora Nexus", r.Title);
        });
        using var body = JsonDocument.Parse(_stub.ChatRequests[0].Body);
        Assert.Equal(OpenRouterStub.DefaultModel, body.RootElement.GetProperty("model").GetString());
        Assert.False(body.RootElement.GetProperty("stream").GetBoolean());
        Assert.Equal("user", body.RootElement.GetProperty("messages")[1].GetProperty("role").GetString());
        using var streamBody = JsonDocument.Parse(_stub.ChatRequests[1].Body);
        Assert.True(streamBody.RootElement.GetProperty("stream").GetBoolean());
        Assert.Contains("text/event-stream", _stub.ChatRequests[1].Header("Accept"));
    }

    [Theory]
    [InlineData("https://rag.auroramind.fr", "https://rag.auroramind.fr")]
    [InlineData("http://localhost:18500", "http://localhost:18500")]
    [InlineData("rag.société.fr", "https://rag.xn--socit-esab.fr")]
    public async Task Referer_is_the_public_domain_as_an_ascii_url_keeping_an_existing_scheme(string publicDomain, string expected)
    {
        await Client.CompleteAsync(_stub.Endpoint(publicDomain: publicDomain), Question, Fast, CancellationToken.None);

        Assert.Equal(expected, _stub.Requests.Single().Referer);
    }

    [Fact]
    public async Task Non_ascii_app_title_is_sent_as_a_valid_header()
    {
        await Client.CompleteAsync(_stub.Endpoint(appTitle: "Équipe RAG – Nexus"), Question, Fast, CancellationToken.None);

        Assert.Equal("Equipe RAG - Nexus", _stub.Requests.Single().Title);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(LlmProviderKind.OpenAiCompatible)]
    public async Task A_provider_that_is_not_openrouter_never_gets_the_attribution_headers(LlmProviderKind? kind)
    {
        // The stub answers on 127.0.0.1: with no declared kind the host decides, and it is not OpenRouter's.
        var ep = _stub.Endpoint(publicDomain: "rag.auroramind.fr", kind: kind);

        await Client.CompleteAsync(ep, Question, Fast, CancellationToken.None);
        await foreach (var _ in Client.StreamAsync(ep, Question, Fast, CancellationToken.None))
        {
        }

        await Client.CheckKeyAsync(ep, CancellationToken.None);

        Assert.False(ep.IsOpenRouter);
        Assert.Equal(3, _stub.Requests.Count);
        Assert.All(_stub.Requests, r =>
        {
            Assert.Equal("Bearer " + OpenRouterStub.ValidKey, r.Authorization);
            Assert.Null(r.Referer);
            Assert.Null(r.Title);
            Assert.DoesNotContain(r.Headers.Keys, h => h.Equals("HTTP-Referer", StringComparison.OrdinalIgnoreCase) ||
                h.Equals("X-Title", StringComparison.OrdinalIgnoreCase));
        });
    }

    [Fact]
    public async Task A_provider_that_is_not_openrouter_gets_no_public_domain_warning()
    {
        var result = await Client.CompleteAsync(_stub.Endpoint(publicDomain: null, kind: null), Question, Fast, CancellationToken.None);

        Assert.Empty(result.Warnings);
        Assert.Null(_stub.Requests.Single().Referer);
    }

    [Fact]
    public async Task Missing_public_domain_still_calls_but_reports_the_unknown_app_warning()
    {
        var ep = _stub.Endpoint(publicDomain: null);

        var result = await Client.CompleteAsync(ep, Question, Fast, CancellationToken.None);
        _stub.EnqueueError(401, OpenRouterStub.NoCookieMessage);
        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(ep, Question, Fast, CancellationToken.None));

        Assert.Null(_stub.Requests[0].Referer);
        Assert.Equal("Aurora Nexus", _stub.Requests[0].Title);
        Assert.Contains(result.Warnings, w => w.StartsWith("public_domain_missing", StringComparison.Ordinal));
        Assert.Contains(error.Warnings, w => w.Contains("PUBLIC_DOMAIN", StringComparison.Ordinal));
        Assert.Contains("PUBLIC_DOMAIN", error.Message);
    }

    [Fact]
    public async Task Stream_yields_deltas_in_order_skipping_keep_alive_comments_then_a_final_item()
    {
        _stub.EnqueueStream("Bon", "jour", " [1]", ".");

        var items = new List<ChatDelta>();
        await foreach (var delta in Client.StreamAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None))
        {
            items.Add(delta);
        }

        Assert.Equal(["Bon", "jour", " [1]", "."], items.Where(d => !d.IsFinal).Select(d => d.Content));
        var final = Assert.Single(items, d => d.IsFinal);
        Assert.Same(items[^1], final);
        Assert.Equal("stop", final.FinishReason);
        Assert.Equal(OpenRouterStub.DefaultModel, final.Model);
        Assert.StartsWith("gen-", final.GenerationId);
        Assert.NotNull(final.Usage);
    }

    [Fact]
    public async Task Stream_with_empty_queue_delivers_the_stubs_compliant_default_answer()
    {
        var text = new StringBuilder();
        await foreach (var delta in Client.StreamAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None))
        {
            text.Append(delta.Content);
        }

        Assert.Equal(OpenRouterStub.CompliantAnswer, text.ToString());
    }

    [Theory]
    [InlineData("", LlmErrorCode.CredentialMissing)]
    [InlineData("   ", LlmErrorCode.CredentialMissing)]
    [InlineData("changeme", LlmErrorCode.CredentialInvalid)]
    [InlineData("change-me-now", LlmErrorCode.CredentialInvalid)]
    [InlineData("your-key-here", LlmErrorCode.CredentialInvalid)]
    [InlineData("sk-or-v1-xxxxxxxxxxxxxxxxxxxxxxxx", LlmErrorCode.CredentialInvalid)]
    [InlineData("sk-or-v1-your-openrouter-key", LlmErrorCode.CredentialInvalid)]
    [InlineData("sk-or-v1-", LlmErrorCode.CredentialInvalid)]
    [InlineData("sk-or-v1-5f2...4f5", LlmErrorCode.CredentialInvalid)]
    [InlineData("<OPENROUTER_API_KEY>", LlmErrorCode.CredentialInvalid)]
    [InlineData("${OPENROUTER_API_KEY}", LlmErrorCode.CredentialInvalid)]
    [InlineData("sk-or-v1-5f2c9e1a7b3d 4c6e8f0a1b2c3d4e5f6", LlmErrorCode.CredentialInvalid)]
    [InlineData("sk-or-v1-5f2c9e1a7b3d4c6e8f0a1b2c3d4e5f6\n", LlmErrorCode.CredentialInvalid)]
    [InlineData("sk-or-v1-5f2c9e1a7b3d4c6e8f0a1b2c3d4e5f6\r\n", LlmErrorCode.CredentialInvalid)]
    [InlineData("sk-or-v1-5f2c9e1a7b3d\t4c6e8f0a1b2c3d4e5f6", LlmErrorCode.CredentialInvalid)]
    [InlineData(" sk-or-v1-5f2c9e1a7b3d4c6e8f0a1b2c3d4e5f6", LlmErrorCode.CredentialInvalid)]
    [InlineData("\"sk-or-v1-5f2c9e1a7b3d4c6e8f0a1b2c3d4e5f6\"", LlmErrorCode.CredentialInvalid)]
    [InlineData("'sk-or-v1-5f2c9e1a7b3d4c6e8f0a1b2c3d4e5f6'", LlmErrorCode.CredentialInvalid)]
    public async Task Blank_or_placeholder_key_fails_fast_without_any_outbound_call(string key, LlmErrorCode expected)
    {
        var ep = _stub.Endpoint(apiKey: key);

        var complete = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(ep, Question, Fast, CancellationToken.None));
        var stream = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var _ in Client.StreamAsync(ep, Question, Fast, CancellationToken.None))
            {
            }
        });
        var check = await Assert.ThrowsAsync<LlmException>(() => Client.CheckKeyAsync(ep, CancellationToken.None));

        Assert.All(new[] { complete, stream, check }, e =>
        {
            Assert.Equal(expected, e.Code);
            Assert.False(e.Retryable);
            Assert.Null(e.HttpStatus);
            Assert.Contains("OPENROUTER_API_KEY", e.Message);
            Assert.Contains("Admin → Providers → Credentials", e.Message);
            Assert.Contains("no call was sent", e.Message);
        });
        Assert.Empty(_stub.Requests);
        Assert.Equal(0, _stub.ChatCalls);
    }

    [Theory]
    [InlineData("", "credential_missing", "holds no API key")]
    [InlineData("sk-or-v1-5f2c9e1a7b3d4c6e8f0a1b2c3d4e5f6\n", "credential_invalid", "whitespace")]
    [InlineData("\"sk-or-v1-5f2c9e1a7b3d4c6e8f0a1b2c3d4e5f6\"", "credential_invalid", "quote")]
    [InlineData("changeme", "credential_invalid", "placeholder")]
    public async Task Unusable_stored_credential_is_named_with_its_tenant_and_where_to_fix_it(string key, string code, string reason)
    {
        var ep = _stub.Endpoint(apiKey: key, tenantId: "acme", credentialLabel: "main");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(ep, Question, Fast, CancellationToken.None));

        Assert.Equal(code, error.ErrorCode);
        Assert.Contains("credential 'main' of tenant 'acme'", error.Message);
        Assert.Contains(reason, error.Message);
        Assert.Contains("Admin → Providers → Credentials (PUT /api/admin/providers/credentials/{id})", error.Message);
        Assert.DoesNotContain("OPENROUTER_API_KEY", error.Message);
        Assert.Empty(_stub.Requests);
    }

    [Fact]
    public async Task No_cookie_auth_401_says_the_key_arrived_empty_or_malformed_and_how_to_fix_it_without_retrying()
    {
        _stub.EnqueueError(401, OpenRouterStub.NoCookieMessage);
        _stub.EnqueueReply("should not be reached");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderAuthFailed, error.Code);
        Assert.Equal("provider_auth_failed", error.ErrorCode);
        Assert.Equal(401, error.HttpStatus);
        Assert.False(error.Retryable);
        Assert.Equal(1, error.Attempts);
        Assert.Equal(OpenRouterStub.NoCookieMessage, error.ProviderMessage);
        Assert.Contains($"the key ****{OpenRouterStub.ValidKey[^4..]} from OPENROUTER_API_KEY", error.Message);
        Assert.Contains("empty or malformed", error.Message);
        Assert.Contains("whitespace, quotes or a line break", error.Message);
        Assert.Contains($"HTTP 401: \"{OpenRouterStub.NoCookieMessage}\"", error.Message);
        Assert.Contains("Fix: correct OPENROUTER_API_KEY", error.Message);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Rejected_key_of_a_stored_credential_names_the_credential_the_tenant_and_where_to_fix_it()
    {
        _stub.EnqueueInvalidKey();
        var ep = _stub.Endpoint(tenantId: "acme", credentialLabel: "main");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(ep, Question, Fast, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderAuthFailed, error.Code);
        Assert.Contains(
            $"The provider rejected the key ****{OpenRouterStub.ValidKey[^4..]} of credential 'main' of tenant 'acme' " +
            $"(HTTP 401: \"{OpenRouterStub.InvalidKeyMessage}\")", error.Message);
        Assert.Contains("Admin → Providers → Credentials (PUT /api/admin/providers/credentials/{id})", error.Message);
        Assert.Contains("test it with POST /api/admin/providers/credentials/{id}/test", error.Message);
        Assert.DoesNotContain("OPENROUTER_API_KEY", error.Message);
        Assert.DoesNotContain("cookie", error.Message);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Rejected_bootstrap_key_says_to_fix_openrouter_api_key()
    {
        _stub.EnqueueInvalidKey();
        var ep = _stub.Endpoint(tenantId: "acme");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(ep, Question, Fast, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderAuthFailed, error.Code);
        Assert.Contains($"the key ****{OpenRouterStub.ValidKey[^4..]} from OPENROUTER_API_KEY for tenant 'acme'", error.Message);
        Assert.Contains("Fix: correct OPENROUTER_API_KEY in the environment", error.Message);
    }

    [Theory]
    [InlineData("Bearer ")]
    [InlineData("Bearer    ")]
    [InlineData("Bearer \"sk-or-v1-5f2c9e1a7b3d4c6e8f0a1b2c3d4e5f6\"")]
    [InlineData("Bearer sk-or-v1-5f2c9e1a7b3d 4c6e8f0a1b2c3d4e5f6")]
    [InlineData(null)]
    public async Task Stub_answers_no_cookie_401_when_no_usable_bearer_token_arrives(string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _stub.BaseUrl + "/chat/completions")
        {
            Content = new StringContent("""{"model":"openai/gpt-4o-mini","messages":[]}""", Encoding.UTF8, "application/json"),
        };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await _http.SendAsync(request);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(401, body.RootElement.GetProperty("error").GetProperty("code").GetInt32());
        Assert.Equal(OpenRouterStub.NoCookieMessage, body.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Theory]
    [InlineData(400, LlmErrorCode.ProviderBadRequest, "provider_bad_request", false)]
    [InlineData(401, LlmErrorCode.ProviderAuthFailed, "provider_auth_failed", false)]
    [InlineData(402, LlmErrorCode.ProviderPaymentRequired, "provider_payment_required", false)]
    [InlineData(403, LlmErrorCode.ProviderAuthFailed, "provider_auth_failed", false)]
    [InlineData(404, LlmErrorCode.ProviderBadRequest, "provider_bad_request", false)]
    [InlineData(408, LlmErrorCode.ProviderUnavailable, "provider_unavailable", true)]
    [InlineData(422, LlmErrorCode.ProviderBadRequest, "provider_bad_request", false)]
    [InlineData(429, LlmErrorCode.ProviderRateLimited, "provider_rate_limited", true)]
    [InlineData(500, LlmErrorCode.ProviderUnavailable, "provider_unavailable", true)]
    [InlineData(502, LlmErrorCode.ProviderUnavailable, "provider_unavailable", true)]
    [InlineData(503, LlmErrorCode.ProviderUnavailable, "provider_unavailable", true)]
    [InlineData(504, LlmErrorCode.ProviderUnavailable, "provider_unavailable", true)]
    public async Task Http_error_status_maps_to_a_stable_code_with_cause_fix_and_retryability(
        int status, LlmErrorCode code, string codeText, bool retryable)
    {
        _stub.EnqueueError(status, $"upstream said {status}");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, NoRetry, CancellationToken.None));

        Assert.Equal(code, error.Code);
        Assert.Equal(codeText, error.ErrorCode);
        Assert.Equal(status, error.HttpStatus);
        Assert.Equal(retryable, error.Retryable);
        Assert.Equal(status.ToString(System.Globalization.CultureInfo.InvariantCulture), error.ProviderCode);
        Assert.Contains($"HTTP {status}", error.Message);
        Assert.Contains($"upstream said {status}", error.Message);
        Assert.Contains("Fix:", error.Message);
    }

    [Fact]
    public async Task Payment_required_names_credits_and_the_credentials_page()
    {
        _stub.EnqueueError(402, "Insufficient credits. Add more using https://openrouter.ai/credits");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None));

        Assert.Equal("provider_payment_required", error.ErrorCode);
        Assert.Contains("insufficient credits", error.Message);
        Assert.Contains("Admin → Providers → Credentials", error.Message);
        Assert.False(error.Retryable);
        Assert.Null(error.RetryAfter);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Payment_required_with_a_retry_after_is_waited_for_then_retried()
    {
        // OpenRouter sends Retry-After with a 402 only when waiting helps (its in-flight spending budget).
        _stub.EnqueueError(402, "In-flight budget exceeded", TimeSpan.FromSeconds(1));
        _stub.EnqueueReply("après le budget");

        var clock = Stopwatch.StartNew();
        var result = await Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None);

        Assert.Equal("après le budget", result.Content);
        Assert.Equal(2, result.Attempts);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(950), $"waited only {clock.Elapsed}");
    }

    [Fact]
    public async Task Payment_required_with_a_retry_after_beyond_the_cap_is_retryable_by_the_caller()
    {
        _stub.EnqueueError(402, "In-flight budget exceeded", TimeSpan.FromSeconds(60));

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderPaymentRequired, error.Code);
        Assert.Equal(TimeSpan.FromSeconds(60), error.RetryAfter);
        Assert.True(error.Retryable);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Moderation_403_reports_the_reasons_but_never_the_flagged_prompt_text()
    {
        _stub.EnqueueModeration("texte confidentiel du prompt", "harassment", "violence");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderAuthFailed, error.Code);
        Assert.Equal(403, error.HttpStatus);
        Assert.Contains("reasons: harassment, violence", error.Message);
        Assert.Contains("moderation", error.Message);
        Assert.Contains("rephrase the question", error.Message);
        Assert.Contains("provider OpenAI", error.Message);
        Assert.DoesNotContain("texte confidentiel", error.Message);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(402)]
    [InlineData(403)]
    [InlineData(404)]
    [InlineData(422)]
    public async Task Client_errors_are_never_retried(int status)
    {
        _stub.EnqueueError(status, "no");
        _stub.EnqueueReply("should not be reached");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None));

        Assert.Equal(1, error.Attempts);
        Assert.Equal(1, _stub.ChatCalls);
        Assert.Equal(1, _stub.PendingBehaviours);
    }

    [Fact]
    public async Task Rate_limit_waits_for_retry_after_then_succeeds()
    {
        _stub.EnqueueError(429, "Rate limit exceeded: free-models-per-min", TimeSpan.FromSeconds(1));
        _stub.EnqueueReply("après attente");

        var clock = Stopwatch.StartNew();
        var result = await Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None);

        Assert.Equal("après attente", result.Content);
        Assert.Equal(2, result.Attempts);
        Assert.Equal(2, _stub.ChatCalls);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(950), $"waited only {clock.Elapsed}");
    }

    [Fact]
    public async Task Rate_limit_exposes_retry_after_when_retries_are_exhausted()
    {
        _stub.EnqueueError(429, "Rate limit exceeded", TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, NoRetry, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderRateLimited, error.Code);
        Assert.Equal(TimeSpan.FromSeconds(1), error.RetryAfter);
        Assert.Contains("retry after 1 s", error.Message);
        Assert.True(error.Retryable);
    }

    [Fact]
    public async Task Rate_limit_retries_are_bounded_and_the_last_retry_after_is_handed_on()
    {
        _stub.EnqueueError(429, "Rate limit exceeded", TimeSpan.FromSeconds(1));
        _stub.EnqueueError(429, "Rate limit exceeded", TimeSpan.FromSeconds(2));
        _stub.EnqueueReply("should not be reached");

        var error = await Assert.ThrowsAsync<LlmException>(() =>
            Client.CompleteAsync(_stub.Endpoint(), Question, Fast with { MaxRetries = 1 }, CancellationToken.None));

        Assert.Equal("provider_rate_limited", error.ErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(2), error.RetryAfter);
        Assert.Equal(2, error.Attempts);
        Assert.Equal(2, _stub.ChatCalls);
    }

    [Fact]
    public async Task Retry_after_beyond_the_cap_is_handed_to_the_caller_without_waiting()
    {
        _stub.EnqueueError(429, "Rate limit exceeded", TimeSpan.FromSeconds(60));
        _stub.EnqueueReply("should not be reached");

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None));

        Assert.Equal(TimeSpan.FromSeconds(60), error.RetryAfter);
        Assert.Equal(1, _stub.ChatCalls);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Unavailable_model_is_retried_with_backoff_then_succeeds()
    {
        _stub.EnqueueError(502, "Provider returned error");
        _stub.EnqueueError(503, "No allowed providers are available for the selected model.");
        _stub.EnqueueReply("troisième essai");

        var result = await Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None);

        Assert.Equal("troisième essai", result.Content);
        Assert.Equal(3, result.Attempts);
        Assert.Equal(3, _stub.ChatCalls);
    }

    [Theory]
    [InlineData(408)]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(504)]
    public async Task Every_5xx_and_408_is_retried_then_succeeds(int status)
    {
        _stub.EnqueueError(status, "temporarily unavailable");
        _stub.EnqueueReply("deuxième essai");

        var result = await Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None);

        Assert.Equal("deuxième essai", result.Content);
        Assert.Equal(2, result.Attempts);
    }

    [Fact]
    public async Task Unavailable_honours_retry_after()
    {
        _stub.EnqueueError(503, "No allowed providers are available for the selected model.", TimeSpan.FromSeconds(1));
        _stub.EnqueueReply("ok");

        var clock = Stopwatch.StartNew();
        var result = await Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None);

        Assert.Equal(2, result.Attempts);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(950), $"waited only {clock.Elapsed}");
    }

    [Fact]
    public async Task Retries_are_bounded()
    {
        for (var i = 0; i < 4; i++)
        {
            _stub.EnqueueError(503, "No allowed providers are available for the selected model.");
        }

        var error = await Assert.ThrowsAsync<LlmException>(() =>
            Client.CompleteAsync(_stub.Endpoint(), Question, Fast with { MaxRetries = 2 }, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderUnavailable, error.Code);
        Assert.Equal(3, error.Attempts);
        Assert.Equal(3, _stub.ChatCalls);
    }

    [Theory]
    [InlineData(502, "provider_unavailable")]
    [InlineData(500, "provider_unavailable")]
    [InlineData(401, "provider_auth_failed")]
    [InlineData(403, "provider_auth_failed")]
    [InlineData(402, "provider_payment_required")]
    [InlineData(429, "provider_rate_limited")]
    [InlineData(400, "provider_bad_request")]
    [InlineData("server_error", "provider_unavailable")]
    [InlineData("rate_limit_exceeded", "provider_rate_limited")]
    [InlineData("invalid_api_key", "provider_auth_failed")]
    public async Task Error_inside_a_200_body_is_mapped_like_its_code_and_never_an_empty_success(object code, string expected)
    {
        _stub.EnqueueErrorInBody(code, "Upstream provider disconnected");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, NoRetry, CancellationToken.None));

        Assert.Equal(expected, error.ErrorCode);
        Assert.Equal(200, error.HttpStatus);
        Assert.Equal(Convert.ToString(code, System.Globalization.CultureInfo.InvariantCulture), error.ProviderCode);
        Assert.Contains("Upstream provider disconnected", error.Message);
        Assert.Contains("HTTP 200", error.Message);
        Assert.Contains("Fix:", error.Message);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Error_inside_a_200_body_names_the_provider_and_carries_its_retry_after()
    {
        _stub.EnqueueErrorInBody(429, "Rate limit exceeded upstream", TimeSpan.FromSeconds(30));

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderRateLimited, error.Code);
        Assert.Equal(TimeSpan.FromSeconds(30), error.RetryAfter);
        Assert.Contains("provider Stub", error.Message);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Unavailable_error_inside_a_200_body_is_retried_like_a_502()
    {
        _stub.EnqueueErrorInBody(502, "Upstream provider disconnected");
        _stub.EnqueueReply("reprise");

        var result = await Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None);

        Assert.Equal("reprise", result.Content);
        Assert.Equal(2, result.Attempts);
    }

    [Fact]
    public async Task Html_page_instead_of_json_names_the_base_url_as_the_likely_cause()
    {
        _stub.EnqueueRaw(200, "text/html", "<html><body>Welcome to nginx!</body></html>");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderBadRequest, error.Code);
        Assert.Contains("text/html", error.Message);
        Assert.Contains("base URL", error.Message);
    }

    [Theory]
    [InlineData(502, "provider_unavailable")]
    [InlineData("server_error", "provider_unavailable")]
    [InlineData(429, "provider_rate_limited")]
    [InlineData(401, "provider_auth_failed")]
    [InlineData(402, "provider_payment_required")]
    [InlineData(400, "provider_bad_request")]
    public async Task Error_event_mid_stream_fails_after_the_deltas_already_received_mapped_like_its_code(object code, string expected)
    {
        _stub.EnqueueStreamError(code, "Provider disconnected unexpectedly", "Début", " de réponse");

        var received = new List<string>();
        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var delta in Client.StreamAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None))
            {
                received.Add(delta.Content);
            }
        });

        Assert.Equal(["Début", " de réponse"], received);
        Assert.Equal(expected, error.ErrorCode);
        Assert.Equal(Convert.ToString(code, System.Globalization.CultureInfo.InvariantCulture), error.ProviderCode);
        Assert.Contains("Provider disconnected unexpectedly", error.Message);
        Assert.Contains("error event in the stream after 16 characters", error.Message);
        Assert.Contains("must not be kept", error.Message);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Stream_closed_without_finish_reason_or_done_is_stream_cut_off()
    {
        _stub.EnqueueStreamCutOff("Une réponse", " inachev");

        var received = new StringBuilder();
        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var delta in Client.StreamAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None))
            {
                received.Append(delta.Content);
            }
        });

        Assert.Equal("Une réponse inachev", received.ToString());
        Assert.Equal(LlmErrorCode.StreamIncomplete, error.Code);
        Assert.Equal("stream_incomplete", error.ErrorCode);
        Assert.True(error.Retryable);
        Assert.Contains("[DONE]", error.Message);
        Assert.Contains("after 19 characters", error.Message);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Stream_ending_with_done_but_no_finish_reason_is_complete()
    {
        _stub.EnqueueStreamDoneWithoutFinishReason("Réponse", " brève.");

        var items = new List<ChatDelta>();
        await foreach (var delta in Client.StreamAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None))
        {
            items.Add(delta);
        }

        Assert.Equal("Réponse brève.", string.Concat(items.Select(d => d.Content)));
        Assert.True(items[^1].IsFinal);
        Assert.Null(items[^1].FinishReason);
    }

    [Fact]
    public async Task Stream_kept_open_by_keep_alives_alone_ends_as_stream_incomplete_at_its_maximum_duration()
    {
        _stub.EnqueueStreamKeepAliveForever(TimeSpan.FromMilliseconds(100), "Une réponse");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var _ in Client.StreamAsync(_stub.Endpoint(), Question,
                               Fast with { Timeout = TimeSpan.FromSeconds(1), StreamMaxDuration = TimeSpan.FromSeconds(2) }, CancellationToken.None))
            {
            }
        });

        Assert.Equal(LlmErrorCode.StreamIncomplete, error.Code);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Stream_that_goes_silent_after_some_text_is_stream_incomplete()
    {
        _stub.EnqueueStreamStall(TimeSpan.FromSeconds(5), "Une réponse");

        var received = new StringBuilder();
        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var delta in Client.StreamAsync(
                _stub.Endpoint(), Question, Fast with { Timeout = TimeSpan.FromSeconds(1) }, CancellationToken.None))
            {
                received.Append(delta.Content);
            }
        });

        Assert.Equal("Une réponse", received.ToString());
        Assert.Equal(LlmErrorCode.StreamIncomplete, error.Code);
        Assert.Contains("went silent", error.Message);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Stream_connection_dropped_mid_answer_is_stream_cut_off_and_not_replayed()
    {
        _stub.EnqueueStreamAbort("Une réponse");

        var received = new StringBuilder();
        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var delta in Client.StreamAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None))
            {
                received.Append(delta.Content);
            }
        });

        Assert.Equal("Une réponse", received.ToString());
        Assert.Equal(LlmErrorCode.StreamIncomplete, error.Code);
        Assert.Contains("the connection broke", error.Message);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Stream_is_retried_when_the_provider_is_unavailable_before_the_first_delta()
    {
        _stub.EnqueueError(503, "No allowed providers are available for the selected model.");
        _stub.EnqueueStream("ok");

        var text = new StringBuilder();
        await foreach (var delta in Client.StreamAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None))
        {
            text.Append(delta.Content);
        }

        Assert.Equal("ok", text.ToString());
        Assert.Equal(2, _stub.ChatCalls);
    }

    [Fact]
    public async Task Stream_request_error_maps_like_a_plain_call()
    {
        _stub.EnqueueError(401, OpenRouterStub.InvalidKeyMessage);

        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var _ in Client.StreamAsync(_stub.Endpoint(), Question, Fast, CancellationToken.None))
            {
            }
        });

        Assert.Equal(LlmErrorCode.ProviderAuthFailed, error.Code);
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Slow_provider_times_out_as_provider_unavailable_saying_timeout()
    {
        _stub.EnqueueSlow(TimeSpan.FromSeconds(10));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<LlmException>(() =>
            Client.CompleteAsync(_stub.Endpoint(), Question, NoRetry with { Timeout = TimeSpan.FromMilliseconds(300) }, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderUnavailable, error.Code);
        Assert.StartsWith("Timeout:", error.Message);
        Assert.True(error.Retryable);
        Assert.Null(error.HttpStatus);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Stream_that_sends_nothing_within_the_timeout_is_provider_unavailable_saying_timeout()
    {
        _stub.EnqueueSlow(TimeSpan.FromSeconds(10));

        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var _ in Client.StreamAsync(
                _stub.Endpoint(), Question, NoRetry with { Timeout = TimeSpan.FromSeconds(1) }, CancellationToken.None))
            {
            }
        });

        Assert.Equal(LlmErrorCode.ProviderUnavailable, error.Code);
        Assert.StartsWith("Timeout:", error.Message);
        // Not retried. (On a stalled machine the timeout can pass before the request reaches the stub: 0 is fine too.)
        Assert.InRange(_stub.ChatCalls, 0, 1);
    }

    [Fact]
    public async Task Provider_that_never_answers_costs_the_timeout_once_not_once_per_retry()
    {
        _stub.NeverAnswers = true;

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<LlmException>(() =>
            Client.CompleteAsync(_stub.Endpoint(), Question, Fast with { Timeout = TimeSpan.FromSeconds(1) }, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderUnavailable, error.Code);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(2.5));
        Assert.Equal(1, error.Attempts);
        Assert.Equal(1, _stub.ChatCalls);
        Assert.Contains("within 1 s (1 attempt)", error.Message);
        Assert.Contains("raise LLM_TIMEOUT_SECONDS (now 1)", error.Message);
    }

    [Fact]
    public async Task Retries_after_a_server_error_get_what_is_left_of_the_timeout()
    {
        _stub.EnqueueError(503, "No allowed providers are available for the selected model.");
        _stub.EnqueueSlow(TimeSpan.FromSeconds(10));
        _stub.EnqueueSlow(TimeSpan.FromSeconds(10));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<LlmException>(() =>
            Client.CompleteAsync(_stub.Endpoint(), Question, Fast with { Timeout = TimeSpan.FromSeconds(1.5) }, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderUnavailable, error.Code);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(3));
        Assert.Equal(2, error.Attempts);
        Assert.Equal(2, _stub.ChatCalls);
        Assert.Contains("within 1.5 s (2 attempts)", error.Message);
    }

    [Fact]
    public async Task Retry_after_longer_than_the_time_left_is_handed_to_the_caller_at_once()
    {
        _stub.EnqueueError(429, "Rate limit exceeded", TimeSpan.FromSeconds(3));
        _stub.EnqueueReply("trop tard");

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<LlmException>(() =>
            Client.CompleteAsync(_stub.Endpoint(), Question, Fast with { Timeout = TimeSpan.FromSeconds(2) }, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderRateLimited, error.Code);
        Assert.Equal(TimeSpan.FromSeconds(3), error.RetryAfter);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5), $"took {clock.Elapsed}");
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Caller_cancellation_is_not_reported_as_a_provider_error()
    {
        _stub.EnqueueSlow(TimeSpan.FromSeconds(10));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Client.CompleteAsync(_stub.Endpoint(), Question, Fast, cancel.Token));
    }

    [Fact]
    public async Task Closed_port_is_provider_unavailable_saying_unreachable_after_bounded_retries()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var ep = new LlmEndpoint($"http://127.0.0.1:{port}/api/v1", OpenRouterStub.ValidKey, OpenRouterStub.DefaultModel, "rag.example.test", "Aurora Nexus");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(ep, Question, Fast with { MaxRetries = 1 }, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderUnavailable, error.Code);
        Assert.Equal("provider_unavailable", error.ErrorCode);
        Assert.True(error.Retryable);
        Assert.Equal(2, error.Attempts);
        Assert.StartsWith("Unreachable:", error.Message);
        Assert.Contains("refused", error.Message);
        Assert.Contains($"127.0.0.1:{port}", error.Message);
        Assert.Contains("base URL", error.Message);
    }

    [Fact]
    public async Task Unresolvable_host_is_provider_unavailable_saying_it_does_not_resolve()
    {
        // RFC 6761: names under .invalid never resolve.
        var ep = new LlmEndpoint("http://aurora-nexus-llm.invalid/api/v1", OpenRouterStub.ValidKey, OpenRouterStub.DefaultModel,
            "rag.example.test", "Aurora Nexus");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(ep, Question, NoRetry, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderUnavailable, error.Code);
        Assert.Contains("does not resolve", error.Message);
        Assert.Contains("aurora-nexus-llm.invalid", error.Message);
    }

    [Fact]
    public async Task Server_error_timeout_and_unreachable_messages_are_distinct()
    {
        _stub.EnqueueError(500, "Internal Server Error");
        _stub.EnqueueSlow(TimeSpan.FromSeconds(10));
        var server = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(_stub.Endpoint(), Question, NoRetry, CancellationToken.None));
        var timeout = await Assert.ThrowsAsync<LlmException>(() =>
            Client.CompleteAsync(_stub.Endpoint(), Question, NoRetry with { Timeout = TimeSpan.FromMilliseconds(300) }, CancellationToken.None));
        var unreachable = await Assert.ThrowsAsync<LlmException>(() =>
            Client.CompleteAsync(_stub.Endpoint() with { BaseUrl = "http://127.0.0.1:1/api/v1" }, Question, NoRetry, CancellationToken.None));

        Assert.All(new[] { server, timeout, unreachable }, e => Assert.Equal(LlmErrorCode.ProviderUnavailable, e.Code));
        Assert.Contains("server error (HTTP 500", server.Message);
        Assert.StartsWith("Timeout:", timeout.Message);
        Assert.StartsWith("Unreachable:", unreachable.Message);
    }

    [Fact]
    public async Task Malformed_base_url_fails_without_a_call()
    {
        var ep = _stub.Endpoint() with { BaseUrl = "openrouter.ai/api/v1" };

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(ep, Question, Fast, CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderBadRequest, error.Code);
        Assert.False(error.Retryable);
        Assert.Contains("LLM_BASE_URL", error.Message);
        Assert.Empty(_stub.Requests);
    }

    [Fact]
    public async Task Key_check_reads_the_openrouter_key_details()
    {
        var result = await Client.CheckKeyAsync(_stub.Endpoint(), CancellationToken.None);

        Assert.Equal("/key", result.CheckedPath);
        Assert.Equal("sk-or-v1-5f...5a6", result.Label);
        Assert.Null(result.Limit);
        Assert.Equal(0.0123m, result.Usage);
        Assert.False(result.IsFreeTier);
        Assert.Equal(0, _stub.ChatCalls);
        Assert.Equal("/api/v1/key", _stub.Requests.Single().Path);
    }

    [Fact]
    public async Task Key_check_of_another_provider_lists_its_models()
    {
        _stub.ModelsRequireKey = true;

        var result = await Client.CheckKeyAsync(_stub.Endpoint(kind: null), CancellationToken.None);

        Assert.Equal("/models", result.CheckedPath);
        Assert.Equal(2, result.ModelCount);
        var request = Assert.Single(_stub.Requests);
        Assert.Equal("/api/v1/models", request.Path);
        Assert.Equal("Bearer " + OpenRouterStub.ValidKey, request.Authorization);
    }

    [Fact]
    public async Task Key_check_of_openrouter_never_falls_back_to_its_public_model_list()
    {
        _stub.KeyEndpointAvailable = false;

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CheckKeyAsync(_stub.Endpoint(), CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderBadRequest, error.Code);
        Assert.Equal(404, error.HttpStatus);
        Assert.Equal(["/api/v1/key"], _stub.Requests.Select(r => r.Path));
    }

    [Fact]
    public async Task Key_check_with_a_rejected_key_is_provider_auth_failed()
    {
        _stub.EnqueueKeyError(401, OpenRouterStub.InvalidKeyMessage);

        var error = await Assert.ThrowsAsync<LlmException>(() =>
            Client.CheckKeyAsync(_stub.Endpoint(tenantId: "acme", credentialLabel: "main"), CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderAuthFailed, error.Code);
        Assert.Contains("credential 'main' of tenant 'acme'", error.Message);
        Assert.Contains("Admin → Providers → Credentials", error.Message);
        Assert.Single(_stub.Requests);
    }

    [Fact]
    public async Task Key_check_of_another_provider_with_a_rejected_key_is_provider_auth_failed()
    {
        _stub.ModelsRequireKey = true;
        _stub.EnqueueKeyError(401, "Incorrect API key provided.");

        var error = await Assert.ThrowsAsync<LlmException>(() => Client.CheckKeyAsync(_stub.Endpoint(kind: null), CancellationToken.None));

        Assert.Equal(LlmErrorCode.ProviderAuthFailed, error.Code);
        Assert.Contains("Incorrect API key provided.", error.Message);
        Assert.Equal(["/api/v1/models"], _stub.Requests.Select(r => r.Path));
    }

    [Fact]
    public async Task The_key_never_appears_in_messages_or_to_string()
    {
        const string key = "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";
        var ep = _stub.Endpoint(apiKey: key, publicDomain: null, tenantId: "acme", credentialLabel: "main");
        _stub.EnqueueError(401, $"Invalid key {key} for user");
        _stub.EnqueueError(403, $"Key {key} may not use this model");
        _stub.EnqueueError(429, "Rate limit exceeded", TimeSpan.FromSeconds(60));
        _stub.EnqueueError(402, "Insufficient credits");
        _stub.EnqueueError(503, $"No provider for {key}");
        _stub.EnqueueErrorInBody(500, $"upstream rejected {key}");
        _stub.EnqueueRaw(400, "text/plain", $"bad request from {key}");

        var errors = new List<LlmException>();
        for (var i = 0; i < 7; i++)
        {
            errors.Add(await Assert.ThrowsAsync<LlmException>(() => Client.CompleteAsync(ep, Question, NoRetry, CancellationToken.None)));
        }

        _stub.EnqueueStreamCutOff("partiel");
        _stub.EnqueueStreamError(401, $"key {key} revoked mid-stream", "partiel");
        for (var i = 0; i < 2; i++)
        {
            errors.Add(await Assert.ThrowsAsync<LlmException>(async () =>
            {
                await foreach (var _ in Client.StreamAsync(ep, Question, NoRetry, CancellationToken.None))
                {
                }
            }));
        }

        _stub.EnqueueKeyError(401, $"User not found for {key}");
        errors.Add(await Assert.ThrowsAsync<LlmException>(() => Client.CheckKeyAsync(ep, CancellationToken.None)));
        errors.Add(await Assert.ThrowsAsync<LlmException>(() =>
            Client.CompleteAsync(ep with { ApiKey = key + "\n" }, Question, NoRetry, CancellationToken.None)));

        Assert.All(errors, e =>
        {
            Assert.DoesNotContain(key, e.Message);
            Assert.DoesNotContain(key, e.ToString());
            Assert.DoesNotContain(key, e.ProviderMessage ?? "");
            Assert.DoesNotContain(key[9..30], e.ToString());
        });
        Assert.Equal(11, errors.Count);
        Assert.Contains("****9a8b", errors[0].Message);
        Assert.Contains("****9a8b", errors[1].Message);
        Assert.DoesNotContain(key, ep.ToString());
        Assert.Contains("****9a8b", ep.ToString());
        Assert.Equal("Bearer " + key, _stub.Requests[0].Authorization);
    }

    [Fact]
    public void Error_codes_are_exactly_the_public_snake_case_codes()
    {
        var codes = Enum.GetValues<LlmErrorCode>().Select(c => c.ToCode()).ToList();

        Assert.Equal(
            [
                "provider_auth_failed", "provider_rate_limited", "provider_unavailable", "provider_bad_request",
                "provider_payment_required", "stream_incomplete", "credential_missing", "credential_invalid", "credential_unreadable", "provider_empty_answer",
            ],
            codes);
        Assert.Equal("credential_unreadable", LlmErrorCode.CredentialUnreadable.ToCode());
    }

    [Fact]
    public void Only_rate_limits_unavailability_and_incomplete_streams_are_transient()
    {
        var transient = Enum.GetValues<LlmErrorCode>().Where(c => c.IsTransient()).ToList();

        Assert.Equal([LlmErrorCode.ProviderRateLimited, LlmErrorCode.ProviderUnavailable, LlmErrorCode.StreamIncomplete], transient);
        Assert.False(new LlmException(LlmErrorCode.ProviderPaymentRequired, "no credits", 402).Retryable);
        Assert.True(new LlmException(LlmErrorCode.ProviderPaymentRequired, "budget", 402, TimeSpan.FromSeconds(5)).Retryable);
        Assert.False(new LlmException(LlmErrorCode.ProviderAuthFailed, "bad key", 401, TimeSpan.FromSeconds(5)).Retryable);
    }

    [Fact]
    public void Unreadable_credential_names_the_fingerprints_and_both_fixes()
    {
        var error = LlmException.CredentialUnreadable("acme", "main", "3f9a1c2b", ["7d2e4f60", "b81c09aa"]);

        Assert.Equal(LlmErrorCode.CredentialUnreadable, error.Code);
        Assert.Equal("credential_unreadable", error.ErrorCode);
        Assert.False(error.Retryable);
        Assert.Null(error.HttpStatus);
        Assert.Contains("credential 'main' of tenant 'acme'", error.Message);
        Assert.Contains("encrypted with the key of fingerprint 3f9a1c2b", error.Message);
        Assert.Contains("LLM_CREDENTIALS_ENC_KEY holds fingerprints [7d2e4f60, b81c09aa]", error.Message);
        Assert.Contains("put the old key back in LLM_CREDENTIALS_ENC_KEY (comma-separated, new key first)", error.Message);
        Assert.Contains("`rotate-credentials-key`", error.Message);
        Assert.Contains("re-enter the credential in Admin → Providers → Credentials", error.Message);
        Assert.Contains("no call was sent", error.Message);
    }
}

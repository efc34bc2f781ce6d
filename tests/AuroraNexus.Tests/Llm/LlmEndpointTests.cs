using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Llm;
using AuroraNexus.WebFront.Api;
using Microsoft.Extensions.Configuration;

namespace AuroraNexus.Tests.Llm;

public sealed class LlmEndpointTests
{
    private const string Key = "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";

    [Theory]
    [InlineData("https://openrouter.ai/api/v1", LlmProviderKind.OpenRouter)]
    [InlineData("https://OpenRouter.AI/api/v1/", LlmProviderKind.OpenRouter)]
    [InlineData("https://eu.openrouter.ai/api/v1", LlmProviderKind.OpenRouter)]
    [InlineData("https://api.openai.com/v1", LlmProviderKind.OpenAiCompatible)]
    [InlineData("http://127.0.0.1:4000/api/v1", LlmProviderKind.OpenAiCompatible)]
    [InlineData("https://openrouter.ai.example.com/api/v1", LlmProviderKind.OpenAiCompatible)]
    [InlineData("https://notopenrouter.ai/api/v1", LlmProviderKind.OpenAiCompatible)]
    [InlineData("openrouter.ai/api/v1", LlmProviderKind.OpenAiCompatible)]
    public void Without_a_declared_kind_the_host_decides(string baseUrl, LlmProviderKind expected)
    {
        var ep = new LlmEndpoint(baseUrl, Key, "openai/gpt-4o-mini", "rag.example.test", "Aurora Nexus");

        Assert.Null(ep.Kind);
        Assert.Equal(expected, ep.ProviderKind);
        Assert.Equal(expected == LlmProviderKind.OpenRouter, ep.IsOpenRouter);
    }

    [Theory]
    [InlineData("https://openrouter.ai/api/v1", LlmProviderKind.OpenAiCompatible)]
    [InlineData("http://127.0.0.1:4000/api/v1", LlmProviderKind.OpenRouter)]
    public void A_declared_kind_wins_over_the_host(string baseUrl, LlmProviderKind declared)
    {
        var ep = new LlmEndpoint(baseUrl, Key, "openai/gpt-4o-mini", "rag.example.test", "Aurora Nexus") { Kind = declared };

        Assert.Equal(declared, ep.ProviderKind);
        Assert.Equal(declared == LlmProviderKind.OpenRouter, ep.IsOpenRouter);
    }

    [Theory]
    [InlineData("openrouter", LlmProviderKind.OpenRouter)]
    [InlineData(" OpenRouter ", LlmProviderKind.OpenRouter)]
    [InlineData("openai_compatible", LlmProviderKind.OpenAiCompatible)]
    [InlineData("openai-compatible", LlmProviderKind.OpenAiCompatible)]
    public void Provider_kind_codes_round_trip(string text, LlmProviderKind expected)
    {
        Assert.True(LlmProviderKinds.TryParse(text, out var kind));
        Assert.Equal(expected, kind);
        Assert.True(LlmProviderKinds.TryParse(kind.ToCode(), out var again));
        Assert.Equal(kind, again);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("openai")]
    [InlineData("anthropic")]
    public void Unknown_provider_kinds_are_refused(string? text) => Assert.False(LlmProviderKinds.TryParse(text, out _));

    [Fact]
    public void Llm_provider_kind_setting_declares_the_bootstrap_kind_and_refuses_unknown_values()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-llm-kind-" + Guid.NewGuid().ToString("N"));
        try
        {
            NexusSettings Load(string? kind) => NexusSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(
                new Dictionary<string, string?> { ["NEXUS_DATA_DIR"] = dataDir, ["LLM_PROVIDER_KIND"] = kind }).Build());

            Assert.Null(Load(null).LlmProviderKind);
            Assert.Equal(LlmProviderKind.OpenRouter, Load("openrouter").LlmProviderKind);
            Assert.Equal(LlmProviderKind.OpenAiCompatible, Load("openai_compatible").LlmProviderKind);
            var error = Assert.Throws<NexusConfigurationException>(() => Load("azure"));
            Assert.Equal("LLM_PROVIDER_KIND", error.Variable);
            Assert.Contains("openai_compatible", error.Message);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public void Context_properties_default_to_null_and_show_in_to_string_without_the_key()
    {
        var bootstrap = new LlmEndpoint(LlmEndpoint.OpenRouterBaseUrl, Key, "openai/gpt-4o-mini", "rag.example.test", "Aurora Nexus");
        var stored = bootstrap with { TenantId = "acme", CredentialLabel = "main", Kind = LlmProviderKind.OpenRouter };

        Assert.Null(bootstrap.TenantId);
        Assert.Null(bootstrap.CredentialLabel);
        Assert.Contains("CredentialLabel = (OPENROUTER_API_KEY)", bootstrap.ToString());
        Assert.Contains("TenantId = acme", stored.ToString());
        Assert.Contains("CredentialLabel = main", stored.ToString());
        Assert.Contains("Kind = openrouter", stored.ToString());
        Assert.DoesNotContain(Key, stored.ToString());
        Assert.DoesNotContain(Key[9..30], stored.ToString());
    }

    [Theory]
    [InlineData(LlmErrorCode.ProviderAuthFailed, 502)]
    [InlineData(LlmErrorCode.ProviderRateLimited, 429)]
    [InlineData(LlmErrorCode.ProviderUnavailable, 503)]
    [InlineData(LlmErrorCode.ProviderBadRequest, 502)]
    [InlineData(LlmErrorCode.ProviderPaymentRequired, 502)]
    [InlineData(LlmErrorCode.StreamIncomplete, 502)]
    [InlineData(LlmErrorCode.CredentialMissing, 409)]
    [InlineData(LlmErrorCode.CredentialInvalid, 409)]
    [InlineData(LlmErrorCode.CredentialUnreadable, 409)]
    [InlineData(LlmErrorCode.ProviderEmptyAnswer, 502)]
    public void Api_problem_status_of_each_llm_code(LlmErrorCode code, int status) => Assert.Equal(status, code.ApiStatus());

    [Fact]
    public void Api_problem_passes_retry_after_on_429_and_503_only()
    {
        var limited = new LlmException(LlmErrorCode.ProviderRateLimited, "limited", 429, TimeSpan.FromSeconds(2.2));
        var unknown = new LlmException(LlmErrorCode.ProviderRateLimited, "limited", 429);
        var payment = new LlmException(LlmErrorCode.ProviderPaymentRequired, "budget", 402, TimeSpan.FromSeconds(5));

        Assert.Equal("3", Problems.RetryAfterSeconds(limited, 429));
        Assert.Equal("3", Problems.RetryAfterSeconds(limited, 503));
        Assert.Null(Problems.RetryAfterSeconds(unknown, 429));
        Assert.Null(Problems.RetryAfterSeconds(payment, payment.Code.ApiStatus()));
    }
}

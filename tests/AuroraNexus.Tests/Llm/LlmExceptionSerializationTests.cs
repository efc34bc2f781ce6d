using AuroraNexus.Grains.Llm;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace AuroraNexus.Tests.Llm;

public sealed class LlmExceptionSerializationTests
{
    [Fact]
    public void Llm_exception_keeps_its_code_and_retry_hints_across_a_grain_call()
    {
        using var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        var original = new LlmException(LlmErrorCode.ProviderRateLimited, "rate limited, retry after 3 s", 429, TimeSpan.FromSeconds(3))
        {
            ProviderMessage = "Rate limit exceeded",
            ProviderCode = "429",
        };

        var serializer = services.GetRequiredService<Serializer>();
        var copy = Assert.IsType<LlmException>(serializer.Deserialize<Exception>(serializer.SerializeToArray<Exception>(original)));
        var copied = Assert.IsType<LlmException>(services.GetRequiredService<DeepCopier>().Copy<Exception>(original));

        foreach (var e in new[] { copy, copied })
        {
            Assert.Equal(LlmErrorCode.ProviderRateLimited, e.Code);
            Assert.Equal("provider_rate_limited", e.ErrorCode);
            Assert.Equal(original.Message, e.Message);
            Assert.Equal(429, e.HttpStatus);
            Assert.Equal(TimeSpan.FromSeconds(3), e.RetryAfter);
            Assert.True(e.Retryable);
            Assert.Equal("Rate limit exceeded", e.ProviderMessage);
            Assert.Equal("429", e.ProviderCode);
        }
    }

    [Fact]
    public async Task Llm_exception_keeps_its_warnings_across_a_grain_call()
    {
        using var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        using var http = new HttpClient();
        var ep = new LlmEndpoint(LlmEndpoint.OpenRouterBaseUrl, "changeme", "openai/gpt-4o-mini", null, "Aurora Nexus");
        var original = await Assert.ThrowsAsync<LlmException>(() =>
            new ChatCompletionsClient(http).CompleteAsync(ep, [ChatMessage.User("?")], ChatOptions.Default, CancellationToken.None));

        var copy = services.GetRequiredService<DeepCopier>().Copy<Exception>(original);

        var e = Assert.IsType<LlmException>(copy);
        Assert.Equal(LlmErrorCode.CredentialInvalid, e.Code);
        Assert.Equal(1, e.Attempts);
        Assert.Contains(LlmEndpoint.PublicDomainMissingWarning, e.Warnings);
        Assert.Equal(original.Warnings, e.Warnings);
    }

    [Fact]
    public void Unreadable_credential_keeps_its_code_across_a_grain_call()
    {
        using var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        var original = LlmException.CredentialUnreadable("acme", "main", "3f9a1c2b", ["7d2e4f60"]);
        var serializer = services.GetRequiredService<Serializer>();

        var copy = Assert.IsType<LlmException>(serializer.Deserialize<Exception>(serializer.SerializeToArray<Exception>(original)));

        Assert.Equal(LlmErrorCode.CredentialUnreadable, copy.Code);
        Assert.Equal("credential_unreadable", copy.ErrorCode);
        Assert.Equal(original.Message, copy.Message);
    }
}

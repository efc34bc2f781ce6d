using AuroraNexus.Grains.Llm;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuroraNexus.Tests.Llm;

/// <summary>
/// The LLM client as the silo registers it: it follows no redirect, and while private endpoints are not allowed it
/// connects only to public addresses (the loopback stubs here stand for the platform's internal network).
/// </summary>
public sealed class ProviderConnectionTests : IAsyncLifetime
{
    private static readonly IReadOnlyList<ChatMessage> Question = [ChatMessage.User("Comment configurer PUBLIC_DOMAIN ?")];
    private static readonly ChatOptions NoRetry = ChatOptions.Default with { Timeout = TimeSpan.FromSeconds(5), MaxRetries = 0 };

    private readonly List<ServiceProvider> _providers = [];
    private OpenRouterStub _provider = null!;
    private OpenRouterStub _internal = null!;

    public async Task InitializeAsync()
    {
        _provider = await OpenRouterStub.StartAsync();
        _internal = await OpenRouterStub.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        await _provider.DisposeAsync();
        await _internal.DisposeAsync();
    }

    private ChatCompletionsClient Client(bool allowPrivateEndpoints, params string[] trustedBaseUrls)
    {
        var services = new ServiceCollection();
        services.AddProviderHttpClient(allowPrivateEndpoints, trustedBaseUrls);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<ChatCompletionsClient>();
    }

    [Theory]
    [InlineData(302, false)]
    [InlineData(307, true)]
    [InlineData(308, false)]
    public async Task A_redirect_is_not_followed_and_fails_as_provider_bad_request_naming_the_final_url(int status, bool stream)
    {
        var client = Client(allowPrivateEndpoints: true);
        _provider.EnqueueRedirect(status, _internal.BaseUrl + "/chat/completions");

        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            if (stream)
            {
                await foreach (var _ in client.StreamAsync(_provider.Endpoint(), Question, NoRetry, CancellationToken.None))
                {
                }
            }
            else
            {
                await client.CompleteAsync(_provider.Endpoint(), Question, NoRetry, CancellationToken.None);
            }
        });

        Assert.Equal(LlmErrorCode.ProviderBadRequest, error.Code);
        Assert.Equal("provider_bad_request", error.ErrorCode);
        Assert.Equal(status, error.HttpStatus);
        Assert.Equal(1, error.Attempts);
        Assert.Contains($"with a redirect (HTTP {status}) to {_internal.BaseUrl}/chat/completions", error.Message);
        Assert.Contains("e.g. " + _internal.BaseUrl + ".", error.Message);
        Assert.DoesNotContain(OpenRouterStub.ValidKey, error.Message);
        Assert.Single(_provider.ChatRequests);
        Assert.Empty(_internal.Requests);
    }

    [Fact]
    public async Task Without_private_endpoints_a_loopback_provider_is_refused_at_connect_and_receives_nothing()
    {
        var client = Client(allowPrivateEndpoints: false);
        var byName = _provider.Endpoint() with { BaseUrl = _provider.BaseUrl.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) };
        Assert.NotEqual(_provider.BaseUrl, byName.BaseUrl);

        foreach (var ep in new[] { _provider.Endpoint(), byName })
        {
            var chat = await Assert.ThrowsAsync<LlmException>(() => client.CompleteAsync(ep, Question, NoRetry, CancellationToken.None));
            Assert.Equal(LlmErrorCode.ProviderBadRequest, chat.Code);
            Assert.Contains("a loopback, private, link-local or reserved address", chat.Message);
            Assert.Contains(EndpointGuard.AllowVariable, chat.Message);
            Assert.IsType<ProviderAddressRefusedException>(chat.InnerException);

            // The credential test's call goes through the same client.
            var check = await Assert.ThrowsAsync<LlmException>(() => client.CheckKeyAsync(ep, CancellationToken.None));
            Assert.Equal(LlmErrorCode.ProviderBadRequest, check.Code);
        }

        Assert.Empty(_provider.Requests);
    }

    [Fact]
    public async Task Private_endpoints_connect_when_allowed_and_the_operators_base_url_always_does()
    {
        var allowed = await Client(allowPrivateEndpoints: true).CompleteAsync(_provider.Endpoint(), Question, NoRetry, CancellationToken.None);
        Assert.True(allowed.IsComplete);

        // LLM_BASE_URL is the operators' own setting, not a tenant's: trusted by host and port, wherever it points.
        var trusted = Client(allowPrivateEndpoints: false, _provider.BaseUrl);
        Assert.True((await trusted.CompleteAsync(_provider.Endpoint(), Question, NoRetry, CancellationToken.None)).IsComplete);
        var other = await Assert.ThrowsAsync<LlmException>(() =>
            trusted.CompleteAsync(_internal.Endpoint(), Question, NoRetry, CancellationToken.None));
        Assert.IsType<ProviderAddressRefusedException>(other.InnerException);
        Assert.Equal(2, _provider.ChatCalls);
        Assert.Empty(_internal.Requests);
    }
}

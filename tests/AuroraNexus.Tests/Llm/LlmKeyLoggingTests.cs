using System.Collections.Concurrent;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Tests.Llm;

/// <summary>The client as the silo registers it (typed HttpClient with the factory's logging) never logs the key.</summary>
public sealed class LlmKeyLoggingTests : IAsyncLifetime
{
    private const string Key = "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";
    private readonly CapturingLoggerProvider _logs = new();
    private OpenRouterStub _stub = null!;
    private ServiceProvider _services = null!;

    public async Task InitializeAsync()
    {
        _stub = await OpenRouterStub.StartAsync();
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(_logs));
        services.AddHttpClient<ChatCompletionsClient>();
        _services = services.BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _stub.DisposeAsync();
    }

    [Fact]
    public async Task Trace_logs_of_successful_and_failed_calls_never_contain_the_key()
    {
        var client = _services.GetRequiredService<ChatCompletionsClient>();
        var ep = _stub.Endpoint(apiKey: Key, tenantId: "acme", credentialLabel: "main");
        var options = ChatOptions.Default with { MaxRetries = 0, Timeout = TimeSpan.FromSeconds(5) };
        IReadOnlyList<ChatMessage> question = [ChatMessage.User("Comment configurer PUBLIC_DOMAIN ?")];

        await client.CompleteAsync(ep, question, options, CancellationToken.None);
        await foreach (var _ in client.StreamAsync(ep, question, options, CancellationToken.None))
        {
        }

        await client.CheckKeyAsync(ep, CancellationToken.None);
        _stub.EnqueueError(401, $"Invalid key {Key}");
        var error = await Assert.ThrowsAsync<LlmException>(() => client.CompleteAsync(ep, question, options, CancellationToken.None));

        Assert.Equal(4, _stub.Requests.Count);
        Assert.All(_stub.Requests, r => Assert.Equal("Bearer " + Key, r.Authorization));
        Assert.NotEmpty(_logs.Lines);
        Assert.Contains(_logs.Lines, l => l.Contains("Authorization", StringComparison.Ordinal));
        Assert.All(_logs.Lines, l => Assert.DoesNotContain(Key[9..40], l));
        Assert.DoesNotContain(Key[9..40], error.ToString());
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyList<string> Lines => [.. _lines];

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull
            {
                lines.Enqueue($"{category} scope: {state}");
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(
                LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue($"{category} {logLevel}: {formatter(state, exception)} {exception}");
        }
    }
}

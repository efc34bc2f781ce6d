using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;

namespace AuroraNexus.Tests.Api;

/// <summary>LLM_TIMEOUT_SECONDS bounds a whole LLM call, retries included, and its message gives the real figures.</summary>
public sealed class LlmTimeoutTests : IAsyncLifetime
{
    private const string App = "tests-llm-timeout";
    private readonly PostgresFixture _postgres = new();
    private OpenRouterStub _stub = null!;
    private TestApp _app = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        _stub = await OpenRouterStub.StartAsync();
        _app = await TestApp.StartAsync(await _postgres.CreateDatabaseAsync("llmtimeout"), new Dictionary<string, string?>
        {
            ["OPENROUTER_API_KEY"] = OpenRouterStub.ValidKey,
            ["LLM_BASE_URL"] = _stub.BaseUrl,
            ["LLM_PROVIDER_KIND"] = "openrouter",
            ["LLM_MODEL"] = OpenRouterStub.DefaultModel,
            ["PUBLIC_DOMAIN"] = "rag.example.test",
            ["LLM_TIMEOUT_SECONDS"] = "2",
        });
        _admin = await _app.LoginAsync();
        await TestApp.IngestAsync(_admin, App, TestApp.CorpusFiles().Where(f => f.Name == "F3079.txt").ToArray());
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _app.DisposeAsync();
        await _stub.DisposeAsync();
        await _postgres.DisposeAsync();
    }

    [Fact]
    public async Task Provider_that_never_answers_fails_the_query_within_the_configured_timeout_naming_it()
    {
        _stub.NeverAnswers = true;

        var clock = Stopwatch.StartNew();
        var response = await _admin.PostAsJsonAsync("/api/query",
            new { question = "Comment faire une donation au dernier vivant ?", caller_app = App, thread_id = "timeout" });
        clock.Stop();
        var problem = (await response.Content.ReadFromJsonAsync<JsonNode>())!;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("provider_unavailable", problem["code"]!.GetValue<string>());
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("within 2 s (1 attempt)", detail);
        Assert.Contains("LLM_TIMEOUT_SECONDS (now 2)", detail);
        Assert.Contains("status", detail);
        // 3 attempts of 2 s each would take 6 s; the budget is the whole call's.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4.5), $"the query took {clock.Elapsed}");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.9), $"the query took {clock.Elapsed}");
        Assert.Equal(1, _stub.ChatCalls);
    }

    [Fact]
    public async Task Retries_after_server_errors_share_the_configured_timeout()
    {
        _stub.EnqueueError(503, "No allowed providers are available for the selected model.");
        _stub.EnqueueSlow(TimeSpan.FromSeconds(30));
        _stub.EnqueueSlow(TimeSpan.FromSeconds(30));

        var clock = Stopwatch.StartNew();
        var response = await _admin.PostAsJsonAsync("/api/query",
            new { question = "Comment faire une donation au dernier vivant ?", caller_app = App, thread_id = "timeout-retry" });
        clock.Stop();
        var problem = (await response.Content.ReadFromJsonAsync<JsonNode>())!;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("provider_unavailable", problem["code"]!.GetValue<string>());
        Assert.Contains("within 2 s (2 attempts)", problem["detail"]!.GetValue<string>());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4.5), $"the query took {clock.Elapsed}");
        Assert.Equal(2, _stub.ChatCalls);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;

namespace AuroraNexus.Tests.Api;

/// <summary>The bootstrap LLM (OPENROUTER_API_KEY + LLM_BASE_URL) against the loopback OpenRouter stub.</summary>
public sealed class LlmModeTests : IAsyncLifetime
{
    private const string App = "tests-llm";
    private readonly PostgresFixture _postgres = new();
    private OpenRouterStub _stub = null!;
    private TestApp _app = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        _stub = await OpenRouterStub.StartAsync();
        _app = await TestApp.StartAsync(await _postgres.CreateDatabaseAsync("llm"), new Dictionary<string, string?>
        {
            ["OPENROUTER_API_KEY"] = OpenRouterStub.ValidKey,
            ["LLM_BASE_URL"] = _stub.BaseUrl,
            // The stub replays OpenRouter on a loopback port, which the host alone would make a plain OpenAI-compatible provider.
            ["LLM_PROVIDER_KIND"] = "openrouter",
            ["LLM_MODEL"] = OpenRouterStub.DefaultModel,
            ["PUBLIC_DOMAIN"] = "rag.example.test",
        });
        _admin = await _app.LoginAsync();
        await TestApp.IngestAsync(_admin, App, TestApp.CorpusFiles());
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _app.DisposeAsync();
        await _stub.DisposeAsync();
        await _postgres.DisposeAsync();
    }

    [Fact]
    public async Task Llm_answer_keeps_its_outline_and_pure_anaphora_makes_no_llm_call()
    {
        const string thread = "llm-thread";
        var first = await IngestionApiTests.Ask(_admin, "Qu'est-ce que l'aide médicale de l'État (AME) ?", App, thread);
        Assert.Equal("llm", first["mode"]!.GetValue<string>());
        Assert.Equal(OpenRouterStub.DefaultModel, first["model"]!.GetValue<string>());
        Assert.Equal(1, _stub.ChatCalls);
        var request = _stub.ChatRequests.Single();
        Assert.Equal("Bearer " + OpenRouterStub.ValidKey, request.Authorization);
        Assert.Contains("rag.example.test", request.Referer);
        Assert.Equal("Aurora Nexus", request.Title);
        Assert.Contains("SUIVI", request.Body);
        Assert.Contains("F3079.txt", request.Body);
        Assert.InRange(first["sections"]!.AsArray().Count, 4, 8);
        Assert.EndsWith(first["sections"]!.AsArray()[^1]!["title"]!.GetValue<string>(), first["answer"]!.GetValue<string>().TrimEnd());

        foreach (var anaphora in new[] { "détaille ça", "explain that", "et ça ?" })
        {
            var choice = await IngestionApiTests.Ask(_admin, anaphora, App, thread);
            Assert.Equal("clarification", choice["mode"]!.GetValue<string>());
            Assert.Equal(first["sections"]!.AsArray().Count, choice["choices"]!.AsArray().Count);
        }

        Assert.Equal(1, _stub.ChatCalls);

        var detail = await IngestionApiTests.Ask(_admin, "détaille le point B", App, thread);
        Assert.Equal("S2", detail["followup"]!["section_id"]!.GetValue<string>());
        Assert.Equal(2, _stub.ChatCalls);
        var prompt = string.Join("\n", JsonNode.Parse(_stub.ChatRequests[^1].Body)!["messages"]!.AsArray()
            .Select(m => m!["content"]!.GetValue<string>()));
        Assert.Contains(first["sections"]![1]!["title"]!.GetValue<string>(), prompt);
    }

    [Fact]
    public async Task Provider_401_is_a_problem_naming_the_key_and_the_outline_is_kept()
    {
        const string thread = "llm-401";
        await IngestionApiTests.Ask(_admin, "Comment faire une donation au dernier vivant ?", App, thread);
        _stub.EnqueueError(401, OpenRouterStub.NoCookieMessage);
        var response = await _admin.PostAsJsonAsync("/api/query", new { question = "Qu'est-ce que l'AME ?", caller_app = App, thread_id = thread });
        var problem = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("provider_auth_failed", problem["code"]!.GetValue<string>());
        Assert.Contains("OPENROUTER_API_KEY", problem["detail"]!.GetValue<string>());
        Assert.Contains("empty or malformed", problem["detail"]!.GetValue<string>());
        Assert.DoesNotContain(OpenRouterStub.ValidKey, problem.ToJsonString());

        // A Retry-After longer than the client waits is passed on to the caller with the 429.
        _stub.EnqueueError(429, "Rate limit exceeded: free-models-per-min", TimeSpan.FromSeconds(60));
        var limited = await _admin.PostAsJsonAsync("/api/query", new { question = "Qu'est-ce que l'AME ?", caller_app = App, thread_id = thread });
        var limitedProblem = (await limited.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Equal("provider_rate_limited", limitedProblem["code"]!.GetValue<string>());
        Assert.Equal(TimeSpan.FromSeconds(60), limited.Headers.RetryAfter?.Delta);

        var detail = await IngestionApiTests.Ask(_admin, "détaille le point 2", App, thread);
        Assert.True(detail["followup"]!["resolved"]!.GetValue<bool>());
    }
}

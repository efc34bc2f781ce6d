using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Bench;

/// <summary>An OpenAI-compatible provider on loopback that answers every chat call at once with the same completion.</summary>
public sealed class LoopbackProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _calls;

    private LoopbackProvider(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public int Calls => Volatile.Read(ref _calls);

    public static async Task<LoopbackProvider> StartAsync(string reply)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var port = GatewayBench.FreePort();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        var provider = new LoopbackProvider(app, $"http://127.0.0.1:{port}/v1");
        var body = new JsonObject
        {
            ["id"] = "gen-bench",
            ["object"] = "chat.completion",
            ["model"] = "bench-model",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = reply },
                ["finish_reason"] = "stop",
            }),
            ["usage"] = new JsonObject { ["prompt_tokens"] = 3, ["completion_tokens"] = 2, ["total_tokens"] = 5 },
        }.ToJsonString();
        app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            Interlocked.Increment(ref provider._calls);
            await http.Request.Body.CopyToAsync(Stream.Null);
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(body);
        });
        await app.StartAsync();
        return provider;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

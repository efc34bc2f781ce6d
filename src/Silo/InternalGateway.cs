using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Tenancy;
using Npgsql;

namespace AuroraNexus.Silo;

/// <summary>
/// The ops-facing, OpenAI-compatible chat endpoint of a silo (<c>POST /internal/v1/chat/completions</c> on
/// HOST_GATEWAY_PORT): <c>Authorization: Bearer GATEWAY_INTERNAL_SECRET</c> (compared in constant time) and
/// <c>X-Tenant-Id</c> choose whose model answers; the call goes through that tenant's grain like every other LLM call.
/// </summary>
public static class InternalGateway
{
    public const string ChatPath = "/internal/v1/chat/completions";
    public const string TenantHeader = "X-Tenant-Id";

    public static RouteHandlerBuilder MapInternalGateway(this IEndpointRouteBuilder app) =>
        app.MapPost(ChatPath, HandleAsync).AllowAnonymous();

    private static async Task HandleAsync(HttpContext http, NexusSettings settings, NpgsqlDataSource db, IGrainFactory grains)
    {
        var ct = http.RequestAborted;
        if (!Authorized(http.Request.Headers.Authorization.ToString(), settings.GatewaySecret))
        {
            await Error(http, 401, "gateway_unauthorized",
                "Send `Authorization: Bearer <GATEWAY_INTERNAL_SECRET>` (the value the silos are configured with).");
            return;
        }

        var tenant = http.Request.Headers[TenantHeader].ToString().Trim();
        if (tenant.Length == 0)
        {
            await Error(http, 400, "tenant_required", $"Send the tenant id in the {TenantHeader} header.");
            return;
        }

        await using (var exists = db.CreateCommand("SELECT 1 FROM tenants WHERE id = @t"))
        {
            exists.Parameters.AddWithValue("t", tenant);
            if (await exists.ExecuteScalarAsync(ct) is null)
            {
                await Error(http, 404, "tenant_not_found", $"No tenant '{tenant}'.");
                return;
            }
        }

        JsonNode? body;
        try
        {
            body = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: ct);
        }
        catch (JsonException)
        {
            body = null;
        }

        var (request, stream, problem) = Parse(body);
        if (request is null)
        {
            await Error(http, 400, "bad_request", problem!);
            return;
        }

        var grain = grains.GetGrain<ITenantGrain>(tenant);
        try
        {
            if (stream)
            {
                await StreamAsync(http, grain, request, ct);
                return;
            }

            var reply = await grain.CompleteAsync(request, ct);
            if (reply is null)
            {
                await Error(http, 409, "llm_not_configured",
                    $"Tenant '{tenant}' has no LLM credential; add one in Admin → Providers → Credentials.");
                return;
            }

            await http.Response.WriteAsJsonAsync(new JsonObject
            {
                ["id"] = reply.GenerationId ?? "gen-" + Guid.NewGuid().ToString("N"),
                ["object"] = "chat.completion",
                ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                ["model"] = reply.Model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = reply.Content },
                    ["finish_reason"] = reply.FinishReason,
                }),
                ["usage"] = new JsonObject
                {
                    ["prompt_tokens"] = reply.PromptTokens,
                    ["completion_tokens"] = reply.CompletionTokens,
                    ["total_tokens"] = reply.PromptTokens + reply.CompletionTokens,
                },
            }, ct);
        }
        catch (LlmException ex) when (!http.Response.HasStarted)
        {
            await Error(http, ex.Code.ApiStatus(), ex.ErrorCode, ex.Message);
        }
    }

    private static async Task StreamAsync(HttpContext http, ITenantGrain grain, LlmRequest request, CancellationToken ct)
    {
        var id = "gen-" + Guid.NewGuid().ToString("N");
        var started = false;
        try
        {
            await foreach (var delta in grain.StreamAsync(request, ct))
            {
                if (!started)
                {
                    started = true;
                    http.Response.ContentType = "text/event-stream";
                    http.Response.Headers.CacheControl = "no-cache";
                }

                var choice = new JsonObject
                {
                    ["index"] = 0,
                    ["delta"] = delta.IsFinal ? new JsonObject() : new JsonObject { ["content"] = delta.Content },
                    ["finish_reason"] = delta.IsFinal ? delta.FinishReason ?? "stop" : null,
                };
                var chunk = new JsonObject
                {
                    ["id"] = delta.GenerationId ?? id,
                    ["object"] = "chat.completion.chunk",
                    ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                    ["model"] = delta.Model ?? request.Model ?? "",
                    ["choices"] = new JsonArray(choice),
                };
                await WriteEventAsync(http, chunk.ToJsonString(), ct);
            }

            if (!started)
            {
                await Error(http, 409, "llm_not_configured", "This tenant has no LLM credential; add one in Admin → Providers → Credentials.");
                return;
            }

            await WriteEventAsync(http, "[DONE]", ct);
        }
        catch (LlmException ex)
        {
            if (!started)
            {
                await Error(http, ex.Code.ApiStatus(), ex.ErrorCode, ex.Message);
                return;
            }

            // Like OpenRouter once a stream has begun: the error travels as an event, and no [DONE] follows.
            var error = new JsonObject
            {
                ["error"] = ErrorObject(ex.ErrorCode, ex.Message),
                ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = new JsonObject(), ["finish_reason"] = "error" }),
            };
            await WriteEventAsync(http, error.ToJsonString(), ct);
        }
    }

    private static async Task WriteEventAsync(HttpContext http, string data, CancellationToken ct)
    {
        await http.Response.WriteAsync("data: " + data + "\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
    }

    /// <summary>Constant time over hashes, so neither the content nor the length of the secret leaks.</summary>
    public static bool Authorized(string authorization, string secret)
    {
        const string prefix = "Bearer ";
        var presented = authorization.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? authorization[prefix.Length..].Trim() : "";
        var a = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var b = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
        return CryptographicOperations.FixedTimeEquals(a, b) && presented.Length > 0;
    }

    /// <summary>Reads an OpenAI chat body strictly: every field of the wrong type or out of range is a 400, never a guess.</summary>
    public static (LlmRequest? Request, bool Stream, string? Problem) Parse(JsonNode? body)
    {
        const string shape = "Send an OpenAI chat body: {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}], \"model\"?, \"temperature\"?, \"max_tokens\"?, \"stream\"?}.";
        if (body is not JsonObject obj || obj["messages"] is not JsonArray raw || raw.Count == 0)
        {
            return (null, false, shape);
        }

        var messages = ImmutableArray.CreateBuilder<LlmMessage>(raw.Count);
        foreach (var m in raw)
        {
            if (m is not JsonObject message || Text(message["role"]) is not ("system" or "user" or "assistant") ||
                Content(message["content"]) is not { } content)
            {
                return (null, false, "Each message needs a role (system, user or assistant) and a content: a string, or an array of {\"type\": \"text\", \"text\": \"...\"} parts.");
            }

            messages.Add(new LlmMessage(Text(message["role"])!, content));
        }

        if (obj["model"] is { } model && (Text(model) is not { Length: > 0 and <= 200 }))
        {
            return (null, false, "model must be a non-empty string (the provider's model id).");
        }

        double? temperature = null;
        if (obj["temperature"] is { } t)
        {
            if (t is not JsonValue tv || !tv.TryGetValue<double>(out var tn) || tn is < 0 or > 2)
            {
                return (null, false, "temperature must be a number between 0 and 2.");
            }

            temperature = tn;
        }

        int? maxTokens = null;
        if (obj["max_tokens"] is { } mt)
        {
            if (mt is not JsonValue mv || !mv.TryGetValue<int>(out var mn) || mn is < 1 or > 1_000_000)
            {
                return (null, false, "max_tokens must be a whole number between 1 and 1000000.");
            }

            maxTokens = mn;
        }

        var stream = false;
        if (obj["stream"] is { } st)
        {
            if (st is not JsonValue sv || !sv.TryGetValue<bool>(out stream))
            {
                return (null, false, "stream must be true or false.");
            }
        }

        return (new LlmRequest(messages.ToImmutable(), temperature ?? 0.2, maxTokens, Text(obj["model"])), stream, null);
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string? Content(JsonNode? node)
    {
        if (Text(node) is { } text)
        {
            return text;
        }

        if (node is not JsonArray parts || parts.Count == 0)
        {
            return null;
        }

        var builder = new StringBuilder();
        foreach (var part in parts)
        {
            if (part is not JsonObject p || Text(p["type"]) != "text" || Text(p["text"]) is not { } piece)
            {
                return null;
            }

            builder.Append(piece);
        }

        return builder.ToString();
    }

    private static Task Error(HttpContext http, int status, string code, string message)
    {
        http.Response.StatusCode = status;
        return http.Response.WriteAsJsonAsync(new JsonObject { ["error"] = ErrorObject(code, message) }, http.RequestAborted);
    }

    /// <summary>
    /// OpenAI's error object with the API's stable code as <c>code</c>, as everywhere else in the product (OpenAI's own
    /// codes are strings too); <c>type</c> repeats it for clients that read OpenAI's category field. The HTTP status is
    /// the response's.
    /// </summary>
    public static JsonObject ErrorObject(string code, string message) =>
        new() { ["code"] = code, ["message"] = message, ["type"] = code };
}

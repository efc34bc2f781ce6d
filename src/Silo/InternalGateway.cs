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

        if (body?["messages"] is not JsonArray rawMessages || rawMessages.Count == 0)
        {
            await Error(http, 400, "bad_request", "Send an OpenAI chat body: {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}]}.");
            return;
        }

        var messages = ImmutableArray.CreateBuilder<LlmMessage>();
        foreach (var m in rawMessages)
        {
            var role = m?["role"]?.GetValue<string>();
            var content = m?["content"]?.GetValue<string>();
            if (role is not ("system" or "user" or "assistant") || content is null)
            {
                await Error(http, 400, "bad_request", "Each message needs a role (system, user or assistant) and a string content.");
                return;
            }

            messages.Add(new LlmMessage(role, content));
        }

        var request = new LlmRequest(messages.ToImmutable(), Number(body["temperature"]) ?? 0.2,
            (int?)Number(body["max_tokens"]), body["model"]?.GetValue<string>());
        var grain = grains.GetGrain<ITenantGrain>(tenant);
        var stream = body["stream"]?.GetValue<bool>() == true;
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
            await Error(http, StatusOf(ex), ex.ErrorCode, ex.Message);
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
                await Error(http, StatusOf(ex), ex.ErrorCode, ex.Message);
                return;
            }

            // Like OpenRouter once a stream has begun: the error travels as an event, and no [DONE] follows.
            var error = new JsonObject
            {
                ["error"] = new JsonObject { ["code"] = StatusOf(ex), ["message"] = ex.Message, ["type"] = ex.ErrorCode },
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

    private static int StatusOf(LlmException ex) => ex.ErrorCode switch
    {
        "provider_rate_limited" => 429,
        "provider_unavailable" => 503,
        "credential_missing" or "credential_invalid" or "credential_unreadable" => 409,
        _ => 502,
    };

    private static double? Number(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

    private static Task Error(HttpContext http, int status, string code, string message)
    {
        http.Response.StatusCode = status;
        return http.Response.WriteAsJsonAsync(
            new JsonObject { ["error"] = new JsonObject { ["code"] = status, ["message"] = message, ["type"] = code } },
            http.RequestAborted);
    }
}

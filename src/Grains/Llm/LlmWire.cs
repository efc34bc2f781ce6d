using System.Text.Json;
using System.Text.Json.Serialization;

namespace AuroraNexus.Grains.Llm;

internal sealed record WireMessage(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("content")] string Content);

internal sealed record WireStreamOptions([property: JsonPropertyName("include_usage")] bool IncludeUsage);

internal sealed record WireChatRequest(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("messages")] IReadOnlyList<WireMessage> Messages,
    [property: JsonPropertyName("stream")] bool Stream,
    [property: JsonPropertyName("temperature")] double? Temperature,
    [property: JsonPropertyName("max_tokens")] int? MaxTokens,
    [property: JsonPropertyName("stream_options")] WireStreamOptions? StreamOptions);

/// <summary>OpenRouter's <c>{code, message, metadata}</c>; OpenAI-style servers send a <c>type</c> word instead of a code.</summary>
internal sealed record WireError(
    [property: JsonPropertyName("code")] JsonElement Code,
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("metadata")] JsonElement Metadata,
    [property: JsonPropertyName("type")] JsonElement Type = default);

internal sealed record WireUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens);

internal sealed record WireContent([property: JsonPropertyName("content")] string? Content);

internal sealed record WireChoice(
    [property: JsonPropertyName("message")] WireContent? Message,
    [property: JsonPropertyName("delta")] WireContent? Delta,
    [property: JsonPropertyName("finish_reason")] string? FinishReason,
    [property: JsonPropertyName("error")] WireError? Error);

/// <summary>Both a <c>chat.completion</c> and a <c>chat.completion.chunk</c>; either may carry an <c>error</c>.</summary>
internal sealed record WireCompletion(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<WireChoice>? Choices,
    [property: JsonPropertyName("usage")] WireUsage? Usage,
    [property: JsonPropertyName("error")] WireError? Error);

internal sealed record WireErrorEnvelope([property: JsonPropertyName("error")] WireError? Error);

internal sealed record WireKeyData(
    [property: JsonPropertyName("label")] string? Label,
    [property: JsonPropertyName("limit")] decimal? Limit,
    [property: JsonPropertyName("limit_remaining")] decimal? LimitRemaining,
    [property: JsonPropertyName("usage")] decimal? Usage,
    [property: JsonPropertyName("is_free_tier")] bool? IsFreeTier);

internal sealed record WireKey([property: JsonPropertyName("data")] WireKeyData? Data);

internal sealed record WireModels([property: JsonPropertyName("data")] IReadOnlyList<JsonElement>? Data);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WireChatRequest))]
[JsonSerializable(typeof(WireCompletion))]
[JsonSerializable(typeof(WireErrorEnvelope))]
[JsonSerializable(typeof(WireKey))]
[JsonSerializable(typeof(WireModels))]
internal sealed partial class LlmJsonContext : JsonSerializerContext;

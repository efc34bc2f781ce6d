namespace AuroraNexus.Grains.Llm;

/// <summary>Per-call settings of a chat completion.</summary>
public sealed record ChatOptions
{
    public static ChatOptions Default { get; } = new();

    public double? Temperature { get; init; } = 0.2;

    public int? MaxTokens { get; init; }

    /// <summary>
    /// The budget of the whole call: every attempt and the waits between them (LLM_TIMEOUT_SECONDS for tenants' calls).
    /// An attempt gets what is left of it, so a provider that never answers costs this once, not once per retry. For a
    /// stream it bounds the wait for the headers, then the silence between two received lines.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The setting that raises <see cref="Timeout"/>, named in timeout messages; null when none does.</summary>
    public string? TimeoutSetting { get; init; } = "LLM_TIMEOUT_SECONDS";

    /// <summary>
    /// The longest a whole stream may take once open: keep-alive comments re-arm <see cref="Timeout"/>, so a provider
    /// that only sends them would otherwise hold the answer (and its thread) for ever.
    /// </summary>
    public TimeSpan StreamMaxDuration { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Retries after the first attempt for 429, 408, every 5xx, timeouts and unreachable endpoints, and for a 402 that
    /// came with a Retry-After, while <see cref="Timeout"/> has time left. Never for 400, 401, 403, 404 or a 402 without
    /// Retry-After.
    /// </summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>The longest Retry-After the client waits for; a longer one is handed to the caller instead.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First backoff step when the provider sends no Retry-After; doubled per attempt, jittered.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);
}

public sealed record LlmUsage(int PromptTokens, int CompletionTokens, int TotalTokens);

/// <summary>A finished, non-streamed completion.</summary>
public sealed record ChatResult(
    string Content,
    string Model,
    string? FinishReason,
    string? GenerationId,
    LlmUsage? Usage,
    int Attempts,
    IReadOnlyList<string> Warnings)
{
    public int PromptTokens => Usage?.PromptTokens ?? 0;

    public int CompletionTokens => Usage?.CompletionTokens ?? 0;

    /// <summary>False when the model stopped for another reason than the end of its answer (length, content filter).</summary>
    public bool IsComplete => FinishReason is null or "stop" or "end_turn" or "eos";
}

/// <summary>
/// One piece of a streamed completion. Content pieces arrive in order; the last item has <see cref="IsFinal"/>
/// set, empty content, and carries the finish reason, usage and warnings.
/// </summary>
public sealed record ChatDelta(string Content)
{
    public string? FinishReason { get; init; }

    public string? Model { get; init; }

    public string? GenerationId { get; init; }

    public LlmUsage? Usage { get; init; }

    public bool IsFinal { get; init; }

    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>What a "test connection" learnt about a key.</summary>
public sealed record KeyCheckResult(
    string CheckedPath,
    string? Label,
    decimal? Limit,
    decimal? LimitRemaining,
    decimal? Usage,
    bool? IsFreeTier,
    int? ModelCount,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<string>? ModelIds = null);

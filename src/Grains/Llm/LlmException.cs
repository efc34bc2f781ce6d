namespace AuroraNexus.Grains.Llm;

public enum LlmErrorCode
{
    ProviderError,
    ProviderBadRequest,
    ProviderUnauthorized,
    ProviderPaymentRequired,
    ProviderForbidden,
    ProviderTimeout,
    ProviderRateLimited,
    ProviderUnavailable,
    StreamCutOff,
    CredentialMissing,
    CredentialInvalid,
    EndpointUnreachable,
}

public static class LlmErrorCodeExtensions
{
    /// <summary>The stable snake_case code shown in problem details, logs and <c>queries_log</c>.</summary>
    public static string ToCode(this LlmErrorCode code) => code switch
    {
        LlmErrorCode.ProviderError => "provider_error",
        LlmErrorCode.ProviderBadRequest => "provider_bad_request",
        LlmErrorCode.ProviderUnauthorized => "provider_unauthorized",
        LlmErrorCode.ProviderPaymentRequired => "provider_payment_required",
        LlmErrorCode.ProviderForbidden => "provider_forbidden",
        LlmErrorCode.ProviderTimeout => "provider_timeout",
        LlmErrorCode.ProviderRateLimited => "provider_rate_limited",
        LlmErrorCode.ProviderUnavailable => "provider_unavailable",
        LlmErrorCode.StreamCutOff => "stream_cut_off",
        LlmErrorCode.CredentialMissing => "credential_missing",
        LlmErrorCode.CredentialInvalid => "credential_invalid",
        LlmErrorCode.EndpointUnreachable => "endpoint_unreachable",
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };

    /// <summary>True for failures that may pass when the same request is sent again later.</summary>
    public static bool IsTransient(this LlmErrorCode code) => code is
        LlmErrorCode.ProviderTimeout or LlmErrorCode.ProviderRateLimited or LlmErrorCode.ProviderUnavailable or
        LlmErrorCode.EndpointUnreachable or LlmErrorCode.StreamCutOff;
}

/// <summary>
/// A failed LLM call, with a stable <see cref="Code"/> and a message that names the cause and the fix.
/// Messages never contain the API key: provider text is scrubbed of it before it gets here.
/// Serializable by Orleans, so the code and retry hints survive the hop from the tenant grain to its callers.
/// </summary>
[GenerateSerializer, Alias("nexus.LlmException")]
public sealed class LlmException(
    LlmErrorCode code,
    string message,
    int? httpStatus = null,
    TimeSpan? retryAfter = null,
    Exception? innerException = null) : Exception(message, innerException)
{
    [Id(0)]
    public LlmErrorCode Code { get; } = code;

    /// <summary>The snake_case form of <see cref="Code"/>.</summary>
    public string ErrorCode => Code.ToCode();

    [Id(1)]
    public int? HttpStatus { get; } = httpStatus;

    [Id(2)]
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public bool Retryable => Code.IsTransient();

    /// <summary>The provider's own <c>error.message</c>, scrubbed of the key, when it sent one.</summary>
    [Id(3)]
    public string? ProviderMessage { get; init; }

    /// <summary>The provider's own <c>error.code</c> (a number for OpenRouter, sometimes a word mid-stream).</summary>
    [Id(4)]
    public string? ProviderCode { get; init; }

    [Id(5)]
    public int Attempts { get; internal set; } = 1;

    [Id(6)]
    public IReadOnlyList<string> Warnings { get; internal set; } = [];
}

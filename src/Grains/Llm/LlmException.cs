namespace AuroraNexus.Grains.Llm;

/// <summary>
/// Why an LLM call failed. The numbers are fixed because Orleans serializes the value: never renumber a member,
/// only add new ones.
/// </summary>
public enum LlmErrorCode
{
    /// <summary>HTTP 401 or 403: the key is invalid, revoked, empty on arrival, or not allowed to do this.</summary>
    ProviderAuthFailed = 1,

    /// <summary>HTTP 429, after the retries that a short enough <c>Retry-After</c> allows.</summary>
    ProviderRateLimited = 2,

    /// <summary>5xx, 408, timeouts, unreachable endpoints and unreadable responses, after bounded retries.</summary>
    ProviderUnavailable = 3,

    /// <summary>400, 404, 422 and other 4xx: the request or the endpoint configuration is wrong; never retried.</summary>
    ProviderBadRequest = 4,

    /// <summary>HTTP 402: no credits; retried only when the provider sends a short enough <c>Retry-After</c>.</summary>
    ProviderPaymentRequired = 5,

    /// <summary>A stream that stopped without <c>finish_reason</c> and without <c>[DONE]</c>; the partial answer is unusable.</summary>
    StreamIncomplete = 6,

    /// <summary>No key at all (empty or whitespace): no call is made.</summary>
    CredentialMissing = 7,

    /// <summary>A key that cannot be real (placeholder, masked value, inner whitespace): no call is made.</summary>
    CredentialInvalid = 8,

    /// <summary>A stored key that cannot be decrypted with the configured <c>LLM_CREDENTIALS_ENC_KEY</c>: no call is made.</summary>
    CredentialUnreadable = 9,

    /// <summary>The model finished without writing anything: there is no answer to deliver.</summary>
    ProviderEmptyAnswer = 10,
}

public static class LlmErrorCodeExtensions
{
    /// <summary>The stable snake_case code shown in problem details, logs and <c>queries_log</c>.</summary>
    public static string ToCode(this LlmErrorCode code) => code switch
    {
        LlmErrorCode.ProviderAuthFailed => "provider_auth_failed",
        LlmErrorCode.ProviderRateLimited => "provider_rate_limited",
        LlmErrorCode.ProviderUnavailable => "provider_unavailable",
        LlmErrorCode.ProviderBadRequest => "provider_bad_request",
        LlmErrorCode.ProviderPaymentRequired => "provider_payment_required",
        LlmErrorCode.StreamIncomplete => "stream_incomplete",
        LlmErrorCode.CredentialMissing => "credential_missing",
        LlmErrorCode.CredentialInvalid => "credential_invalid",
        LlmErrorCode.CredentialUnreadable => "credential_unreadable",
        LlmErrorCode.ProviderEmptyAnswer => "provider_empty_answer",
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };

    /// <summary>
    /// The HTTP status our own APIs answer with: the provider's own faults and refusals are a bad gateway, its rate
    /// limit is passed on as 429 and its unavailability as 503, and a tenant credential that is missing, invalid or
    /// unreadable is a conflict with the tenant's configuration.
    /// </summary>
    public static int ApiStatus(this LlmErrorCode code) => code switch
    {
        LlmErrorCode.ProviderRateLimited => 429,
        LlmErrorCode.ProviderUnavailable => 503,
        LlmErrorCode.CredentialMissing or LlmErrorCode.CredentialInvalid or LlmErrorCode.CredentialUnreadable => 409,
        _ => 502,
    };

    /// <summary>
    /// True for failures that may pass when the same request is sent again later. A 402 is not, unless the provider
    /// sent a <c>Retry-After</c> with it (see <see cref="LlmException.Retryable"/>).
    /// </summary>
    public static bool IsTransient(this LlmErrorCode code) => code is
        LlmErrorCode.ProviderRateLimited or LlmErrorCode.ProviderUnavailable or LlmErrorCode.StreamIncomplete;
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

    /// <summary>True when sending the same request later may pass: a transient code, or a 402 that came with a Retry-After.</summary>
    public bool Retryable => Code.IsTransient() || (Code == LlmErrorCode.ProviderPaymentRequired && RetryAfter is not null);

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

    /// <summary>
    /// A stored credential that the configured <c>LLM_CREDENTIALS_ENC_KEY</c> cannot decrypt: it was encrypted with a key
    /// (identified by <paramref name="neededFingerprint"/>) that is no longer in the list. No call is made.
    /// </summary>
    public static LlmException CredentialUnreadable(
        string tenantId, string credentialLabel, string neededFingerprint, IReadOnlyList<string> configuredFingerprints)
    {
        ArgumentNullException.ThrowIfNull(configuredFingerprints);
        var configured = configuredFingerprints.Count == 0 ? "none" : string.Join(", ", configuredFingerprints);
        return new LlmException(LlmErrorCode.CredentialUnreadable,
            $"The credential '{credentialLabel}' of tenant '{tenantId}' cannot be decrypted, so no call was sent to the provider: " +
            $"it was encrypted with the key of fingerprint {neededFingerprint}, and the configured LLM_CREDENTIALS_ENC_KEY holds " +
            $"fingerprints [{configured}]. Fix: put the old key back in LLM_CREDENTIALS_ENC_KEY (comma-separated, new key first) " +
            "and run the silo's `rotate-credentials-key` command to re-encrypt every credential with the new key, or re-enter " +
            "the credential in Admin → Providers → Credentials (PUT /api/admin/providers/credentials/{id}).");
    }
}

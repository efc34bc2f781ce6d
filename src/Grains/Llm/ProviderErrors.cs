using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AuroraNexus.Grains.Llm;

/// <summary>Turns what went wrong into an <see cref="LlmException"/> whose message names the cause and the fix.</summary>
internal static class ProviderErrors
{
    private const string CredentialsPage = "Admin → Providers → Credentials";
    private const string ModelsPage = "Admin → Providers → Models";
    private const int MaxProviderText = 300;

    private static readonly string[] PlaceholderWords =
    [
        "changeme", "change-me", "change_me", "change-me-now", "replace-me", "replaceme", "replace_me",
        "your-key-here", "your_key_here", "yourkeyhere", "your-key", "your_key", "your-api-key", "your_api_key",
        "your-api-key-here", "your_api_key_here", "your-openrouter-key", "your_openrouter_key",
        "your-openrouter-api-key", "your_openrouter_api_key", "placeholder", "todo", "tbd", "none", "null",
        "undefined", "dummy", "secret", "key", "apikey", "api-key", "api_key", "openrouter_api_key", "xxx",
    ];

    /// <summary>Checks the key before anything leaves the process; null when the key is plausible.</summary>
    public static LlmException? CheckCredential(LlmEndpoint ep)
    {
        var key = ep.ApiKey;
        if (string.IsNullOrWhiteSpace(key))
        {
            return new LlmException(LlmErrorCode.CredentialMissing,
                "No API key is configured for this tenant's LLM provider, so no call was sent. " +
                $"Fix: enter the tenant's key in {CredentialsPage} and check it is enabled; if a key is stored there, " +
                "LLM_CREDENTIALS_ENC_KEY may differ from the key that encrypted it, so it could not be read.")
            { Warnings = ep.Warnings };
        }

        var reason = InvalidKeyReason(key);
        return reason is null
            ? null
            : new LlmException(LlmErrorCode.CredentialInvalid,
                $"The tenant's API key ({ep.MaskedKey}) {reason}, so no call was sent to the provider. " +
                $"Fix: enter the real key in {CredentialsPage}; if a real key was stored, check that " +
                "LLM_CREDENTIALS_ENC_KEY is the one that encrypted it.")
            { Warnings = ep.Warnings };
    }

    private static string? InvalidKeyReason(string key)
    {
        if (key.Any(char.IsWhiteSpace))
        {
            return "contains whitespace (a space or line break pasted with it)";
        }

        if (key.Any(c => c > '~' && c != '…'))
        {
            return "contains non-ASCII characters";
        }

        if (key.Contains("...", StringComparison.Ordinal) || key.Contains('…') || key.Contains("***", StringComparison.Ordinal))
        {
            return "is a masked display value, not the key itself";
        }

        var body = key;
        foreach (var prefix in (string[])["sk-or-v1-", "sk-or-", "sk-"])
        {
            if (body.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                body = body[prefix.Length..];
                break;
            }
        }

        if (body.Length == 0)
        {
            return "is only a key prefix";
        }

        var lower = body.ToLowerInvariant();
        if (PlaceholderWords.Contains(lower) ||
            lower.StartsWith("changeme", StringComparison.Ordinal) || lower.StartsWith("change-me", StringComparison.Ordinal) ||
            (lower.Contains("your", StringComparison.Ordinal) && (lower.Contains("key", StringComparison.Ordinal) || lower.Contains("api", StringComparison.Ordinal))) ||
            lower.All(c => c is 'x' or '*' or '.' or '-' or '_' or '0') ||
            (lower.StartsWith('<') && lower.EndsWith('>')) || lower.StartsWith("${", StringComparison.Ordinal))
        {
            return "is a placeholder value";
        }

        return null;
    }

    public static LlmException InvalidBaseUrl(LlmEndpoint ep) =>
        new(LlmErrorCode.EndpointUnreachable,
            $"The LLM provider base URL '{ep.BaseUrl}' is not an absolute http(s) URL, so no call was sent. " +
            $"Fix: set it in Admin → Providers (or LLM_BASE_URL), e.g. {LlmEndpoint.OpenRouterBaseUrl}.");

    public static LlmException MissingModel() =>
        new(LlmErrorCode.ProviderBadRequest,
            $"No model is configured for this tenant's LLM provider, so no call was sent. Fix: choose a model in {ModelsPage}.");

    public static LlmException FromStatus(LlmEndpoint ep, int status, string? body, TimeSpan? retryAfter, string path)
    {
        var error = ParseError(body);
        var providerMessage = Scrub(ep, error?.Message ?? PlainText(body));
        var said = providerMessage is null ? "" : $": \"{providerMessage}\"";
        var host = HostOf(ep);
        var wait = retryAfter is { } ra ? $", retry after {ra.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s" : "";
        var provider = MetadataString(error, "provider_name") is { } p ? $", provider {p}" : "";

        var (code, message) = status switch
        {
            400 => (LlmErrorCode.ProviderBadRequest,
                $"The LLM provider rejected the request as invalid (HTTP 400{said}). " +
                $"Fix: check the model id '{ep.Model}' in {ModelsPage} and the request size (max_tokens, context length, number of passages)."),
            401 => (LlmErrorCode.ProviderUnauthorized,
                $"The LLM provider rejected the tenant's API key {ep.MaskedKey} (HTTP 401{said}). The key stored for this tenant is invalid, " +
                "revoked or a placeholder, or no usable bearer token reached the provider (OpenRouter then answers " +
                $"\"No cookie auth credentials found\"). Fix: enter a real key in {CredentialsPage} and check it is enabled; " +
                "if it used to work, LLM_CREDENTIALS_ENC_KEY may have changed, so stored credentials no longer decrypt to the " +
                "real key: restore the LLM_CREDENTIALS_ENC_KEY that encrypted them." + WarningsSuffix(ep)),
            402 => (LlmErrorCode.ProviderPaymentRequired,
                $"The provider account behind the tenant's key {ep.MaskedKey} has insufficient credits (HTTP 402{said}{wait}). " +
                $"Fix: add credits or raise the key's credit limit at the provider, or store another key in {CredentialsPage}; " +
                "a lower max_tokens also lowers what each call reserves."),
            403 => (LlmErrorCode.ProviderForbidden,
                $"The LLM provider refused this request (HTTP 403{said}{ForbiddenDetails(error)}{provider}): a moderation or guardrail " +
                $"rule flagged the input, or the key may not use model '{ep.Model}'. Fix: rephrase the question or leave out the " +
                $"flagged document, choose another model in {ModelsPage}, or review the key's guardrails and allowed models " +
                "at the provider." + WarningsSuffix(ep)),
            408 => (LlmErrorCode.ProviderTimeout,
                $"The LLM provider timed out on model '{ep.Model}' (HTTP 408{said}). Fix: retry; if it persists, choose a faster " +
                $"model in {ModelsPage} or send fewer passages."),
            429 => (LlmErrorCode.ProviderRateLimited,
                $"The LLM provider is rate limiting the tenant's key {ep.MaskedKey} (HTTP 429{said}{wait}). Limits are per key and " +
                $"free keys get far lower ones. Fix: retry after the delay, spread the load, or use a paid key in {CredentialsPage}."),
            502 => (LlmErrorCode.ProviderUnavailable,
                $"Model '{ep.Model}' is down or sent an invalid response (HTTP 502{said}{provider}{wait}). " +
                $"Fix: retry later or choose another model in {ModelsPage}."),
            503 => (LlmErrorCode.ProviderUnavailable,
                $"No provider can serve model '{ep.Model}' under the current routing requirements (HTTP 503{said}{wait}). " +
                $"Fix: retry later, relax the provider preferences, or choose another model in {ModelsPage}."),
            504 => (LlmErrorCode.ProviderTimeout,
                $"A gateway in front of the LLM provider timed out (HTTP 504{said}). Fix: retry; if it persists, choose a faster model."),
            404 => (LlmErrorCode.ProviderError,
                $"{host} has no {path} (HTTP 404{said}). Fix: check the provider base URL in Admin → Providers (OpenRouter: " +
                $"{LlmEndpoint.OpenRouterBaseUrl}) and the model id '{ep.Model}'."),
            _ => (LlmErrorCode.ProviderError,
                $"The LLM provider at {host} failed with HTTP {status}{said}. Fix: retry later; if it persists, check the " +
                "provider's status and the base URL in Admin → Providers."),
        };

        return new LlmException(code, message, status, retryAfter)
        {
            ProviderMessage = providerMessage,
            ProviderCode = CodeText(error),
            Warnings = ep.Warnings,
        };
    }

    /// <summary>An error the provider reported after the model started: HTTP 200 with an error body or an SSE error event.</summary>
    public static LlmException FromErrorInBody(LlmEndpoint ep, WireError? error, int receivedChars)
    {
        var providerMessage = Scrub(ep, error?.Message) ?? "no message";
        var code = CodeText(error);
        var provider = MetadataString(error, "provider_name") is { } p ? $" (provider {p})" : "";
        var after = receivedChars > 0 ? $" after {receivedChars} characters" : "";
        return new LlmException(LlmErrorCode.ProviderError,
            $"Model '{ep.Model}' failed while answering{after}{provider}: {(code is null ? "" : code + " ")}\"{providerMessage}\". " +
            $"Fix: retry; if it persists, choose another model in {ModelsPage}. A partial answer must not be kept.",
            200)
        {
            ProviderMessage = providerMessage,
            ProviderCode = code,
            Warnings = ep.Warnings,
        };
    }

    public static LlmException NotJson(LlmEndpoint ep, string? mediaType, string path) =>
        new(LlmErrorCode.ProviderError,
            $"{HostOf(ep)} answered {path} with {mediaType ?? "an unknown content type"} instead of an OpenAI-compatible JSON response. " +
            $"Fix: check the provider base URL in Admin → Providers: it must be the API root, e.g. {LlmEndpoint.OpenRouterBaseUrl}.",
            200)
        { Warnings = ep.Warnings };

    public static LlmException Malformed(LlmEndpoint ep, string what, Exception? inner = null) =>
        new(LlmErrorCode.ProviderError,
            $"{HostOf(ep)} sent a response this client cannot read ({what}). Fix: check that the base URL points to an " +
            "OpenAI-compatible chat-completions API; retry if the provider had a transient fault.",
            200, null, inner)
        { Warnings = ep.Warnings };

    public static LlmException NoChoices(LlmEndpoint ep) =>
        new(LlmErrorCode.ProviderError,
            $"Model '{ep.Model}' returned no answer (no choices), which happens while a model warms up. " +
            $"Fix: retry in a moment or choose another model in {ModelsPage}.",
            200)
        { Warnings = ep.Warnings };

    public static LlmException Timeout(LlmEndpoint ep, TimeSpan timeout, bool midStream, Exception inner) =>
        new(LlmErrorCode.ProviderTimeout,
            (midStream
                ? $"The stream from model '{ep.Model}' went silent for more than {Seconds(timeout)} s. "
                : $"No answer from {HostOf(ep)} for model '{ep.Model}' within {Seconds(timeout)} s. ") +
            $"Fix: retry; if it persists, choose a faster model in {ModelsPage} or raise the LLM timeout.",
            null, null, inner)
        { Warnings = ep.Warnings };

    public static LlmException Unreachable(LlmEndpoint ep, HttpRequestException inner)
    {
        var kind = inner.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "the host name does not resolve",
            HttpRequestError.ConnectionError => "the connection was refused or could not be made",
            HttpRequestError.SecureConnectionError => "the TLS handshake failed",
            HttpRequestError.ProxyTunnelError => "the proxy refused the tunnel",
            _ => null,
        };

        if (kind is null)
        {
            return new LlmException(LlmErrorCode.ProviderUnavailable,
                $"The connection to {HostOf(ep)} broke before its response was complete ({inner.HttpRequestError}). " +
                "Fix: retry; if it persists, check the provider's status and any proxy between the silo and the provider.",
                null, null, inner)
            { Warnings = ep.Warnings };
        }

        return new LlmException(LlmErrorCode.EndpointUnreachable,
            $"Cannot reach the LLM endpoint {HostOf(ep)}: {kind}. Fix: check the provider base URL in Admin → Providers " +
            "(or LLM_BASE_URL), DNS, proxy settings and outbound network access from the silo.",
            null, null, inner)
        { Warnings = ep.Warnings };
    }

    public static LlmException CutOff(LlmEndpoint ep, int receivedChars, Exception? inner = null) =>
        new(LlmErrorCode.StreamCutOff,
            $"The stream from model '{ep.Model}' ended before the answer was finished (no finish_reason and no [DONE]) after " +
            $"{receivedChars} characters. The partial answer is incomplete and must not be kept. Fix: retry the question; " +
            "if it keeps happening, check proxies that cut long-lived responses.",
            200, null, inner)
        { Warnings = ep.Warnings };

    public static LlmException FinishedWithError(LlmEndpoint ep, int receivedChars) =>
        FromErrorInBody(ep, null, receivedChars);

    public static string HostOf(LlmEndpoint ep) =>
        Uri.TryCreate(ep.BaseUrl, UriKind.Absolute, out var uri) ? uri.Authority : ep.BaseUrl;

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture);

    private static string WarningsSuffix(LlmEndpoint ep)
    {
        var warnings = ep.Warnings;
        return warnings.Count == 0 ? "" : " Also: " + string.Join(" ", warnings);
    }

    private static WireError? ParseError(string? body)
    {
        if (string.IsNullOrWhiteSpace(body) || body.TrimStart()[0] != '{')
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(body, LlmJsonContext.Default.WireErrorEnvelope)?.Error;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? PlainText(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        var text = body.Trim();
        if (text.StartsWith('<'))
        {
            return "an HTML page";
        }

        return text;
    }

    private static string? CodeText(WireError? error) => error?.Code.ValueKind switch
    {
        JsonValueKind.Number or JsonValueKind.String => error.Code.ToString(),
        _ => null,
    };

    private static string? MetadataString(WireError? error, string name) =>
        error is { Metadata.ValueKind: JsonValueKind.Object } &&
        error.Metadata.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    // Moderation metadata also carries flagged_input (a piece of the prompt): only the reasons are repeated.
    private static string ForbiddenDetails(WireError? error)
    {
        if (error is not { Metadata.ValueKind: JsonValueKind.Object } ||
            !error.Metadata.TryGetProperty("reasons", out var reasons) || reasons.ValueKind != JsonValueKind.Array)
        {
            return "";
        }

        var list = reasons.EnumerateArray()
            .Where(r => r.ValueKind == JsonValueKind.String)
            .Select(r => r.GetString())
            .ToList();
        return list.Count == 0 ? "" : "; reasons: " + string.Join(", ", list);
    }

    /// <summary>Removes the key from provider text and keeps it short enough for a problem detail.</summary>
    public static string? Scrub(LlmEndpoint ep, string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var clean = text.Trim();
        if (ep.ApiKey is { Length: >= 4 } key)
        {
            clean = clean.Replace(key, ep.MaskedKey, StringComparison.Ordinal);
        }

        var builder = new StringBuilder(Math.Min(clean.Length, MaxProviderText + 1));
        foreach (var c in clean)
        {
            if (builder.Length == MaxProviderText)
            {
                builder.Append('…');
                break;
            }

            builder.Append(char.IsControl(c) ? ' ' : c);
        }

        return builder.ToString();
    }
}

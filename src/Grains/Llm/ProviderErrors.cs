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
            var which = ep.CredentialLabel is { } label
                ? $"The credential '{label}'{OfTenant(ep)} holds no API key"
                : ep.TenantId is { } tenant ? $"No API key for tenant '{tenant}': OPENROUTER_API_KEY is empty" : "OPENROUTER_API_KEY is empty";
            return new LlmException(LlmErrorCode.CredentialMissing,
                $"{which}, so no call was sent to the provider. Fix: {CredentialFix(ep)}.")
            { Warnings = ep.Warnings };
        }

        var reason = InvalidKeyReason(key);
        return reason is null
            ? null
            : new LlmException(LlmErrorCode.CredentialInvalid,
                $"{Capitalized(KeyPhrase(ep))} {reason}, so no call was sent to the provider. " +
                $"Fix: {CredentialFix(ep)}, pasting only the key itself (e.g. sk-or-v1-…).")
            { Warnings = ep.Warnings };
    }

    // Keys are trimmed when they are saved; whatever whitespace is left inside a key was pasted with it.
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

        if (key.Any(c => c is '"' or '\'' or '`'))
        {
            return "contains quote characters (copied with the quotes around it)";
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
        new(LlmErrorCode.ProviderBadRequest,
            $"The LLM provider base URL '{ep.BaseUrl}' is not an absolute http(s) URL, so no call was sent. " +
            $"Fix: set it in Admin → Providers (or LLM_BASE_URL), e.g. {LlmEndpoint.OpenRouterBaseUrl}.")
        { Warnings = ep.Warnings };

    public static LlmException MissingModel(LlmEndpoint ep) =>
        new(LlmErrorCode.ProviderBadRequest,
            $"No model is configured for this tenant's LLM provider, so no call was sent. Fix: choose a model in {ModelsPage}.")
        { Warnings = ep.Warnings };

    /// <summary>The code of an HTTP status: 401/403 auth, 402 payment, 429 rate limit, 408 and 5xx unavailable, other 4xx bad request.</summary>
    public static LlmErrorCode CodeOfStatus(int status) => status switch
    {
        401 or 403 => LlmErrorCode.ProviderAuthFailed,
        402 => LlmErrorCode.ProviderPaymentRequired,
        429 => LlmErrorCode.ProviderRateLimited,
        408 or >= 500 => LlmErrorCode.ProviderUnavailable,
        _ => LlmErrorCode.ProviderBadRequest,
    };

    /// <summary>A request the provider answered with an error status (the status equals OpenRouter's <c>error.code</c>).</summary>
    public static LlmException FromStatus(LlmEndpoint ep, int status, string? body, TimeSpan? retryAfter, string path)
    {
        var error = ParseError(body);
        var providerMessage = Scrub(ep, error?.Message ?? PlainText(body));
        var origin = $"HTTP {status}{Said(providerMessage)}{ProviderName(error)}";
        var code = CodeOfStatus(status);
        var message = Describe(ep, code, status, origin, error, providerMessage, retryAfter, path, partial: false);
        return new LlmException(code, message, status, retryAfter)
        {
            ProviderMessage = providerMessage,
            ProviderCode = CodeText(error),
            Warnings = ep.Warnings,
        };
    }

    /// <summary>
    /// An error the provider reported after the model started: HTTP 200 with an <c>error</c> body, or an SSE data event
    /// carrying <c>error</c> (with <c>finish_reason: "error"</c>). Mapped like the error's own code.
    /// </summary>
    public static LlmException FromErrorInBody(LlmEndpoint ep, WireError? error, int receivedChars, bool streaming, TimeSpan? retryAfter = null)
    {
        var providerMessage = Scrub(ep, error?.Message) ?? "no message";
        var providerCode = CodeText(error);
        var (code, status) = Classify(error);
        var where = streaming ? "an error event in the stream" : "an error in the body of an HTTP 200 response";
        var after = receivedChars > 0 ? $" after {receivedChars} characters" : "";
        var origin = $"{where}{after}{(providerCode is null ? "" : ", code " + providerCode)}{Said(providerMessage)}{ProviderName(error)}";
        var message = Describe(ep, code, status, origin, error, providerMessage, retryAfter, "/chat/completions",
            partial: streaming || receivedChars > 0);
        return new LlmException(code, message, 200, retryAfter)
        {
            ProviderMessage = providerMessage,
            ProviderCode = providerCode,
            Warnings = ep.Warnings,
        };
    }

    /// <summary><c>finish_reason: "error"</c> with no error object to say why.</summary>
    public static LlmException FinishedWithError(LlmEndpoint ep, int receivedChars, bool streaming) =>
        FromErrorInBody(ep, null, receivedChars, streaming);

    /// <summary>A 3xx: redirects are not followed, so the provider's URL must be the one that answers.</summary>
    public static LlmException Redirected(LlmEndpoint ep, int status, Uri? location, string path)
    {
        var target = location is null ? null : Scrub(ep, location.GetLeftPart(UriPartial.Path));
        var finalBase = location is not null && location.AbsolutePath.EndsWith(path, StringComparison.Ordinal)
            ? Scrub(ep, location.GetLeftPart(UriPartial.Authority) + location.AbsolutePath[..^path.Length])
            : null;
        return new LlmException(LlmErrorCode.ProviderBadRequest,
            $"{HostOf(ep)} answered {path} with a redirect (HTTP {status}){(target is null ? "" : " to " + target)}, and LLM calls do " +
            "not follow redirects (they would carry the key wherever the answer points). Fix: set the provider base URL in " +
            $"Admin → Providers (or LLM_BASE_URL) to the final URL{(finalBase is null ? "" : ", e.g. " + finalBase)}.",
            status)
        { Warnings = ep.Warnings };
    }

    public static LlmException NotJson(LlmEndpoint ep, string? mediaType, string path) =>
        new(LlmErrorCode.ProviderBadRequest,
            $"{HostOf(ep)} answered {path} with {mediaType ?? "an unknown content type"} instead of an OpenAI-compatible JSON response. " +
            $"Fix: check the provider base URL in Admin → Providers (or LLM_BASE_URL): it must be the API root, e.g. {LlmEndpoint.OpenRouterBaseUrl}.",
            200)
        { Warnings = ep.Warnings };

    public static LlmException Malformed(LlmEndpoint ep, string what, Exception? inner = null) =>
        new(LlmErrorCode.ProviderUnavailable,
            $"{HostOf(ep)} sent a response this client cannot read ({what}). Fix: retry if the provider had a transient fault; " +
            "if it persists, check that the base URL points to an OpenAI-compatible chat-completions API.",
            200, null, inner)
        { Warnings = ep.Warnings };

    public static LlmException NoChoices(LlmEndpoint ep) =>
        new(LlmErrorCode.ProviderUnavailable,
            $"Model '{ep.Model}' returned no answer (no choices), which happens while a model warms up. " +
            $"Fix: retry in a moment or choose another model in {ModelsPage}.",
            200)
        { Warnings = ep.Warnings };

    /// <summary>
    /// No answer in time: before the response (or before any text of a stream) the provider is unavailable; once text
    /// has arrived, a silent stream is an incomplete one. <paramref name="timeout"/> is the figure that ran out (the
    /// call's whole budget before a response, the allowed silence within a stream) and <paramref name="setting"/> the
    /// variable that raises it, if any.
    /// </summary>
    public static LlmException Timeout(
        LlmEndpoint ep, TimeSpan timeout, string? setting, bool midStream, int receivedChars, Exception inner, int attempts = 1)
    {
        var raise = setting is null ? "" : $" or raise {setting} (now {Seconds(timeout)})";
        if (midStream && receivedChars > 0)
        {
            return new LlmException(LlmErrorCode.StreamIncomplete,
                $"Timeout: the stream from model '{ep.Model}' went silent for more than {Seconds(timeout)} s after {receivedChars} " +
                "characters and was abandoned. The partial answer is incomplete and must not be kept. Fix: retry the question; " +
                $"if it persists, choose a faster model in {ModelsPage}{raise}.",
                200, null, inner)
            { Warnings = ep.Warnings };
        }

        return new LlmException(LlmErrorCode.ProviderUnavailable,
            (midStream
                ? $"Timeout: the stream from model '{ep.Model}' sent no text for more than {Seconds(timeout)} s. "
                : $"Timeout: no answer from {HostOf(ep)} for model '{ep.Model}' within {Seconds(timeout)} s " +
                  $"({attempts} attempt{(attempts == 1 ? "" : "s")}). ") +
            $"Fix: check the provider's status ({HostOf(ep)}) and retry; if it is up but slow, choose a faster model in {ModelsPage}{raise}.",
            null, null, inner)
        { Warnings = ep.Warnings };
    }

    public static LlmException Unreachable(LlmEndpoint ep, HttpRequestException inner)
    {
        var kind = inner.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "the host name does not resolve (DNS)",
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

        return new LlmException(LlmErrorCode.ProviderUnavailable,
            $"Unreachable: cannot reach the LLM endpoint {HostOf(ep)}: {kind}. Fix: check the provider base URL in Admin → Providers " +
            "(or LLM_BASE_URL), DNS, proxy settings and outbound network access from the silo.",
            null, null, inner)
        { Warnings = ep.Warnings };
    }

    public static LlmException CutOff(LlmEndpoint ep, int receivedChars, Exception? inner = null) =>
        new(LlmErrorCode.StreamIncomplete,
            $"The stream from model '{ep.Model}' ended before the answer was finished (no finish_reason and no [DONE]) after " +
            $"{receivedChars} characters{(inner is null ? "" : ": the connection broke")}. The partial answer is incomplete and " +
            "must not be kept. Fix: retry the question; if it keeps happening, check proxies that cut long-lived responses.",
            200, null, inner)
        { Warnings = ep.Warnings };

    // One wording per code, whether the provider said it with a status or inside a 200 response.
    private static string Describe(
        LlmEndpoint ep, LlmErrorCode code, int? status, string origin, WireError? error, string? providerMessage,
        TimeSpan? retryAfter, string path, bool partial)
    {
        var wait = retryAfter is { } ra ? $", retry after {ra.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s" : "";
        var discard = partial ? " The partial answer is incomplete and must not be kept." : "";
        var message = code switch
        {
            LlmErrorCode.ProviderAuthFailed when status == 403 =>
                $"The provider refused the request made with {KeyPhrase(ep)} ({origin}{ForbiddenDetails(error)}): the key " +
                $"is not allowed to do this (model '{ep.Model}' or a guardrail of the key), or a moderation rule flagged the input. " +
                $"Fix: allow the model or relax the guardrails of this key at the provider, or store a key that may use the model: " +
                $"{CredentialFix(ep)}; if the input was " +
                $"flagged, rephrase the question or leave out the flagged document, or choose another model in {ModelsPage}." +
                discard + WarningsSuffix(ep),
            LlmErrorCode.ProviderAuthFailed when IsNoCookie(providerMessage) =>
                $"The provider received no usable key: {KeyPhrase(ep)} arrived empty or malformed ({origin}). OpenRouter says this " +
                "when the bearer token is empty or broken by whitespace, quotes or a line break pasted with the key (or a proxy " +
                $"dropped the Authorization header), and falls back to cookie auth. Fix: {CredentialFix(ep)}, pasting only the " +
                "key itself (sk-or-v1-…)." + discard + WarningsSuffix(ep),
            LlmErrorCode.ProviderAuthFailed =>
                $"The provider rejected {KeyPhrase(ep)} ({origin}): the key is invalid, revoked or disabled. " +
                $"Fix: {CredentialFix(ep)}." + discard + WarningsSuffix(ep),
            LlmErrorCode.ProviderPaymentRequired =>
                $"The provider account behind {KeyPhrase(ep)} has insufficient credits ({origin}{wait}). Fix: add credits or raise " +
                $"the key's credit limit at the provider, or use another key ({CredentialPlace(ep)}); a lower max_tokens also " +
                "lowers what each call reserves." + discard,
            LlmErrorCode.ProviderRateLimited =>
                $"The provider is rate limiting {KeyPhrase(ep)} ({origin}{wait}). Limits are per key and free keys get far lower " +
                $"ones. Fix: retry after the delay, spread the load, or use a paid key ({CredentialPlace(ep)})." + discard,
            LlmErrorCode.ProviderBadRequest when status == 404 =>
                $"{HostOf(ep)} has no {path} ({origin}). Fix: check the provider base URL in Admin → Providers (or LLM_BASE_URL; " +
                $"OpenRouter: {LlmEndpoint.OpenRouterBaseUrl}) and the model id '{ep.Model}' in {ModelsPage}." + discard,
            LlmErrorCode.ProviderBadRequest =>
                $"The LLM provider rejected the request as invalid ({origin}). Fix: check the model id '{ep.Model}' in {ModelsPage} " +
                "and the request size (max_tokens, context length, number of passages)." + discard,
            _ when status == 408 =>
                $"Timeout: the LLM provider timed out on model '{ep.Model}' ({origin}). Fix: retry; if it persists, choose a " +
                $"faster model in {ModelsPage} or send fewer passages." + discard,
            _ when status == 502 =>
                $"Model '{ep.Model}' is down or sent an invalid response ({origin}{wait}). " +
                $"Fix: retry later or choose another model in {ModelsPage}." + discard,
            _ when status == 503 =>
                $"No provider can serve model '{ep.Model}' under the current routing requirements ({origin}{wait}). " +
                $"Fix: retry later, relax the provider preferences, or choose another model in {ModelsPage}." + discard,
            _ when status == 504 =>
                $"Timeout: a gateway in front of the LLM provider timed out ({origin}). Fix: retry; if it persists, choose a " +
                "faster model." + discard,
            _ when status is >= 500 =>
                $"The LLM provider at {HostOf(ep)} failed with a server error ({origin}{wait}). Fix: retry later; if it " +
                "persists, check the provider's status and the base URL in Admin → Providers." + discard,
            _ =>
                $"Model '{ep.Model}' failed while answering ({origin}). Fix: retry; if it persists, choose another " +
                $"model in {ModelsPage}." + discard,
        };
        return message;
    }

    // A numeric code (or numeric string) maps like the HTTP status; a word (OpenAI-style "type", or a code such as
    // "server_error" mid-stream) by what it names; nothing at all means the model failed: unavailable.
    private static (LlmErrorCode Code, int? Status) Classify(WireError? error)
    {
        var text = CodeText(error);
        if (text is not null && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            return (CodeOfStatus(status), status);
        }

        var word = (text ?? (error?.Type.ValueKind == JsonValueKind.String ? error.Type.GetString() : null))?.ToLowerInvariant();
        return word switch
        {
            null => (LlmErrorCode.ProviderUnavailable, null),
            _ when word.Contains("rate_limit", StringComparison.Ordinal) || word.Contains("too_many", StringComparison.Ordinal) =>
                (LlmErrorCode.ProviderRateLimited, 429),
            _ when word.Contains("quota", StringComparison.Ordinal) || word.Contains("credit", StringComparison.Ordinal) ||
                   word.Contains("payment", StringComparison.Ordinal) || word.Contains("billing", StringComparison.Ordinal) =>
                (LlmErrorCode.ProviderPaymentRequired, 402),
            _ when word.Contains("auth", StringComparison.Ordinal) || word.Contains("api_key", StringComparison.Ordinal) =>
                (LlmErrorCode.ProviderAuthFailed, 401),
            _ when word.Contains("permission", StringComparison.Ordinal) || word.Contains("forbidden", StringComparison.Ordinal) =>
                (LlmErrorCode.ProviderAuthFailed, 403),
            _ when word.Contains("invalid_request", StringComparison.Ordinal) || word.Contains("bad_request", StringComparison.Ordinal) ||
                   word.Contains("context_length", StringComparison.Ordinal) || word.Contains("not_found", StringComparison.Ordinal) =>
                (LlmErrorCode.ProviderBadRequest, 400),
            _ => (LlmErrorCode.ProviderUnavailable, null),
        };
    }

    private static string ProviderName(WireError? error) =>
        MetadataString(error, "provider_name") is { } name ? $", provider {name}" : "";

    private static bool IsNoCookie(string? providerMessage) =>
        providerMessage?.Contains("No cookie auth credentials found", StringComparison.OrdinalIgnoreCase) == true;

    private static string Said(string? providerMessage) => providerMessage is null ? "" : $": \"{providerMessage}\"";

    /// <summary>"the key ****abcd of credential 'main' of tenant 'acme'", or "... from OPENROUTER_API_KEY".</summary>
    private static string KeyPhrase(LlmEndpoint ep) => ep.CredentialLabel is { } label
        ? $"the key {ep.MaskedKey} of credential '{label}'{OfTenant(ep)}"
        : $"the key {ep.MaskedKey} from OPENROUTER_API_KEY{UsedFor(ep)}";

    /// <summary>Where and how the key is fixed: the admin page and its API for a stored credential, else the environment.</summary>
    private static string CredentialFix(LlmEndpoint ep) => ep.CredentialLabel is { } label
        ? $"update the credential '{label}'{OfTenant(ep)} in {CredentialsPage} (PUT /api/admin/providers/credentials/{{id}}) " +
          "or test it with POST /api/admin/providers/credentials/{id}/test"
        : "correct OPENROUTER_API_KEY in the environment of the silo (.env) and restart it, or give the tenant a credential " +
          $"of its own in {CredentialsPage}";

    private static string CredentialPlace(LlmEndpoint ep) => ep.CredentialLabel is null
        ? $"OPENROUTER_API_KEY, or a tenant credential in {CredentialsPage}"
        : $"{CredentialsPage}";

    private static string OfTenant(LlmEndpoint ep) => ep.TenantId is { } tenant ? $" of tenant '{tenant}'" : "";

    private static string UsedFor(LlmEndpoint ep) => ep.TenantId is { } tenant ? $" for tenant '{tenant}'" : "";

    private static string Capitalized(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

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

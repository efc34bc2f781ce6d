using System.Text;

namespace AuroraNexus.Grains.Llm;

/// <summary>
/// Where and as whom a tenant's LLM calls go: an OpenAI-compatible base URL (OpenRouter by default), the key, the model,
/// the attribution sent to OpenRouter as <c>HTTP-Referer</c> / <c>X-Title</c>, and which credential of which tenant the
/// key is, so that every error can name what to fix.
/// </summary>
public sealed record LlmEndpoint(string BaseUrl, string ApiKey, string Model, string? PublicDomain, string AppTitle)
{
    public const string OpenRouterBaseUrl = "https://openrouter.ai/api/v1";

    public const string PublicDomainMissingWarning =
        "public_domain_missing: PUBLIC_DOMAIN is not set, so no HTTP-Referer is sent and OpenRouter lists this traffic " +
        "as an unknown app; set PUBLIC_DOMAIN (e.g. rag.example.com) so calls are attributed to Aurora Nexus.";

    /// <summary>
    /// The provider's dialect as declared by whoever configured it: a provider row in the database carries it (column
    /// <c>kind</c>, <c>openrouter</c> | <c>openai_compatible</c>, see <see cref="LlmProviderKinds"/>), the bootstrap
    /// endpoint takes it from <c>LLM_PROVIDER_KIND</c>. Null means "derive it from the base URL": OpenRouter when the host
    /// is openrouter.ai or one of its subdomains, OpenAI-compatible otherwise. A declared kind always wins over the host,
    /// so an OpenRouter replay on a loopback port (tests) or behind a corporate proxy can be declared as such, and an
    /// openrouter.ai URL can never be talked to as OpenRouter by accident once declared otherwise. The kind decides the
    /// OpenRouter-only parts of the protocol: the attribution headers (<c>HTTP-Referer</c>, <c>X-Title</c>, never sent to
    /// other providers) and the key check (<c>GET /key</c> for OpenRouter, <c>GET /models</c> otherwise);
    /// <see cref="ProviderKind"/> is the resolved value and <see cref="IsOpenRouter"/> its shorthand.
    /// </summary>
    public LlmProviderKind? Kind { get; init; }

    /// <summary>The tenant whose call this is, named in error messages; null for calls outside any tenant.</summary>
    public string? TenantId { get; init; }

    /// <summary>
    /// The label of the stored credential the key comes from, named in error messages together with where to fix it;
    /// null when the key is the bootstrap <c>OPENROUTER_API_KEY</c> of the environment.
    /// </summary>
    public string? CredentialLabel { get; init; }

    /// <summary><see cref="Kind"/> when declared, else derived from the host of <see cref="BaseUrl"/>.</summary>
    public LlmProviderKind ProviderKind => Kind ?? LlmProviderKinds.FromBaseUrl(BaseUrl);

    /// <summary>True when the provider is OpenRouter: attribution headers are sent and <c>GET /key</c> checks the key.</summary>
    public bool IsOpenRouter => ProviderKind == LlmProviderKind.OpenRouter;

    /// <summary>The <c>HTTP-Referer</c> value: the public domain as an https URL, or null when none usable is configured.</summary>
    public string? Referer
    {
        get
        {
            var domain = PublicDomain?.Trim();
            if (string.IsNullOrEmpty(domain))
            {
                return null;
            }

            var url = domain.Contains("://", StringComparison.Ordinal) ? domain : "https://" + domain;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") ||
                string.IsNullOrEmpty(uri.Host))
            {
                return null;
            }

            // IdnHost: a header value must be ASCII, and "société.fr" is a valid domain.
            var port = uri.IsDefaultPort ? "" : ":" + uri.Port;
            var path = uri.AbsolutePath == "/" ? "" : uri.AbsolutePath;
            return $"{uri.Scheme}://{uri.IdnHost}{port}{path}";
        }
    }

    /// <summary>The <c>X-Title</c> value, reduced to what an HTTP header can carry.</summary>
    public string Title => HeaderSafe(string.IsNullOrWhiteSpace(AppTitle) ? "Aurora Nexus" : AppTitle);

    /// <summary>
    /// Configuration gaps that do not stop a call but explain odd provider behaviour. Attribution is OpenRouter's, so
    /// PUBLIC_DOMAIN only matters (and is only warned about) when the provider is OpenRouter.
    /// </summary>
    public IReadOnlyList<string> Warnings
    {
        get
        {
            var warnings = new List<string>(2);
            if (!IsOpenRouter)
            {
                return warnings;
            }

            if (string.IsNullOrWhiteSpace(PublicDomain))
            {
                warnings.Add(PublicDomainMissingWarning);
            }
            else if (Referer is null)
            {
                warnings.Add($"public_domain_invalid: PUBLIC_DOMAIN '{PublicDomain}' is not a domain or http(s) URL, so no " +
                    "HTTP-Referer is sent and OpenRouter lists this traffic as an unknown app; set it to e.g. rag.example.com.");
            }

            if (!string.IsNullOrWhiteSpace(ApiKey) && !ApiKey.StartsWith("sk-or-", StringComparison.Ordinal))
            {
                warnings.Add("key_prefix_unexpected: the key does not start with sk-or-, which OpenRouter keys do; " +
                    "check that a key of the right provider is stored in Admin → Providers → Credentials (or OPENROUTER_API_KEY).");
            }

            return warnings;
        }
    }

    /// <summary>The key as it may appear in logs and UIs: all but its last 4 characters masked.</summary>
    public string MaskedKey => MaskKey(ApiKey);

    public static string MaskKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "(none)";
        }

        // A short key would be mostly revealed by its last 4 characters.
        return key.Length < 12 ? "****" : "****" + key[^4..];
    }

    public override string ToString() =>
        $"LlmEndpoint {{ BaseUrl = {BaseUrl}, Kind = {ProviderKind.ToCode()}, ApiKey = {MaskedKey}, Model = {Model}, " +
        $"PublicDomain = {PublicDomain ?? "(none)"}, AppTitle = {AppTitle}, TenantId = {TenantId ?? "(none)"}, " +
        $"CredentialLabel = {CredentialLabel ?? "(OPENROUTER_API_KEY)"} }}";

    // SocketsHttpHandler rejects non-ASCII request header values, and an app title such as "Équipe RAG" is ordinary.
    private static string HeaderSafe(string value)
    {
        var decomposed = value.Normalize(NormalizationForm.FormD);
        var builder = new StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
        {
            if (char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.NonSpacingMark)
            {
                continue;
            }

            builder.Append(c is >= ' ' and <= '~' ? c : c is '\r' or '\n' or '\t' ? ' ' : '-');
        }

        return builder.ToString().Trim();
    }
}

/// <summary>The dialect of an OpenAI-compatible provider; see <see cref="LlmEndpoint.Kind"/>.</summary>
public enum LlmProviderKind
{
    /// <summary>Any server speaking the OpenAI chat-completions protocol: no attribution headers, key check via <c>GET /models</c>.</summary>
    OpenAiCompatible = 0,

    /// <summary>OpenRouter: attribution headers on every call, key check via <c>GET /key</c>.</summary>
    OpenRouter = 1,
}

public static class LlmProviderKinds
{
    public const string OpenRouterCode = "openrouter";
    public const string OpenAiCompatibleCode = "openai_compatible";

    /// <summary>The value stored in a provider row and accepted in <c>LLM_PROVIDER_KIND</c>.</summary>
    public static string ToCode(this LlmProviderKind kind) => kind switch
    {
        LlmProviderKind.OpenRouter => OpenRouterCode,
        LlmProviderKind.OpenAiCompatible => OpenAiCompatibleCode,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Reads <c>openrouter</c> or <c>openai_compatible</c> (case-insensitive, '-' for '_' accepted); false otherwise.</summary>
    public static bool TryParse(string? value, out LlmProviderKind kind)
    {
        switch (value?.Trim().Replace('-', '_').ToLowerInvariant())
        {
            case OpenRouterCode:
                kind = LlmProviderKind.OpenRouter;
                return true;
            case OpenAiCompatibleCode:
                kind = LlmProviderKind.OpenAiCompatible;
                return true;
            default:
                kind = default;
                return false;
        }
    }

    /// <summary>OpenRouter when the host is openrouter.ai or a subdomain of it; OpenAI-compatible for anything else.</summary>
    public static LlmProviderKind FromBaseUrl(string? baseUrl) =>
        Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) &&
        (uri.Host.Equals("openrouter.ai", StringComparison.OrdinalIgnoreCase) ||
         uri.Host.EndsWith(".openrouter.ai", StringComparison.OrdinalIgnoreCase))
            ? LlmProviderKind.OpenRouter
            : LlmProviderKind.OpenAiCompatible;
}

/// <summary>One chat message: <c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage System(string content) => new("system", content);

    public static ChatMessage User(string content) => new("user", content);

    public static ChatMessage Assistant(string content) => new("assistant", content);
}

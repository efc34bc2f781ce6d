using System.Text;

namespace AuroraNexus.Grains.Llm;

/// <summary>
/// Where and as whom a tenant's LLM calls go: an OpenAI-compatible base URL (OpenRouter by default),
/// the tenant's own key, the model, and the attribution sent as <c>HTTP-Referer</c> / <c>X-Title</c>.
/// </summary>
public sealed record LlmEndpoint(string BaseUrl, string ApiKey, string Model, string? PublicDomain, string AppTitle)
{
    public const string OpenRouterBaseUrl = "https://openrouter.ai/api/v1";

    public const string PublicDomainMissingWarning =
        "public_domain_missing: PUBLIC_DOMAIN is not set, so no HTTP-Referer is sent and OpenRouter lists this traffic " +
        "as an unknown app; set PUBLIC_DOMAIN (e.g. rag.example.com) so calls are attributed to Aurora Nexus.";

    /// <summary>True when the base URL is OpenRouter's, which has <c>GET /key</c> for a cheap key check.</summary>
    public bool IsOpenRouter =>
        Uri.TryCreate(BaseUrl, UriKind.Absolute, out var uri) &&
        (uri.Host.Equals("openrouter.ai", StringComparison.OrdinalIgnoreCase) ||
         uri.Host.EndsWith(".openrouter.ai", StringComparison.OrdinalIgnoreCase));

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

    /// <summary>Configuration gaps that do not stop a call but explain odd provider behaviour.</summary>
    public IReadOnlyList<string> Warnings
    {
        get
        {
            var warnings = new List<string>(2);
            if (string.IsNullOrWhiteSpace(PublicDomain))
            {
                warnings.Add(PublicDomainMissingWarning);
            }
            else if (Referer is null)
            {
                warnings.Add($"public_domain_invalid: PUBLIC_DOMAIN '{PublicDomain}' is not a domain or http(s) URL, so no " +
                    "HTTP-Referer is sent and OpenRouter lists this traffic as an unknown app; set it to e.g. rag.example.com.");
            }

            if (IsOpenRouter && !string.IsNullOrWhiteSpace(ApiKey) && !ApiKey.StartsWith("sk-or-", StringComparison.Ordinal))
            {
                warnings.Add("key_prefix_unexpected: the tenant's key does not start with sk-or-, which OpenRouter keys do; " +
                    "check that a key of the right provider is stored in Admin → Providers → Credentials.");
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
        $"LlmEndpoint {{ BaseUrl = {BaseUrl}, ApiKey = {MaskedKey}, Model = {Model}, PublicDomain = {PublicDomain ?? "(none)"}, AppTitle = {AppTitle} }}";

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

/// <summary>One chat message: <c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage System(string content) => new("system", content);

    public static ChatMessage User(string content) => new("user", content);

    public static ChatMessage Assistant(string content) => new("assistant", content);
}

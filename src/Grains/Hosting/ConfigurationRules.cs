using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace AuroraNexus.Grains.Hosting;

public enum FindingLevel
{
    Ok = 0,
    Warning = 1,
    Error = 2,
}

/// <summary>One verdict on the configuration: the check, the variable it is about, a one-line verdict and the fix.</summary>
public sealed record ConfigFinding(string Check, string Variable, FindingLevel Level, string Verdict, string? Fix = null);

/// <summary>
/// The object store and vector store variables (production topology). Unset <c>S3_ENDPOINT</c> / <c>QDRANT_URL</c>
/// mean the single-node stores (local folder, embedded index).
/// </summary>
public sealed record StoreSettings(
    Uri? QdrantUrl, Uri? S3Endpoint, string UploadsBucket, string ArtifactsBucket, string? MinioUser, string? MinioPassword)
{
    public const string DefaultUploadsBucket = "nexus-uploads";
    public const string DefaultArtifactsBucket = "nexus-artifacts";

    /// <summary>
    /// The one reading of the store variables: <see cref="ConfigurationRules"/> judges them (its first error is thrown,
    /// naming the variable, with the same words the doctor prints), then they are read.
    /// </summary>
    public static StoreSettings Load(IConfiguration config)
    {
        ConfigurationRules.ThrowOnErrors(config);
        return From(config);
    }

    /// <summary>S3_ENDPOINT set: where MinIO is and who we are to it; null = the local folder.</summary>
    public Storage.S3StoreOptions? S3 => S3Endpoint is { } endpoint
        ? new Storage.S3StoreOptions(endpoint, MinioUser!, MinioPassword!, UploadsBucket, ArtifactsBucket)
        : null;

    private static StoreSettings From(IConfiguration config) => new(
        ConfigurationRules.AbsoluteUrl(ConfigurationRules.Value(config, "QDRANT_URL")),
        ConfigurationRules.AbsoluteUrl(ConfigurationRules.Value(config, "S3_ENDPOINT")),
        ConfigurationRules.Value(config, "S3_BUCKET_UPLOADS") ?? DefaultUploadsBucket,
        ConfigurationRules.Value(config, "S3_BUCKET_ARTIFACTS") ?? DefaultArtifactsBucket,
        ConfigurationRules.Value(config, "MINIO_ROOT_USER"),
        ConfigurationRules.Value(config, "MINIO_ROOT_PASSWORD"));

    /// <summary>Never the password.</summary>
    public override string ToString() =>
        $"QdrantUrl = {QdrantUrl?.ToString() ?? "(embedded)"}, S3Endpoint = {S3Endpoint?.ToString() ?? "(local folder)"}, " +
        $"UploadsBucket = {UploadsBucket}, ArtifactsBucket = {ArtifactsBucket}, MinioUser = {MinioUser ?? "(none)"}, MinioPassword = ***";
}

/// <summary>
/// The configuration rules of the troubleshooting guide that need nothing but the environment. Start-up refuses an
/// <see cref="FindingLevel.Error"/> (naming the variable), <c>/api/health</c> shows warnings, <c>doctor</c> prints all.
/// </summary>
public static partial class ConfigurationRules
{
    public const int MinioUserMinLength = 3;
    public const int MinioPasswordMinLength = 8;

    /// <summary>Rules on the stores, MinIO and PUBLIC_DOMAIN (the secrets have their own, in <see cref="NexusSettings"/>).</summary>
    /// <param name="singleNode">A single-node app (or the doctor on its data): PUBLIC_DOMAIN may stay unset while it listens on loopback only.</param>
    public static IReadOnlyList<ConfigFinding> Evaluate(IConfiguration config, bool singleNode = false)
    {
        var findings = new List<ConfigFinding>();
        var s3 = Value(config, "S3_ENDPOINT");
        findings.Add(UrlRule("s3_endpoint", "S3_ENDPOINT", s3, "http://minio:9000",
            "not configured: single-node local object store (NEXUS_DATA_DIR/objects) in use"));
        findings.Add(UrlRule("qdrant_url", "QDRANT_URL", Value(config, "QDRANT_URL"), "http://qdrant:6334 (the gRPC port; 6333 is REST)",
            "not configured: single-node embedded store in use"));
        findings.AddRange(MinioCredentials(config, s3 is not null));
        if (s3 is not null)
        {
            findings.Add(Bucket(config, "S3_BUCKET_UPLOADS", StoreSettings.DefaultUploadsBucket));
            findings.Add(Bucket(config, "S3_BUCKET_ARTIFACTS", StoreSettings.DefaultArtifactsBucket));
        }

        findings.Add(MinioPublicUrl(config, "MINIO_BROWSER_REDIRECT_URL", consoleUrl: true));
        findings.Add(MinioPublicUrl(config, "MINIO_SERVER_URL", consoleUrl: false));
        findings.Add(PublicDomain(config, singleNode));
        return findings;
    }

    /// <summary>Throws for the first error: what start-up does, so that a bad value never reaches a request.</summary>
    public static void ThrowOnErrors(IConfiguration config)
    {
        if (Evaluate(config).FirstOrDefault(f => f.Level == FindingLevel.Error) is { } error)
        {
            throw new NexusConfigurationException(error.Variable, error.Verdict + (error.Fix is null ? "" : $"; {error.Fix}"));
        }
    }

    private static IEnumerable<ConfigFinding> MinioCredentials(IConfiguration config, bool s3Configured)
    {
        // MinIO itself refuses to start with shorter values and restarts in a loop; with S3_ENDPOINT set the platform
        // depends on it, so a bad value is an error here rather than a silent upload failure later.
        var user = Value(config, "MINIO_ROOT_USER");
        var password = Value(config, "MINIO_ROOT_PASSWORD");
        var level = s3Configured ? FindingLevel.Error : FindingLevel.Warning;
        const string recreate = "then recreate MinIO and re-run the bucket creation: docker compose up -d --force-recreate minio minio-init";
        if (user is null && password is null)
        {
            yield return s3Configured
                ? new("minio_credentials", "MINIO_ROOT_USER", FindingLevel.Error,
                    "MINIO_ROOT_USER and MINIO_ROOT_PASSWORD are not set while S3_ENDPOINT is",
                    $"set MINIO_ROOT_USER ({MinioUserMinLength}+ characters) and MINIO_ROOT_PASSWORD ({MinioPasswordMinLength}+ characters) in .env")
                : new("minio_credentials", "MINIO_ROOT_USER", FindingLevel.Ok, "not configured: no MinIO in use (S3_ENDPOINT unset)");
            yield break;
        }

        var ok = true;
        if (user is null || user.Length < MinioUserMinLength)
        {
            ok = false;
            yield return new("minio_credentials", "MINIO_ROOT_USER", level,
                $"MINIO_ROOT_USER has {user?.Length ?? 0} character(s); MinIO needs at least {MinioUserMinLength}",
                $"set a MINIO_ROOT_USER of {MinioUserMinLength}+ characters in .env, {recreate}");
        }

        if (password is null || password.Length < MinioPasswordMinLength)
        {
            ok = false;
            yield return new("minio_credentials", "MINIO_ROOT_PASSWORD", level,
                $"MINIO_ROOT_PASSWORD has {password?.Length ?? 0} character(s); MinIO needs at least {MinioPasswordMinLength} " +
                "(it restarts in a loop with \"length should be at least 8\")",
                $"set a MINIO_ROOT_PASSWORD of {MinioPasswordMinLength}+ characters in .env (e.g. openssl rand -hex 16), {recreate}");
        }
        else if (NexusSettings.IsPlaceholder(password))
        {
            ok = false;
            yield return new("minio_credentials", "MINIO_ROOT_PASSWORD", level,
                "MINIO_ROOT_PASSWORD is still the placeholder of .env.example",
                $"set a real password (e.g. openssl rand -hex 16), {recreate}");
        }

        if (ok)
        {
            yield return new("minio_credentials", "MINIO_ROOT_USER", FindingLevel.Ok,
                $"MinIO user ({user!.Length} characters) and password ({password!.Length} characters) meet MinIO's minimums");
        }
    }

    private static ConfigFinding UrlRule(string check, string variable, string? value, string example, string unsetVerdict)
    {
        if (value is null)
        {
            return new(check, variable, FindingLevel.Ok, unsetVerdict);
        }

        var fix = $"write it with scheme, host and port only, e.g. {example}, or unset it for the single-node store";
        return AbsoluteUrl(value) switch
        {
            null => new(check, variable, FindingLevel.Error, $"{variable} '{value}' is not an absolute http(s) URL", fix),
            { AbsolutePath: not "/" } => new(check, variable, FindingLevel.Error, $"{variable} '{value}' has a path, which the client cannot use", fix),
            _ => new(check, variable, FindingLevel.Ok, $"{variable} is {value}"),
        };
    }

    private static ConfigFinding Bucket(IConfiguration config, string variable, string fallback)
    {
        var name = Value(config, variable) ?? fallback;
        return BucketName().IsMatch(name) && !name.Contains("..", StringComparison.Ordinal)
            ? new("s3_buckets", variable, FindingLevel.Ok, $"{variable} is '{name}'")
            : new("s3_buckets", variable, FindingLevel.Error, $"{variable} '{name}' is not a valid S3 bucket name",
                "use 3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit");
    }

    private static ConfigFinding MinioPublicUrl(IConfiguration config, string variable, bool consoleUrl)
    {
        var value = Value(config, variable);
        if (value is null)
        {
            return new("minio_public_urls", variable, FindingLevel.Ok, $"{variable} not set (MinIO behind no reverse proxy)");
        }

        if (AbsoluteUrl(value) is not { } url)
        {
            return new("minio_public_urls", variable, FindingLevel.Warning, $"{variable} '{value}' is not an absolute http(s) URL",
                "write the public URL the reverse proxy serves, e.g. https://console-minio.example.org");
        }

        return consoleUrl && url.AbsolutePath.TrimEnd('/').EndsWith("/login", StringComparison.OrdinalIgnoreCase)
            ? new("minio_public_urls", variable, FindingLevel.Warning, $"{variable} ends with /login: the console redirects to a wrong page",
                "drop the /login suffix (the console's public root), then docker compose up -d --force-recreate minio")
            : new("minio_public_urls", variable, FindingLevel.Ok, $"{variable} is {value}");
    }

    private static ConfigFinding PublicDomain(IConfiguration config, bool singleNode)
    {
        var value = Value(config, "PUBLIC_DOMAIN");
        if (value is null && singleNode && IsLoopback(Value(config, "NEXUS_BIND_ADDRESS") ?? "127.0.0.1"))
        {
            // Nobody reaches a loopback-only node under a public name, so there is nothing to attribute yet.
            return new("public_domain", "PUBLIC_DOMAIN", FindingLevel.Ok,
                "PUBLIC_DOMAIN unset: fine for a single node on loopback (OpenRouter calls go without HTTP-Referer attribution); " +
                "set it once the deployment has a public domain");
        }

        if (value is null)
        {
            return new("public_domain", "PUBLIC_DOMAIN", FindingLevel.Warning,
                "PUBLIC_DOMAIN is not set: calls to OpenRouter go without HTTP-Referer attribution",
                "set PUBLIC_DOMAIN to this deployment's public domain (e.g. rag.example.org) on every silo and WebFront");
        }

        return new Llm.LlmEndpoint("https://openrouter.ai/api/v1", "", "", value, "Aurora Nexus").Referer is not null
            ? new("public_domain", "PUBLIC_DOMAIN", FindingLevel.Ok, $"PUBLIC_DOMAIN is {value}")
            : new("public_domain", "PUBLIC_DOMAIN", FindingLevel.Warning, $"PUBLIC_DOMAIN '{value}' is not a domain or http(s) URL",
                "set it to a bare domain (rag.example.org) or an https URL");
    }

    private static bool IsLoopback(string address) =>
        address.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
        System.Net.IPAddress.TryParse(address.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip);

    internal static string? Value(IConfiguration config, string name) =>
        config[name] is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

    internal static Uri? AbsoluteUrl(string? value) =>
        value is not null && Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" &&
        !string.IsNullOrEmpty(uri.Host)
            ? uri
            : null;

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketName();
}

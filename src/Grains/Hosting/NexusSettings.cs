using System.Security.Cryptography;
using AuroraNexus.Grains.Llm;
using Microsoft.Extensions.Configuration;

namespace AuroraNexus.Grains.Hosting;

/// <summary>A configuration error a person can fix: it names the variable and says how.</summary>
public sealed class NexusConfigurationException(string variable, string message)
    : Exception($"{variable}: {message}")
{
    public string Variable { get; } = variable;
}

/// <summary>
/// The product's environment (.env.example documents each variable). Secrets left unset are generated once and kept
/// in <see cref="DataDirectory"/>; secrets set to bad values stop start-up with the variable's name.
/// </summary>
public sealed class NexusSettings
{
    public required string DataDirectory { get; init; }
    public string? DatabaseUrl { get; init; }
    public int ApiPort { get; init; }
    public int GatewayPort { get; init; }
    public int SiloPort { get; init; }
    public int OrleansGatewayPort { get; init; }
    public required string ClusterId { get; init; }
    public required string ServiceId { get; init; }
    public required string JwtSecret { get; init; }
    public required string AdminEmail { get; init; }
    public string? AdminDefaultPassword { get; init; }
    public string? OpenRouterApiKey { get; init; }
    public required string LlmBaseUrl { get; init; }

    /// <summary>LLM_PROVIDER_KIND (<c>openrouter</c> | <c>openai_compatible</c>); null = derived from the host of LLM_BASE_URL.</summary>
    public LlmProviderKind? LlmProviderKind { get; init; }
    public required string LlmModel { get; init; }
    public string? PublicDomain { get; init; }
    public long MaxUploadBytes { get; init; }

    public string ObjectsDirectory => Path.Combine(DataDirectory, "objects");
    public string PostgresDirectory => Path.Combine(DataDirectory, "pg");

    public static NexusSettings Load(IConfiguration config)
    {
        var dataDir = Path.GetFullPath(Value(config, "NEXUS_DATA_DIR") ?? ".nexus");
        Directory.CreateDirectory(dataDir);
        var jwt = Value(config, "JWT_SECRET");
        if (jwt is not null && jwt.Length < 32)
        {
            throw new NexusConfigurationException("JWT_SECRET",
                $"must be at least 32 characters (it has {jwt.Length}); generate one with `openssl rand -base64 48`, or unset it to let the app generate and keep one in NEXUS_DATA_DIR");
        }

        return new NexusSettings
        {
            DataDirectory = dataDir,
            DatabaseUrl = Value(config, "DATABASE_URL"),
            ApiPort = Port(config, "HOST_API_PORT", 18500),
            GatewayPort = Port(config, "HOST_GATEWAY_PORT", 17500),
            SiloPort = Port(config, "ORLEANS_SILO_PORT", 11111),
            OrleansGatewayPort = Port(config, "ORLEANS_GATEWAY_PORT", 30000),
            ClusterId = Value(config, "ORLEANS_CLUSTER_ID") ?? "aurora-nexus",
            ServiceId = Value(config, "ORLEANS_SERVICE_ID") ?? "aurora-nexus",
            JwtSecret = jwt ?? GeneratedSecret(dataDir, "jwt_secret"),
            AdminEmail = Value(config, "ADMIN_EMAIL") ?? "admin@nexus.local",
            AdminDefaultPassword = Value(config, "ADMIN_DEFAULT_PASSWORD"),
            OpenRouterApiKey = Value(config, "OPENROUTER_API_KEY"),
            LlmBaseUrl = Value(config, "LLM_BASE_URL") ?? "https://openrouter.ai/api/v1",
            LlmProviderKind = ProviderKind(config, "LLM_PROVIDER_KIND"),
            LlmModel = Value(config, "LLM_MODEL") ?? "openai/gpt-4o-mini",
            PublicDomain = Value(config, "PUBLIC_DOMAIN"),
            MaxUploadBytes = Long(config, "NEXUS_MAX_UPLOAD_BYTES", 50L * 1024 * 1024),
        };
    }

    private static string? Value(IConfiguration config, string name) =>
        config[name] is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

    private static LlmProviderKind? ProviderKind(IConfiguration config, string name)
    {
        var v = Value(config, name);
        if (v is null)
        {
            return null;
        }

        return LlmProviderKinds.TryParse(v, out var kind)
            ? kind
            : throw new NexusConfigurationException(name,
                $"'{v}' is not a provider kind: use {LlmProviderKinds.OpenRouterCode} or {LlmProviderKinds.OpenAiCompatibleCode}, " +
                "or unset it to derive the kind from the host of LLM_BASE_URL (openrouter.ai = openrouter)");
    }

    private static int Port(IConfiguration config, string name, int fallback)
    {
        var v = Value(config, name);
        if (v is null)
        {
            return fallback;
        }

        return int.TryParse(v, out var port) && port is > 0 and < 65536
            ? port
            : throw new NexusConfigurationException(name, $"'{v}' is not a TCP port (1-65535); default is {fallback}");
    }

    private static long Long(IConfiguration config, string name, long fallback)
    {
        var v = Value(config, name);
        if (v is null)
        {
            return fallback;
        }

        return long.TryParse(v, out var n) && n > 0
            ? n
            : throw new NexusConfigurationException(name, $"'{v}' is not a positive number of bytes; default is {fallback}");
    }

    private static string GeneratedSecret(string dataDir, string name)
    {
        var dir = Path.Combine(dataDir, "secrets");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }

        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
        File.WriteAllText(path, secret);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return secret;
    }
}

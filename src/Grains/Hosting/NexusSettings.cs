using System.Security.Cryptography;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Tenancy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Grains.Hosting;

/// <summary>A configuration error a person can fix: it names the variable and says how.</summary>
public sealed class NexusConfigurationException(string variable, string message)
    : Exception($"{variable}: {message}")
{
    public string Variable { get; } = variable;
}

/// <summary>
/// The product's environment (.env.example documents each variable). In single-node mode secrets left unset are
/// generated once and kept in <see cref="DataDirectory"/>; in cluster mode every secret must be set. A secret set to
/// an empty, placeholder, short or malformed value stops start-up with the variable's name and how to make a good one.
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

    /// <summary>LLM_CREDENTIALS_ENC_KEY: the first key encrypts, every key decrypts.</summary>
    public required FernetKeyRing CredentialKeys { get; init; }

    /// <summary>GATEWAY_INTERNAL_SECRET: what ops present to the silo's internal LLM endpoint.</summary>
    public required string GatewaySecret { get; init; }

    /// <summary>Secrets kept in the data directory (generated now or at an earlier start), as "VARIABLE: path (...)", for the log.</summary>
    public IReadOnlyList<string> GeneratedSecrets { get; init; } = [];

    /// <summary>Where LLM_CREDENTIALS_ENC_KEY is kept when it is not set (single node); null when it comes from the environment.</summary>
    public string? CredentialKeyFile { get; init; }
    public required string AdminEmail { get; init; }
    public string? AdminDefaultPassword { get; init; }
    public string? OpenRouterApiKey { get; init; }
    public required string LlmBaseUrl { get; init; }

    /// <summary>LLM_PROVIDER_KIND (<c>openrouter</c> | <c>openai_compatible</c>); null = derived from the host of LLM_BASE_URL.</summary>
    public LlmProviderKind? LlmProviderKind { get; init; }
    public required string LlmModel { get; init; }

    /// <summary>
    /// LLM_TIMEOUT_SECONDS (default 60, at most <see cref="MaxLlmTimeoutSeconds"/>): the whole budget of one chat call,
    /// every attempt and the waits between them; a stream's silence between two lines is bounded by it too.
    /// </summary>
    public TimeSpan LlmTimeout { get; init; } = TimeSpan.FromSeconds(DefaultLlmTimeoutSeconds);

    public const int DefaultLlmTimeoutSeconds = 60;

    /// <summary>The tenant grain's call is bounded at 4 minutes (its ResponseTimeout): a longer LLM budget could never be used.</summary>
    public const int MaxLlmTimeoutSeconds = 180;
    public string? PublicDomain { get; init; }
    public long MaxUploadBytes { get; init; }

    /// <summary>NEXUS_ALLOW_PRIVATE_LLM_URLS: tenant providers may point at loopback or private addresses (off by default).</summary>
    public bool AllowPrivateLlmUrls { get; init; }

    /// <summary>S3_ENDPOINT and friends: files go to MinIO; null = the local folder <see cref="ObjectsDirectory"/>.</summary>
    public AuroraNexus.Grains.Storage.S3StoreOptions? S3 => Stores.S3;

    /// <summary>QDRANT_URL (gRPC): vectors go to Qdrant; null = the embedded index.</summary>
    public Uri? QdrantUrl => Stores.QdrantUrl;

    /// <summary>QDRANT_URL, S3_ENDPOINT, buckets and MinIO credentials (unset = the single-node stores).</summary>
    public StoreSettings Stores { get; init; } = new(null, null, StoreSettings.DefaultUploadsBucket, StoreSettings.DefaultArtifactsBucket, null, null);

    /// <summary>NEXUS_SHUTDOWN_SECONDS: how long SIGTERM waits for in-flight requests and grain deactivation (default 30).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>ORLEANS_PROBE_TIMEOUT_SECONDS: unset = Orleans' default (5 s per probe).</summary>
    public TimeSpan? MembershipProbeTimeout { get; init; }

    /// <summary>ORLEANS_MISSED_PROBES_LIMIT: missed probes before a silo is suspected; unset = Orleans' default (3).</summary>
    public int? MissedProbesLimit { get; init; }

    /// <summary>Ingestion leases, retries and parallelism, and the embedding model's share of the cores.</summary>
    public AuroraNexus.Grains.Ingestion.IngestionOptions Ingestion { get; init; } = new();

    public string ObjectsDirectory => Path.Combine(DataDirectory, "objects");
    public string PostgresDirectory => Path.Combine(DataDirectory, "pg");

    /// <param name="singleNode">true: unset secrets are generated in the data directory; false: they must be set.</param>
    public static NexusSettings Load(IConfiguration config, bool singleNode = true)
    {
        // The guide's configuration errors (MinIO lengths with S3_ENDPOINT set, malformed store URLs, bucket names) stop
        // start-up here, before anything is created.
        ConfigurationRules.ThrowOnErrors(config);
        var dataDir = Path.GetFullPath(Value(config, "NEXUS_DATA_DIR") ?? ".nexus");
        Directory.CreateDirectory(dataDir);
        var generated = new List<string>();

        var jwt = Secret(config, "JWT_SECRET", singleNode, dataDir, generated, JwtHowTo,
            v => v.Length < 32 ? $"must be at least 32 characters (it has {v.Length})" : null,
            () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(48)));
        var gateway = Secret(config, "GATEWAY_INTERNAL_SECRET", singleNode, dataDir, generated, GatewayHowTo,
            v => v.Length < 32 ? $"must be at least 32 characters (it has {v.Length})" : null,
            () => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
        var keyText = Secret(config, "LLM_CREDENTIALS_ENC_KEY", singleNode, dataDir, generated, FernetHowTo,
            v => KeyRingProblem(v),
            () => FernetKey.Generate().Encode());

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
            JwtSecret = jwt,
            GatewaySecret = gateway,
            CredentialKeys = FernetKeyRing.Parse(keyText),
            CredentialKeyFile = config["LLM_CREDENTIALS_ENC_KEY"] is null ? SecretPath(dataDir, "LLM_CREDENTIALS_ENC_KEY") : null,
            GeneratedSecrets = generated,
            AdminEmail = Value(config, "ADMIN_EMAIL") ?? "admin@nexus.local",
            AdminDefaultPassword = Value(config, "ADMIN_DEFAULT_PASSWORD"),
            OpenRouterApiKey = Value(config, "OPENROUTER_API_KEY"),
            LlmBaseUrl = Value(config, "LLM_BASE_URL") ?? "https://openrouter.ai/api/v1",
            LlmProviderKind = ProviderKind(config, "LLM_PROVIDER_KIND"),
            LlmModel = Value(config, "LLM_MODEL") ?? "openai/gpt-4o-mini",
            LlmTimeout = LlmTimeoutOf(config),
            PublicDomain = Value(config, "PUBLIC_DOMAIN"),
            MaxUploadBytes = Long(config, "NEXUS_MAX_UPLOAD_BYTES", 50L * 1024 * 1024),
            AllowPrivateLlmUrls = Bool(config, EndpointGuard.AllowVariable),
            Stores = StoreSettings.Load(config),
            ShutdownTimeout = TimeSpan.FromSeconds(Long(config, "NEXUS_SHUTDOWN_SECONDS", 30)),
            MembershipProbeTimeout = Value(config, "ORLEANS_PROBE_TIMEOUT_SECONDS") is null
                ? null
                : TimeSpan.FromSeconds(Long(config, "ORLEANS_PROBE_TIMEOUT_SECONDS", 5)),
            MissedProbesLimit = Value(config, "ORLEANS_MISSED_PROBES_LIMIT") is null
                ? null
                : (int)Math.Min(Long(config, "ORLEANS_MISSED_PROBES_LIMIT", 3), 100),
            Ingestion = AuroraNexus.Grains.Ingestion.IngestionOptions.Load(config),
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

    private static TimeSpan LlmTimeoutOf(IConfiguration config)
    {
        var seconds = Long(config, "LLM_TIMEOUT_SECONDS", DefaultLlmTimeoutSeconds);
        return seconds <= MaxLlmTimeoutSeconds
            ? TimeSpan.FromSeconds(seconds)
            : throw new NexusConfigurationException("LLM_TIMEOUT_SECONDS",
                $"'{seconds}' is more than {MaxLlmTimeoutSeconds} s, the longest an LLM call may take; default is {DefaultLlmTimeoutSeconds}");
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

    private static bool Bool(IConfiguration config, string name) => Value(config, name)?.ToLowerInvariant() switch
    {
        null or "false" or "0" or "no" => false,
        "true" or "1" or "yes" => true,
        var v => throw new NexusConfigurationException(name, $"'{v}' is not true or false"),
    };

    private static long Long(IConfiguration config, string name, long fallback)
    {
        var v = Value(config, name);
        if (v is null)
        {
            return fallback;
        }

        return long.TryParse(v, out var n) && n > 0
            ? n
            : throw new NexusConfigurationException(name, $"'{v}' is not a positive whole number; default is {fallback}");
    }

    /// <summary>Says where each generated secret is kept (never the value), so that ops can back it up.</summary>
    public void LogGeneratedSecrets(ILogger logger)
    {
        foreach (var line in GeneratedSecrets)
        {
            logger.LogInformation("Single-node secret kept in the data directory (back it up with the data): {Where}", line);
        }

        if (CredentialKeys.Fingerprints.Count > 1)
        {
            logger.LogInformation("LLM_CREDENTIALS_ENC_KEY holds {Count} keys; new credentials use {Primary}", CredentialKeys.Fingerprints.Count, CredentialKeys.PrimaryFingerprint);
        }
    }

    private static string? KeyRingProblem(string value)
    {
        try
        {
            FernetKeyRing.Parse(value);
            return null;
        }
        catch (FernetKeyFormatException ex)
        {
            return ex.Message;
        }
    }

    private const string JwtHowTo = "generate one with `openssl rand -base64 48`";
    private const string GatewayHowTo = "generate one with `openssl rand -hex 32`";
    private const string FernetHowTo =
        "it is one or more Fernet keys (32 url-safe base64 bytes each, comma-separated, the first encrypts); generate one with " +
        "`python3 -c \"import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())\"`";

    /// <summary>Values people leave in place of a secret; none of them may reach production.</summary>
    private static readonly string[] Placeholders =
    [
        "change-me", "change-me-now", "changeme", "change_me", "changeit", "secret", "password", "your-secret", "your-secret-here",
        "todo", "xxx", "placeholder", "example", "default",
    ];

    public static bool IsPlaceholder(string value)
    {
        var v = value.Trim().Trim('"', '\'').ToLowerInvariant();
        return Placeholders.Contains(v) || v.StartsWith("change-this", StringComparison.Ordinal) ||
            v.StartsWith("change-me", StringComparison.Ordinal) || v.StartsWith('<') || v.StartsWith("${", StringComparison.Ordinal) ||
            v.Trim('x', '*', '.', '-').Length == 0;
    }

    /// <summary>Passwords published as examples (this product's own documentation) or guessed first.</summary>
    private static readonly string[] KnownPasswords =
    [
        "choose-a-password", "admin", "administrator", "admin123", "admin1234", "admin12345", "password1", "password123",
        "letmein", "welcome", "qwerty", "qwertyuiop", "azerty", "azertyuiop", "123456789", "1234567890", "nexus", "aurora-nexus",
        "changeme123",
    ];

    /// <summary>
    /// An admin password that must not stay in use: shorter than 10 characters, fewer than 5 distinct ones, a
    /// placeholder (change-me-now…), a well-known value or this documentation's example. A password of one's own choosing
    /// passes; the generated one is judged apart (it was printed on the console).
    /// </summary>
    public static bool IsWeakPassword(string password)
    {
        var p = password.Trim();
        return p.Length < 10 || p.Distinct().Count() < 5 || IsPlaceholder(p) ||
            KnownPasswords.Contains(p.ToLowerInvariant()) ||
            (p.Contains("password", StringComparison.OrdinalIgnoreCase) && p.Distinct().Count() < 9);
    }

    /// <summary>
    /// Reads a secret. Unset: generated once under data/secrets in single-node mode, an error in cluster mode.
    /// Set: must not be empty, a placeholder or fail <paramref name="check"/>.
    /// </summary>
    private static string Secret(
        IConfiguration config, string name, bool singleNode, string dataDir, List<string> generated, string howTo,
        Func<string, string?> check, Func<string> generate)
    {
        var raw = config[name];
        if (raw is null)
        {
            if (!singleNode)
            {
                throw new NexusConfigurationException(name,
                    $"is not set; in cluster mode every silo and WebFront must share the same value, so nothing is generated: {howTo}");
            }

            var path = SecretPath(dataDir, name);
            var existed = File.Exists(path);
            var value = GeneratedSecret(path, generate);
            var problem = check(value);
            if (problem is not null)
            {
                throw new NexusConfigurationException(name, $"the value kept in {path} is unusable ({problem}); delete the file to generate a new one");
            }

            generated.Add($"{name}: {path} ({(existed ? "kept from an earlier start" : "generated now")})");
            return value;
        }

        var trimmed = raw.Trim();
        if (trimmed.Length == 0)
        {
            throw new NexusConfigurationException(name,
                $"is set but empty; {howTo}" + (singleNode ? ", or unset it to let the app generate and keep one in NEXUS_DATA_DIR" : ""));
        }

        if (IsPlaceholder(trimmed))
        {
            throw new NexusConfigurationException(name, $"holds the placeholder '{trimmed}', not a secret; {howTo}");
        }

        var error = check(trimmed);
        return error is null ? trimmed : throw new NexusConfigurationException(name, $"{error}; {howTo}");
    }

    /// <summary>
    /// The verdict on one secret without generating anything (what <c>doctor</c> prints): null when it is usable, else
    /// the problem and how to fix it. <paramref name="raw"/> null = unset.
    /// </summary>
    public static string? SecretProblem(string name, string? raw, bool singleNode)
    {
        var (howTo, check) = name switch
        {
            "JWT_SECRET" => (JwtHowTo, (Func<string, string?>)(v => v.Length < 32 ? $"must be at least 32 characters (it has {v.Length})" : null)),
            "GATEWAY_INTERNAL_SECRET" => (GatewayHowTo, v => v.Length < 32 ? $"must be at least 32 characters (it has {v.Length})" : null),
            "LLM_CREDENTIALS_ENC_KEY" => (FernetHowTo, KeyRingProblem),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not a secret of this product"),
        };
        if (raw is null)
        {
            return singleNode ? null : $"is not set; in cluster mode every silo and WebFront must share the same value: {howTo}";
        }

        var trimmed = raw.Trim();
        if (trimmed.Length == 0)
        {
            return $"is set but empty; {howTo}";
        }

        if (IsPlaceholder(trimmed))
        {
            return $"holds the placeholder '{trimmed}', not a secret; {howTo}";
        }

        return check(trimmed) is { } error ? $"{error}; {howTo}" : null;
    }

    public static string SecretPath(string dataDir, string name) => Path.Combine(dataDir, "secrets", name.ToLowerInvariant());

    /// <summary>Writes a kept secret atomically (write aside, then rename), readable by the owner only.</summary>
    public static void WriteSecretFile(string path, string value, bool overwrite = true)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        File.WriteAllText(temp, value);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temp, path, overwrite);
    }

    private static string GeneratedSecret(string path, Func<string> generate)
    {
        if (File.Exists(path))
        {
            return File.ReadAllText(path).Trim();
        }

        var secret = generate();
        WriteSecretFile(path, secret, overwrite: false);
        return secret;
    }
}

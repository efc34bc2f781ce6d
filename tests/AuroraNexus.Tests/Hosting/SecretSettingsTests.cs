using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Tenancy;
using Microsoft.Extensions.Configuration;

namespace AuroraNexus.Tests.Hosting;

/// <summary>Start-up secrets: generated once in single-node mode, required in cluster mode, bad values named.</summary>
public sealed class SecretSettingsTests : IDisposable
{
    private static readonly string[] SecretNames = ["JWT_SECRET", "GATEWAY_INTERNAL_SECRET", "LLM_CREDENTIALS_ENC_KEY"];

    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "nexus-secrets-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }

    private NexusSettings Load(bool singleNode, params (string Key, string? Value)[] values)
    {
        var data = new Dictionary<string, string?> { ["NEXUS_DATA_DIR"] = _dataDir };
        foreach (var (k, v) in values)
        {
            data[k] = v;
        }

        return NexusSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(data).Build(), singleNode);
    }

    private static string GoodValue(string name) => name == "LLM_CREDENTIALS_ENC_KEY" ? FernetKey.Generate().Encode() : new string('a', 20) + Guid.NewGuid().ToString("N");

    [Fact]
    public void Single_node_generates_unset_secrets_once_keeps_them_private_and_says_where()
    {
        var first = Load(singleNode: true);
        Assert.Equal(3, first.GeneratedSecrets.Count);
        foreach (var name in SecretNames)
        {
            var path = Path.Combine(_dataDir, "secrets", name.ToLowerInvariant());
            Assert.True(File.Exists(path), path);
            Assert.Contains(first.GeneratedSecrets, line => line.StartsWith(name, StringComparison.Ordinal) && line.Contains(path, StringComparison.Ordinal));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
        }

        Assert.All(first.GeneratedSecrets, line => Assert.EndsWith("(generated now)", line));
        var second = Load(singleNode: true);
        Assert.All(second.GeneratedSecrets, line => Assert.EndsWith("(kept from an earlier start)", line));
        Assert.Equal(first.JwtSecret, second.JwtSecret);
        Assert.Equal(first.GatewaySecret, second.GatewaySecret);
        Assert.Equal(first.CredentialKeys.PrimaryFingerprint, second.CredentialKeys.PrimaryFingerprint);
        Assert.True(first.GatewaySecret.Length >= 32);
        Assert.True(first.JwtSecret.Length >= 32);
    }

    [Theory]
    [InlineData("JWT_SECRET")]
    [InlineData("GATEWAY_INTERNAL_SECRET")]
    [InlineData("LLM_CREDENTIALS_ENC_KEY")]
    public void Cluster_mode_generates_nothing_and_names_the_unset_secret(string missing)
    {
        var values = SecretNames.Where(n => n != missing).Select(n => (n, (string?)GoodValue(n))).ToArray();
        var error = Assert.Throws<NexusConfigurationException>(() => Load(singleNode: false, values));
        Assert.Equal(missing, error.Variable);
        Assert.Contains("not set", error.Message);
        Assert.False(Directory.Exists(Path.Combine(_dataDir, "secrets")));
    }

    [Theory]
    [InlineData("JWT_SECRET", "", "set but empty")]
    [InlineData("JWT_SECRET", "   ", "set but empty")]
    [InlineData("JWT_SECRET", "change-me", "placeholder")]
    [InlineData("JWT_SECRET", "short-but-real-9f3", "at least 32")]
    [InlineData("GATEWAY_INTERNAL_SECRET", "change-me-now", "placeholder")]
    [InlineData("GATEWAY_INTERNAL_SECRET", "<GATEWAY_INTERNAL_SECRET>", "placeholder")]
    [InlineData("GATEWAY_INTERNAL_SECRET", "tooshort", "at least 32")]
    [InlineData("LLM_CREDENTIALS_ENC_KEY", "", "set but empty")]
    [InlineData("LLM_CREDENTIALS_ENC_KEY", "change-me", "placeholder")]
    [InlineData("LLM_CREDENTIALS_ENC_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "hex")]
    [InlineData("LLM_CREDENTIALS_ENC_KEY", "c2hvcnQta2V5", "bytes")]
    public void A_bad_secret_stops_start_up_naming_the_variable_and_the_fix(string name, string value, string reason)
    {
        foreach (var singleNode in new[] { true, false })
        {
            var values = SecretNames.Select(n => (n, n == name ? value : (string?)GoodValue(n))).ToArray();
            var error = Assert.Throws<NexusConfigurationException>(() => Load(singleNode, values));
            Assert.Equal(name, error.Variable);
            Assert.StartsWith(name + ":", error.Message);
            Assert.Contains(reason, error.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Contains(name == "LLM_CREDENTIALS_ENC_KEY" ? "urlsafe_b64encode" : "openssl rand", error.Message);
            if (value.Trim().Length > 0 && name != "LLM_CREDENTIALS_ENC_KEY")
            {
                // The message may quote a placeholder, never a real secret.
                Assert.True(reason == "placeholder" || !error.Message.Contains(value, StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public void A_key_list_rotates_the_first_key_encrypts_and_every_key_decrypts()
    {
        var newKey = FernetKey.Generate();
        var oldKey = FernetKey.Generate();
        var oldToken = Fernet.Encrypt(oldKey, "sk-or-v1-old");
        var settings = Load(singleNode: false,
            ("JWT_SECRET", GoodValue("JWT_SECRET")), ("GATEWAY_INTERNAL_SECRET", GoodValue("GATEWAY_INTERNAL_SECRET")),
            ("LLM_CREDENTIALS_ENC_KEY", $" {newKey.Encode()} , {oldKey.Encode()} "));
        Assert.Equal([newKey.Fingerprint, oldKey.Fingerprint], settings.CredentialKeys.Fingerprints);
        Assert.True(settings.CredentialKeys.TryDecrypt(oldToken, oldKey.Fingerprint, out var plain, out var used));
        Assert.Equal("sk-or-v1-old", plain);
        Assert.Equal(oldKey.Fingerprint, used);
        Assert.Equal(newKey.Fingerprint, settings.CredentialKeys.Encrypt("x").Fingerprint);
        Assert.Empty(settings.GeneratedSecrets);
    }

    [Fact]
    public void A_bad_item_in_a_key_list_is_named_by_position()
    {
        var error = Assert.Throws<NexusConfigurationException>(() => Load(singleNode: true,
            ("LLM_CREDENTIALS_ENC_KEY", FernetKey.Generate().Encode() + ",not-a-key")));
        Assert.Equal("LLM_CREDENTIALS_ENC_KEY", error.Variable);
        Assert.Contains("2", error.Message);
    }

    [Fact]
    public async Task The_app_refuses_to_start_with_a_hex_credentials_key_and_says_which_variable()
    {
        var (web, output) = await AuroraNexus.Tests.Infrastructure.ConsoleCapture.RunAsync(() => AuroraNexus.WebFront.NexusWebApp.CreateAsync([],
            new Dictionary<string, string?>
            {
                ["NEXUS_DATA_DIR"] = _dataDir,
                ["LLM_CREDENTIALS_ENC_KEY"] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            }));
        Assert.Null(web);
        var errors = output;
        Assert.Contains("configuration error: LLM_CREDENTIALS_ENC_KEY:", errors);
        Assert.Contains("hex", errors);
    }
}

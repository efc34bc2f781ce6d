using AuroraNexus.Grains.Hosting;
using Microsoft.Extensions.Configuration;

namespace AuroraNexus.Tests.Operations;

public sealed class ConfigurationRulesTests : IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "nexus-rules-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }

    private IConfiguration Config(params (string Key, string? Value)[] values)
    {
        var all = new Dictionary<string, string?> { ["NEXUS_DATA_DIR"] = _dataDir };
        foreach (var (k, v) in values)
        {
            all[k] = v;
        }

        return new ConfigurationBuilder().AddInMemoryCollection(all).Build();
    }

    [Fact]
    public void A_five_character_minio_password_with_s3_endpoint_set_stops_start_up_naming_the_variable()
    {
        var config = Config(("S3_ENDPOINT", "http://minio:9000"), ("MINIO_ROOT_USER", "nexus"), ("MINIO_ROOT_PASSWORD", "short"));

        var error = Assert.Throws<NexusConfigurationException>(() => NexusSettings.Load(config));

        Assert.Equal("MINIO_ROOT_PASSWORD", error.Variable);
        Assert.Contains("5 character(s)", error.Message);
        Assert.Contains("at least 8", error.Message);
        Assert.Contains("--force-recreate minio", error.Message);
    }

    [Fact]
    public void A_two_character_minio_user_with_s3_endpoint_set_stops_start_up()
    {
        var config = Config(("S3_ENDPOINT", "http://minio:9000"), ("MINIO_ROOT_USER", "ab"), ("MINIO_ROOT_PASSWORD", "long-enough-password"));

        Assert.Equal("MINIO_ROOT_USER", Assert.Throws<NexusConfigurationException>(() => NexusSettings.Load(config)).Variable);
    }

    [Fact]
    public void S3_endpoint_without_minio_credentials_stops_start_up()
    {
        var error = Assert.Throws<NexusConfigurationException>(() => NexusSettings.Load(Config(("S3_ENDPOINT", "http://minio:9000"))));

        Assert.Equal("MINIO_ROOT_USER", error.Variable);
        Assert.Contains("MINIO_ROOT_PASSWORD", error.Message);
    }

    [Fact]
    public void Without_s3_endpoint_a_short_minio_password_is_only_a_warning()
    {
        var config = Config(("MINIO_ROOT_USER", "nexus"), ("MINIO_ROOT_PASSWORD", "short"));

        var settings = NexusSettings.Load(config);

        Assert.Null(settings.Stores.S3Endpoint);
        var finding = Assert.Single(ConfigurationRules.Evaluate(config), f => f.Variable == "MINIO_ROOT_PASSWORD");
        Assert.Equal(FindingLevel.Warning, finding.Level);
    }

    [Theory]
    [InlineData("QDRANT_URL", "qdrant:6334")]
    [InlineData("QDRANT_URL", "ftp://qdrant")]
    [InlineData("S3_ENDPOINT", "minio")]
    public void A_store_url_that_is_not_absolute_http_stops_start_up(string variable, string value)
    {
        var config = Config((variable, value), ("MINIO_ROOT_USER", "nexus"), ("MINIO_ROOT_PASSWORD", "long-enough-password"));

        var error = Assert.Throws<NexusConfigurationException>(() => NexusSettings.Load(config));

        Assert.Equal(variable, error.Variable);
        Assert.Contains("absolute http(s) URL", error.Message);
    }

    [Theory]
    [InlineData("Uploads")]
    [InlineData("ab")]
    [InlineData("nexus_uploads")]
    public void An_invalid_bucket_name_stops_start_up(string bucket)
    {
        var config = Config(("S3_ENDPOINT", "http://minio:9000"), ("MINIO_ROOT_USER", "nexus"), ("MINIO_ROOT_PASSWORD", "long-enough-password"),
            ("S3_BUCKET_UPLOADS", bucket));

        Assert.Equal("S3_BUCKET_UPLOADS", Assert.Throws<NexusConfigurationException>(() => NexusSettings.Load(config)).Variable);
    }

    [Fact]
    public void Valid_store_settings_load_and_never_print_the_password()
    {
        var config = Config(("S3_ENDPOINT", "http://minio:9000"), ("QDRANT_URL", "http://qdrant:6334"), ("MINIO_ROOT_USER", "nexus"),
            ("MINIO_ROOT_PASSWORD", "s3cr3t-minio-pass"), ("PUBLIC_DOMAIN", "rag.example.org"));

        var settings = NexusSettings.Load(config);

        Assert.Equal(new Uri("http://minio:9000"), settings.Stores.S3Endpoint);
        Assert.Equal(new Uri("http://qdrant:6334"), settings.Stores.QdrantUrl);
        Assert.Equal("nexus-uploads", settings.Stores.UploadsBucket);
        Assert.DoesNotContain("s3cr3t-minio-pass", settings.Stores.ToString());
        Assert.All(ConfigurationRules.Evaluate(config), f => Assert.Equal(FindingLevel.Ok, f.Level));
    }

    [Fact]
    public void Console_redirect_url_ending_with_login_and_missing_public_domain_are_warnings()
    {
        var findings = ConfigurationRules.Evaluate(Config(("MINIO_BROWSER_REDIRECT_URL", "https://console-minio.example.org/login")));

        Assert.Contains(findings, f => f is { Variable: "MINIO_BROWSER_REDIRECT_URL", Level: FindingLevel.Warning } && f.Verdict.Contains("/login"));
        Assert.Contains(findings, f => f is { Variable: "PUBLIC_DOMAIN", Level: FindingLevel.Warning });
    }

    [Fact]
    public void Public_domain_unset_is_fine_for_a_single_node_on_loopback_and_a_warning_anywhere_else()
    {
        Assert.Equal(FindingLevel.Ok, PublicDomain(Config(), singleNode: true).Level);
        Assert.Equal(FindingLevel.Ok, PublicDomain(Config(("NEXUS_BIND_ADDRESS", "::1")), singleNode: true).Level);
        Assert.Contains("single node on loopback", PublicDomain(Config(), singleNode: true).Verdict);

        Assert.Equal(FindingLevel.Warning, PublicDomain(Config(), singleNode: false).Level);
        Assert.Equal(FindingLevel.Warning, PublicDomain(Config(("NEXUS_BIND_ADDRESS", "0.0.0.0")), singleNode: true).Level);
        Assert.Equal(FindingLevel.Warning, PublicDomain(Config(("PUBLIC_DOMAIN", "not a domain")), singleNode: true).Level);
        Assert.Equal(FindingLevel.Ok, PublicDomain(Config(("PUBLIC_DOMAIN", "rag.example.org")), singleNode: false).Level);

        static ConfigFinding PublicDomain(IConfiguration config, bool singleNode) =>
            Assert.Single(ConfigurationRules.Evaluate(config, singleNode), f => f.Variable == "PUBLIC_DOMAIN");
    }

    [Theory]
    [InlineData("LLM_TIMEOUT_SECONDS", "0")]
    [InlineData("LLM_TIMEOUT_SECONDS", "abc")]
    [InlineData("LLM_TIMEOUT_SECONDS", "600")]
    public void An_llm_timeout_out_of_range_stops_start_up_naming_the_variable(string variable, string value)
    {
        var error = Assert.Throws<NexusConfigurationException>(() => NexusSettings.Load(Config((variable, value))));
        Assert.Equal(variable, error.Variable);
    }

    [Fact]
    public void The_llm_timeout_defaults_to_60_seconds_and_is_read_from_LLM_TIMEOUT_SECONDS()
    {
        Assert.Equal(TimeSpan.FromSeconds(60), NexusSettings.Load(Config()).LlmTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), NexusSettings.Load(Config(("LLM_TIMEOUT_SECONDS", "5"))).LlmTimeout);
    }

    [Fact]
    public void Membership_and_shutdown_tuning_are_read_and_validated()
    {
        var settings = NexusSettings.Load(Config(("ORLEANS_PROBE_TIMEOUT_SECONDS", "1"), ("ORLEANS_MISSED_PROBES_LIMIT", "2"), ("NEXUS_SHUTDOWN_SECONDS", "12")));
        Assert.Equal(TimeSpan.FromSeconds(1), settings.MembershipProbeTimeout);
        Assert.Equal(2, settings.MissedProbesLimit);
        Assert.Equal(TimeSpan.FromSeconds(12), settings.ShutdownTimeout);
        Assert.Null(NexusSettings.Load(Config()).MembershipProbeTimeout);

        Assert.Equal("NEXUS_SHUTDOWN_SECONDS",
            Assert.Throws<NexusConfigurationException>(() => NexusSettings.Load(Config(("NEXUS_SHUTDOWN_SECONDS", "soon")))).Variable);
    }
}

using System.Text.RegularExpressions;
using AuroraNexus.Grains.Hosting;
using YamlDotNet.RepresentationModel;

namespace AuroraNexus.Tests.Operations;

/// <summary>
/// compose.yaml, .env.example and the Dockerfile checked as files (no container engine runs the tests): every variable
/// compose reads is documented, the services and their order are what production needs, and no real secret is shipped.
/// </summary>
public sealed partial class ComposeFileTests
{
    private static readonly string Root = RepositoryRoot();
    private static readonly YamlMappingNode Compose = Load(Path.Combine(Root, "compose.yaml"));
    private static readonly string EnvExample = File.ReadAllText(Path.Combine(Root, ".env.example"));

    [Fact]
    public void Every_variable_compose_reads_is_documented_in_env_example()
    {
        var text = File.ReadAllText(Path.Combine(Root, "compose.yaml"));
        // $$ escapes a dollar for the container's shell; only ${NAME...} is read from .env.
        var used = ComposeVariable().Matches(text.Replace("$$", "", StringComparison.Ordinal)).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.NotEmpty(used);
        var documented = EnvVariable().Matches(EnvExample).Select(m => m.Groups[1].Value).ToHashSet();
        var missing = used.Except(documented).Order().ToList();
        Assert.True(missing.Count == 0, $".env.example lacks: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Every_variable_the_code_reads_is_documented_in_env_example()
    {
        var documented = EnvVariable().Matches(EnvExample).Select(m => m.Groups[1].Value).ToHashSet();
        var code = Directory.GetFiles(Path.Combine(Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(File.ReadAllText);
        var read = code.SelectMany(c => CodeVariable().Matches(c).Select(m => m.Groups[1].Value)).ToHashSet();
        read.Remove("PG_VERSION"); // the file PostgreSQL writes in its data directory, not a variable
        Assert.Contains("MINIO_ROOT_PASSWORD", read);
        var missing = read.Except(documented).Order().ToList();
        Assert.True(missing.Count == 0, $".env.example lacks variables the code reads: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Services_start_in_order_and_the_silo_scales()
    {
        var services = (YamlMappingNode)Compose["services"];
        foreach (var name in new[] { "postgres", "qdrant", "minio", "minio-init", "migrate", "silo", "webfront" })
        {
            Assert.True(services.Children.ContainsKey(name), $"service {name} missing");
        }

        var postgres = Service("postgres");
        Assert.Contains(Sequence(postgres, "volumes"), v => v.StartsWith("pg-data:", StringComparison.Ordinal));
        Assert.Contains("pg_isready", Scalar(Map(postgres, "healthcheck"), "test") ?? string.Join(' ', Sequence(Map(postgres, "healthcheck"), "test")));

        Assert.Equal("service_healthy", DependsOn("migrate", "postgres"));
        Assert.Equal("service_healthy", DependsOn("minio-init", "minio"));
        Assert.Equal("service_completed_successfully", DependsOn("silo", "migrate"));
        Assert.Equal("service_completed_successfully", DependsOn("silo", "minio-init"));
        Assert.Equal("service_healthy", DependsOn("webfront", "silo"));
        Assert.Equal("no", Scalar(Service("minio-init"), "restart"));

        var silo = Service("silo");
        Assert.False(silo.Children.ContainsKey("container_name"), "a fixed container name prevents --scale silo=N");
        Assert.NotNull(Scalar(silo, "stop_grace_period"));
        // A single fixed host port cannot be bound by N replicas: the silo publishes a range.
        Assert.All(Sequence(silo, "ports"), p => Assert.Matches(@"\$\{HOST_GATEWAY_PORT:-17500\}-\$\{HOST_GATEWAY_PORT_LAST:-\d+\}:17500", p));
        Assert.Contains("healthcheck", string.Join(' ', Sequence(Map(silo, "healthcheck"), "test")));

        Assert.Contains(Sequence(Service("webfront"), "ports"), p => p.Contains("${HOST_API_PORT:-18500}:18500", StringComparison.Ordinal));
        var minioPorts = Sequence(Service("minio"), "ports");
        Assert.Contains(minioPorts, p => p.Contains("${HOST_MINIO_API_PORT:-19500}:9000", StringComparison.Ordinal));
        Assert.Contains(minioPorts, p => p.Contains("${HOST_MINIO_CONSOLE_PORT:-19501}:9001", StringComparison.Ordinal));
    }

    [Fact]
    public void Minio_init_creates_the_buckets_idempotently_and_fails_loudly()
    {
        var script = string.Join('\n', Sequence(Service("minio-init"), "entrypoint"));
        Assert.Contains("set -eu", script);
        Assert.Contains("mc mb --ignore-existing", script);
        Assert.Contains("$$S3_BUCKET_UPLOADS", script);
        Assert.Contains("$$S3_BUCKET_ARTIFACTS", script);
        Assert.Contains("exit 1", script);
    }

    [Fact]
    public void Env_example_ships_no_real_secret()
    {
        foreach (var name in new[] { "JWT_SECRET", "LLM_CREDENTIALS_ENC_KEY", "GATEWAY_INTERNAL_SECRET", "POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD",
                     "OPENROUTER_API_KEY", "ADMIN_DEFAULT_PASSWORD" })
        {
            var line = Regex.Match(EnvExample, $"^#?{name}=(.*)$", RegexOptions.Multiline);
            Assert.True(line.Success, $"{name} is not documented");
            var value = line.Groups[1].Value.Trim();
            Assert.True(value.Length == 0 || NexusSettings.IsPlaceholder(value), $"{name} carries a value that could be a real secret: '{value}'");
        }

        // The shipped placeholders are refused at start-up, so a copied .env.example cannot run with them.
        Assert.True(NexusSettings.IsPlaceholder("change-this-minio-password"));
    }

    [Fact]
    public void Dockerfile_builds_the_images_compose_runs()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "Dockerfile"));
        foreach (var service in new[] { "migrate", "silo", "webfront" })
        {
            var target = Scalar(Map(Service(service), "build"), "target");
            Assert.Matches($@"(?m)^FROM \S+ AS {target}$", dockerfile);
        }

        Assert.Contains("AuroraNexus.Silo.dll", dockerfile);
        Assert.Contains("AuroraNexus.WebFront.dll", dockerfile);
        Assert.Contains("**/bin/", File.ReadAllText(Path.Combine(Root, ".dockerignore")));
    }

    private static string? DependsOn(string service, string on) => Scalar(Map(Map(Service(service), "depends_on"), on), "condition");

    private static YamlMappingNode Service(string name) => (YamlMappingNode)((YamlMappingNode)Compose["services"])[name];

    private static YamlMappingNode Map(YamlMappingNode node, string key) => (YamlMappingNode)node[key];

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;

    private static List<string> Sequence(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlSequenceNode seq
            ? [.. seq.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? "")]
            : [];

    private static YamlMappingNode Load(string path)
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(path);
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AuroraNexus.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("the repository root (AuroraNexus.sln) is not above the test binaries");
    }

    [GeneratedRegex(@"\$\{([A-Z][A-Z0-9_]*)")]
    private static partial Regex ComposeVariable();

    [GeneratedRegex(@"(?m)^#?\s?([A-Z][A-Z0-9_]*)=")]
    private static partial Regex EnvVariable();

    // A string literal that is exactly a variable name of the product's families.
    [GeneratedRegex(@"""((?:NEXUS|ORLEANS|HOST|S3|MINIO|QDRANT|OTEL|LLM|ADMIN|PUBLIC|GATEWAY|JWT|DATABASE|PG|OPENROUTER)_[A-Z0-9_]+)""")]
    private static partial Regex CodeVariable();
}

using AuroraNexus.Tests.Infrastructure;

namespace AuroraNexus.Tests.Operations;

/// <summary>The Silo binary as ops run it: start-up refusals and the doctor's exit code, in a real process.</summary>
public sealed class OpsCommandProcessTests
{
    private static Task<(int Exit, string Output)> RunSiloAsync(IReadOnlyDictionary<string, string> env, params string[] args) =>
        ProductCommand.RunAsync(SiloProcess.SiloAssembly(), env, args);

    internal static Dictionary<string, string> ClusterSecrets(string dataDir) => new()
    {
        ["NEXUS_DATA_DIR"] = dataDir,
        ["JWT_SECRET"] = new string('j', 40),
        ["GATEWAY_INTERNAL_SECRET"] = new string('g', 40),
        ["LLM_CREDENTIALS_ENC_KEY"] = AuroraNexus.Grains.Tenancy.FernetKey.Generate().Encode(),
        // Nothing listens there: nothing must get as far as connecting.
        ["DATABASE_URL"] = $"postgres://nexus:pw@127.0.0.1:{TestApp.FreePort()}/nexus",
    };

    [Fact]
    public async Task A_silo_with_a_five_character_minio_password_refuses_to_start_and_names_the_variable()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-ops-" + Guid.NewGuid().ToString("N"));
        try
        {
            var env = ClusterSecrets(dataDir);
            env["S3_ENDPOINT"] = "http://minio:9000";
            env["MINIO_ROOT_USER"] = "nexus";
            env["MINIO_ROOT_PASSWORD"] = "12345";

            var (exit, output) = await RunSiloAsync(env);

            Assert.Equal(2, exit);
            Assert.Contains("configuration error: MINIO_ROOT_PASSWORD: MINIO_ROOT_PASSWORD has 5 character(s); MinIO needs at least 8", output);
            Assert.DoesNotContain("12345", output); // the value itself is never printed, only its length
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Doctor_exits_2_with_one_line_per_check_when_postgres_is_unreachable()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-ops-" + Guid.NewGuid().ToString("N"));
        try
        {
            var env = ClusterSecrets(dataDir);
            env["PUBLIC_DOMAIN"] = "rag.example.org";

            var (exit, output) = await RunSiloAsync(env, "doctor");

            Assert.Equal(2, exit);
            Assert.Contains("[ok     ] gateway_secret: GATEWAY_INTERNAL_SECRET is set and well-formed", output);
            Assert.Contains("[error  ] postgres: PostgreSQL is unreachable", output);
            Assert.Contains("fix: check that the server runs", output);
            Assert.Contains("doctor: error (", output);
            Assert.DoesNotContain(env["LLM_CREDENTIALS_ENC_KEY"], output);
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Healthcheck_command_fails_when_nothing_answers_on_the_gateway_port()
    {
        var (exit, output) = await RunSiloAsync(new Dictionary<string, string> { ["HOST_GATEWAY_PORT"] = TestApp.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture) }, "healthcheck");

        Assert.Equal(1, exit);
        Assert.Contains("/health/ready on port", output);
    }
}

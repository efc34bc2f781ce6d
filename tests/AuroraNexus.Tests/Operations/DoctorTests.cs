using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Operations;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using AuroraNexus.Silo;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AuroraNexus.Tests.Operations;

/// <summary>The doctor against a real PostgreSQL: each entry of the troubleshooting guide it covers, and its exit codes.</summary>
[Collection("postgres")]
public sealed class DoctorTests(PostgresFixture postgres) : IDisposable
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "nexus-doctor-" + Guid.NewGuid().ToString("N"));
    private readonly FernetKey _key = FernetKey.Generate();

    public void Dispose()
    {
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }

    private IConfiguration Cluster(string connectionString, params (string Key, string? Value)[] extra)
    {
        var values = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = connectionString,
            ["NEXUS_DATA_DIR"] = _dataDir,
            ["JWT_SECRET"] = new string('j', 40),
            ["GATEWAY_INTERNAL_SECRET"] = new string('g', 40),
            ["LLM_CREDENTIALS_ENC_KEY"] = _key.Encode(),
            ["PUBLIC_DOMAIN"] = "rag.example.org",
        };
        foreach (var (k, v) in extra)
        {
            values[k] = v;
        }

        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }

    private async Task<string> MigratedDatabaseAsync(string name)
    {
        var cs = await postgres.CreateDatabaseAsync(name);
        await using var ds = NpgsqlDataSource.Create(cs);
        await MigrationRunner.ApplyAsync(ds, Ct);
        return cs;
    }

    private static DoctorResult Line(DoctorReport report, string check) => Assert.Single(report.Results, r => r.Check == check);

    [Fact]
    public async Task A_healthy_cluster_database_exits_0_and_a_seeded_admin_password_makes_it_1()
    {
        var cs = await MigratedDatabaseAsync("doctor_ok");
        var config = Cluster(cs);

        var output = new StringWriter();
        var exit = await OpsCommands.DoctorAsync(config, output, Ct);

        Assert.True(exit == 0, output.ToString());
        Assert.Contains("[ok     ] postgres: PostgreSQL reachable", output.ToString());
        Assert.Contains("qdrant: QDRANT_URL unset: vectors in the embedded index", output.ToString());
        Assert.Contains("buckets: S3_ENDPOINT unset: files in the local folder NEXUS_DATA_DIR/objects", output.ToString());
        Assert.Contains("credentials_key_decrypts: no credential stored yet", output.ToString());
        Assert.Contains("credentials_rejected: no credential stored yet", output.ToString());
        Assert.Contains("doctor: ok (", output.ToString());

        await using (var ds = NpgsqlDataSource.Create(cs))
        {
            var users = new UserRepository(ds);
            await users.EnsureTenantAsync(UserRepository.DefaultTenant, "Default", Ct);
            await users.CreateIfMissingAsync(UserRepository.DefaultTenant, "admin@doctor.test", "seeded-password-1", "admin", seededDefault: true, Ct);
        }

        var report = await OpsCommands.RunDoctorAsync(config, Ct);
        Assert.Equal(1, report.ExitCode);
        var admin = Line(report, "admin_password");
        Assert.Equal(FindingLevel.Warning, admin.Level);
        Assert.Contains("ADMIN_DEFAULT_PASSWORD", admin.Verdict);
        Assert.Contains("POST /api/auth/password", admin.Fix);
    }

    [Fact]
    public async Task A_wrong_database_password_is_named_as_a_password_mismatch()
    {
        var cs = new NpgsqlConnectionStringBuilder(await MigratedDatabaseAsync("doctor_pw")) { Password = "not-the-real-password" }.ConnectionString;

        var report = await OpsCommands.RunDoctorAsync(Cluster(cs), Ct);

        Assert.Equal(2, report.ExitCode);
        var line = Line(report, "postgres");
        Assert.Equal(FindingLevel.Error, line.Level);
        Assert.Contains("password authentication failed", line.Verdict);
        Assert.Contains("differs from the role's real password", line.Verdict);
        Assert.Contains("ALTER ROLE", line.Fix);
        Assert.DoesNotContain("not-the-real-password", string.Join('\n', report.Results.Select(r => r.Verdict + r.Fix)));
    }

    [Fact]
    public async Task A_schema_behind_names_the_missing_migrations_and_the_command_to_run()
    {
        var cs = await postgres.CreateDatabaseAsync("doctor_schema");

        var report = await OpsCommands.RunDoctorAsync(Cluster(cs), Ct);

        Assert.Equal(2, report.ExitCode);
        Assert.Equal(FindingLevel.Ok, Line(report, "postgres").Level);
        var schema = Line(report, "schema");
        Assert.Equal(FindingLevel.Error, schema.Level);
        Assert.Contains(MigrationRunner.Known[^1].ToString(), schema.Verdict);
        Assert.Contains("migrate", schema.Fix);
        Assert.Contains("unknown", Line(report, "credentials_key_decrypts").Verdict);
    }

    [Fact]
    public async Task Stored_credentials_are_tried_with_the_configured_key_and_counted_by_fingerprint()
    {
        var cs = await MigratedDatabaseAsync("doctor_keys");
        var lost = FernetKey.Generate();
        await using (var ds = NpgsqlDataSource.Create(cs))
        {
            await new UserRepository(ds).EnsureTenantAsync("acme", "Acme", Ct);
            var catalog = new LlmCatalogRepository(ds);
            var provider = (await catalog.ListProvidersAsync("acme", Ct)).Single();
            var (token, fingerprint, hint) = new CredentialVault(FernetKeyRing.Parse(lost.Encode()), catalog).Seal("sk-or-v1-" + new string('a', 64));
            var row = await catalog.CreateCredentialAsync("acme", provider.Id, "main", token, fingerprint, hint, Ct);
            await catalog.RecordTestAsync("acme", row!.Id, "provider_auth_failed", "OpenRouter rejected the key", Ct);
        }

        var report = await OpsCommands.RunDoctorAsync(Cluster(cs), Ct);
        var key = Line(report, "credentials_key_decrypts");
        Assert.Equal(FindingLevel.Error, key.Level);
        Assert.Contains($"1 made with key {lost.Fingerprint}", key.Verdict);
        Assert.Contains(_key.Fingerprint, key.Verdict);
        Assert.Contains("rotate-credentials-key", key.Fix);
        var rejected = Line(report, "credentials_rejected");
        Assert.Equal(FindingLevel.Error, rejected.Level);
        Assert.Contains("tenant acme / openrouter / 'main' (provider_auth_failed)", rejected.Verdict);
        Assert.Contains("PUT /api/admin/providers/credentials/{id}", rejected.Fix);

        // The old key put back after the new one: everything decrypts, but a rotation is still due.
        var rotated = await OpsCommands.RunDoctorAsync(Cluster(cs, ("LLM_CREDENTIALS_ENC_KEY", $"{_key.Encode()},{lost.Encode()}")), Ct);
        Assert.Equal(FindingLevel.Warning, Line(rotated, "credentials_key_decrypts").Level);
        Assert.Contains("older key", Line(rotated, "credentials_key_decrypts").Verdict);
    }

    [Fact]
    public async Task Test_credentials_asks_each_provider_now_records_the_outcome_and_names_the_rejected_key()
    {
        var cs = await MigratedDatabaseAsync("doctor_live");
        await using var stub = await OpenRouterStub.StartAsync();
        const string rejectedKey = "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";
        stub.RejectKey(rejectedKey, 401, OpenRouterStub.InvalidKeyMessage);
        Guid rejectedId, acceptedId;
        await using (var ds = NpgsqlDataSource.Create(cs))
        {
            var users = new UserRepository(ds);
            await users.EnsureTenantAsync("acme", "Acme", Ct);
            await users.EnsureTenantAsync("globex", "Globex", Ct);
            var catalog = new LlmCatalogRepository(ds);
            var vault = new CredentialVault(FernetKeyRing.Parse(_key.Encode()), catalog);
            async Task<Guid> StoreAsync(string tenant, string label, string key)
            {
                var provider = (await catalog.ListProvidersAsync(tenant, Ct)).Single();
                await catalog.UpdateProviderAsync(tenant, provider.Id, null, "openrouter", stub.BaseUrl, Ct);
                var (token, fingerprint, hint) = vault.Seal(key);
                return (await catalog.CreateCredentialAsync(tenant, provider.Id, label, token, fingerprint, hint, Ct))!.Id;
            }

            rejectedId = await StoreAsync("acme", "revoked", rejectedKey);
            acceptedId = await StoreAsync("globex", "main", OpenRouterStub.ValidKey);
        }

        var config = Cluster(cs, ("NEXUS_ALLOW_PRIVATE_LLM_URLS", "true"));

        // Without the option nothing is asked: the line says how to ask.
        var recorded = Line(await OpsCommands.RunDoctorAsync(config, Ct), "credentials_rejected");
        Assert.Equal(FindingLevel.Ok, recorded.Level);
        Assert.Contains("--test-credentials", recorded.Verdict);
        Assert.DoesNotContain(stub.Requests, r => r.Path.EndsWith("/key", StringComparison.Ordinal));

        var output = new StringWriter();
        var exit = await OpsCommands.DoctorAsync(config, output, Ct, testCredentials: true);

        Assert.True(exit == 2, output.ToString());
        Assert.Contains("[error  ] credentials_rejected: 1 of 2 credential(s) rejected by their provider just now: " +
            "tenant acme / openrouter / 'revoked' (provider_auth_failed)", output.ToString());
        Assert.Contains("fix: store a valid key: PUT /api/admin/providers/credentials/{id}", output.ToString());
        Assert.DoesNotContain("globex", output.ToString());
        Assert.DoesNotContain(rejectedKey, output.ToString());
        Assert.Equal(2, stub.Requests.Count(r => r.Path.EndsWith("/key", StringComparison.Ordinal)));
        await using (var ds = NpgsqlDataSource.Create(cs))
        {
            var catalog = new LlmCatalogRepository(ds);
            Assert.Equal("provider_auth_failed", (await catalog.GetCredentialAsync("acme", rejectedId, Ct))!.LastTestStatus);
            Assert.Equal("ok", (await catalog.GetCredentialAsync("globex", acceptedId, Ct))!.LastTestStatus);
        }

        // Recorded like the admin test: the plain run now reports it from the last test.
        Assert.Equal(FindingLevel.Error, Line(await OpsCommands.RunDoctorAsync(config, Ct), "credentials_rejected").Level);

        // A provider that is not there is a warning, not a rejection.
        await using (var ds = NpgsqlDataSource.Create(cs))
        {
            var catalog = new LlmCatalogRepository(ds);
            var provider = (await catalog.ListProvidersAsync("acme", Ct)).Single();
            await catalog.UpdateProviderAsync("acme", provider.Id, null, "openrouter", $"http://127.0.0.1:{TestApp.FreePort()}/api/v1", Ct);
        }

        var down = await OpsCommands.RunDoctorAsync(config, Ct, testCredentials: true);
        Assert.Equal(FindingLevel.Ok, Line(down, "credentials_rejected").Level);
        var unreachable = Line(down, "credentials_unreachable");
        Assert.Equal(FindingLevel.Warning, unreachable.Level);
        Assert.Contains("tenant acme / openrouter / 'revoked' (provider_unavailable)", unreachable.Verdict);
    }

    [Fact]
    public async Task Broken_secrets_and_minio_values_are_each_reported_and_the_database_is_still_checked()
    {
        var cs = await MigratedDatabaseAsync("doctor_env");
        var config = Cluster(cs, ("GATEWAY_INTERNAL_SECRET", "change-me"), ("LLM_CREDENTIALS_ENC_KEY", "not-a-fernet-key"), ("JWT_SECRET", null),
            ("S3_ENDPOINT", "http://minio:9000"), ("MINIO_ROOT_USER", "nexus"), ("MINIO_ROOT_PASSWORD", "12345"), ("PUBLIC_DOMAIN", null));

        var report = await OpsCommands.RunDoctorAsync(config, Ct);

        Assert.Equal(2, report.ExitCode);
        Assert.Contains("placeholder", Line(report, "gateway_secret").Verdict);
        Assert.Equal(FindingLevel.Error, Line(report, "credentials_key_format").Level);
        Assert.Contains("not set", Line(report, "jwt_secret").Verdict);
        var minio = Assert.Single(report.Results, r => r.Check == "minio_credentials" && r.Verdict.Contains("MINIO_ROOT_PASSWORD"));
        Assert.Equal(FindingLevel.Error, minio.Level);
        Assert.Equal(FindingLevel.Warning, Line(report, "public_domain").Level);
        Assert.Equal(FindingLevel.Ok, Line(report, "postgres").Level);
        Assert.Equal(FindingLevel.Ok, Line(report, "schema").Level);
        // The store adapters are built from the refused configuration: the bucket line says why it did not probe.
        Assert.Contains("not probed", Line(report, "buckets").Verdict);
        Assert.Contains("configuration", Line(report, "buckets").Fix);
    }

    [Fact]
    public async Task A_refused_store_variable_is_one_error_and_the_database_and_keys_are_still_checked()
    {
        var cs = await MigratedDatabaseAsync("doctor_store_only");
        var config = Cluster(cs, ("S3_ENDPOINT", "http://minio:9000"), ("MINIO_ROOT_USER", "nexus"), ("MINIO_ROOT_PASSWORD", "12345"));

        var report = await OpsCommands.RunDoctorAsync(config, Ct);

        Assert.Equal(2, report.ExitCode);
        var errors = report.Results.Where(r => r.Level == FindingLevel.Error).ToList();
        var minio = Assert.Single(errors);
        Assert.Equal("minio_credentials", minio.Check);
        Assert.Contains("MINIO_ROOT_PASSWORD", minio.Verdict);
        Assert.Equal(FindingLevel.Ok, Line(report, "postgres").Level);
        Assert.Equal(FindingLevel.Ok, Line(report, "schema").Level);
        Assert.Equal(FindingLevel.Ok, Line(report, "credentials_key_decrypts").Level);
        Assert.Contains("not probed", Line(report, "buckets").Verdict);
    }

    [Fact]
    public async Task Unreachable_stores_are_probed_through_the_real_adapters_and_named()
    {
        var cs = await MigratedDatabaseAsync("doctor_stores");
        var closed = $"http://127.0.0.1:{ClosedPort()}";
        var config = Cluster(cs, ("S3_ENDPOINT", closed), ("MINIO_ROOT_USER", "nexus"), ("MINIO_ROOT_PASSWORD", "long-enough-password"),
            ("QDRANT_URL", closed));

        var report = await OpsCommands.RunDoctorAsync(config, Ct);

        Assert.Equal(2, report.ExitCode);
        var buckets = Line(report, "buckets");
        Assert.Equal(FindingLevel.Error, buckets.Level);
        Assert.Contains("unreachable", buckets.Verdict);
        Assert.Contains("S3_ENDPOINT", buckets.Verdict + buckets.Fix);
        Assert.NotNull(buckets.Fix);
        var qdrant = Line(report, "qdrant");
        Assert.Equal(FindingLevel.Error, qdrant.Level);
        Assert.Contains("QDRANT_URL", qdrant.Verdict + qdrant.Fix);
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task A_store_adapter_plugs_in_by_registering_a_component_probe()
    {
        var config = Cluster("Host=unused", ("QDRANT_URL", "http://qdrant:6334"), ("S3_ENDPOINT", "http://minio:9000"));
        var services = new ServiceCollection().AddNexusDoctor();
        services.AddSingleton<IComponentProbe>(new FixedProbe(ComponentProbeNames.Qdrant,
            new ProbeResult(false, "Qdrant answers but collection nexus_minilm is missing", "restart a silo: it creates the collection")));
        await using var provider = services.BuildServiceProvider();
        var probes = provider.GetServices<IComponentProbe>();

        var report = await provider.GetRequiredService<NexusDoctor>().RunAsync(new DoctorContext(config, false, null, null, "not opened", probes), Ct);

        var qdrant = Line(report, "qdrant");
        Assert.Equal(FindingLevel.Error, qdrant.Level);
        Assert.Equal("Qdrant answers but collection nexus_minilm is missing", qdrant.Verdict);
        Assert.Equal("restart a silo: it creates the collection", qdrant.Fix);
        var buckets = Line(report, "buckets");
        Assert.Equal(FindingLevel.Warning, buckets.Level);
        Assert.Contains("object_store was not probed", buckets.Verdict);
    }

    [Fact]
    public async Task A_single_node_database_held_by_the_running_app_points_at_the_app_not_at_DATABASE_URL()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["NEXUS_DATA_DIR"] = _dataDir }).Build();
        var services = new ServiceCollection().AddNexusDoctor();
        await using var provider = services.BuildServiceProvider();
        var problem = $"single-node private PostgreSQL: NEXUS_DATA_DIR: another single-node instance (pid 1) already runs on {_dataDir}";

        var report = await provider.GetRequiredService<NexusDoctor>().RunAsync(new DoctorContext(config, true, null, null, problem, []), Ct);

        var line = Line(report, "postgres");
        Assert.Equal(problem, line.Verdict);
        Assert.Contains("GET /api/admin/doctor", line.Fix);
        Assert.Contains("stop it and run doctor again", line.Fix);
    }

    [Fact]
    public void Run_from_another_project_of_the_repository_the_doctor_reads_the_single_node_apps_data_directory()
    {
        var silo = Directory.CreateDirectory(Path.Combine(_dataDir, "repo", "src", "Silo")).FullName;
        File.WriteAllText(Path.Combine(_dataDir, "repo", "AuroraNexus.sln"), "");
        var appData = Directory.CreateDirectory(Path.Combine(_dataDir, "repo", "src", "WebFront", ".nexus")).FullName;
        var empty = new ConfigurationBuilder().Build();

        var found = SingleNodeDataDirectory.Find(empty, silo);
        Assert.Equal(appData, found.Path);
        Assert.True(found.Exists);
        var line = found.Verdict();
        Assert.Equal(FindingLevel.Ok, line.Level);
        Assert.Contains(appData, line.Verdict);
        Assert.Contains("src/WebFront/.nexus", line.Verdict);
        Assert.Contains("NEXUS_DATA_DIR", line.Verdict);

        // A .nexus of the working directory, and NEXUS_DATA_DIR above all, win.
        var local = Directory.CreateDirectory(Path.Combine(silo, ".nexus")).FullName;
        Assert.Equal(local, SingleNodeDataDirectory.Find(empty, silo).Path);
        var chosen = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["NEXUS_DATA_DIR"] = appData }).Build();
        Assert.Equal(appData, SingleNodeDataDirectory.Find(chosen, silo).Path);
    }

    [Fact]
    public async Task Without_a_single_node_data_directory_the_doctor_says_where_it_looked_and_creates_nothing()
    {
        var nowhere = Directory.CreateDirectory(Path.Combine(_dataDir, "elsewhere")).FullName;

        var report = await OpsCommands.RunDoctorAsync(new ConfigurationBuilder().Build(), Ct, workingDirectory: nowhere);

        var first = report.Results[0];
        Assert.Equal("data_dir", first.Check);
        Assert.Equal(FindingLevel.Warning, first.Level);
        Assert.Contains(Path.Combine(nowhere, ".nexus"), first.Verdict);
        Assert.Contains("NEXUS_DATA_DIR", first.Fix);
        Assert.Contains("GET /api/admin/doctor", first.Fix);
        Assert.Contains("no single-node data directory", Line(report, "postgres").Verdict);
        Assert.False(Directory.Exists(Path.Combine(nowhere, ".nexus")));
    }

    private sealed class FixedProbe(string name, ProbeResult result) : IComponentProbe
    {
        public string Name => name;

        public Task<ProbeResult> ProbeAsync(CancellationToken ct) => Task.FromResult(result);
    }
}

using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Api;
using AuroraNexus.Tests.Infrastructure;
using Npgsql;

namespace AuroraNexus.Tests.Cluster;

/// <summary>Two silo processes and a WebFront client on one PostgreSQL: ADO.NET clustering and grain storage for real.</summary>
public sealed class TwoSiloClusterTests : IAsyncLifetime
{
    private readonly PostgresFixture _postgres = new();
    private readonly List<SiloProcess> _silos = [];
    private string _connectionString = "";
    private string _dataDir = "";

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        _connectionString = await _postgres.CreateDatabaseAsync("cluster");
        _dataDir = Path.Combine(Path.GetTempPath(), "nexus-cluster-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dataDir);
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        await _postgres.DisposeAsync();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Two_silo_processes_join_one_cluster_and_a_thread_outline_survives_restarting_both()
    {
        var clusterId = "it-" + Guid.NewGuid().ToString("N")[..8];
        var env = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = _connectionString,
            ["NEXUS_DATA_DIR"] = _dataDir,
            ["ORLEANS_CLUSTER_ID"] = clusterId,
            ["JWT_SECRET"] = new string('k', 40),
            ["GATEWAY_INTERNAL_SECRET"] = new string('g', 40),
            ["NEXUS_ALLOW_PRIVATE_LLM_URLS"] = "true",
            ["LLM_CREDENTIALS_ENC_KEY"] = AuroraNexus.Grains.Tenancy.FernetKey.Generate().Encode(),
            ["ADMIN_EMAIL"] = TestApp.AdminEmail,
            ["ADMIN_DEFAULT_PASSWORD"] = TestApp.AdminPassword,
        };
        var ports = Enumerable.Range(0, 2).Select(_ => (Silo: TestApp.FreePort(), Gateway: TestApp.FreePort(), Health: TestApp.FreePort())).ToList();
        StartSilos(env, ports);
        await WaitForActiveSilosAsync(clusterId, 2);

        // Each silo's gateway port: health with every component, and the internal endpoint behind its secret.
        foreach (var silo in _silos)
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.HealthPort}") };
            await WaitForHttpAsync(http, "/health/live"); // the HTTP listener starts after the silo has joined
            var health = (await http.GetFromJsonAsync<JsonNode>("/health"))!;
            Assert.True(health["ready"]!.GetValue<bool>(), health.ToJsonString());
            Assert.Equal("ok", health["components"]!["schema"]!["status"]!.GetValue<string>());
            using var unauthorised = new HttpRequestMessage(HttpMethod.Post, "/internal/v1/chat/completions")
            {
                Content = JsonContent.Create(new { messages = new[] { new { role = "user", content = "x" } } }),
            };
            unauthorised.Headers.Add("X-Tenant-Id", "default");
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.SendAsync(unauthorised)).StatusCode);
            using var noModel = new HttpRequestMessage(HttpMethod.Post, "/internal/v1/chat/completions")
            {
                Content = JsonContent.Create(new { messages = new[] { new { role = "user", content = "x" } } }),
            };
            noModel.Headers.Add("X-Tenant-Id", "default");
            noModel.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", env["GATEWAY_INTERNAL_SECRET"]);
            var reply = await http.SendAsync(noModel);
            Assert.Equal(System.Net.HttpStatusCode.Conflict, reply.StatusCode);
            Assert.Contains("llm_not_configured", await reply.Content.ReadAsStringAsync());
        }

        var clientEnv = env.ToDictionary(kv => kv.Key, kv => (string?)kv.Value);
        clientEnv["NEXUS_MODE"] = "client";
        var thread = "cluster-thread";
        await using (var web = await TestApp.StartAsync(_connectionString, clientEnv))
        {
            using var admin = await web.LoginAsync();
            var batch = await TestApp.IngestAsync(admin, "cluster-app", TestApp.CorpusFiles().Take(3).ToArray());
            Assert.Equal("completed", batch["status"]!.GetValue<string>());
            var first = await IngestionApiTests.Ask(admin, "Comment faire une donation au dernier vivant ?", "cluster-app", thread);
            Assert.InRange(first["sections"]!.AsArray().Count, 4, 8);

            // The Orleans dashboard, served by this client, reads both silos' dashboard grains.
            using var backoffice = await web.BackofficeLoginAsync();
            var counters = await backoffice.GetStringAsync("/dashboard/DashboardCounters");
            foreach (var (silo, _, _) in ports)
            {
                Assert.Contains($":{silo}", counters);
            }

            // An admin change made through the WebFront reaches the tenant grain on whichever silo holds it.
            await using var stub = await OpenRouterStub.StartAsync();
            var provider = await TenancyFixture.OpenRouterProviderAsync(admin);
            (await admin.PutAsJsonAsync($"/api/admin/providers/{provider}", new { base_url = stub.BaseUrl, kind = "openrouter" })).EnsureSuccessStatusCode();
            var saved = await ByokTests.PostAsync(admin, "/api/admin/providers/credentials", new { provider_id = provider, api_key = OpenRouterStub.ValidKey });
            var llm = await IngestionApiTests.Ask(admin, "Comment faire une donation au dernier vivant ?", "cluster-app", "cluster-llm");
            Assert.Equal("llm", llm["mode"]!.GetValue<string>());
            Assert.Equal("Bearer " + OpenRouterStub.ValidKey, stub.ChatRequests[^1].Authorization);
            const string rotated = "sk-or-v1-c1a5e7b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b";
            var id = saved["credential"]!["id"]!.GetValue<string>();
            (await admin.PutAsJsonAsync($"/api/admin/providers/credentials/{id}", new { api_key = rotated })).EnsureSuccessStatusCode();
            await IngestionApiTests.Ask(admin, "Qui peut recevoir une donation au dernier vivant ?", "cluster-app", "cluster-llm-2");
            Assert.Equal("Bearer " + rotated, stub.ChatRequests[^1].Authorization);
            (await admin.DeleteAsync($"/api/admin/providers/credentials/{id}")).EnsureSuccessStatusCode();
        }

        Assert.True(await ScalarAsync("SELECT count(*) FROM orleansstorage WHERE graintypestring = 'ingestBatch'") > 0,
            "the batch grain's state is stored in PostgreSQL");

        foreach (var silo in _silos)
        {
            await silo.StopAsync(TimeSpan.FromSeconds(60));
        }

        await _silos[0].DisposeAsync();
        await _silos[1].DisposeAsync();
        _silos.Clear();
        StartSilos(env, ports);
        await WaitForActiveSilosAsync(clusterId, 2);

        await using (var web = await TestApp.StartAsync(_connectionString, clientEnv))
        {
            using var admin = await web.LoginAsync();
            var followUp = await IngestionApiTests.Ask(admin, "détaille le point B", "cluster-app", thread);
            Assert.True(followUp["followup"]!["resolved"]!.GetValue<bool>(), followUp.ToJsonString());
            Assert.Equal("S2", followUp["followup"]!["section_id"]!.GetValue<string>());
        }
    }

    private static async Task WaitForHttpAsync(HttpClient http, string path)
    {
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            try
            {
                (await http.GetAsync(path)).EnsureSuccessStatusCode();
                return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    private void StartSilos(Dictionary<string, string> env, List<(int Silo, int Gateway, int Health)> ports)
    {
        foreach (var p in ports)
        {
            _silos.Add(SiloProcess.Start(env, p.Silo, p.Gateway, p.Health));
        }
    }

    private async Task WaitForActiveSilosAsync(string clusterId, int expected)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            foreach (var silo in _silos.Where(s => s.HasExited))
            {
                Assert.Fail($"a silo exited during start-up:\n{silo.Output}");
            }

            var active = await ScalarAsync(
                $"SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = '{clusterId}' AND status = 3");
            if (active == expected)
            {
                return;
            }

            await Task.Delay(500);
        }

        Assert.Fail($"{expected} active silos expected in the membership table; output:\n{string.Join("\n---\n", _silos.Select(s => s.Output))}");
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var db = NpgsqlDataSource.Create(_connectionString);
        try
        {
            await using var cmd = db.CreateCommand(sql);
            return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0;
        }
    }
}

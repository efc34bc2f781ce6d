using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Tests.Infrastructure;
using AuroraNexus.Tests.Ingestion;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AuroraNexus.Tests.Cluster;

/// <summary>Two silo processes share a batch; the one driving it is killed (SIGKILL) while documents are in flight.</summary>
public sealed class SiloLossDuringIngestionTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private const int Documents = 36;
    private readonly PostgresFixture _postgres = new();
    private readonly List<SiloProcess> _silos = [];
    private string _connectionString = "";
    private string _dataDir = "";

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        _connectionString = await _postgres.CreateDatabaseAsync("siloloss");
        _dataDir = Path.Combine(Path.GetTempPath(), "nexus-siloloss-" + Guid.NewGuid().ToString("N"));
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
    public async Task A_batch_whose_silo_is_killed_completes_on_the_other_with_every_document_indexed_once()
    {
        var clusterId = "loss-" + Guid.NewGuid().ToString("N")[..8];
        var env = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = _connectionString,
            ["NEXUS_DATA_DIR"] = _dataDir,
            ["ORLEANS_CLUSTER_ID"] = clusterId,
            ["JWT_SECRET"] = new string('k', 40),
            ["GATEWAY_INTERNAL_SECRET"] = new string('g', 40),
            ["LLM_CREDENTIALS_ENC_KEY"] = AuroraNexus.Grains.Tenancy.FernetKey.Generate().Encode(),
            ["ADMIN_EMAIL"] = TestApp.AdminEmail,
            ["ADMIN_DEFAULT_PASSWORD"] = TestApp.AdminPassword,
            ["NEXUS_INGEST_LEASE_SECONDS"] = "5",
        };
        foreach (var _ in Enumerable.Range(0, 2))
        {
            _silos.Add(SiloProcess.Start(env, TestApp.FreePort(), TestApp.FreePort(), TestApp.FreePort()));
        }

        await WaitForActiveSilosAsync(clusterId, 2);
        var clientEnv = env.ToDictionary(kv => kv.Key, kv => (string?)kv.Value);
        clientEnv["NEXUS_MODE"] = "client";
        await using var web = await TestApp.StartAsync(_connectionString, clientEnv);
        using var admin = await web.LoginAsync();

        var files = Enumerable.Range(1, Documents).Select(i => ($"fiche-{i:D2}.txt", Encoding.UTF8.GetBytes(Fiche(i)))).ToArray();
        using var form = new MultipartFormDataContent { { new StringContent("loss-app"), "caller_app" } };
        foreach (var (name, content) in files)
        {
            form.Add(new ByteArrayContent(content), "files", name);
        }

        var accepted = (await (await admin.PostAsync("/api/ingest", form)).Content.ReadFromJsonAsync<JsonNode>())!;
        var batchId = accepted["batch_id"]!.GetValue<string>();

        // Chunk work runs on both silos, not only on the one driving the batch; then the driver dies mid-batch.
        await WaitUntilAsync(() => Task.FromResult(_silos.All(s => s.Output.Contains("indexed with"))),
            TimeSpan.FromSeconds(120), "both silos index documents");
        var driver = _silos.Single(s => s.Output.Contains($"Batch {batchId}") && s.Output.Contains("driven by silo"));
        var indexedBefore = await ScalarAsync($"SELECT count(*) FROM documents WHERE batch_id = '{batchId}' AND status = 'indexed'");
        Assert.True(indexedBefore < Documents, "the batch is still running when its silo is killed");
        await driver.KillAsync();
        var killedAt = DateTime.UtcNow;
        var survivor = _silos.Single(s => s != driver);

        JsonNode batch = null!;
        await WaitUntilAsync(async () =>
        {
            batch = (await admin.GetFromJsonAsync<JsonNode>($"/api/ingest/batches/{batchId}"))!;
            return batch["status"]!.GetValue<string>() is not ("queued" or "running");
        }, TimeSpan.FromSeconds(120), "the batch finishes on the surviving silo");

        output.WriteLine($"driver killed with {indexedBefore}/{Documents} documents indexed; batch finished {(DateTime.UtcNow - killedAt).TotalSeconds:F0} s later");
        Assert.True(batch["status"]!.GetValue<string>() == "completed", batch.ToJsonString());
        Assert.Equal(Documents, batch["indexed"]!.GetValue<int>());
        Assert.Contains($"Batch {batchId}", survivor.Output);

        // Exactly once: each document has the chunks the chunker gives it, no more, and the index holds one vector each.
        using var embedder = new MiniLmEmbedder();
        var chunker = new Chunker(embedder, new ChunkerOptions());
        var expected = files.ToDictionary(f => f.Item1, f => chunker.Split(TextExtractor.Extract(f.Item1, f.Item2).Text!).Count);
        foreach (var doc in batch["documents"]!.AsArray())
        {
            var name = doc!["filename"]!.GetValue<string>();
            Assert.Equal("indexed", doc["status"]!.GetValue<string>());
            Assert.Equal(expected[name], doc["chunks"]!.GetValue<int>());
            Assert.Equal(expected[name], await ScalarAsync($"SELECT count(*) FROM chunks WHERE document_id = '{doc["id"]!.GetValue<string>()}'"));
        }

        Assert.InRange(await ScalarAsync($"SELECT max(attempts) FROM documents WHERE batch_id = '{batchId}'"), 1, 3);
        output.WriteLine($"documents tried twice or more: {await ScalarAsync($"SELECT count(*) FROM documents WHERE batch_id = '{batchId}' AND attempts > 1")}");
        var total = expected.Values.Sum();
        var chunkIds = await IdsAsync($"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.batch_id = '{batchId}'");
        Assert.Equal(total, chunkIds.Count);
        var vectors = await BatchRecoveryTests.VectorsAsync(web.Services.GetRequiredService<IGrainFactory>(), UserRepository.DefaultTenant);
        Assert.Equal(total, vectors.Count);
        Assert.Equal(total, vectors.Select(v => v.ChunkId).Distinct().Count());
        Assert.All(vectors, v => Assert.Contains(v.ChunkId, chunkIds));
    }

    /// <summary>A few chunks of distinct French text per document.</summary>
    private static string Fiche(int i) => string.Join("\n\n", Enumerable.Range(1, 12).Select(p =>
        $"Fiche {i}, paragraphe {p}. Pour la démarche numéro {i * 100 + p}, le demandeur fournit un justificatif de domicile de moins de {p + 2} mois, " +
        $"une pièce d'identité en cours de validité et, le cas échéant, l'attestation numéro {i * 13 + p * 7} délivrée par la caisse."));

    private async Task WaitForActiveSilosAsync(string clusterId, int expected)
    {
        await WaitUntilAsync(async () =>
        {
            foreach (var silo in _silos.Where(s => s.HasExited))
            {
                Assert.Fail($"a silo exited during start-up:\n{silo.Output}");
            }

            return await ScalarAsync($"SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = '{clusterId}' AND status = 3") == expected;
        }, TimeSpan.FromMinutes(3), $"{expected} active silos");
    }

    private async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline,
                $"timed out waiting until {what}; silo output:\n{string.Join("\n---\n", _silos.Select(s => string.Join('\n', s.Output.Split('\n').TakeLast(40))))}");
            await Task.Delay(200);
        }
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var db = NpgsqlDataSource.Create(_connectionString);
        try
        {
            await using var cmd = db.CreateCommand(sql);
            return Convert.ToInt64(await cmd.ExecuteScalarAsync() ?? 0L, CultureInfo.InvariantCulture);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0;
        }
    }

    private async Task<HashSet<long>> IdsAsync(string sql)
    {
        await using var db = NpgsqlDataSource.Create(_connectionString);
        await using var cmd = db.CreateCommand(sql);
        await using var r = await cmd.ExecuteReaderAsync();
        var ids = new HashSet<long>();
        while (await r.ReadAsync())
        {
            ids.Add(r.GetInt64(0));
        }

        return ids;
    }
}

using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AuroraNexus.Tests.Ingestion;

/// <summary>One single-node app with a short ingestion lease (heartbeats every second), shared by the batch tests.</summary>
public sealed class BatchRecoveryFixture : IAsyncLifetime
{
    private readonly PostgresFixture _postgres = new();

    public LogCapture Logs { get; } = new();

    public TestApp App { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        App = await TestApp.StartAsync(await _postgres.CreateDatabaseAsync("batches"),
            new Dictionary<string, string?> { ["NEXUS_INGEST_LEASE_SECONDS"] = "4", ["Logging:LogLevel:AuroraNexus"] = "Information" },
            Logs);
        Admin = await App.LoginAsync();
    }

    public async Task DisposeAsync()
    {
        Admin.Dispose();
        await App.DisposeAsync();
        await _postgres.DisposeAsync();
    }
}

public sealed class BatchRecoveryTests(BatchRecoveryFixture fx) : IClassFixture<BatchRecoveryFixture>
{
    private const string Tenant = UserRepository.DefaultTenant;

    [Fact]
    public async Task A_document_that_keeps_failing_stops_after_three_attempts_with_its_last_error()
    {
        // An object the store opens but the kernel refuses to read (EIO on every read): a failure that repeats.
        var (batchId, docId, key) = await RecordBatchAsync("unreadable.txt");
        File.CreateSymbolicLink(ObjectPath(key), "/proc/self/mem");
        await Grains.GetGrain<IIngestionBatchGrain>(batchId).StartAsync(PlanOf(batchId, docId, key, "unreadable.txt"));

        var batch = await WaitForBatchAsync(batchId);
        Assert.Equal("failed", batch["status"]!.GetValue<string>());
        var doc = Assert.Single(batch["documents"]!.AsArray())!;
        Assert.Equal("failed", doc["status"]!.GetValue<string>());
        Assert.Equal("processing_failed", doc["error_code"]!.GetValue<string>());
        var error = doc["error"]!.GetValue<string>();
        Assert.Contains("tried 3 times", error);
        Assert.Contains("IOException", error);
        Assert.Equal(3, await ScalarAsync($"SELECT attempts FROM documents WHERE id = '{docId}'"));
        Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM chunks WHERE document_id = '{docId}'"));
    }

    [Fact]
    public async Task Deleting_a_document_while_it_is_indexed_stops_its_work_and_nothing_of_it_comes_back()
    {
        // Long enough (about 400 chunks, many seconds of embedding) that the delete lands mid-work even when a loaded
        // machine stalls the test for seconds between seeing it processing and deleting it.
        var big = string.Join("\n\n", Enumerable.Range(1, 1200).Select(i =>
            $"Article {i}. La demande de logement social numéro {i} se dépose auprès de la mairie ou en ligne ; le dossier {i * 7} comprend un avis d'imposition, une pièce d'identité et les justificatifs de ressources des {i % 9 + 1} derniers mois."));
        using var form = new MultipartFormDataContent
        {
            { new StringContent("tests-delete"), "caller_app" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes(big)), "files", "long.txt" },
            { new ByteArrayContent("Le permis de conduire se renouvelle en ligne sur le site de l'ANTS."u8.ToArray()), "files", "short.txt" },
        };
        var accepted = (await (await fx.Admin.PostAsync("/api/ingest", form)).Content.ReadFromJsonAsync<JsonNode>())!;
        var batchId = Guid.Parse(accepted["batch_id"]!.GetValue<string>());
        var longId = accepted["documents"]!.AsArray().Single(d => d!["filename"]!.GetValue<string>() == "long.txt")!["id"]!.GetValue<string>();
        var objectKey = $"{Tenant}/{Guid.Parse(longId):N}";
        Assert.True(File.Exists(ObjectPath(objectKey)));

        await WaitUntilAsync(async () => (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/documents/{longId}"))!["status"]!.GetValue<string>() == "processing",
            "the long document is being processed");
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Admin.DeleteAsync($"/api/documents/{longId}")).StatusCode);

        var batch = await WaitForBatchAsync(batchId);
        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        Assert.Equal(1, batch["total"]!.GetValue<int>());
        Assert.Equal(0, batch["pending"]!.GetValue<int>());
        Assert.Equal("short.txt", Assert.Single(batch["documents"]!.AsArray())!["filename"]!.GetValue<string>());
        await WaitUntilAsync(() => Task.FromResult(fx.Logs.Lines.Any(l => l.Contains(longId) && l.Contains("stopped, the document was deleted"))),
            "the attempt on the deleted document stops");

        // Nothing written late: give any straggler two heartbeats, then look everywhere the document could be.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Admin.GetAsync($"/api/documents/{longId}")).StatusCode);
        Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM documents WHERE id = '{longId}'"));
        Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM chunks WHERE document_id = '{longId}'"));
        Assert.False(File.Exists(ObjectPath(objectKey)));
        var vectors = await VectorsAsync(Grains, Tenant);
        Assert.DoesNotContain(vectors, v => v.DocumentId == Guid.Parse(longId));
    }

    [Fact]
    public async Task A_batch_recorded_but_never_started_is_found_by_the_sweep_and_completed()
    {
        // The upload request died between recording the batch and starting it: nobody will call StartAsync.
        var (batchId, docId, key) = await RecordBatchAsync("orphan.txt");
        await using (var file = File.Create(ObjectPath(key)))
        {
            await file.WriteAsync("Le congé de paternité dure vingt-cinq jours calendaires."u8.ToArray());
        }

        var batch = await WaitForBatchAsync(batchId);
        Assert.True(batch["status"]!.GetValue<string>() == "completed", batch.ToJsonString());
        Assert.Equal("indexed", Assert.Single(batch["documents"]!.AsArray())!["status"]!.GetValue<string>());
        Assert.Equal(1, await ScalarAsync($"SELECT count(*) FROM chunks WHERE document_id = '{docId}'"));
        Assert.Contains(fx.Logs.Lines, l => l.Contains(batchId.ToString()) && l.Contains("never started"));
    }

    [Fact]
    public async Task A_replaced_version_whose_removal_a_dead_silo_left_unfinished_is_removed_by_the_sweep()
    {
        var v1 = await TestApp.IngestAsync(fx.Admin, "tests-recovery", ("horaires.txt", "La piscine municipale ouvre à 9 h le dimanche."u8.ToArray()));
        var oldId = Guid.Parse(v1["documents"]![0]!["id"]!.GetValue<string>());
        var oldKey = $"{Tenant}/{oldId:N}";
        Assert.True(File.Exists(ObjectPath(oldKey)));
        Assert.Contains(await VectorsAsync(Grains, Tenant), v => v.DocumentId == oldId);

        // The new version recorded with replace=true, then indexed by a worker whose silo dies right after the commit:
        // the old rows went with that transaction, nobody is left to remove the old vectors and file.
        var repo = fx.App.Services.GetRequiredService<IngestionRepository>();
        var newId = Guid.NewGuid();
        var replaced = new List<ReplacedDocument>();
        await repo.CreateBatchAsync(Tenant, "tests-recovery", Guid.NewGuid(), "tests",
            [new NewDocument(newId, "horaires.txt", "text/plain", 60, Convert.ToHexStringLower(newId.ToByteArray()), $"{Tenant}/{newId:N}", DocumentStatuses.Queued, null, null)],
            CancellationToken.None, replace: true, replaced);
        Assert.Equal(oldId, Assert.Single(replaced).Id);
        Assert.Equal(1, await ScalarAsync($"SELECT count(*) FROM documents WHERE id = '{oldId}'"));
        var claim = await repo.ClaimDocumentAsync(Tenant, newId, 3, CancellationToken.None);
        var vector = new float[384];
        vector[1] = 1;
        Assert.True(await repo.IndexDocumentAsync(Tenant, newId, claim.Attempt, "test-model",
            [new StoredChunk(0, "La piscine municipale ouvre à 10 h le dimanche.", 12, vector)], static (_, _) => Task.CompletedTask, CancellationToken.None));
        Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM documents WHERE id = '{oldId}'"));
        Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM chunks WHERE document_id = '{oldId}'"));
        Assert.Equal(0, await ScalarAsync($"SELECT total FROM ingest_batches WHERE id = '{v1["batch_id"]}'"));

        await WaitUntilAsync(async () => !File.Exists(ObjectPath(oldKey)) && (await VectorsAsync(Grains, Tenant)).All(v => v.DocumentId != oldId)
            && await ScalarAsync($"SELECT count(*) FROM document_removals WHERE document_id = '{oldId}'") == 0,
            "the sweep removes the old version's vectors and file");
        Assert.Contains(fx.Logs.Lines, l => l.Contains(oldId.ToString()) && l.Contains("replaced by a new version"));
    }

    [Fact]
    public async Task A_batch_of_1000_small_files_indexes_each_once()
    {
        var files = Enumerable.Range(1, 1000)
            .Select(i => ($"note-{i:D4}.txt", Encoding.UTF8.GetBytes($"Note {i} : le guichet {i % 37} ouvre à {8 + i % 4} h pour le dossier {i}.")))
            .ToArray();
        var batch = await TestApp.IngestAsync(fx.Admin, "tests-thousand", files);

        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        Assert.Equal(1000, batch["total"]!.GetValue<int>());
        Assert.Equal(1000, batch["indexed"]!.GetValue<int>());
        var batchId = batch["batch_id"]!.GetValue<string>();
        Assert.Equal(1000, await ScalarAsync(
            $"SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.batch_id = '{batchId}'"));
        Assert.Equal(1, await ScalarAsync($"SELECT max(attempts) FROM documents WHERE batch_id = '{batchId}'"));
    }

    [Fact]
    public async Task An_upload_cut_off_half_way_records_and_stores_nothing()
    {
        var token = fx.Admin.DefaultRequestHeaders.Authorization!.Parameter!;
        var before = Directory.Exists(Path.Combine(Settings.ObjectsDirectory, Tenant))
            ? Directory.GetFiles(Path.Combine(Settings.ObjectsDirectory, Tenant)).Length : 0;
        const string boundary = "cutoff-boundary";
        var part = $"--{boundary}\r\nContent-Disposition: form-data; name=\"caller_app\"\r\n\r\ntests-cut\r\n" +
                   $"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"cut.txt\"\r\nContent-Type: text/plain\r\n\r\n" +
                   new string('x', 20_000);
        var body = Encoding.UTF8.GetBytes(part);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, fx.App.BaseAddress.Port);
            await using var stream = client.GetStream();
            var head = $"POST /api/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n" +
                       $"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {body.Length * 2}\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await stream.WriteAsync(body);
            await stream.FlushAsync();
        }

        // The server notices the connection is gone; give it a moment, then nothing of the request may remain.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM documents WHERE filename = 'cut.txt'"));
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM ingest_batches WHERE caller_app = 'tests-cut'"));
        var after = Directory.Exists(Path.Combine(Settings.ObjectsDirectory, Tenant))
            ? Directory.GetFiles(Path.Combine(Settings.ObjectsDirectory, Tenant)).Length : 0;
        Assert.Equal(before, after);

        // And the next upload works.
        var next = await TestApp.IngestAsync(fx.Admin, "tests-cut", ("whole.txt", "La carte Vitale se commande en ligne."u8.ToArray()));
        Assert.Equal("completed", next["status"]!.GetValue<string>());
    }

    /// <summary>Every vector the tenant's index holds: a search that asks for all of them.</summary>
    internal static async Task<IReadOnlyList<RankedChunk>> VectorsAsync(IGrainFactory grains, string tenant)
    {
        var query = new float[384];
        query[0] = 1;
        var all = await grains.GetGrain<IVectorIndexGrain>(tenant).RankAsync(
            new RankRequest(query, [], 1_000_000, 1_000_000, 1, 1, [], [], 0, 0));
        return all;
    }

    private IGrainFactory Grains => fx.App.Services.GetRequiredService<IGrainFactory>();

    private NexusSettings Settings => fx.App.Services.GetRequiredService<NexusSettings>();

    private string ObjectPath(string key) => Path.Combine(Settings.ObjectsDirectory, key);

    private async Task<(Guid BatchId, Guid DocumentId, string Key)> RecordBatchAsync(string fileName)
    {
        var batchId = Guid.NewGuid();
        var docId = Guid.NewGuid();
        var key = $"{Tenant}/{docId:N}";
        Directory.CreateDirectory(Path.GetDirectoryName(ObjectPath(key))!);
        var repo = fx.App.Services.GetRequiredService<IngestionRepository>();
        await repo.CreateBatchAsync(Tenant, "tests-recovery", batchId, "tests",
            [new NewDocument(docId, fileName, "text/plain", 60, Convert.ToHexStringLower(docId.ToByteArray()), key, DocumentStatuses.Queued, null, null)],
            CancellationToken.None);
        return (batchId, docId, key);
    }

    private static BatchPlan PlanOf(Guid batchId, Guid docId, string key, string fileName) =>
        new(Tenant, "tests-recovery", [new PlannedDocument(docId, fileName, key, 60, DocumentStatuses.Queued, null)]);

    private async Task<JsonNode> WaitForBatchAsync(Guid batchId)
    {
        JsonNode? batch = null;
        await WaitUntilAsync(async () =>
        {
            batch = await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/ingest/batches/{batchId}");
            return batch!["status"]!.GetValue<string>() is not ("queued" or "running");
        }, $"batch {batchId} finishes", TimeSpan.FromMinutes(3));
        return batch!;
    }

    private async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}; log:\n{string.Join('\n', fx.Logs.Lines.TakeLast(40))}");
            await Task.Delay(100);
        }
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var db = NpgsqlDataSource.Create(fx.App.ConnectionString);
        await using var cmd = db.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync() ?? 0L, CultureInfo.InvariantCulture);
    }
}

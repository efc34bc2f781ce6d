using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit.Abstractions;

namespace AuroraNexus.Tests.Cluster;

/// <summary>
/// Three silo processes and a WebFront client on PostgreSQL clustering, under a steady query load and a running
/// ingestion batch: one silo is SIGKILLed. Prints the figures (start, join, detection, lost requests, throughput
/// with 3, 2 and 1 silos) and asserts the behaviour: no request fails once the cluster has declared the silo dead
/// (retries allowed), the batch completes with every chunk stored once, silos stopped with SIGTERM leave the
/// membership table, and a restarted cluster forms without waiting on stale rows.
/// </summary>
public sealed class SiloFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    // Lowered for the test (production keeps Orleans' 5 s x 3 probes): detection within the test's time budget.
    private const string ProbeTimeoutSeconds = "2";
    private const string MissedProbes = "2";
    private const int SiloDead = 6;
    private const int SiloActive = 3;

    private static readonly string[] Questions =
    [
        "Comment faire une donation au dernier vivant ?",
        "Qui peut recevoir une donation au dernier vivant ?",
        "Quels sont les droits du conjoint survivant ?",
        "Comment révoquer une donation entre époux ?",
    ];

    private readonly PostgresFixture _postgres = new();
    private readonly List<SiloProcess> _silos = [];
    private string _connectionString = "";
    private string _dataDir = "";

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        _connectionString = await _postgres.CreateDatabaseAsync("failover");
        _dataDir = Path.Combine(Path.GetTempPath(), "nexus-failover-" + Guid.NewGuid().ToString("N"));
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
    public async Task Three_silos_lose_one_to_sigkill_under_load_without_failed_requests_or_lost_data_and_reform_after_restart()
    {
        var clusterId = "fo-" + Guid.NewGuid().ToString("N")[..8];
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
            ["ORLEANS_PROBE_TIMEOUT_SECONDS"] = ProbeTimeoutSeconds,
            ["ORLEANS_MISSED_PROBES_LIMIT"] = MissedProbes,
            ["NEXUS_SHUTDOWN_SECONDS"] = "20",
        };
        var ports = Enumerable.Range(0, 3).Select(_ => (Silo: TestApp.FreePort(), Gateway: TestApp.FreePort(), Health: TestApp.FreePort())).ToList();

        // --- start: three processes, timed from process start to joined (membership row Active) and to HTTP ready.
        var startTimes = await StartSilosAsync(env, ports, clusterId);
        output.WriteLine($"silo start (process start -> /health ready), seconds: {string.Join(", ", startTimes.Select(t => t.Ready.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)))}");
        output.WriteLine($"cluster join (process start -> Active in the membership table), seconds: {string.Join(", ", startTimes.Select(t => t.Joined.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)))}");

        using (var siloHttp = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_silos[0].HealthPort}") })
        {
            // Each silo exposes its own metrics: Orleans', and ASP.NET Core's for the health probes it has served.
            var siloMetrics = await siloHttp.GetStringAsync("/metrics");
            Assert.Contains("orleans_", siloMetrics);
            Assert.Contains("http_server_request_duration_seconds", siloMetrics);
        }

        var clientEnv = env.ToDictionary(kv => kv.Key, kv => (string?)kv.Value);
        clientEnv["NEXUS_MODE"] = "client";
        var web = await TestApp.StartAsync(_connectionString, clientEnv);
        var load = new QueryLoad();
        try
        {
            using var admin = await web.LoginAsync();
            // Small documents keep the embedding work (CPU) short: the subject here is the cluster, not indexing speed.
            var files = TestApp.CorpusFiles().OrderBy(f => f.Content.Length).ToArray();
            var first = await TestApp.IngestAsync(admin, "failover", files.Take(3).ToArray());
            Assert.Equal("completed", first["status"]!.GetValue<string>());
            foreach (var question in Questions)
            {
                await AskAsync(admin, question, "warm-up"); // each question's answer is cached once, as in steady state
            }

            // --- throughput with 3 silos (steady load, nothing else running).
            load.Start(web, workers: 4);
            await Task.Delay(TimeSpan.FromSeconds(1));
            var three = await load.MeasureAsync(TimeSpan.FromSeconds(4));

            // --- a batch starts, then a silo that does not run it is SIGKILLed (the batch's own silo is resumed by
            // its reminder, a minute later: the ingestion tests cover that case).
            var second = await StartBatchAsync(admin, files.Skip(3).Take(3).ToArray());
            var grains = web.Services.GetRequiredService<IGrainFactory>();
            var management = grains.GetGrain<IManagementGrain>(0);
            var batchHost = (await management.GetActivationAddress(grains.GetGrain<IIngestionBatchGrain>(second)))?.Endpoint.Port;
            var indexHost = (await management.GetActivationAddress(grains.GetGrain<IVectorIndexGrain>("default")))?.Endpoint.Port;
            var victim = _silos.FirstOrDefault(s => s.SiloPort == indexHost && s.SiloPort != batchHost) ?? _silos.First(s => s.SiloPort != batchHost);
            output.WriteLine($"batch on silo port {batchHost}, tenant vector index on {indexHost}; killing silo port {victim.SiloPort} " +
                $"({(victim.SiloPort == indexHost ? "the vector index's host" : "neither")})");

            var killedAt = DateTime.UtcNow;
            await victim.KillAsync();
            var declaredDeadAt = await WaitForStatusAsync(clusterId, victim.SiloPort, SiloDead, TimeSpan.FromSeconds(60));
            var detection = declaredDeadAt - killedAt;
            await Task.Delay(TimeSpan.FromSeconds(3));

            var batch = await WaitForBatchAsync(admin, second, TimeSpan.FromSeconds(90));
            var afterBatch = DateTime.UtcNow;

            // --- throughput with 2 silos, then a graceful SIGTERM of one more under load, then 1 silo.
            var two = await load.MeasureAsync(TimeSpan.FromSeconds(4));
            var survivor = _silos.Where(s => !s.HasExited).ToList();
            var drainedAt = DateTime.UtcNow;
            var stop = Stopwatch.StartNew();
            await survivor[0].StopAsync(TimeSpan.FromSeconds(40));
            var gracefulStop = stop.Elapsed;
            Assert.Equal(SiloDead, await StatusAsync(clusterId, survivor[0].SiloPort));
            await Task.Delay(TimeSpan.FromSeconds(1));
            var one = await load.MeasureAsync(TimeSpan.FromSeconds(4));
            await load.StopAsync();

            var outcomes = load.Outcomes;
            var beforeDetection = outcomes.Where(o => o.End >= killedAt && o.Start < declaredDeadAt).ToList();
            var failedAfterDetection = outcomes.Where(o => !o.Ok && o.Start >= declaredDeadAt).ToList();
            var failedDuringDrain = outcomes.Where(o => !o.Ok && o.Start >= drainedAt).ToList();
            var retried = outcomes.Where(o => o.Attempts > 1 && o.End >= killedAt).ToList();
            output.WriteLine($"failover detection (SIGKILL -> row Dead, probe {ProbeTimeoutSeconds} s x {MissedProbes}): {detection.TotalSeconds:F1} s");
            output.WriteLine($"requests during the kill: {beforeDetection.Count} between the kill and the death declaration, " +
                $"{beforeDetection.Count(o => !o.Ok)} failed after retries; {retried.Count} needed a retry; " +
                $"{outcomes.Count(o => !o.Ok)} failed in total of {outcomes.Count}");
            output.WriteLine($"failed requests after the cluster declared the silo dead: {failedAfterDetection.Count}; during the graceful stop of another: {failedDuringDrain.Count}");
            output.WriteLine($"graceful stop (SIGTERM -> exit): {gracefulStop.TotalSeconds:F1} s");
            output.WriteLine($"batch after the kill: {batch["status"]} ({batch["indexed"]} indexed, {batch["failed"]} failed) " +
                $"{(afterBatch - killedAt).TotalSeconds:F1} s after the kill");
            output.WriteLine($"query throughput (4 clients, cached answers: routing, threads, cache grain): 3 silos {three:F1}/s, 2 silos {two:F1}/s, 1 silo {one:F1}/s");

            Assert.True(failedAfterDetection.Count == 0,
                $"requests failed after the death declaration: {string.Join("; ", failedAfterDetection.Select(f => f.Error))}");
            Assert.True(failedDuringDrain.Count == 0, $"requests failed during a graceful stop: {string.Join("; ", failedDuringDrain.Select(f => f.Error))}");
            Assert.Equal("completed", batch["status"]!.GetValue<string>());

            // No data lost: every document of both batches indexed, with exactly its chunk count stored once.
            foreach (var doc in first["documents"]!.AsArray().Concat(batch["documents"]!.AsArray()))
            {
                Assert.Equal("indexed", doc!["status"]!.GetValue<string>());
                var id = Guid.Parse(doc["id"]!.GetValue<string>());
                var stored = await ScalarAsync($"SELECT count(*) FROM chunks WHERE document_id = '{id}'");
                var distinct = await ScalarAsync($"SELECT count(DISTINCT chunk_index) FROM chunks WHERE document_id = '{id}'");
                Assert.True(stored > 0, $"document {doc["filename"]} has no chunk");
                Assert.Equal(doc["chunks"]!.GetValue<int>(), (int)stored);
                Assert.Equal(stored, distinct);
            }

            var answer = await AskAsync(admin, "Comment faire une donation au dernier vivant ?", "after-kill");
            Assert.NotEmpty(answer["citations"]!.AsArray());
        }
        finally
        {
            await load.StopAsync();
            await web.DisposeAsync();
        }

        // --- stop everything with SIGTERM: every row left cleanly, then a fresh start forms the cluster again.
        foreach (var silo in _silos.Where(s => !s.HasExited))
        {
            await silo.StopAsync(TimeSpan.FromSeconds(40));
            Assert.Equal(SiloDead, await StatusAsync(clusterId, silo.SiloPort));
        }

        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        _silos.Clear();
        var restart = await StartSilosAsync(env, ports, clusterId);
        var reform = restart.Max(t => t.Ready);
        output.WriteLine($"restart after a full stop (with the killed silo's row Dead): cluster re-formed and ready in {reform.TotalSeconds:F1} s " +
            $"(first start: {startTimes.Max(t => t.Ready).TotalSeconds:F1} s)");
        Assert.Equal(3, await ScalarAsync($"SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = '{clusterId}' AND status = {SiloActive}"));
        Assert.True(reform < startTimes.Max(t => t.Ready) + TimeSpan.FromSeconds(30),
            $"the restart took {reform.TotalSeconds:F1} s against {startTimes.Max(t => t.Ready).TotalSeconds:F1} s at first start: it waited on stale rows");

        // --- the whole cluster killed at once (a host lost): every row stays Active, nobody left to declare them dead.
        foreach (var silo in _silos)
        {
            await silo.KillAsync();
        }

        Assert.Equal(3, await ScalarAsync($"SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = '{clusterId}' AND status = {SiloActive}"));
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        _silos.Clear();
        var afterCrash = await StartSilosAsync(env, ports, clusterId);
        var reformAfterCrash = afterCrash.Max(t => t.Ready);
        output.WriteLine($"restart after every silo was SIGKILLed (3 stale Active rows): cluster re-formed and ready in {reformAfterCrash.TotalSeconds:F1} s");
        // The new generations took over their ports' stale rows: only they are Active.
        Assert.Equal(3, await ScalarAsync($"SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = '{clusterId}' AND status = {SiloActive}"));
        Assert.True(reformAfterCrash < startTimes.Max(t => t.Ready) + TimeSpan.FromSeconds(30),
            $"the restart after a crash took {reformAfterCrash.TotalSeconds:F1} s against {startTimes.Max(t => t.Ready).TotalSeconds:F1} s at first start: it waited on stale rows");
    }

    private async Task<List<(TimeSpan Joined, TimeSpan Ready)>> StartSilosAsync(
        Dictionary<string, string> env, List<(int Silo, int Gateway, int Health)> ports, string clusterId)
    {
        var started = ports.Select(p => SiloProcess.Start(env, p.Silo, p.Gateway, p.Health)).ToList();
        _silos.AddRange(started);
        var timings = new List<(TimeSpan, TimeSpan)>();
        foreach (var silo in started)
        {
            var joined = await WaitForStatusAsync(clusterId, silo.SiloPort, SiloActive, TimeSpan.FromMinutes(3), silo);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.HealthPort}") };
            var deadline = DateTime.UtcNow.AddMinutes(1);
            while (true)
            {
                try
                {
                    if ((await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK)
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                }

                Assert.True(DateTime.UtcNow < deadline, $"silo {silo.SiloPort} never became ready:\n{silo.Output}");
                await Task.Delay(100);
            }

            timings.Add((joined - silo.StartedAt, DateTime.UtcNow - silo.StartedAt));
        }

        return timings;
    }

    private async Task<DateTime> WaitForStatusAsync(string clusterId, int siloPort, int status, TimeSpan timeout, SiloProcess? silo = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (silo is { HasExited: true })
            {
                Assert.Fail($"silo {siloPort} exited during start-up:\n{silo.Output}");
            }

            if (await StatusAsync(clusterId, siloPort) == status)
            {
                return DateTime.UtcNow;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"silo {siloPort} never reached membership status {status} within {timeout}");
        return default;
    }

    /// <summary>The status of the newest generation of the silo on that port (a restart adds a row).</summary>
    private async Task<long> StatusAsync(string clusterId, int siloPort) => await ScalarAsync(
        $"SELECT coalesce((SELECT status FROM orleansmembershiptable WHERE deploymentid = '{clusterId}' AND port = {siloPort} " +
        "ORDER BY generation DESC LIMIT 1), 0)");

    private static async Task<Guid> StartBatchAsync(HttpClient client, (string Name, byte[] Content)[] files)
    {
        using var form = new MultipartFormDataContent { { new StringContent("failover"), "caller_app" } };
        foreach (var (name, content) in files)
        {
            form.Add(new ByteArrayContent(content), "files", name);
        }

        var response = await client.PostAsync("/api/ingest", form);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return Guid.Parse((await response.Content.ReadFromJsonAsync<JsonNode>())!["batch_id"]!.GetValue<string>());
    }

    private static async Task<JsonNode> WaitForBatchAsync(HttpClient client, Guid id, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        JsonNode batch;
        do
        {
            batch = (await client.GetFromJsonAsync<JsonNode>($"/api/ingest/batches/{id}"))!;
            if (batch["status"]!.GetValue<string>() is not ("queued" or "running"))
            {
                return batch;
            }

            await Task.Delay(250);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"the batch did not finish within {timeout} of the kill: {batch.ToJsonString()}");
        return batch;
    }

    private static async Task<JsonNode> AskAsync(HttpClient client, string question, string thread)
    {
        var response = await client.PostAsJsonAsync("/api/query", new { question, caller_app = "failover", thread_id = thread });
        var body = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.True(response.IsSuccessStatusCode, body.ToJsonString());
        return body;
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
            return 0; // the first silo has not applied the migrations yet
        }
    }

    private sealed record Outcome(DateTime Start, DateTime End, bool Ok, int Attempts, string? Error);

    /// <summary>Clients asking in a loop; each request is retried up to 4 times (0.5 s apart) before it counts as failed.</summary>
    private sealed class QueryLoad
    {
        private readonly ConcurrentQueue<Outcome> _outcomes = new();
        private readonly List<Task> _workers = [];
        private readonly List<HttpClient> _clients = [];
        private CancellationTokenSource _stop = new();

        public IReadOnlyList<Outcome> Outcomes => [.. _outcomes];

        public void Start(TestApp web, int workers)
        {
            for (var w = 0; w < workers; w++)
            {
                var client = web.LoginAsync().GetAwaiter().GetResult();
                _clients.Add(client);
                var worker = w;
                _workers.Add(Task.Run(() => RunAsync(client, worker, _stop.Token)));
            }
        }

        /// <summary>Successful requests per second over <paramref name="window"/>.</summary>
        public async Task<double> MeasureAsync(TimeSpan window)
        {
            var from = DateTime.UtcNow;
            await Task.Delay(window);
            var to = DateTime.UtcNow;
            return _outcomes.Count(o => o.Ok && o.End >= from && o.End < to) / (to - from).TotalSeconds;
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_workers);
            _workers.Clear();
            foreach (var c in _clients)
            {
                c.Dispose();
            }

            _clients.Clear();
            _stop = new CancellationTokenSource();
        }

        private async Task RunAsync(HttpClient client, int worker, CancellationToken stop)
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var start = DateTime.UtcNow;
                string? error = null;
                var attempt = 0;
                var ok = false;
                while (!ok && attempt < 4)
                {
                    attempt++;
                    try
                    {
                        using var response = await client.PostAsJsonAsync("/api/query",
                            new { question = Questions[i % Questions.Length], caller_app = "load", thread_id = $"w{worker}-{i}" });
                        ok = response.IsSuccessStatusCode;
                        error = ok ? null : $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        error = ex.GetType().Name + ": " + ex.Message;
                    }

                    if (!ok)
                    {
                        await Task.Delay(500);
                    }
                }

                _outcomes.Enqueue(new Outcome(start, DateTime.UtcNow, ok, attempt, error));
            }
        }
    }
}

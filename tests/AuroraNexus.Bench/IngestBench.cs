using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using AuroraNexus.WebFront;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuroraNexus.Bench;

/// <summary>
/// Ingests corpus folders through <c>POST /api/ingest</c> end to end (upload, extraction, chunking, embedding,
/// PostgreSQL, vector index) on a single node, or on N silo processes behind an in-process WebFront client, and prints
/// documents/s, chunks/s, CPU time and peak memory next to the raw throughput of the embedding model measured in the
/// same run on the same chunks: random batches of 32, and batches of 32 texts of similar length.
/// </summary>
public static class IngestBench
{
    private const string Password = "bench-admin-password";
    private const string Email = "bench@nexus.local";
    private const int FilesPerRequest = 200;

    public static async Task<int> RunAsync(string[] args)
    {
        var corpusDir = Arg(args, "--corpus-dir");
        var corpora = (Arg(args, "--corpus") ?? "spf,cnil").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var limit = int.Parse(Arg(args, "--limit") ?? "0", CultureInfo.InvariantCulture);
        var silos = int.Parse(Arg(args, "--silos") ?? "1", CultureInfo.InvariantCulture);
        if (corpusDir is null || corpora.Any(c => !Directory.Exists(Path.Combine(corpusDir, c))))
        {
            Console.Error.WriteLine("pass --corpus-dir DIR with one sub-folder per --corpus name (default spf,cnil)");
            return 2;
        }

        var files = corpora.SelectMany(c => Directory.GetFiles(Path.Combine(corpusDir, c)).Order(StringComparer.Ordinal)).ToList();
        if (limit > 0)
        {
            // An even share of each corpus rather than the first one only.
            files = [.. corpora.SelectMany(c => Directory.GetFiles(Path.Combine(corpusDir, c)).Order(StringComparer.Ordinal).Take(limit / corpora.Length))];
        }

        var cores = Environment.ProcessorCount;
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-ingest-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        var port = GatewayBench.FreePort();
        var settings = new Dictionary<string, string?>
        {
            ["NEXUS_DATA_DIR"] = dataDir,
            ["HOST_API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["HOST_GATEWAY_PORT"] = GatewayBench.FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_SILO_PORT"] = GatewayBench.FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_GATEWAY_PORT"] = GatewayBench.FreePort().ToString(CultureInfo.InvariantCulture),
            ["ADMIN_EMAIL"] = Email,
            ["ADMIN_DEFAULT_PASSWORD"] = Password,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        EmbeddedPostgres? postgres = null;
        var processes = new List<Process>();
        NexusWebApp? web = null;
        try
        {
            if (silos > 1)
            {
                // One machine, N silos: each gets its share of the cores, as N containers with CPU limits would.
                postgres = await EmbeddedPostgres.StartAsync(Path.Combine(dataDir, "pg-server"), NullLogger.Instance, CancellationToken.None);
                settings["DATABASE_URL"] = postgres.ConnectionString;
                settings["NEXUS_MODE"] = "client";
                settings["ORLEANS_CLUSTER_ID"] = "bench-" + Guid.NewGuid().ToString("N")[..8];
                settings["JWT_SECRET"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48));
                settings["GATEWAY_INTERNAL_SECRET"] = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
                settings["LLM_CREDENTIALS_ENC_KEY"] = FernetKey.Generate().Encode();
                var threads = Math.Max(1, cores / silos).ToString(CultureInfo.InvariantCulture);
                for (var i = 0; i < silos; i++)
                {
                    processes.Add(StartSilo(settings, threads));
                }

                await WaitForSilosAsync(postgres.ConnectionString, settings["ORLEANS_CLUSTER_ID"]!, silos, processes);
            }

            web = await NexusWebApp.CreateAsync([], settings) ?? throw new InvalidOperationException("configuration refused");
            await web.App.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(10) };
            var login = await http.PostAsJsonAsync("/api/auth/login", new { email = Email, password = Password });
            var token = (await login.Content.ReadFromJsonAsync<JsonNode>())!["access_token"]!.GetValue<string>();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

            Console.WriteLine($"{files.Count} files ({string.Join(", ", corpora)}), {(silos > 1 ? $"{silos} silo processes" : "single node")}, {cores} cores; silo embedding: " +
                (silos > 1 ? $"1 run x {Math.Max(1, cores / silos)} threads per silo" : $"{new IngestionOptions().EmbeddingConcurrency} run(s) x {new IngestionOptions().EmbeddingThreads} threads"));
            var cpuBefore = CpuSeconds(processes);
            var watch = Stopwatch.StartNew();
            var batchIds = new List<string>();
            foreach (var group in files.Chunk(FilesPerRequest))
            {
                using var form = new MultipartFormDataContent { { new StringContent("bench"), "caller_app" } };
                foreach (var f in group)
                {
                    form.Add(new ByteArrayContent(await File.ReadAllBytesAsync(f)), "files", Path.GetFileName(f));
                }

                var response = await http.PostAsync("/api/ingest", form);
                response.EnsureSuccessStatusCode();
                batchIds.Add((await response.Content.ReadFromJsonAsync<JsonNode>())!["batch_id"]!.GetValue<string>());
            }

            var uploaded = watch.Elapsed;
            long peakSilos = 0;
            JsonArray batches;
            while (true)
            {
                batches = (await http.GetFromJsonAsync<JsonArray>("/api/ingest/batches?limit=500"))!;
                peakSilos = Math.Max(peakSilos, processes.Sum(p => PeakBytes(p.Id)));
                if (!batches.Any(b => b!["status"]!.GetValue<string>() is "queued" or "running"))
                {
                    break;
                }

                await Task.Delay(500);
            }

            var elapsed = watch.Elapsed.TotalSeconds;
            var cpu = CpuSeconds(processes) - cpuBefore;
            var documents = batches.SelectMany(b => b!["documents"]!.AsArray()).ToList();
            var indexed = documents.Count(d => d!["status"]!.GetValue<string>() == "indexed");
            var failed = documents.Where(d => d!["status"]!.GetValue<string>() == "failed").ToList();
            var chunks = documents.Sum(d => d!["chunks"]!.GetValue<int>());
            Console.WriteLine($"end to end: {indexed} documents indexed, {failed.Count} failed, {chunks} chunks in {elapsed:F1} s (upload {uploaded.TotalSeconds:F1} s)");
            Console.WriteLine($"  {indexed / elapsed:F2} documents/s, {chunks / elapsed:F2} chunks/s; CPU {cpu:F0} s ({cpu / elapsed:F2} cores busy), {chunks / cpu:F2} chunks per CPU second");
            foreach (var f in failed.Take(5))
            {
                Console.WriteLine($"  failed: {f!["filename"]} {f["error_code"]} {f["error"]}");
            }

            Console.WriteLine(silos > 1
                ? $"  peak memory: silos {peakSilos / (1024 * 1024)} MiB together ({string.Join(", ", processes.Select(p => $"{PeakBytes(p.Id) / (1024 * 1024)} MiB"))}); client process {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MiB"
                : $"  peak memory: {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MiB (the whole single-node process, PostgreSQL apart)");

            // The model alone, now, on the same kind of chunks: the reference the pipeline is compared with.
            var embedder = silos > 1 ? new MiniLmEmbedder(new IngestionOptions().Embedding) : web.App.Services.GetRequiredService<MiniLmEmbedder>();
            await RawAsync(embedder, files);
            return failed.Count == 0 ? 0 : 1;
        }
        finally
        {
            if (web is not null)
            {
                await web.App.StopAsync();
                await web.DisposeAsync();
            }

            foreach (var p in processes)
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    await p.WaitForExitAsync();
                }

                p.Dispose();
            }

            if (postgres is not null)
            {
                await postgres.DisposeAsync();
            }

            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Random batches of 32 (padded to their longest text) versus batches of 32 texts of similar length.</summary>
    private static async Task RawAsync(MiniLmEmbedder embedder, List<string> files)
    {
        var chunker = new Chunker(embedder, new ChunkerOptions());
        var prepareCpu = Process.GetCurrentProcess().TotalProcessorTime;
        var texts = files
            .Select(f => TextExtractor.Extract(Path.GetFileName(f), File.ReadAllBytes(f)))
            .Where(e => e.Ok)
            .SelectMany(e => chunker.Split(e.Text!).Select(c => c.Text))
            .ToList();
        Console.WriteLine($"extraction and chunking alone: {(Process.GetCurrentProcess().TotalProcessorTime - prepareCpu).TotalSeconds:F1} s CPU for {files.Count} files");
        var sample = texts.OrderBy(_ => Random.Shared.Next()).Take(Math.Min(texts.Count, 32 * 20)).ToList();
        await embedder.EmbedAsync(sample.Take(32).ToList(), CancellationToken.None);
        var unsorted = await TimeAsync(embedder, [.. sample.Chunk(32)]);
        var sorted = await TimeAsync(embedder, [.. sample.OrderBy(t => embedder.CountTokens(t)).Chunk(32)]);
        Console.WriteLine($"model alone on {sample.Count} of these chunks (mean {sample.Average(t => t.Length):F0} characters), same process options as a silo:");
        Console.WriteLine($"  random batches of 32:            {sample.Count / unsorted.Wall:F2} chunks/s; CPU {unsorted.Cpu:F0} s, {sample.Count / unsorted.Cpu:F2} chunks per CPU second");
        Console.WriteLine($"  batches of 32 of similar length: {sample.Count / sorted.Wall:F2} chunks/s; CPU {sorted.Cpu:F0} s, {sample.Count / sorted.Cpu:F2} chunks per CPU second");
    }

    private static async Task<(double Wall, double Cpu)> TimeAsync(MiniLmEmbedder embedder, List<string[]> batches)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        foreach (var batch in batches)
        {
            await embedder.EmbedAsync(batch, CancellationToken.None);
        }

        return (watch.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
    }

    private static Process StartSilo(Dictionary<string, string?> settings, string threads)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(SiloAssembly());
        foreach (var (k, v) in settings.Where(kv => kv.Key.ToUpperInvariant() == kv.Key))
        {
            start.Environment[k] = v;
        }

        start.Environment["NEXUS_MODE"] = null;
        start.Environment["ORLEANS_SILO_PORT"] = GatewayBench.FreePort().ToString(CultureInfo.InvariantCulture);
        start.Environment["ORLEANS_GATEWAY_PORT"] = GatewayBench.FreePort().ToString(CultureInfo.InvariantCulture);
        start.Environment["HOST_GATEWAY_PORT"] = GatewayBench.FreePort().ToString(CultureInfo.InvariantCulture);
        start.Environment["ORLEANS_ADVERTISED_IP"] = "127.0.0.1";
        start.Environment["NEXUS_EMBEDDING_CONCURRENCY"] = "1";
        start.Environment["NEXUS_EMBEDDING_THREADS"] = threads;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start)!;
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine("silo: " + e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitForSilosAsync(string connectionString, string clusterId, int expected, List<Process> processes)
    {
        await using var db = Npgsql.NpgsqlDataSource.Create(connectionString);
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            if (processes.Any(p => p.HasExited))
            {
                throw new InvalidOperationException("a silo exited during start-up");
            }

            try
            {
                await using var cmd = db.CreateCommand("SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = @c AND status = 3");
                cmd.Parameters.AddWithValue("c", clusterId);
                if (Convert.ToInt32(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture) == expected)
                {
                    return;
                }
            }
            catch (Npgsql.PostgresException)
            {
                // The schema is being created by the first silo.
            }

            await Task.Delay(500);
        }

        throw new TimeoutException($"{expected} silos did not join within 3 minutes");
    }

    private static double CpuSeconds(List<Process> silos) => silos.Count == 0
        ? Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds
        : silos.Sum(p =>
        {
            p.Refresh();
            return p.HasExited ? 0 : p.TotalProcessorTime.TotalSeconds;
        });

    /// <summary>VmHWM: the highest resident set of a process so far.</summary>
    private static long PeakBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The Silo binary of the same configuration: build it first (dotnet build -c Release src/Silo).</summary>
    private static string SiloAssembly()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory);
        var dir = baseDir;
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AuroraNexus.sln")))
        {
            dir = dir.Parent;
        }

        var built = Path.Combine(dir?.FullName ?? ".", "src", "Silo", "bin", baseDir.Parent!.Name, baseDir.Name, "AuroraNexus.Silo.dll");
        return File.Exists(built) ? built : throw new FileNotFoundException($"Silo binary not found at {built}; run dotnet build -c {baseDir.Parent!.Name} src/Silo first");
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.WebFront;

namespace AuroraNexus.Eval;

public sealed record EvalQuestion(string Corpus, string Question, string Expected);

public static class EvalCommand
{
    private const int FilesPerRequest = 40;

    /// <summary>Tenant settings to apply before asking (JSON body of PUT /api/admin/settings), for tuning runs.</summary>
    private static string? Settings { get; set; }

    /// <summary>A file to write the questions whose expected document is not first, with what came before it.</summary>
    private static string? MissesFile { get; set; }

    public static async Task<int> RunAsync(string[] args)
    {
        var options = Args.Parse(args);
        Settings = options.Get("settings");
        MissesFile = options.Get("misses");
        var corpusDir = options.Get("corpus-dir") ?? "../shared/corpus";
        var evalFile = options.Get("eval") ?? "../shared/eval/retrieval-dev.jsonl";
        if (!Directory.Exists(corpusDir) || !File.Exists(evalFile))
        {
            Console.Error.WriteLine($"corpus folder '{corpusDir}' or eval file '{evalFile}' not found; pass --corpus-dir and --eval");
            return 2;
        }

        var questions = File.ReadLines(evalFile)
            .Where(l => l.Trim().Length > 0)
            .Select(l => JsonNode.Parse(l)!)
            .Select(n => new EvalQuestion(n["corpus"]!.GetValue<string>(), n["question"]!.GetValue<string>(), n["expected"]!.GetValue<string>()))
            .ToList();
        var corpora = (options.Get("corpus") ?? "all") == "all"
            ? questions.Select(q => q.Corpus).Distinct().Order().ToList()
            : [options.Get("corpus")!];
        var limit = int.TryParse(options.Get("limit"), out var l) ? l : int.MaxValue;

        foreach (var corpus in corpora)
        {
            var folder = Path.Combine(corpusDir, corpus);
            var qs = questions.Where(q => q.Corpus == corpus).Take(limit).ToList();
            Console.WriteLine($"== corpus {corpus}: {Directory.GetFiles(folder).Length} files, {qs.Count} questions");
            if (options.Get("url") is { } url)
            {
                await RunCorpusAsync(new Uri(url), options.Get("email")!, options.Get("password")!, folder, qs, corpus,
                    ingest: options.Get("skip-ingest") is null);
            }
            else
            {
                await RunPrivateInstanceAsync(folder, qs, corpus);
            }
        }

        return 0;
    }

    private static async Task RunPrivateInstanceAsync(string folder, List<EvalQuestion> qs, string corpus)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), $"nexus-eval-{corpus}-{Guid.NewGuid():N}");
        var port = FreePort();
        const string password = "eval-password-123";
        var overrides = new Dictionary<string, string?>
        {
            ["NEXUS_DATA_DIR"] = dataDir,
            ["HOST_API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["HOST_GATEWAY_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_SILO_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_GATEWAY_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["ADMIN_EMAIL"] = "eval@nexus.local",
            ["ADMIN_DEFAULT_PASSWORD"] = password,
            ["DATABASE_URL"] = Environment.GetEnvironmentVariable("EVAL_DATABASE_URL"),
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft"] = "Warning",
            ["Logging:LogLevel:Orleans"] = "Warning",
        };
        var web = await NexusWebApp.CreateAsync([], overrides) ?? throw new InvalidOperationException("the product did not start");
        try
        {
            await web.App.StartAsync();
            await RunCorpusAsync(new Uri($"http://127.0.0.1:{port}"), "eval@nexus.local", password, folder, qs, corpus, ingest: true);
        }
        finally
        {
            await web.App.StopAsync();
            await web.DisposeAsync();
        }

        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task RunCorpusAsync(
        Uri baseUrl, string email, string password, string folder, List<EvalQuestion> qs, string corpus, bool ingest)
    {
        using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromMinutes(10) };
        var login = await http.PostAsJsonAsync("/api/auth/login", new { email, password });
        login.EnsureSuccessStatusCode();
        var token = (await login.Content.ReadFromJsonAsync<JsonNode>())!["access_token"]!.GetValue<string>();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var files = Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToList();
        if (ingest)
        {
            await IngestAsync(http, files, corpus);
        }

        if (Settings is { } settings)
        {
            var put = await http.PutAsync("/api/admin/settings", new StringContent(settings, System.Text.Encoding.UTF8, "application/json"));
            Console.WriteLine($"settings: {await put.Content.ReadAsStringAsync()}");
            put.EnsureSuccessStatusCode();
        }

        // A file whose bytes equal another's is the same document (the product stores it once, as a duplicate):
        // finding either name finds the expected document.
        var canonical = files
            .GroupBy(f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))
            .SelectMany(g => g.Select(f => (Name: Path.GetFileName(f), Canonical: Path.GetFileName(g.Min(StringComparer.Ordinal)!))))
            .ToDictionary(x => x.Name, x => x.Canonical);
        var latencies = new List<double>();
        var ranks = new List<int?>();
        var misses = new List<string>();
        foreach (var q in qs)
        {
            var sw = Stopwatch.StartNew();
            var response = await http.PostAsJsonAsync("/api/query", new { question = q.Question, caller_app = $"eval-{corpus}", options = new { top_k = 10 } });
            var body = await response.Content.ReadFromJsonAsync<JsonNode>();
            sw.Stop();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"query failed: {(int)response.StatusCode} {body}");
            }

            latencies.Add(sw.Elapsed.TotalMilliseconds);
            var docs = body!["citations"]!.AsArray()
                .Select(c => c!["filename"]!.GetValue<string>())
                .Select(n => canonical.GetValueOrDefault(n, n))
                .Distinct().Take(10).ToList();
            var rank = docs.IndexOf(canonical.GetValueOrDefault(q.Expected, q.Expected));
            ranks.Add(rank < 0 ? null : rank + 1);
            if (rank != 0)
            {
                misses.Add($"{corpus}\t{(rank < 0 ? "-" : (rank + 1).ToString(CultureInfo.InvariantCulture))}\t{q.Question}\t{q.Expected}\t{string.Join(" ", docs.Take(5))}");
            }
        }

        if (MissesFile is { } missesFile)
        {
            await File.AppendAllLinesAsync(missesFile, misses);
        }

        double Recall(int k) => ranks.Count(r => r <= k) / (double)ranks.Count;
        var mrr = ranks.Sum(r => r is { } x && x <= 10 ? 1.0 / x : 0) / ranks.Count;
        latencies.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"retrieval ({ranks.Count} questions, by cited document): recall@1 {Recall(1):F3}  recall@5 {Recall(5):F3}  recall@10 {Recall(10):F3}  MRR@10 {mrr:F3}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"query latency (sequential, end to end over HTTP): p50 {Percentile(latencies, 0.50):F1} ms  p95 {Percentile(latencies, 0.95):F1} ms  max {latencies[^1]:F1} ms"));
    }

    private static async Task IngestAsync(HttpClient http, List<string> files, string corpus)
    {
        var clock = Stopwatch.StartNew();
        var batchIds = new List<string>();
        foreach (var group in files.Chunk(FilesPerRequest))
        {
            using var form = new MultipartFormDataContent();
            form.Add(new StringContent($"eval-{corpus}"), "caller_app");
            foreach (var f in group)
            {
                form.Add(new ByteArrayContent(await File.ReadAllBytesAsync(f)), "files", Path.GetFileName(f));
            }

            var response = await http.PostAsync("/api/ingest", form);
            var body = await response.Content.ReadFromJsonAsync<JsonNode>();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"ingest failed: {(int)response.StatusCode} {body}");
            }

            batchIds.Add(body!["batch_id"]!.GetValue<string>());
        }

        int indexed = 0, failed = 0, duplicate = 0, chunks = 0;
        foreach (var id in batchIds)
        {
            while (true)
            {
                var batch = (await http.GetFromJsonAsync<JsonNode>($"/api/ingest/batches/{id}"))!;
                var status = batch["status"]!.GetValue<string>();
                if (status is not ("queued" or "running"))
                {
                    indexed += batch["indexed"]!.GetValue<int>();
                    failed += batch["failed"]!.GetValue<int>();
                    duplicate += batch["duplicate"]!.GetValue<int>();
                    chunks += batch["documents"]!.AsArray().Sum(d => d!["chunks"]!.GetValue<int>());
                    foreach (var d in batch["documents"]!.AsArray().Where(d => d!["status"]!.GetValue<string>() == "failed"))
                    {
                        Console.WriteLine($"   failed: {d!["filename"]} {d["error_code"]} {d["error"]}");
                    }

                    break;
                }

                await Task.Delay(500);
            }
        }

        var ingestSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ingestion: {files.Count} files -> {indexed} indexed, {duplicate} duplicate, {failed} failed, {chunks} chunks in {ingestSeconds:F1} s = {files.Count / ingestSeconds:F2} documents/s, {chunks / ingestSeconds:F1} chunks/s"));
        var raw = await RawEmbeddingThroughputAsync(files);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"raw embedding throughput (same run, in process, batches of 32): {raw:F1} chunks/s"));

    }

    /// <summary>The model alone on this machine, on chunks of this corpus: the ceiling ingestion is measured against.</summary>
    private static async Task<double> RawEmbeddingThroughputAsync(List<string> files)
    {
        using var embedder = new MiniLmEmbedder();
        var chunker = new Chunker(embedder, new ChunkerOptions());
        var texts = files.Take(40)
            .SelectMany(f => chunker.Split(TextExtractor.Extract(f, File.ReadAllBytes(f)).Text ?? ""))
            .Select(c => c.Text).Take(192).ToList();
        await embedder.EmbedAsync(texts.Take(8).ToList(), CancellationToken.None);
        var sw = Stopwatch.StartNew();
        await embedder.EmbedAsync(texts, CancellationToken.None);
        return texts.Count / sw.Elapsed.TotalSeconds;
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static int FreePort()
    {
        using var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}

internal sealed class Args
{
    private readonly Dictionary<string, string> _values = [];

    public static Args Parse(string[] args)
    {
        var a = new Args();
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                a._values[args[i][2..]] = args[++i];
            }
        }

        return a;
    }

    public string? Get(string name) => _values.GetValueOrDefault(name);
}

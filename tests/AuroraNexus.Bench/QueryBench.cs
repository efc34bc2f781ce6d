using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using AuroraNexus.WebFront;
using Microsoft.Extensions.DependencyInjection;

namespace AuroraNexus.Bench;

/// <summary>
/// <c>POST /api/query</c> over the dev questions of one corpus, end to end over HTTP on a single-node app: extractive
/// mode, then with a loopback model that answers at once (so the time is the platform's own), each at concurrency 1
/// and 16, cache emptied before each run; then the same questions served from the cache; follow-up resolution alone.
/// </summary>
public static class QueryBench
{
    private const string Password = "bench-admin-password";
    private const string App = "bench";

    public static async Task<int> RunAsync(string[] args)
    {
        var corpusDir = Arg(args, "--corpus-dir") ?? "../shared/corpus";
        var evalFile = Arg(args, "--eval") ?? "../shared/eval/retrieval-dev.jsonl";
        var corpus = Arg(args, "--corpus") ?? "cnil";
        var folder = Path.Combine(corpusDir, corpus);
        if (!Directory.Exists(folder) || !File.Exists(evalFile))
        {
            Console.Error.WriteLine($"corpus folder '{folder}' or eval file '{evalFile}' not found; pass --corpus-dir and --eval");
            return 2;
        }

        var questions = File.ReadLines(evalFile).Where(l => l.Trim().Length > 0).Select(l => JsonNode.Parse(l)!)
            .Where(n => n["corpus"]!.GetValue<string>() == corpus).Select(n => n["question"]!.GetValue<string>()).ToList();

        await using var provider = await LoopbackProvider.StartAsync(Compliant);
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-bench-" + Guid.NewGuid().ToString("N"));
        var port = GatewayBench.FreePort();
        var web = await NexusWebApp.CreateAsync([], new Dictionary<string, string?>
        {
            ["NEXUS_DATA_DIR"] = dataDir,
            ["HOST_API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["HOST_GATEWAY_PORT"] = GatewayBench.FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_SILO_PORT"] = GatewayBench.FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_GATEWAY_PORT"] = GatewayBench.FreePort().ToString(CultureInfo.InvariantCulture),
            ["ADMIN_EMAIL"] = "bench@nexus.local",
            ["ADMIN_DEFAULT_PASSWORD"] = Password,
            ["NEXUS_ALLOW_PRIVATE_LLM_URLS"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
        }) ?? throw new InvalidOperationException("configuration refused");
        try
        {
            await web.App.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(5) };
            var login = await http.PostAsJsonAsync("/api/auth/login", new { email = "bench@nexus.local", password = Password });
            var token = (await login.Content.ReadFromJsonAsync<JsonNode>())!["access_token"]!.GetValue<string>();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

            var watch = Stopwatch.StartNew();
            var files = Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToList();
            foreach (var batch in files.Chunk(40))
            {
                using var form = new MultipartFormDataContent { { new StringContent(App), "caller_app" } };
                foreach (var f in batch)
                {
                    form.Add(new ByteArrayContent(await File.ReadAllBytesAsync(f)), "files", Path.GetFileName(f));
                }

                (await http.PostAsync("/api/ingest", form)).EnsureSuccessStatusCode();
            }

            while ((await http.GetFromJsonAsync<JsonArray>("/api/ingest/batches?limit=500"))!.Any(b => b!["status"]!.GetValue<string>() is "queued" or "running"))
            {
                await Task.Delay(1000);
            }

            Console.WriteLine($"{corpus}: {files.Count} files ingested in {watch.Elapsed.TotalSeconds:F1} s; {questions.Count} dev questions; {Environment.ProcessorCount} cores");
            var cache = web.App.Services.GetRequiredService<IGrainFactory>().GetGrain<IAnswerCacheGrain>(UserRepository.DefaultTenant);

            foreach (var concurrency in new[] { 1, 16 })
            {
                await cache.InvalidateAsync();
                await RunAsync(http, questions, concurrency, $"extractive, concurrency {concurrency}");
            }

            // The default tenant's OpenRouter provider, pointed at the loopback model.
            var providers = (await http.GetFromJsonAsync<JsonArray>("/api/admin/providers"))!;
            var openRouter = providers.Single(p => p!["name"]!.GetValue<string>() == "openrouter")!["id"]!.GetValue<string>();
            (await http.PutAsJsonAsync($"/api/admin/providers/{openRouter}", new { base_url = provider.BaseUrl, kind = "openai_compatible" })).EnsureSuccessStatusCode();
            (await http.PostAsJsonAsync("/api/admin/providers/credentials", new { provider_id = openRouter, api_key = "sk-bench-0123456789abcdef0123" })).EnsureSuccessStatusCode();
            (await http.PostAsJsonAsync("/api/admin/models", new { provider_id = openRouter, model = "bench-model", is_default = true })).EnsureSuccessStatusCode();
            foreach (var concurrency in new[] { 1, 16 })
            {
                await cache.InvalidateAsync();
                var before = provider.Calls;
                await RunAsync(http, questions, concurrency, $"llm (loopback model answering at once), concurrency {concurrency}");
                Console.WriteLine($"    model calls: {provider.Calls - before}");
            }

            await RunAsync(http, questions, 16, "cache hits (same questions again), concurrency 16");
            await RunAsync(http, questions, 1, "cache hits (same questions again), concurrency 1");

            ResolveBench();
            Console.WriteLine($"memory: working set {Environment.WorkingSet / (1024 * 1024)} MiB, GC heap {GC.GetTotalMemory(false) / (1024 * 1024)} MiB");
            return 0;
        }
        finally
        {
            await web.App.StopAsync();
            await web.DisposeAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static async Task RunAsync(HttpClient http, List<string> questions, int concurrency, string name)
    {
        var latencies = new ConcurrentBag<double>();
        var failures = 0;
        var next = -1;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < questions.Count)
            {
                var start = Stopwatch.GetTimestamp();
                var response = await http.PostAsJsonAsync("/api/query", new { question = questions[i], caller_app = App });
                await response.Content.ReadAsByteArrayAsync();
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));
        var list = latencies.ToList();
        GatewayBench.Print(name, list);
        Console.WriteLine($"    throughput {list.Count / wall.Elapsed.TotalSeconds:F1} queries/s, failures {failures}");
    }

    /// <summary>Follow-up resolution alone: a pure function on the question and the outline.</summary>
    private static void ResolveBench()
    {
        System.Collections.Immutable.ImmutableArray<OutlineSection> outline = [.. Enumerable.Range(1, 5).Select(i => new OutlineSection($"S{i}", $"Titre de la partie {i} sur la médiation {i}", []))];
        string[] forms = ["détaille le point B", "le 2", "#3", "[S4]", "deuxième point", "le dernier point", "détaille la partie sur la médiation 3",
            "détaille ça", "point 9", "Comment faire une donation au dernier vivant ?"];
        for (var i = 0; i < 2000; i++)
        {
            FollowUpResolver.Resolve(forms[i % forms.Length], outline);
        }

        var samples = new List<double>();
        for (var i = 0; i < 50_000; i++)
        {
            var start = Stopwatch.GetTimestamp();
            FollowUpResolver.Resolve(forms[i % forms.Length], outline);
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1000);
        }

        Console.WriteLine($"  follow-up resolution (µs)                            n={samples.Count,5}  p50 {GatewayBench.P(samples, 50),8:F2} µs  p95 {GatewayBench.P(samples, 95),8:F2} µs  p99 {GatewayBench.P(samples, 99),8:F2} µs");
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private const string Compliant =
        """
        ## 1. Contexte
        Les documents décrivent le contexte [1].

        ## 2. Points clés
        Les points essentiels figurent dans les passages [2].

        ## 3. Mise en œuvre
        Les étapes sont détaillées [3].

        ## 4. Limites
        Les passages ne couvrent pas tous les cas [4].

        SUIVI
        [S1] Contexte
        [S2] Points clés
        [S3] Mise en œuvre
        [S4] Limites
        """;
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using AuroraNexus.WebFront;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Bench;

/// <summary>
/// Gateway overhead: the same chat call, made directly with the client and made through the tenant grain of a
/// single-node app (co-hosted silo, private PostgreSQL), against a loopback provider that answers at once.
/// </summary>
public static class GatewayBench
{
    private const string Tenant = "bench";
    private const string Key = "sk-bench-0123456789abcdef0123456789abcdef";

    public static async Task<int> RunAsync(string[] args)
    {
        var calls = IntArg(args, "--calls", 2000);
        await using var provider = await LoopbackProvider.StartAsync("Bonjour.");
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-bench-" + Guid.NewGuid().ToString("N"));
        var overrides = new Dictionary<string, string?>
        {
            ["NEXUS_DATA_DIR"] = dataDir,
            ["HOST_API_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["HOST_GATEWAY_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_SILO_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_GATEWAY_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["ADMIN_DEFAULT_PASSWORD"] = "bench-admin-password",
            ["NEXUS_ALLOW_PRIVATE_LLM_URLS"] = "true", // the provider answers on loopback
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var web = await NexusWebApp.CreateAsync([], overrides) ?? throw new InvalidOperationException("configuration refused");
        try
        {
            await web.App.StartAsync();
            var services = web.App.Services;
            var users = services.GetRequiredService<UserRepository>();
            var catalog = services.GetRequiredService<LlmCatalogRepository>();
            var vault = services.GetRequiredService<CredentialVault>();
            await users.EnsureTenantAsync(Tenant, "Benchmark", CancellationToken.None);
            var row = await catalog.CreateProviderAsync(Tenant, "loopback", "openai_compatible", provider.BaseUrl, CancellationToken.None)
                ?? throw new InvalidOperationException("provider exists");
            var (token, fingerprint, hint) = vault.Seal(Key);
            await catalog.CreateCredentialAsync(Tenant, row.Id, "bench", token, fingerprint, hint, CancellationToken.None);
            await catalog.CreateModelAsync(Tenant, row.Id, "bench-model", isDefault: true, CancellationToken.None);

            var client = services.GetRequiredService<ChatCompletionsClient>();
            var grain = services.GetRequiredService<IGrainFactory>().GetGrain<ITenantGrain>(Tenant);
            var endpoint = new LlmEndpoint(provider.BaseUrl, Key, "bench-model", null, "Aurora Nexus") { Kind = LlmProviderKind.OpenAiCompatible };
            var messages = new[] { new ChatMessage("user", "Bonjour") };
            var request = new LlmRequest([new LlmMessage("user", "Bonjour")]);

            async Task Direct() => await client.CompleteAsync(endpoint, messages, ChatOptions.Default, CancellationToken.None);
            async Task ViaGrain() => _ = await grain.CompleteAsync(request) ?? throw new InvalidOperationException("no route");

            for (var i = 0; i < 300; i++)
            {
                await Direct();
                await ViaGrain();
            }

            // Alternating blocks, so that drift (GC, JIT tiers, the other process) affects both sides alike.
            var direct = new List<double>(calls);
            var via = new List<double>(calls);
            for (var done = 0; done < calls; done += 100)
            {
                await Measure(Direct, direct, 100);
                await Measure(ViaGrain, via, 100);
            }

            // First call after invalidation: reads providers, models, credentials and decrypts the key.
            var first = new List<double>();
            var cached = new List<double>();
            for (var i = 0; i < 100; i++)
            {
                await grain.InvalidateAsync();
                await Measure(ViaGrain, first, 1);
                await Measure(ViaGrain, cached, 1);
            }

            var decrypt = new List<double>();
            var keys = services.GetRequiredService<NexusSettings>().CredentialKeys;
            for (var i = 0; i < 10_000; i++)
            {
                var start = Stopwatch.GetTimestamp();
                keys.TryDecrypt(token, fingerprint, out _, out _);
                decrypt.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            Console.WriteLine($"gateway overhead ({calls} calls each, loopback provider answering at once, {Environment.ProcessorCount} cores)");
            Print("direct to provider", direct);
            Print("through tenant grain", via);
            Console.WriteLine($"  added by the grain: p50 {P(via, 50) - P(direct, 50):F3} ms, p99 {P(via, 99) - P(direct, 99):F3} ms");
            Console.WriteLine("credential cost");
            Print("first call after invalidate (load + decrypt + call)", first);
            Print("next call (cached route)", cached);
            Print("Fernet decrypt alone", decrypt);
            Console.WriteLine($"  memory: working set {Environment.WorkingSet / (1024 * 1024)} MiB, GC heap {GC.GetTotalMemory(false) / (1024 * 1024)} MiB");
            return 0;
        }
        finally
        {
            await web.App.StopAsync();
            await web.DisposeAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static async Task Measure(Func<Task> call, List<double> into, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await call();
            into.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
    }

    internal static void Print(string name, List<double> samples) =>
        Console.WriteLine($"  {name,-52} n={samples.Count,5}  p50 {P(samples, 50),8:F3} ms  p95 {P(samples, 95),8:F3} ms  p99 {P(samples, 99),8:F3} ms");

    internal static double P(List<double> samples, int percentile)
    {
        var sorted = samples.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    internal static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.WebFront;

namespace AuroraNexus.Bench;

/// <summary>
/// One upload of a generated file (default 300 MB) to a single-node app, streamed by the client: the process's working
/// set is sampled during the upload (until the 202), so the figure shows whether the server holds the file in memory.
/// With <c>--s3-endpoint URL --s3-access-key K --s3-secret-key S</c> the upload goes to that S3 server instead of the
/// local folder store (e.g. s3rver: <c>node tests/tools/s3rver.js DIR K S</c>).
/// </summary>
public static class UploadBench
{
    private const string Password = "bench-admin-password";

    public static async Task<int> RunAsync(string[] args)
    {
        var megabytes = int.Parse(Arg(args, "--mb") ?? "300", CultureInfo.InvariantCulture);
        var size = megabytes * 1024L * 1024;
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
            ["NEXUS_MAX_UPLOAD_BYTES"] = (size + 1024 * 1024).ToString(CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
            ["S3_ENDPOINT"] = Arg(args, "--s3-endpoint"),
            ["MINIO_ROOT_USER"] = Arg(args, "--s3-access-key"),
            ["MINIO_ROOT_PASSWORD"] = Arg(args, "--s3-secret-key"),
        }) ?? throw new InvalidOperationException("configuration refused");
        try
        {
            await web.App.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(10) };
            var login = await http.PostAsJsonAsync("/api/auth/login", new { email = "bench@nexus.local", password = Password });
            var token = (await login.Content.ReadFromJsonAsync<JsonNode>())!["access_token"]!.GetValue<string>();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

            GC.Collect();
            GC.WaitForPendingFinalizers();
            var process = Process.GetCurrentProcess();
            process.Refresh();
            var baseline = process.WorkingSet64;
            var peak = baseline;
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    process.Refresh();
                    peak = Math.Max(peak, process.WorkingSet64);
                    await Task.Delay(20);
                }
            });

            var cpu = process.TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            using var form = new MultipartFormDataContent { { new StringContent("bench"), "caller_app" } };
            // Not a PDF inside: the document fails at extraction (corrupt_document) instead of being indexed for hours.
            form.Add(new GeneratedContent(size), "files", "big.pdf");
            var response = await http.PostAsync("/api/ingest", form);
            var elapsed = watch.Elapsed;
            await sampling.CancelAsync();
            await sampler;
            process.Refresh();
            var cpuUsed = process.TotalProcessorTime - cpu;
            var body = await response.Content.ReadFromJsonAsync<JsonNode>();
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                Console.Error.WriteLine($"upload answered {(int)response.StatusCode}: {body}");
                return 1;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"upload of {megabytes} MB to {(Arg(args, "--s3-endpoint") is { } s3 ? "S3 at " + s3 : "the local folder store")}: {elapsed.TotalSeconds:F1} s wall, {cpuUsed.TotalSeconds:F1} s CPU (client and server in one process), "
                + $"working set {baseline / 1048576} MB before, peak {peak / 1048576} MB during the upload (+{(peak - baseline) / 1048576} MB)"));
            Console.WriteLine($"document: {body!["documents"]![0]!["status"]} {body["documents"]![0]!["error_code"]}");
            return 0;
        }
        finally
        {
            await web.App.StopAsync();
            await web.DisposeAsync();
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string? Arg(string[] args, string name) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    /// <summary>A body of the given length made on the fly, 64 KB at a time: the client holds none of it.</summary>
    private sealed class GeneratedContent(long length) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var buffer = new byte[64 * 1024];
            var random = new Random(42);
            for (long sent = 0; sent < length; sent += buffer.Length)
            {
                random.NextBytes(buffer);
                await stream.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - sent)));
            }
        }

        protected override bool TryComputeLength(out long result)
        {
            result = length;
            return true;
        }
    }
}

using System.Diagnostics;
using System.Text.RegularExpressions;

namespace AuroraNexus.Tests.Infrastructure;

/// <summary>
/// s3rver (npm, installed by <c>npm ci --prefix tests/tools</c>) on a free loopback port with its own temporary
/// directory: the S3 protocol without MinIO. It accepts only <see cref="AccessKey"/>; it does not check signatures.
/// </summary>
public sealed partial class S3rverProcess : IAsyncDisposable
{
    public const string AccessKey = "nexus-tests";
    public const string SecretKey = "nexus-tests-secret-key";

    private readonly Process _process;
    private readonly string _directory;

    private S3rverProcess(Process process, string directory, Uri endpoint)
    {
        _process = process;
        _directory = directory;
        Endpoint = endpoint;
    }

    public Uri Endpoint { get; }

    public static async Task<S3rverProcess> StartAsync()
    {
        var script = ToolsPath("s3rver.js");
        if (!File.Exists(ToolsPath("node_modules/s3rver/package.json")))
        {
            throw new InvalidOperationException(
                $"s3rver is not installed next to {script}: run `npm ci --prefix tests/tools` (.ci/run does) before the tests");
        }

        var directory = Path.Combine(Path.GetTempPath(), "nexus-s3rver-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { script, directory, AccessKey, SecretKey })
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (Listening().Match(line) is { Success: true } m)
                {
                    return new S3rverProcess(process, directory, new Uri($"http://127.0.0.1:{m.Groups[1].Value}"));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException($"s3rver did not start: {await stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>tests/tools of the source tree the test assembly was built from.</summary>
    private static string ToolsPath(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "tools");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return Path.Combine(candidate, relative);
            }
        }

        throw new InvalidOperationException($"tests/tools not found above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"listening on (\d+)")]
    private static partial Regex Listening();
}

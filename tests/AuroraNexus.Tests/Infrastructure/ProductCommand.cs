using System.Diagnostics;

namespace AuroraNexus.Tests.Infrastructure;

/// <summary>A product binary (Silo or WebFront) run to its exit, as an operator runs it, with stdout and stderr kept.</summary>
public static class ProductCommand
{
    // Variables of the machine's environment that would change what the binary does under test.
    private static readonly string[] Inherited =
    [
        "DATABASE_URL", "S3_ENDPOINT", "QDRANT_URL", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "PUBLIC_DOMAIN",
        "HOST_API_PORT", "HOST_GATEWAY_PORT", "ORLEANS_SILO_PORT", "ORLEANS_GATEWAY_PORT", "NEXUS_BIND_ADDRESS", "ASPNETCORE_URLS",
    ];

    public static async Task<(int Exit, string Output)> RunAsync(
        string assembly, IReadOnlyDictionary<string, string> env, IReadOnlyList<string> args, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(assembly);
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var name in Inherited)
        {
            start.Environment.Remove(name);
        }

        foreach (var (k, v) in env)
        {
            start.Environment[k] = v;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(1));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}

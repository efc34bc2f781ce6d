using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AuroraNexus.Tests.Infrastructure;

/// <summary>A real silo in its own OS process (the Silo binary), with its output kept for failure messages.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SiloProcess(Process process, int siloPort, int healthPort)
    {
        _process = process;
        SiloPort = siloPort;
        HealthPort = healthPort;
    }

    public int SiloPort { get; }

    public int HealthPort { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>When the process was started (UTC), for start-up and join timings.</summary>
    public DateTime StartedAt { get; private init; }

    /// <summary>SIGKILL: the silo dies without leaving the cluster, as on a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public static SiloProcess Start(IReadOnlyDictionary<string, string> environment, int siloPort, int gatewayPort, int healthPort)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(SiloAssembly());
        foreach (var (k, v) in environment)
        {
            start.Environment[k] = v;
        }

        start.Environment["ORLEANS_SILO_PORT"] = siloPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["ORLEANS_GATEWAY_PORT"] = gatewayPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["HOST_GATEWAY_PORT"] = healthPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["ORLEANS_ADVERTISED_IP"] = "127.0.0.1";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__AuroraNexus"] = "Information";
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var silo = new SiloProcess(process, siloPort, healthPort) { StartedAt = DateTime.UtcNow };
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>SIGTERM and wait: the silo leaves the cluster cleanly.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>The Silo binary built next to the tests (project reference), else the one in the Silo project's output.</summary>
    internal static string SiloAssembly() => ProductAssembly("AuroraNexus.Silo", "Silo");

    /// <summary>The WebFront binary (the single-node app), found as <see cref="SiloAssembly"/> is.</summary>
    internal static string WebFrontAssembly() => ProductAssembly("AuroraNexus.WebFront", "WebFront");

    private static string ProductAssembly(string name, string project)
    {
        var local = Path.Combine(AppContext.BaseDirectory, name + ".dll");
        if (File.Exists(Path.Combine(AppContext.BaseDirectory, name + ".runtimeconfig.json")))
        {
            return local;
        }

        var baseDir = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = baseDir.Parent!.Name;
        var dir = baseDir;
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AuroraNexus.sln")))
        {
            dir = dir.Parent;
        }

        var built = Path.Combine(dir?.FullName ?? ".", "src", project, "bin", configuration, baseDir.Name, name + ".dll");
        return File.Exists(built) ? built : throw new FileNotFoundException($"{project} binary not found at {local} or {built}; build the solution first");
    }
}

using AuroraNexus.Grains.Hosting;
using AuroraNexus.Silo;
using AuroraNexus.WebFront;

// Single node (default): this process co-hosts a silo and, without DATABASE_URL, a private PostgreSQL.
// NEXUS_MODE=client: a pure Orleans client of the cluster the silos form on DATABASE_URL.
// `-- migrate` / `-- rotate-credentials-key`: the ops commands, on this app's data directory (stop the app first).
var command = args.FirstOrDefault(a => !a.StartsWith('-'));
if (command is not null)
{
    var config = WebApplication.CreateBuilder(args).Configuration;
    if (OpsCommands.IsDiagnosticCommand(command))
    {
        return await OpsCommands.RunDiagnosticAsync(command, args, config, "/api/health/ready", 18500, "HOST_API_PORT");
    }

    using var loggerFactory = LoggerFactory.Create(l => l.AddSimpleConsole(o => o.SingleLine = true));
    try
    {
        var settings = NexusSettings.Load(config, singleNode: OpsCommands.OnSingleNodeData(config));
        return await OpsCommands.RunAsync(command, settings, loggerFactory.CreateLogger("AuroraNexus.Ops"));
    }
    catch (NexusConfigurationException ex)
    {
        Console.Error.WriteLine($"configuration error: {ex.Message}");
        return 2;
    }
}

await using var web = await NexusWebApp.CreateAsync(args);
if (web is null)
{
    return 2;
}

try
{
    await web.App.RunAsync();
}
catch (Exception ex) when (ListenPorts.FromStartFailure(ex, web.Ports) is { } problem)
{
    Console.Error.WriteLine($"configuration error: {problem.Message}");
    return 2;
}

return 0;

using AuroraNexus.Grains.Hosting;
using AuroraNexus.Silo;

// The silo binary: `dotnet run --project src/Silo` joins the cluster; `... -- migrate` applies the schema and exits;
// `... -- rotate-credentials-key` re-encrypts the tenants' credentials with the first LLM_CREDENTIALS_ENC_KEY.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.AddNexusLogDefaults(builder.Configuration);
var command = args.FirstOrDefault(a => !a.StartsWith('-'));
if (OpsCommands.IsDiagnosticCommand(command))
{
    return await OpsCommands.RunDiagnosticAsync(command!, args, builder.Configuration, "/health/ready", 17500, "HOST_GATEWAY_PORT");
}

var isOps = command is not null && command != "run";
NexusSettings settings;
try
{
    // A silo is a cluster member: every secret must be set, so that all silos and WebFronts share them.
    settings = NexusSettings.Load(builder.Configuration, singleNode: isOps && OpsCommands.OnSingleNodeData(builder.Configuration));
}
catch (NexusConfigurationException ex)
{
    Console.Error.WriteLine($"configuration error: {ex.Message}");
    return 2;
}

using var loggerFactory = LoggerFactory.Create(l => l.AddSimpleConsole(o => o.SingleLine = true));
var startupLogger = loggerFactory.CreateLogger("AuroraNexus.Silo");
settings.LogGeneratedSecrets(startupLogger);
if (isOps)
{
    return await OpsCommands.RunAsync(command!, settings, startupLogger);
}

var ports = ListenPorts.OfSilo(settings);
NexusDatabase database;
try
{
    ListenPorts.EnsureFree(ports);
    database = await NexusDatabase.OpenAsync(settings, allowEmbedded: false, migrate: true, startupLogger, CancellationToken.None);
    await database.SeedAsync(settings, startupLogger, CancellationToken.None);
}
catch (NexusConfigurationException ex)
{
    Console.Error.WriteLine($"configuration error: {ex.Message}");
    return 2;
}

await using (database)
{
    builder.Services.AddNexusData(settings, database.DataSource);
    builder.Services.AddSingleton<NexusHealth>();
    builder.Services.AddNexusTelemetry(builder.Configuration, "aurora-nexus-silo");
    builder.UseOrleans(silo => silo.AddNexusSilo(settings, database, singleNode: false));
    builder.WebHost.UseUrls($"http://{OpsCommands.BindAddress()}:{settings.GatewayPort}");

    var app = builder.Build();
    app.MapNexusGatewaySurface();
    app.MapNexusMetrics();
    try
    {
        await app.RunAsync();
    }
    catch (Exception ex) when (ListenPorts.FromStartFailure(ex, ports) is { } problem)
    {
        Console.Error.WriteLine($"configuration error: {problem.Message}");
        return 2;
    }
}

return 0;

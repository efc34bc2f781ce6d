using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Operations;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using Npgsql;

namespace AuroraNexus.Silo;

/// <summary>
/// Operations run from the silo or WebFront binary: <c>migrate</c> (what older releases called ops/init_db.sh),
/// <c>rotate-credentials-key</c>, <c>doctor</c> and <c>healthcheck</c>. Without DATABASE_URL they work on the
/// single-node data directory (stop the app first).
/// </summary>
public static class OpsCommands
{
    public const string Usage = "Commands: run (default), migrate, rotate-credentials-key, doctor, healthcheck";

    public static bool IsCommand(string? arg) => arg is "migrate" or "rotate-credentials-key";

    /// <summary>Commands that must run even when the environment is broken (they diagnose it), before the settings load.</summary>
    public static bool IsDiagnosticCommand(string? arg) => arg is "doctor" or "healthcheck";

    public static Task<int> RunDiagnosticAsync(
        string command, IReadOnlyList<string> args, IConfiguration config, string healthPath, int defaultPort, string portVariable) =>
        command == "doctor"
            ? DoctorAsync(config, Console.Out, CancellationToken.None, testCredentials: args.Contains(DoctorOptions.CommandLineFlag))
            : HealthcheckAsync(config, healthPath, defaultPort, portVariable);

    /// <summary>
    /// Every check of the troubleshooting guide, one line each with the fix. Exit code 0 = all ok, 1 = warnings,
    /// 2 = errors. It opens the database without migrating it and never prints a secret. With
    /// <paramref name="testCredentials"/> (<c>doctor --test-credentials</c>) it also tests every stored credential against
    /// its provider and records each outcome on the credential, as the admin API's test does.
    /// </summary>
    public static async Task<int> DoctorAsync(IConfiguration config, TextWriter output, CancellationToken ct, bool testCredentials = false)
    {
        var report = await RunDoctorAsync(config, ct, testCredentials);
        foreach (var r in report.Results)
        {
            output.WriteLine($"[{r.Status,-7}] {r.Check}: {r.Verdict}");
            if (r.Fix is not null && r.Level != FindingLevel.Ok)
            {
                output.WriteLine($"          fix: {r.Fix}");
            }
        }

        var counts = report.Results.GroupBy(r => r.Status).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"doctor: {report.Status} ({counts.GetValueOrDefault("ok")} ok, {counts.GetValueOrDefault("warning")} warning(s), " +
            $"{counts.GetValueOrDefault("error")} error(s))");
        return report.ExitCode;
    }

    /// <summary>The variables that choose and reach the object and vector stores.</summary>
    private static readonly string[] StoreVariables =
        ["S3_ENDPOINT", "QDRANT_URL", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "S3_BUCKET_UPLOADS", "S3_BUCKET_ARTIFACTS"];

    /// <param name="workingDirectory">Where a relative NEXUS_DATA_DIR (or the default .nexus) is looked for; the process's by default.</param>
    public static async Task<DoctorReport> RunDoctorAsync(
        IConfiguration config, CancellationToken ct, bool testCredentials = false, string? workingDirectory = null)
    {
        var singleNode = OnSingleNodeData(config);
        var dataDir = singleNode ? SingleNodeDataDirectory.Find(config, workingDirectory ?? Environment.CurrentDirectory) : null;
        if (dataDir is not null)
        {
            // Loading the settings creates the directory and its secrets: read the one found, never make a new one.
            config = new ConfigurationBuilder().AddConfiguration(config)
                .AddInMemoryCollection(new Dictionary<string, string?> { ["NEXUS_DATA_DIR"] = dataDir.Path }).Build();
        }

        NexusSettings? settings = null;
        string? settingsProblem = null;
        var storesSetAside = false;
        if (dataDir is { Exists: false })
        {
            settingsProblem = $"no single-node data directory at {dataDir.Path}";
        }
        else
        {
            try
            {
                settings = NexusSettings.Load(config, singleNode);
            }
            catch (NexusConfigurationException ex)
            {
                settingsProblem = ex.Message;
                // A refused store variable (its own line says which) does not concern PostgreSQL or the keys: loaded
                // without the store variables, the rest of the configuration still lets those be checked.
                var withoutStores = new ConfigurationBuilder().AddConfiguration(config)
                    .AddInMemoryCollection(StoreVariables.ToDictionary(v => v, _ => (string?)null)).Build();
                try
                {
                    settings = NexusSettings.Load(withoutStores, singleNode);
                    storesSetAside = true;
                }
                catch (NexusConfigurationException)
                {
                    // Something else is wrong too: the checks that need the settings say so.
                }
            }
        }

        NexusDatabase? embedded = null;
        NpgsqlDataSource? dataSource = null;
        string? databaseProblem = null;
        using var loggerFactory = LoggerFactory.Create(_ => { });
        try
        {
            if (config["DATABASE_URL"] is { } url && !string.IsNullOrWhiteSpace(url))
            {
                try
                {
                    dataSource = NpgsqlDataSource.Create(DatabaseUrl.ToNpgsqlConnectionString(url.Trim()));
                }
                catch (FormatException ex)
                {
                    databaseProblem = $"DATABASE_URL is malformed: {ex.Message}";
                }
            }
            else if (settings is not null)
            {
                try
                {
                    embedded = await NexusDatabase.OpenAsync(settings, allowEmbedded: true, migrate: false, loggerFactory.CreateLogger("doctor"), ct);
                    dataSource = embedded.DataSource;
                }
                catch (NexusConfigurationException ex)
                {
                    databaseProblem = $"single-node private PostgreSQL: {ex.Message}";
                }
            }
            else if (dataDir is { Exists: false })
            {
                databaseProblem = $"DATABASE_URL is unset and there is no single-node data directory at {dataDir.Path}, so no database to open";
            }
            else
            {
                databaseProblem = $"DATABASE_URL is unset and the single-node settings do not load ({settingsProblem})";
            }

            var services = new ServiceCollection();
            services.AddNexusDoctor();
            if (settings is not null && dataSource is not null)
            {
                // The same registrations as the app: a store adapter's probe registered there is found here too.
                services.AddNexusData(settings, dataSource);
            }

            await using var provider = services.BuildServiceProvider();
            var options = new DoctorOptions(testCredentials ? provider.GetService<CredentialTester>() : null);
            var context = new DoctorContext(config, singleNode, settings, dataSource, databaseProblem, provider.GetServices<IComponentProbe>(), options,
                storesSetAside);
            var report = await provider.GetRequiredService<NexusDoctor>().RunAsync(context, ct);
            return dataDir is null ? report : new DoctorReport([dataDir.Verdict(), .. report.Results]);
        }
        finally
        {
            if (embedded is not null)
            {
                await embedded.DisposeAsync();
            }
            else if (dataSource is not null)
            {
                await dataSource.DisposeAsync();
            }
        }
    }

    /// <summary>For container healthchecks (the runtime image has no HTTP client): exit 0 when the local readiness endpoint answers 200.</summary>
    private static async Task<int> HealthcheckAsync(IConfiguration config, string path, int defaultPort, string portVariable)
    {
        var port = int.TryParse(config[portVariable], out var p) ? p : defaultPort;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(4) };
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{port}{path}");
            Console.WriteLine($"{path}: {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"{path} on port {port}: {ex.Message}");
            return 1;
        }
    }

    /// <summary>Ops commands on the single-node data directory generate missing secrets like the app; on a cluster database they must be set.</summary>
    public static bool OnSingleNodeData(Microsoft.Extensions.Configuration.IConfiguration config) =>
        string.IsNullOrWhiteSpace(config["DATABASE_URL"]);

    public static async Task<int> RunAsync(string command, NexusSettings settings, ILogger logger)
    {
        if (!IsCommand(command))
        {
            Console.Error.WriteLine($"unknown command '{command}'. {Usage}");
            return 64;
        }

        try
        {
            var embedded = settings.DatabaseUrl is null;
            await using var db = await NexusDatabase.OpenAsync(settings, allowEmbedded: embedded, migrate: true, logger, CancellationToken.None);
            switch (command)
            {
                case "migrate":
                    var status = await MigrationRunner.CheckAsync(db.DataSource, CancellationToken.None);
                    Console.WriteLine($"schema is current: version {status.CurrentVersion}");
                    return 0;

                default:
                    return await RotateAsync(settings, db, CancellationToken.None);
            }
        }
        catch (NexusConfigurationException ex)
        {
            Console.Error.WriteLine($"configuration error: {ex.Message}");
            return 2;
        }
    }

    /// <summary>
    /// Re-encrypts every credential with the first key of LLM_CREDENTIALS_ENC_KEY. With the variable set (cluster): put
    /// the new key first and keep the old one after it on every process, restart them, run this, then drop the old key.
    /// Single node with the key kept in the data directory: this generates the new key itself and replaces the file, the
    /// old key staying in it until every credential has moved.
    /// </summary>
    private static async Task<int> RotateAsync(NexusSettings settings, NexusDatabase db, CancellationToken ct)
    {
        var catalog = new LlmCatalogRepository(db.DataSource);
        var keys = settings.CredentialKeys;
        FernetKey? fresh = null;
        if (settings.CredentialKeyFile is { } file)
        {
            // Crash-safe order: the file holds new and old keys while tokens move, so every token stays readable.
            fresh = FernetKey.Generate();
            var old = File.ReadAllText(file).Trim();
            NexusSettings.WriteSecretFile(file, fresh.Encode() + "," + old);
            keys = FernetKeyRing.Parse(File.ReadAllText(file));
            Console.WriteLine($"new key {fresh.Fingerprint} generated in {file} (the previous keys stay there until every credential has moved)");
        }

        var report = await new CredentialVault(keys, catalog).RotateAsync(null, ct);
        Console.WriteLine(
            $"credentials: {report.Total} total, {report.Rotated} re-encrypted with {report.PrimaryFingerprint}, " +
            $"{report.AlreadyCurrent} already current, {report.Unreadable} unreadable" +
            (report.Changed > 0 ? $", {report.Changed} changed by an admin meanwhile (run the command again)" : ""));
        if (report.Unreadable > 0)
        {
            Console.Error.WriteLine(
                $"{report.Unreadable} credential(s) were encrypted with key(s) {string.Join(", ", report.UnreadableFingerprints)}, which " +
                $"LLM_CREDENTIALS_ENC_KEY does not hold (it holds {string.Join(", ", keys.Fingerprints)}): add that key after the new one and " +
                "run again, or re-enter those credentials in Admin → Providers → Credentials (PUT /api/admin/providers/credentials/{id}).");
            return 1;
        }

        if (report.Changed > 0)
        {
            return 1;
        }

        if (settings.CredentialKeyFile is { } done && fresh is not null)
        {
            NexusSettings.WriteSecretFile(done, fresh.Encode());
            Console.WriteLine($"every credential uses {keys.PrimaryFingerprint}; the old keys were removed from {done}. Start the app as usual.");
        }
        else if (keys.Fingerprints.Count > 1)
        {
            Console.WriteLine("every credential uses the first key: the other keys can now be removed from LLM_CREDENTIALS_ENC_KEY.");
        }

        return 0;
    }

    /// <summary>Readiness: 200 when every required component is up, 503 otherwise (schema behind, not joined, draining, a store down).</summary>
    public static async Task<IResult> ReadinessAsync(NexusHealth health, CancellationToken ct)
    {
        var report = await health.CheckAsync(ct);
        return Results.Json(report.ForPublic(), statusCode: report.Ready ? 200 : 503);
    }

    /// <summary>NEXUS_BIND_ADDRESS (0.0.0.0 in containers); loopback by default so that nothing is exposed by accident.</summary>
    public static string BindAddress() =>
        Environment.GetEnvironmentVariable("NEXUS_BIND_ADDRESS") is { Length: > 0 } a ? a.Trim() : "127.0.0.1";

    /// <summary>
    /// What a silo serves on HOST_GATEWAY_PORT: <c>/health</c>, <c>/health/live</c> and the internal chat endpoint.
    /// <paramref name="port"/> restricts them to that port when the process also serves the public API.
    /// </summary>
    public static void MapNexusGatewaySurface(this WebApplication app, int? port = null)
    {
        var group = app.MapGroup("");
        if (port is { } p)
        {
            group.RequireHost($"*:{p}");
        }

        group.MapGet("/health/live", () => Results.Ok(new { status = "ok" })).AllowAnonymous();
        group.MapGet("/health", ReadinessAsync).AllowAnonymous();
        group.MapGet("/health/ready", ReadinessAsync).AllowAnonymous();
        group.MapInternalGateway();
    }
}

/// <summary>
/// The single-node data directory an ops command reads, and how it was found: NEXUS_DATA_DIR; else <c>.nexus</c> in the
/// working directory; else, when run from another project of this repository (<c>dotnet run --project src/Silo</c>
/// works in src/Silo), the one the single-node app keeps (<c>dotnet run --project src/WebFront</c>: src/WebFront/.nexus).
/// </summary>
public sealed record SingleNodeDataDirectory(string Path, string How, bool Exists)
{
    public const string AppProject = "src/WebFront";

    public static SingleNodeDataDirectory Find(IConfiguration config, string workingDirectory)
    {
        if (config["NEXUS_DATA_DIR"] is { } set && !string.IsNullOrWhiteSpace(set))
        {
            var path = System.IO.Path.GetFullPath(set.Trim(), workingDirectory);
            return new(path, "NEXUS_DATA_DIR", Directory.Exists(path));
        }

        var local = System.IO.Path.Combine(System.IO.Path.GetFullPath(workingDirectory), ".nexus");
        if (Directory.Exists(local))
        {
            return new(local, ".nexus in the working directory", true);
        }

        for (var dir = new DirectoryInfo(workingDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "AuroraNexus.sln")))
            {
                var app = System.IO.Path.Combine(dir.FullName, "src", "WebFront", ".nexus");
                return Directory.Exists(app) ? new(app, $"the single-node app's ({AppProject}/.nexus)", true) : new(local, "the default, .nexus in the working directory", false);
            }
        }

        return new(local, "the default, .nexus in the working directory", false);
    }

    /// <summary>The doctor's first line: which data it reads, and how to make it read another.</summary>
    public DoctorResult Verdict() => Exists
        ? new("data_dir", FindingLevel.Ok,
            $"single-node data directory {Path} ({How}); to read another, set NEXUS_DATA_DIR (stop the app first, or ask it: GET /api/admin/doctor)")
        : new("data_dir", FindingLevel.Warning,
            $"no single-node data directory at {Path} ({How}): the app keeps its data elsewhere or has not run yet, so there is nothing to read here",
            $"set NEXUS_DATA_DIR to the app's data directory ({AppProject}/.nexus for `dotnet run --project {AppProject}`) with the app stopped, " +
            "or ask the running app: GET /api/admin/doctor as an admin of the default tenant; or set DATABASE_URL for an external database");
}

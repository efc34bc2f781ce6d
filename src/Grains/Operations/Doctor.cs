using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace AuroraNexus.Grains.Operations;

/// <summary>One line of the doctor's report: a check, its verdict and, when it is not ok, the fix.</summary>
public sealed record DoctorResult(string Check, FindingLevel Level, string Verdict, string? Fix = null)
{
    public string Status => Level switch
    {
        FindingLevel.Ok => "ok",
        FindingLevel.Warning => "warning",
        _ => "error",
    };
}

/// <summary>Every verdict; the exit code is 0 when all are ok, 1 with a warning, 2 with an error.</summary>
public sealed record DoctorReport(IReadOnlyList<DoctorResult> Results)
{
    public FindingLevel Worst => Results.Count == 0 ? FindingLevel.Ok : Results.Max(r => r.Level);

    public int ExitCode => (int)Worst;

    public string Status => Worst switch
    {
        FindingLevel.Ok => "ok",
        FindingLevel.Warning => "warning",
        _ => "error",
    };
}

/// <summary>What a component probe answers: reachable and complete, or what is wrong and how to fix it.</summary>
public sealed record ProbeResult(bool Ok, string Message, string? Fix = null);

/// <summary>
/// A reachability probe a store adapter provides (register it as <c>IComponentProbe</c> next to the adapter). The
/// doctor and health find it by <see cref="Name"/>: <see cref="ComponentProbeNames.Qdrant"/> for the vector store
/// (reachable, collection present), <see cref="ComponentProbeNames.ObjectStore"/> for S3 (reachable, buckets present).
/// </summary>
public interface IComponentProbe
{
    string Name { get; }

    Task<ProbeResult> ProbeAsync(CancellationToken ct);
}

public static class ComponentProbeNames
{
    public const string Qdrant = "qdrant";
    public const string ObjectStore = "object_store";
}

/// <summary>One entry of the troubleshooting guide turned into verdicts (one or more lines).</summary>
public interface IDoctorCheck
{
    Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct);
}

/// <summary>What the checks look at: the raw environment (so that a broken one is still diagnosed), and when it could be opened, the database.</summary>
public sealed class DoctorContext(
    IConfiguration configuration, bool singleNode, NexusSettings? settings, NpgsqlDataSource? database, string? databaseProblem,
    IEnumerable<IComponentProbe> probes, DoctorOptions? options = null, bool storesSetAside = false)
{
    private Task<DatabaseState>? _state;

    public IConfiguration Configuration { get; } = configuration;

    /// <summary>Single node: unset secrets are generated in the data directory, so unset is fine.</summary>
    public bool SingleNode { get; } = singleNode;

    /// <summary>Null when the environment is too broken to load (the secret checks say why).</summary>
    public NexusSettings? Settings { get; } = settings;

    /// <summary>
    /// The store variables were refused, and <see cref="Settings"/> were loaded without them so that the database and
    /// the keys could still be checked: the stores themselves were not probed.
    /// </summary>
    public bool StoresSetAside { get; } = storesSetAside;

    public IReadOnlyList<IComponentProbe> Probes { get; } = [.. probes];

    public DoctorOptions Options { get; } = options ?? new DoctorOptions();

    /// <summary>Reachability, authentication and schema, asked once for every check that needs the database.</summary>
    public Task<DatabaseState> DatabaseAsync(CancellationToken ct) => _state ??= ProbeDatabaseAsync(ct);

    private async Task<DatabaseState> ProbeDatabaseAsync(CancellationToken ct)
    {
        if (database is null)
        {
            // On a single node the private server belongs to the running app: the doctor cannot open it beside it.
            return new DatabaseState(null, new DoctorResult("postgres", FindingLevel.Error,
                databaseProblem ?? "no database configured", SingleNode
                    ? "if the app runs on this NEXUS_DATA_DIR, ask it instead (GET /api/admin/doctor as an admin of the default " +
                      "tenant) or stop it and run doctor again; otherwise do what the message says, or set DATABASE_URL for an external database"
                    : "set DATABASE_URL (e.g. postgres://nexus:secret@postgres:5432/nexus)"), null);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await using var connection = await database.OpenConnectionAsync(timeout.Token);
            var user = new NpgsqlConnectionStringBuilder(connection.ConnectionString).Username;
            var schema = await MigrationRunner.CheckAsync(database, timeout.Token);
            return new DatabaseState(database,
                new DoctorResult("postgres", FindingLevel.Ok, $"PostgreSQL reachable at {connection.Host}:{connection.Port}, authenticated as {user}"),
                schema);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InvalidPassword)
        {
            return Down("PostgreSQL rejected the password (password authentication failed): the password in DATABASE_URL differs " +
                "from the role's real password in the database volume",
                "align them: ALTER ROLE <user> PASSWORD '<the one in .env>' (psql inside the postgres container), or put the role's " +
                "password back in DATABASE_URL/POSTGRES_PASSWORD; POSTGRES_PASSWORD only applies when the volume is first created");
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            return Down($"the database does not exist ({ex.MessageText})", "create it or fix the database name in DATABASE_URL");
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InvalidAuthorizationSpecification)
        {
            return Down($"PostgreSQL refused the connection ({ex.MessageText})", "check the user name in DATABASE_URL and pg_hba.conf");
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return Down($"PostgreSQL is unreachable ({(ex.InnerException ?? ex).Message})",
                "check that the server runs (docker compose ps postgres) and the host and port of DATABASE_URL");
        }
    }

    private static DatabaseState Down(string verdict, string fix) =>
        new(null, new DoctorResult("postgres", FindingLevel.Error, verdict, fix), null);
}

/// <summary>
/// What a run may do beyond reading: with a <see cref="CredentialTester"/> (<c>doctor --test-credentials</c>,
/// <c>?test_credentials=true</c>) every stored credential is tested against its provider, at most
/// <see cref="CredentialTestConcurrency"/> at a time, each call bounded by <see cref="CredentialTestTimeout"/>.
/// </summary>
public sealed record DoctorOptions(CredentialTester? CredentialTester = null)
{
    public const string CommandLineFlag = "--test-credentials";

    public int CredentialTestConcurrency { get; init; } = 4;

    public TimeSpan CredentialTestTimeout { get; init; } = TimeSpan.FromSeconds(20);
}

/// <param name="Database">Null when PostgreSQL cannot be used; <paramref name="Verdict"/> says why.</param>
public sealed record DatabaseState(NpgsqlDataSource? Database, DoctorResult Verdict, SchemaStatus? Schema)
{
    /// <summary>The database can be read with this build's queries.</summary>
    public bool Usable => Database is not null && Schema is { IsUpToDate: true };
}

/// <summary>Runs every registered check, in registration order; a check that throws becomes an error line, never a crash.</summary>
public sealed class NexusDoctor(IEnumerable<IDoctorCheck> checks)
{
    public async Task<DoctorReport> RunAsync(DoctorContext context, CancellationToken ct)
    {
        var results = new List<DoctorResult>();
        foreach (var check in checks)
        {
            try
            {
                results.AddRange(await check.RunAsync(context, ct));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                results.Add(new DoctorResult(check.GetType().Name, FindingLevel.Error, $"the check failed: {ex.GetType().Name}: {ex.Message}"));
            }
        }

        return new DoctorReport(results);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AuroraNexus.Grains.Storage;

/// <summary>
/// A private PostgreSQL server started from the machine's server binaries, for single-node mode and
/// tests. The cluster lives in <c>{dataDirectory}/cluster</c> and listens on 127.0.0.1 only. The
/// instance that started it stops it on <see cref="DisposeAsync"/>, at process exit, and (through a
/// watchdog process) when the process dies without either.
/// </summary>
public sealed partial class EmbeddedPostgres : IAsyncDisposable
{
    private const string DatabaseName = "nexus";
    private const string UserName = "nexus";
    private const string ServiceAccountName = "postgres";
    private const string ClusterFolder = "cluster";
    private const string PasswordFile = "password";
    private const string PortFile = "port";
    private const string LockFile = "start.lock";
    private const string OwnerFile = "owner";
    private const string WatchdogName = "nexus-pg-watchdog";
    private const string ConfigFile = "nexus.conf";
    private const string LogFile = "server.log";
    private const string DebianServerRoot = "/usr/lib/postgresql";

    // sun_path holds 108 bytes; PostgreSQL appends "/.s.PGSQL.nnnnn" to the directory.
    private const int MaxSocketDirectoryLength = 107 - 16;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string _binDirectory;
    private readonly string _root;
    private readonly string _clusterDirectory;
    private readonly ServiceAccount? _account;
    private readonly ILogger _logger;
    private readonly int _ownerProcessId;
    private Process? _watchdog;
    private int _stopped;

    private EmbeddedPostgres(string binDirectory, string root, ServiceAccount? account, int port, string password,
        int ownerProcessId, ILogger logger)
    {
        _binDirectory = binDirectory;
        _root = root;
        _clusterDirectory = Path.Combine(root, ClusterFolder);
        _account = account;
        _logger = logger;
        Port = port;
        _ownerProcessId = ownerProcessId;
        ConnectionString = new NpgsqlConnectionStringBuilder
        {
            Host = IPAddress.Loopback.ToString(),
            Port = port,
            Database = DatabaseName,
            Username = UserName,
            Password = password,
        }.ConnectionString;

        if (IsOwner)
        {
            AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        }
    }

    /// <summary>Connection string of the <c>nexus</c> database as the <c>nexus</c> superuser.</summary>
    public string ConnectionString { get; }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>
    /// False when another live process started the server and still uses it (e.g. a <c>migrate</c>
    /// command next to the running app): this instance then leaves it running on dispose.
    /// </summary>
    public bool IsOwner => _ownerProcessId != 0;

    /// <summary>
    /// The directory holding <c>pg_ctl</c>, <c>initdb</c> and <c>postgres</c>: <c>PG_BIN</c> if set (null
    /// when it does not hold them), else a <c>pg_ctl</c> on <c>PATH</c>, else the highest
    /// <c>/usr/lib/postgresql/*/bin</c>.
    /// </summary>
    public static string? FindServerBinaries()
    {
        var configured = Environment.GetEnvironmentVariable("PG_BIN");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return HasServerBinaries(configured) ? Path.GetFullPath(configured) : null;
        }

        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "")
                     .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var pgCtl = Path.Combine(directory, "pg_ctl");
            if (!File.Exists(pgCtl))
            {
                continue;
            }

            var resolved = File.ResolveLinkTarget(pgCtl, returnFinalTarget: true)?.FullName ?? pgCtl;
            var resolvedDirectory = Path.GetDirectoryName(Path.GetFullPath(resolved));
            if (resolvedDirectory is not null && HasServerBinaries(resolvedDirectory))
            {
                return resolvedDirectory;
            }
        }

        return DebianServerDirectories().FirstOrDefault();
    }

    /// <summary>
    /// Starts (initialising once) the private server whose files live in <paramref name="dataDirectory"/>,
    /// or reuses the one already running from it, and ensures the <c>nexus</c> database exists.
    /// </summary>
    public static Task<EmbeddedPostgres> StartAsync(string dataDirectory, ILogger logger, CancellationToken ct) =>
        StartAsync(dataDirectory, logger, Environment.ProcessId, ct);

    /// <param name="ownerProcessId">The process whose death stops the server (tests pass a child process).</param>
    internal static async Task<EmbeddedPostgres> StartAsync(string dataDirectory, ILogger logger, int ownerProcessId,
        CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        ArgumentNullException.ThrowIfNull(logger);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException(
                "The private PostgreSQL server is started on Linux and macOS only: set DATABASE_URL to use an existing server.");
        }

        var root = Path.GetFullPath(dataDirectory);
        var cluster = Path.Combine(root, ClusterFolder);
        var binDirectory = ResolveBinaries(cluster);
        var created = CreateDirectoryTracked(root);
        var account = Environment.IsPrivilegedProcess ? await ServiceAccount.FindAsync(ct) : null;

        if (account is not null)
        {
            await MakeReachableAsync(root, created, account, ct);
        }

        await using var startLock = await AcquireStartLockAsync(root, ct);
        var password = ReadOrCreatePassword(root);

        if (!File.Exists(Path.Combine(cluster, "PG_VERSION")))
        {
            await InitializeClusterAsync(binDirectory, root, cluster, password, account, logger, ct);
        }

        await CheckVersionAsync(binDirectory, cluster, ct);

        var running = await FindRunningServerAsync(binDirectory, root, password, account, logger, ct);
        var port = running?.Port ?? await StartServerAsync(binDirectory, root, cluster, account, logger, ct);
        var owner = running is not { Shared: true };

        var server = new EmbeddedPostgres(binDirectory, root, account, port, password, owner ? ownerProcessId : 0, logger);
        try
        {
            await server.WaitUntilReadyAsync(ct);
            await server.EnsureDatabaseAsync(ct);
            if (owner)
            {
                server.StartWatchdog();
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        if (IsOwner)
        {
            await StopAsync(CancellationToken.None);
        }
    }

    private async Task StopAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        StopWatchdog();
        Log.Stopping(_logger, Port);
        NpgsqlConnection.ClearAllPools();
        var result = await RunAsync(_account, Tool(_binDirectory, "pg_ctl"), StopArguments(_clusterDirectory), ct);
        if (result.ExitCode != 0 && File.Exists(Path.Combine(_clusterDirectory, "postmaster.pid")))
        {
            Log.StopFailed(_logger, result.ExitCode, result.Output);
        }

        var owner = Path.Combine(_root, OwnerFile);
        if (File.Exists(owner))
        {
            File.Delete(owner);
        }
    }

    // A host that cancels Ctrl+C shuts down gracefully and ends with ProcessExit, which stops the
    // server after the last query. Console.CancelKeyPress is deliberately not used: handlers run in
    // an unspecified order relative to the host's, so a handler could stop the server in the middle
    // of a graceful shutdown. Deaths that skip ProcessExit (uncancelled Ctrl+C, SIGKILL, crash) are
    // covered by the watchdog.
    private void OnProcessExit(object? sender, EventArgs e) => StopAsync(CancellationToken.None).GetAwaiter().GetResult();

    // A small shell that ignores terminal signals, polls for this process and stops the server once
    // it is gone, however it died. It runs as this user (which can always see its own /proc entry)
    // and switches to the server account only for pg_ctl.
    private void StartWatchdog()
    {
        const string script = """
            trap '' INT HUP TERM QUIT
            owner=$1; shift
            exec </dev/null >/dev/null 2>&1
            while stat=$(cat "/proc/$owner/stat" 2>/dev/null); do
              case "$stat" in *") Z "*|*") X "*) break ;; esac
              sleep 1
            done
            exec "$@"
            """;
        var start = new ProcessStartInfo("sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (string[])["-c", script, WatchdogName, _ownerProcessId.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var argument in CommandLine(_account, Tool(_binDirectory, "pg_ctl"), StopArguments(_clusterDirectory)))
        {
            start.ArgumentList.Add(argument);
        }

        _watchdog = Process.Start(start);
        _watchdog?.StandardInput.Close();
        File.WriteAllText(Path.Combine(_root, OwnerFile), string.Create(CultureInfo.InvariantCulture,
            $"{_ownerProcessId}\n{_watchdog?.Id ?? 0}\n"));
    }

    private void StopWatchdog()
    {
        try
        {
            if (_watchdog is { HasExited: false })
            {
                _watchdog.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }

        _watchdog?.Dispose();
        _watchdog = null;
    }

    private static string[] StopArguments(string cluster) => ["stop", "-D", cluster, "-m", "fast", "-w", "-t", "30", "-s"];

    private async Task WaitUntilReadyAsync(CancellationToken ct)
    {
        var admin = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = "postgres", Pooling = false, Timeout = 5 };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(admin.ConnectionString);
                await connection.OpenAsync(ct);
                return;
            }
            catch (NpgsqlException e) when (deadline.Elapsed < StartTimeout && e is not PostgresException { SqlState: "28P01" })
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
            }
            catch (PostgresException e) when (e.SqlState == "28P01")
            {
                throw new InvalidOperationException(
                    $"The PostgreSQL server in {_clusterDirectory} rejected the password kept in its data directory: " +
                    "the password file was replaced or the cluster comes from elsewhere. Restore the original password file, " +
                    "or move the data directory away to start from an empty cluster, or set DATABASE_URL.", e);
            }
        }
    }

    private async Task EnsureDatabaseAsync(CancellationToken ct)
    {
        var admin = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(admin.ConnectionString);
        await connection.OpenAsync(ct);

        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", DatabaseName);
        if (await exists.ExecuteScalarAsync(ct) is not null)
        {
            return;
        }

        try
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE {DatabaseName}", connection);
            await create.ExecuteNonQueryAsync(ct);
            Log.DatabaseCreated(_logger, DatabaseName);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
        }
    }

    private static string ResolveBinaries(string cluster)
    {
        var configured = Environment.GetEnvironmentVariable("PG_BIN");
        if (string.IsNullOrWhiteSpace(configured))
        {
            // An existing cluster can only be run by its own major version: prefer it over the highest one.
            var clusterVersion = ReadClusterVersion(cluster);
            var matching = DebianServerDirectories().FirstOrDefault(d =>
                Path.GetFileName(Path.GetDirectoryName(d)) == clusterVersion);
            if (matching is not null)
            {
                return matching;
            }
        }

        var found = FindServerBinaries();
        if (found is not null)
        {
            return found;
        }

        if (!string.IsNullOrWhiteSpace(configured))
        {
            throw new InvalidOperationException(
                $"PG_BIN is set to '{configured}', which does not contain pg_ctl, initdb and postgres: " +
                "point PG_BIN at a PostgreSQL bin directory (e.g. the one holding pg_ctl), unset it to search PATH, or set DATABASE_URL.");
        }

        throw new InvalidOperationException(
            "PostgreSQL server binaries not found: install postgresql (Debian/Ubuntu: apt-get install postgresql) " +
            "or set PG_BIN to the directory holding pg_ctl, or set DATABASE_URL to use an existing server.");
    }

    private static IEnumerable<string> DebianServerDirectories()
    {
        if (!Directory.Exists(DebianServerRoot))
        {
            return [];
        }

        return Directory.EnumerateDirectories(DebianServerRoot)
            .Select(d => (Directory: Path.Combine(d, "bin"), Version: ParseVersion(Path.GetFileName(d))))
            .Where(c => c.Version is not null && HasServerBinaries(c.Directory))
            .OrderByDescending(c => c.Version)
            .Select(c => c.Directory)
            .ToList();
    }

    private static Version? ParseVersion(string text) =>
        Version.TryParse(text.Contains('.') ? text : text + ".0", out var version) ? version : null;

    private static bool HasServerBinaries(string directory) =>
        File.Exists(Path.Combine(directory, "pg_ctl")) &&
        File.Exists(Path.Combine(directory, "initdb")) &&
        File.Exists(Path.Combine(directory, "postgres"));

    private static string Tool(string binDirectory, string name) => Path.Combine(binDirectory, name);

    private static string? ReadClusterVersion(string cluster)
    {
        var file = Path.Combine(cluster, "PG_VERSION");
        return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
    }

    private static async Task CheckVersionAsync(string binDirectory, string cluster, CancellationToken ct)
    {
        var clusterVersion = ReadClusterVersion(cluster);
        var result = await RunAsync(null, Tool(binDirectory, "pg_ctl"), ["--version"], ct);
        var serverMajor = result.Output.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(ParseVersion).FirstOrDefault(v => v is not null)?.Major.ToString(CultureInfo.InvariantCulture);
        if (clusterVersion is not null && serverMajor is not null && clusterVersion != serverMajor)
        {
            throw new InvalidOperationException(
                $"The cluster in {cluster} was created by PostgreSQL {clusterVersion}, but the server binaries in {binDirectory} " +
                $"are PostgreSQL {serverMajor}: set PG_BIN to a PostgreSQL {clusterVersion} bin directory, upgrade the cluster " +
                "with pg_upgrade, or move the cluster away to start from an empty one.");
        }
    }

    private static List<string> CreateDirectoryTracked(string directory)
    {
        var missing = new List<string>();
        for (var current = directory; current is not null && !Directory.Exists(current); current = Path.GetDirectoryName(current))
        {
            missing.Add(current);
        }

        Directory.CreateDirectory(directory);
        return missing;
    }

    // PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres OS user, which
    // must be able to traverse every parent of the data directory. Directories this process created
    // get o+x (search only, no listing); a pre-existing parent that blocks it (typically /root, 0700)
    // is not changed behind the operator's back: the error names it and the ways out.
    [UnsupportedOSPlatform("windows")]
    private static async Task MakeReachableAsync(string root, List<string> created, ServiceAccount account, CancellationToken ct)
    {
        foreach (var directory in created.Append(root).Distinct())
        {
            var mode = File.GetUnixFileMode(directory);
            File.SetUnixFileMode(directory, mode | UnixFileMode.OtherExecute);
        }

        var probe = await RunAsync(account, "test", ["-x", root], ct);
        if (probe.ExitCode == 0)
        {
            return;
        }

        var blocking = Ancestors(root).FirstOrDefault(d =>
            Directory.Exists(d) && (File.GetUnixFileMode(d) & UnixFileMode.OtherExecute) == 0) ?? root;
        throw new InvalidOperationException(
            $"Running as root, the private PostgreSQL server runs as the '{ServiceAccountName}' OS user, which cannot reach {root} " +
            $"because {blocking} is not traversable by other users. Choose a data directory under a traversable path " +
            $"(set NEXUS_DATA_DIR), or allow traversal with 'chmod o+x {blocking}', or run as a non-root user, or set DATABASE_URL.");
    }

    private static IEnumerable<string> Ancestors(string directory)
    {
        var chain = new List<string>();
        for (var current = directory; current is not null; current = Path.GetDirectoryName(current))
        {
            chain.Add(current);
        }

        chain.Reverse();
        return chain;
    }

    // Serialises starts of the same data directory by concurrent processes (.NET takes an advisory
    // lock for FileShare.None on Unix).
    private static async Task<FileStream> AcquireStartLockAsync(string root, CancellationToken ct)
    {
        var path = Path.Combine(root, LockFile);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (deadline.Elapsed < StartTimeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
            }
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static string ReadOrCreatePassword(string root)
    {
        var path = Path.Combine(root, PasswordFile);
        if (File.Exists(path))
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0)
            {
                return existing;
            }
        }

        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        WritePrivateFile(path, password);
        return password;
    }

    [UnsupportedOSPlatform("windows")]
    private static void WritePrivateFile(string path, string content)
    {
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        stream.Write(Encoding.UTF8.GetBytes(content + "\n"));
    }

    [UnsupportedOSPlatform("windows")]
    private static async Task InitializeClusterAsync(string binDirectory, string root, string cluster, string password,
        ServiceAccount? account, ILogger logger, CancellationToken ct)
    {
        Log.Initializing(logger, cluster, binDirectory);
        var passwordFile = Path.Combine(root, ".initdb-password");
        WritePrivateFile(passwordFile, password);
        try
        {
            if (account is not null)
            {
                await account.ChownAsync(passwordFile, ct);
            }

            var result = default(ProcessResult);
            foreach (var locale in new[] { "C.UTF-8", "C" })
            {
                PrepareEmptyDirectory(cluster);
                if (account is not null)
                {
                    await account.ChownAsync(cluster, ct);
                }

                result = await RunAsync(account, Tool(binDirectory, "initdb"),
                [
                    "-D", cluster, "-U", UserName, $"--pwfile={passwordFile}", "--auth=scram-sha-256",
                    "-E", "UTF8", $"--locale={locale}",
                ], ct);
                if (result.ExitCode == 0)
                {
                    break;
                }
            }

            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"initdb failed (exit code {result.ExitCode}) for {cluster}: {Tail(result.Output)} " +
                    "Fix the cause above (disk space, permissions), or set DATABASE_URL to use an existing server.");
            }
        }
        finally
        {
            File.Delete(passwordFile);
        }

        await File.AppendAllTextAsync(Path.Combine(cluster, "postgresql.conf"),
            $"\ninclude_if_exists = '{ConfigFile}'\n", ct);
    }

    [UnsupportedOSPlatform("windows")]
    private static void PrepareEmptyDirectory(string cluster)
    {
        if (Directory.Exists(cluster))
        {
            Directory.Delete(cluster, recursive: true);
        }

        Directory.CreateDirectory(cluster, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static async Task<RunningServer?> FindRunningServerAsync(string binDirectory, string root, string password,
        ServiceAccount? account, ILogger logger, CancellationToken ct)
    {
        var cluster = Path.Combine(root, ClusterFolder);
        var pidFile = Path.Combine(cluster, "postmaster.pid");
        if (!File.Exists(pidFile))
        {
            return null;
        }

        var lines = await File.ReadAllLinesAsync(pidFile, ct);
        var pid = lines.Length > 0 && int.TryParse(lines[0], CultureInfo.InvariantCulture, out var p) ? p : 0;
        var port = lines.Length > 3 && int.TryParse(lines[3], CultureInfo.InvariantCulture, out var q) ? q : 0;

        if (pid <= 0 || !IsPostmasterOf(pid, cluster))
        {
            // Left by a server that was killed (or a reboot): the pid is gone or now belongs to another
            // process, and PostgreSQL would refuse to start while this file or the socket lock file
            // next to it names a live process.
            Log.RemovedStalePidFile(logger, pid);
            File.Delete(pidFile);
            foreach (var socketFile in Directory.EnumerateFiles(cluster, ".s.PGSQL.*"))
            {
                File.Delete(socketFile);
            }

            return null;
        }

        var (ownerPid, watchdogPid) = ReadOwner(root);
        if (ownerPid > 0 && IsAlive(ownerPid))
        {
            if (port > 0 && await CanConnectAsync(port, password, ct))
            {
                Log.Sharing(logger, pid, port, ownerPid);
                return new RunningServer(port, Shared: true);
            }

            throw new InvalidOperationException(
                $"The PostgreSQL server of {cluster} was started by process {ownerPid}, which is still running, but it does not " +
                "accept this data directory's credentials on its port: stop that process first, or set DATABASE_URL.");
        }

        if (watchdogPid > 0 && IsWatchdog(watchdogPid))
        {
            // The previous owner died and its watchdog is stopping the server: wait for that instead of
            // adopting a server that is about to go away.
            Log.WaitingForWatchdog(logger, pid);
            var waited = Stopwatch.StartNew();
            while (IsAlive(pid) && waited.Elapsed < StartTimeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
            }

            if (!IsAlive(pid))
            {
                return null;
            }
        }

        if (port > 0 && await CanConnectAsync(port, password, ct))
        {
            Log.Adopted(logger, pid, port);
            return new RunningServer(port, Shared: false);
        }

        Log.StoppingUnusable(logger, pid);
        await RunAsync(account, Tool(binDirectory, "pg_ctl"), StopArguments(cluster), ct);
        return null;
    }

    private static (int Owner, int Watchdog) ReadOwner(string root)
    {
        var path = Path.Combine(root, OwnerFile);
        if (!File.Exists(path))
        {
            return (0, 0);
        }

        var lines = File.ReadAllLines(path);
        return (Parse(0), Parse(1));

        int Parse(int line) => lines.Length > line && int.TryParse(lines[line], CultureInfo.InvariantCulture, out var v) ? v : 0;
    }

    private static bool IsWatchdog(int pid)
    {
        try
        {
            return IsAlive(pid) && File.ReadAllText($"/proc/{pid}/cmdline").Contains(WatchdogName, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool IsPostmasterOf(int pid, string cluster)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.HasExited || !process.ProcessName.StartsWith("postgres", StringComparison.Ordinal) || !IsAlive(pid))
            {
                return false;
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }

        // The postmaster runs inside its data directory: the same lock file seen through its working
        // directory proves it is this cluster's server, whatever path it was started with. When that
        // cannot be read, assume it is ours rather than delete the lock file of a live server.
        try
        {
            var theirs = File.ReadAllText($"/proc/{pid}/cwd/postmaster.pid");
            return theirs == File.ReadAllText(Path.Combine(cluster, "postmaster.pid"));
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
    }

    // A killed process stays a zombie where nothing reaps orphans (e.g. a container's init), and
    // PostgreSQL's own "is the lock holder alive" check counts zombies as alive.
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 1)..].TrimStart();
            return state.Length > 0 && state[0] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static async Task<bool> CanConnectAsync(int port, string password, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = IPAddress.Loopback.ToString(),
            Port = port,
            Database = "postgres",
            Username = UserName,
            Password = password,
            Pooling = false,
            Timeout = 5,
        };
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(ct);
            return true;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    private static async Task<int> StartServerAsync(string binDirectory, string root, string cluster, ServiceAccount? account,
        ILogger logger, CancellationToken ct)
    {
        var portFile = Path.Combine(root, PortFile);
        var remembered = File.Exists(portFile) && int.TryParse(await File.ReadAllTextAsync(portFile, ct),
            CultureInfo.InvariantCulture, out var p) ? p : 0;
        var port = remembered > 0 && IsPortFree(remembered) ? remembered : FreePort();

        for (var attempt = 1; ; attempt++)
        {
            await File.WriteAllTextAsync(portFile, port.ToString(CultureInfo.InvariantCulture), ct);
            await WriteServerConfigAsync(cluster, port, account, logger, ct);

            Log.Starting(logger, port, cluster);
            var log = Path.Combine(cluster, LogFile);
            var logOffset = File.Exists(log) ? new FileInfo(log).Length : 0;
            var started = Stopwatch.StartNew();
            var result = await RunAsync(account, Tool(binDirectory, "pg_ctl"),
                ["start", "-D", cluster, "-l", log, "-w", "-t", ((int)StartTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-s"], ct);
            if (result.ExitCode == 0)
            {
                Log.Started(logger, port, (long)started.Elapsed.TotalMilliseconds);
                return port;
            }

            var serverLog = Tail(await ReadFromAsync(log, logOffset, ct));
            if (attempt < 3 && serverLog.Contains("could not bind", StringComparison.OrdinalIgnoreCase))
            {
                port = FreePort();
                continue;
            }

            throw new InvalidOperationException(
                $"PostgreSQL did not start from {cluster} (pg_ctl exit code {result.ExitCode}): {Tail(result.Output)} {serverLog} " +
                "Fix the cause reported above, or move the cluster directory away to start from an empty one, or set DATABASE_URL.");
        }
    }

    // pg_ctl appends to the log across runs; only this attempt's part explains this failure.
    private static async Task<string> ReadFromAsync(string path, long offset, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            return "";
        }

        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(ct);
    }

    private static async Task WriteServerConfigAsync(string cluster, int port, ServiceAccount? account, ILogger logger, CancellationToken ct)
    {
        var socketDirectory = cluster.Length <= MaxSocketDirectoryLength ? cluster : "";
        if (socketDirectory.Length == 0)
        {
            Log.SocketDisabled(logger, cluster);
        }

        var config = string.Create(CultureInfo.InvariantCulture, $"""
            # Written at every start by the application; edits are overwritten.
            listen_addresses = '127.0.0.1'
            port = {port}
            unix_socket_directories = '{socketDirectory.Replace("'", "''", StringComparison.Ordinal)}'
            unix_socket_permissions = 0700
            max_connections = 200

            """);
        var path = Path.Combine(cluster, ConfigFile);
        await File.WriteAllTextAsync(path, config, ct);
        if (account is not null)
        {
            await account.ChownAsync(path, ct);
        }
    }

    private static bool IsPortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Tail(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(" | ", lines.TakeLast(12));
    }

    private static async Task<ProcessResult> RunAsync(ServiceAccount? account, string file, IReadOnlyList<string> arguments,
        CancellationToken ct)
    {
        var commandLine = CommandLine(account, file, arguments);
        var start = new ProcessStartInfo(commandLine[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in commandLine.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["LC_MESSAGES"] = "C";

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"Cannot run {start.FileName}: {e.Message}. Install it (util-linux provides setpriv), or set DATABASE_URL.", e);
        }

        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        return new ProcessResult(process.ExitCode, (await output + await error).Trim());
    }

    private static List<string> CommandLine(ServiceAccount? account, string file, IEnumerable<string> arguments) =>
        account is null ? [file, .. arguments] : ["setpriv", .. account.SetprivArguments, file, .. arguments];

    private readonly record struct ProcessResult(int ExitCode, string Output);

    private readonly record struct RunningServer(int Port, bool Shared);

    private sealed class ServiceAccount(string uid, string gid)
    {
        public IReadOnlyList<string> SetprivArguments { get; } =
            [$"--reuid={uid}", $"--regid={gid}", "--init-groups", "--"];

        public static async Task<ServiceAccount> FindAsync(CancellationToken ct)
        {
            var uid = await RunAsync(null, "id", ["-u", ServiceAccountName], ct);
            var gid = await RunAsync(null, "id", ["-g", ServiceAccountName], ct);
            if (uid.ExitCode != 0 || gid.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"Running as root, and PostgreSQL refuses to run as root, but there is no '{ServiceAccountName}' OS user to run it: " +
                    "run the application as a non-root user, or create the user (installing the postgresql package does), or set DATABASE_URL.");
            }

            return new ServiceAccount(uid.Output, gid.Output);
        }

        public async Task ChownAsync(string path, CancellationToken ct)
        {
            var result = await RunAsync(null, "chown", ["-R", $"{uid}:{gid}", path], ct);
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"Cannot hand {path} to the '{ServiceAccountName}' OS user: {result.Output}. Check the file system permits chown, " +
                    "or run as a non-root user, or set DATABASE_URL.");
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Initialising a PostgreSQL cluster in {ClusterDirectory} with {BinDirectory}")]
        public static partial void Initializing(ILogger logger, string clusterDirectory, string binDirectory);

        [LoggerMessage(2, LogLevel.Information, "Starting PostgreSQL on 127.0.0.1:{Port} from {ClusterDirectory}")]
        public static partial void Starting(ILogger logger, int port, string clusterDirectory);

        [LoggerMessage(3, LogLevel.Information, "PostgreSQL ready on 127.0.0.1:{Port} after {ElapsedMs} ms")]
        public static partial void Started(ILogger logger, int port, long elapsedMs);

        [LoggerMessage(4, LogLevel.Information, "Reusing the PostgreSQL server (pid {Pid}) left running on 127.0.0.1:{Port} by a previous run")]
        public static partial void Adopted(ILogger logger, int pid, int port);

        [LoggerMessage(5, LogLevel.Warning, "Removed a stale postmaster.pid (pid {Pid} is not this cluster's server)")]
        public static partial void RemovedStalePidFile(ILogger logger, int pid);

        [LoggerMessage(6, LogLevel.Warning, "Stopping the PostgreSQL server (pid {Pid}) left running by a previous run: it does not accept this cluster's credentials")]
        public static partial void StoppingUnusable(ILogger logger, int pid);

        [LoggerMessage(7, LogLevel.Information, "Created database {Database}")]
        public static partial void DatabaseCreated(ILogger logger, string database);

        [LoggerMessage(8, LogLevel.Information, "Stopping PostgreSQL on 127.0.0.1:{Port}")]
        public static partial void Stopping(ILogger logger, int port);

        [LoggerMessage(9, LogLevel.Warning, "pg_ctl stop failed with exit code {ExitCode}: {Output}")]
        public static partial void StopFailed(ILogger logger, int exitCode, string output);

        [LoggerMessage(11, LogLevel.Information, "Using the PostgreSQL server (pid {Pid}) on 127.0.0.1:{Port} started by the running process {OwnerPid}; it keeps running when this instance is disposed")]
        public static partial void Sharing(ILogger logger, int pid, int port, int ownerPid);

        [LoggerMessage(12, LogLevel.Information, "Waiting for the PostgreSQL server (pid {Pid}) of a previous run to be stopped by its watchdog")]
        public static partial void WaitingForWatchdog(ILogger logger, int pid);

        [LoggerMessage(10, LogLevel.Warning, "The path {ClusterDirectory} is too long for a unix socket; the server listens on TCP 127.0.0.1 only")]
        public static partial void SocketDisabled(ILogger logger, string clusterDirectory);
    }
}

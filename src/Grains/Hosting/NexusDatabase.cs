using System.Security.Cryptography;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AuroraNexus.Grains.Hosting;

/// <summary>The database a process runs on: the configured one, or a private server started from the machine's binaries.</summary>
public sealed partial class NexusDatabase : IAsyncDisposable
{
    private InstanceLock? _instanceLock;

    private NexusDatabase(string connectionString, NpgsqlDataSource dataSource, EmbeddedPostgres? embedded)
    {
        ConnectionString = connectionString;
        DataSource = dataSource;
        Embedded = embedded;
    }

    /// <summary>For the Orleans ADO.NET providers, which open their own connections.</summary>
    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource { get; }

    public EmbeddedPostgres? Embedded { get; }

    /// <param name="allowEmbedded">Single-node mode: start a private PostgreSQL when DATABASE_URL is unset.</param>
    /// <param name="migrate">Apply migrations (silos and single node); otherwise only check that the schema is current.</param>
    public static async Task<NexusDatabase> OpenAsync(
        NexusSettings settings, bool allowEmbedded, bool migrate, ILogger logger, CancellationToken ct)
    {
        EmbeddedPostgres? embedded = null;
        InstanceLock? instanceLock = null;
        string connectionString;
        if (settings.DatabaseUrl is { } url)
        {
            try
            {
                connectionString = DatabaseUrl.ToNpgsqlConnectionString(url);
            }
            catch (FormatException ex)
            {
                throw new NexusConfigurationException("DATABASE_URL", ex.Message);
            }
        }
        else if (allowEmbedded)
        {
            instanceLock = InstanceLock.Acquire(settings.DataDirectory);
            try
            {
                embedded = await EmbeddedPostgres.StartAsync(settings.PostgresDirectory, logger, ct);
            }
            catch
            {
                instanceLock.Dispose();
                throw;
            }

            connectionString = embedded.ConnectionString;
        }
        else
        {
            throw new NexusConfigurationException("DATABASE_URL",
                "is required in cluster mode (e.g. postgres://nexus:secret@postgres:5432/nexus); only the single-node WebFront starts a private PostgreSQL");
        }

        var dataSource = new NpgsqlDataSourceBuilder(connectionString).Build();
        try
        {
            await CheckReachableAsync(dataSource, ct);
            if (migrate)
            {
                var report = await MigrationRunner.ApplyAsync(dataSource, ct);
                LogMigrated(logger, report.Applied.Count, report.Skipped.Count);
            }
            else
            {
                var status = await MigrationRunner.CheckAsync(dataSource, ct);
                if (!status.IsUpToDate)
                {
                    throw new NexusConfigurationException("DATABASE_URL", status.Message);
                }
            }
        }
        catch
        {
            await dataSource.DisposeAsync();
            if (embedded is not null)
            {
                await embedded.DisposeAsync();
            }

            instanceLock?.Dispose();
            throw;
        }

        return new NexusDatabase(connectionString, dataSource, embedded) { _instanceLock = instanceLock };
    }

    /// <summary>Seeds the default tenant and its admin once; afterwards the database decides who logs in.</summary>
    public async Task SeedAsync(NexusSettings settings, ILogger logger, CancellationToken ct)
    {
        var users = new UserRepository(DataSource);
        await users.EnsureTenantAsync(UserRepository.DefaultTenant, "Default tenant", ct);
        var generated = settings.AdminDefaultPassword is null;
        var password = settings.AdminDefaultPassword ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(12));

        // Health and doctor ask to change only a password nobody chose (printed on the console) or a weak one.
        var mustChange = generated || NexusSettings.IsWeakPassword(password);
        if (await users.CreateIfMissingAsync(UserRepository.DefaultTenant, settings.AdminEmail, password, "admin", seededDefault: mustChange, ct))
        {
            if (generated)
            {
                // Printed once, on the console only: it is not kept anywhere in clear.
                Console.WriteLine($"Admin account created: {settings.AdminEmail} / {password}  (shown once; set ADMIN_DEFAULT_PASSWORD to choose it)");
            }

            LogAdminSeeded(logger, settings.AdminEmail);
            if (!generated && mustChange)
            {
                LogWeakSeed(logger, settings.AdminEmail);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        if (Embedded is not null)
        {
            await Embedded.DisposeAsync();
        }

        _instanceLock?.Dispose();
    }

    private static async Task CheckReachableAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        try
        {
            await using var conn = await dataSource.OpenConnectionAsync(ct);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InvalidPassword)
        {
            throw new NexusConfigurationException("DATABASE_URL",
                "PostgreSQL rejected the password (password authentication failed): the password in DATABASE_URL differs from the role's real password in the database volume; align them (ALTER ROLE ... PASSWORD, or fix DATABASE_URL) and restart");
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            throw new NexusConfigurationException("DATABASE_URL", $"the database does not exist ({ex.MessageText}); create it or fix the database name");
        }
        catch (NpgsqlException ex) when (ex.InnerException is System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new NexusConfigurationException("DATABASE_URL",
                $"PostgreSQL is unreachable ({ex.InnerException!.Message}); check that the server runs and that host and port are right");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Database schema: {Applied} migrations applied, {Skipped} already present")]
    private static partial void LogMigrated(ILogger logger, int applied, int skipped);

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded the admin account {Email} of the default tenant")]
    private static partial void LogAdminSeeded(ILogger logger, string email);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ADMIN_DEFAULT_PASSWORD is weak (short, a placeholder or a published example): log in as {Email} and change it (backoffice My account, or POST /api/auth/password); health stays degraded until then")]
    private static partial void LogWeakSeed(ILogger logger, string email);
}

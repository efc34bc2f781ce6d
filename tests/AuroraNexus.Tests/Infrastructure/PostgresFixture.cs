using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AuroraNexus.Tests.Infrastructure;

[CollectionDefinition("postgres")]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>;

/// <summary>
/// One PostgreSQL server for the whole test run: the private server started from the machine's
/// binaries in a temporary directory, or the server named by <c>TEST_DATABASE_URL</c>. Each test class
/// asks for its own empty database.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private readonly List<string> _databases = [];
    private EmbeddedPostgres? _server;
    private string? _directory;

    /// <summary>A superuser connection to the <c>postgres</c> maintenance database.</summary>
    public string AdminConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable("TEST_DATABASE_URL");
        string connectionString;
        if (!string.IsNullOrWhiteSpace(external))
        {
            connectionString = DatabaseUrl.ToNpgsqlConnectionString(external);
        }
        else
        {
            _directory = Path.Combine(Path.GetTempPath(), $"nexus-tests-pg-{Guid.NewGuid():N}");
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            _server = await EmbeddedPostgres.StartAsync(_directory, NullLogger.Instance, timeout.Token);
            connectionString = _server.ConnectionString;
        }

        AdminConnectionString = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres" }.ConnectionString;
        if (_server is not null)
        {
            // A throwaway cluster needs no durability; without fsync, CREATE DATABASE and the
            // shutdown checkpoint stop dominating the run time.
            await using var connection = new NpgsqlConnection(AdminConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "ALTER SYSTEM SET fsync = off; ALTER SYSTEM SET synchronous_commit = off; SELECT pg_reload_conf();", connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Creates a fresh, empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var stem = new string(prefix.ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c == '_').Take(30).ToArray());
        var name = $"{(stem.Length == 0 ? "test" : stem)}_{Guid.NewGuid():N}";

        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        lock (_databases)
        {
            _databases.Add(name);
        }

        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_server is not null)
        {
            await _server.DisposeAsync();
            TryDelete(_directory);
            return;
        }

        if (AdminConnectionString.Length == 0)
        {
            return;
        }

        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        foreach (var name in _databases)
        {
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    private static void TryDelete(string? directory)
    {
        try
        {
            if (directory is not null && Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}

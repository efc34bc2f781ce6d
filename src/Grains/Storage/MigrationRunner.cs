using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;

namespace AuroraNexus.Grains.Storage;

/// <summary>A numbered migration script, e.g. <c>0003_caller_app</c>.</summary>
public sealed record MigrationId(int Version, string Name)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Version:D4}_{Name}");
}

/// <summary>What <see cref="MigrationRunner.ApplyAsync"/> did.</summary>
public sealed record MigrationReport(
    IReadOnlyList<MigrationId> Applied,
    IReadOnlyList<MigrationId> Skipped,
    IReadOnlyList<string> Warnings);

/// <summary>How the database schema compares with the migrations this build carries.</summary>
public sealed record SchemaStatus(
    int CurrentVersion,
    int ExpectedVersion,
    IReadOnlyList<MigrationId> Missing,
    IReadOnlyList<string> Warnings)
{
    public const string MigrateCommand = "dotnet run --project src/Silo -- migrate";

    public bool IsUpToDate => Missing.Count == 0;

    /// <summary>One line for logs, health checks and start-up errors, naming what is missing and the fix.</summary>
    public string Message => IsUpToDate
        ? string.Create(CultureInfo.InvariantCulture, $"database schema is up to date (version {CurrentVersion:D4})")
        : $"database schema is behind: missing migration{(Missing.Count > 1 ? "s" : "")} {string.Join(", ", Missing)}; " +
          $"run `{MigrateCommand}` (or restart the single-node app, which migrates at start)";

    /// <summary>Throws <see cref="InvalidOperationException"/> with <see cref="Message"/> when migrations are missing.</summary>
    public void EnsureUpToDate()
    {
        if (!IsUpToDate)
        {
            throw new InvalidOperationException(Message);
        }
    }
}

/// <summary>
/// Applies the <c>sql/NNNN_name.sql</c> scripts embedded in this assembly, in numeric order, each in
/// its own transaction, recording them in <c>schema_migrations</c>.
/// </summary>
public static partial class MigrationRunner
{
    // Any constant works as long as every process migrating this database uses the same one.
    private const long AdvisoryLockKey = 0x4E_58_5F_4D_49_47_52_41; // "NX_MIGRA"

    private const string CreateTableSql = """
        CREATE TABLE IF NOT EXISTS schema_migrations
        (
            version    integer     NOT NULL PRIMARY KEY,
            name       text        NOT NULL,
            checksum   text        NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """;

    private static readonly Lazy<IReadOnlyList<Migration>> Embedded = new(LoadEmbedded);

    /// <summary>The migrations embedded in this build, in order.</summary>
    public static IReadOnlyList<MigrationId> Known => Embedded.Value.Select(m => m.Id).ToList();

    public static async Task<MigrationReport> ApplyAsync(NpgsqlDataSource ds, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(ds);
        var migrations = Embedded.Value;
        var applied = new List<MigrationId>();
        var skipped = new List<MigrationId>();
        var warnings = new List<string>();

        await using var connection = await ds.OpenConnectionAsync(ct);
        await ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@key)", ct, ("key", AdvisoryLockKey));
        try
        {
            await ExecuteAsync(connection, null, CreateTableSql, ct);
            var recorded = await ReadRecordedAsync(connection, ct);

            foreach (var migration in migrations)
            {
                if (recorded.TryGetValue(migration.Id.Version, out var checksum))
                {
                    skipped.Add(migration.Id);
                    if (checksum != migration.Checksum)
                    {
                        warnings.Add(ChecksumWarning(migration.Id));
                    }

                    continue;
                }

                await using var transaction = await connection.BeginTransactionAsync(ct);
                try
                {
                    await ExecuteAsync(connection, transaction, migration.Sql, ct);
                }
                catch (PostgresException e)
                {
                    throw new InvalidOperationException(
                        $"migration {migration.Id} failed and was rolled back: {e.MessageText} (SQLSTATE {e.SqlState}). " +
                        "Fix the database or the script, then run the migration again.", e);
                }

                await ExecuteAsync(connection, transaction,
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (@version, @name, @checksum, now())",
                    ct, ("version", migration.Id.Version), ("name", migration.Id.Name), ("checksum", migration.Checksum));
                await transaction.CommitAsync(ct);
                applied.Add(migration.Id);
            }

            warnings.AddRange(UnknownVersions(recorded.Keys, migrations));
        }
        finally
        {
            // A broken connection has already lost the session lock; pooled connections are reset on return.
            try
            {
                await ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@key)", CancellationToken.None, ("key", AdvisoryLockKey));
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
            }
        }

        return new MigrationReport(applied, skipped, warnings);
    }

    public static async Task<SchemaStatus> CheckAsync(NpgsqlDataSource ds, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(ds);
        var migrations = Embedded.Value;

        await using var connection = await ds.OpenConnectionAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT to_regclass('schema_migrations') IS NOT NULL", connection);
        var recorded = await exists.ExecuteScalarAsync(ct) is true
            ? await ReadRecordedAsync(connection, ct)
            : new Dictionary<int, string>();

        var warnings = migrations
            .Where(m => recorded.TryGetValue(m.Id.Version, out var checksum) && checksum != m.Checksum)
            .Select(m => ChecksumWarning(m.Id))
            .Concat(UnknownVersions(recorded.Keys, migrations))
            .ToList();

        return new SchemaStatus(
            CurrentVersion: recorded.Count == 0 ? 0 : recorded.Keys.Max(),
            ExpectedVersion: migrations.Count == 0 ? 0 : migrations[^1].Id.Version,
            Missing: migrations.Where(m => !recorded.ContainsKey(m.Id.Version)).Select(m => m.Id).ToList(),
            Warnings: warnings);
    }

    private static string ChecksumWarning(MigrationId id) =>
        $"migration {id} changed after it was applied (checksum differs); it was not re-run. " +
        "Put schema changes in a new numbered migration instead of editing an applied one.";

    private static IEnumerable<string> UnknownVersions(IEnumerable<int> recorded, IReadOnlyList<Migration> migrations)
    {
        var known = migrations.Select(m => m.Id.Version).ToHashSet();
        return recorded.Where(v => !known.Contains(v)).Order().Select(v => string.Create(CultureInfo.InvariantCulture,
            $"the database has migration {v:D4}, which this build does not know: it was migrated by a newer version of the application."));
    }

    private static async Task<Dictionary<int, string>> ReadRecordedAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT version, checksum FROM schema_migrations", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var recorded = new Dictionary<int, string>();
        while (await reader.ReadAsync(ct))
        {
            recorded[reader.GetInt32(0)] = reader.GetString(1);
        }

        return recorded;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql,
        CancellationToken ct, params (string Name, object Value)[] parameters)
    {
        // No command timeout: waiting for another process's migration or running a long one is expected;
        // the caller's token cancels.
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync(ct);
    }

    private static List<Migration> LoadEmbedded()
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = ResourceName().Match(resource);
            if (!match.Success)
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"embedded migration {resource} cannot be read");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var sql = reader.ReadToEnd();
            var version = int.Parse(match.Groups["version"].Value, CultureInfo.InvariantCulture);
            migrations.Add(new Migration(new MigrationId(version, match.Groups["name"].Value), sql, Checksum(sql)));
        }

        var duplicate = migrations.GroupBy(m => m.Id.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException(
                $"two migrations share version {duplicate.Key:D4}: {string.Join(", ", duplicate.Select(m => m.Id))}; renumber one of them.");
        }

        return migrations.OrderBy(m => m.Id.Version).ToList();
    }

    // Line endings are normalised so that a checkout with CRLF does not look like an edited migration.
    private static string Checksum(string sql) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql.ReplaceLineEndings("\n"))));

    [GeneratedRegex(@"^sql/(?<version>\d{4,9})_(?<name>[A-Za-z0-9_\-]+)\.sql$")]
    private static partial Regex ResourceName();

    private sealed record Migration(MigrationId Id, string Sql, string Checksum);
}

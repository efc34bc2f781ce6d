using AuroraNexus.Grains.Storage;
using AuroraNexus.Tests.Infrastructure;
using Npgsql;

namespace AuroraNexus.Tests.Storage;

[Collection("postgres")]
public sealed class MigrationRunnerTests(PostgresFixture postgres)
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public void Embedded_migrations_include_the_orleans_schema_in_order()
    {
        Assert.Contains(new MigrationId(1, "orleans"), MigrationRunner.Known);
        Assert.Equal(MigrationRunner.Known.OrderBy(m => m.Version), MigrationRunner.Known);
    }

    [Fact]
    public async Task Applying_twice_applies_everything_once_then_skips_everything()
    {
        await using var ds = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("migrate_twice"));

        var first = await MigrationRunner.ApplyAsync(ds, Ct);
        var second = await MigrationRunner.ApplyAsync(ds, Ct);

        Assert.Equal(MigrationRunner.Known, first.Applied);
        Assert.Empty(first.Skipped);
        Assert.Empty(second.Applied);
        Assert.Equal(MigrationRunner.Known, second.Skipped);
        Assert.Empty(second.Warnings);
        Assert.True((await MigrationRunner.CheckAsync(ds, Ct)).IsUpToDate);
    }

    [Fact]
    public async Task Four_concurrent_applies_on_a_fresh_database_all_succeed_and_record_each_version_once()
    {
        await using var ds = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("migrate_concurrent"));

        var reports = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => MigrationRunner.ApplyAsync(ds, Ct))));

        Assert.Equal(MigrationRunner.Known, reports.SelectMany(r => r.Applied).OrderBy(m => m.Version));
        Assert.All(reports, r => Assert.Equal(MigrationRunner.Known.Count, r.Applied.Count + r.Skipped.Count));
        await using var count = ds.CreateCommand(
            "SELECT count(*), count(DISTINCT version), bool_and(checksum <> '' AND applied_at IS NOT NULL)::int FROM schema_migrations");
        await using var reader = await count.ExecuteReaderAsync(Ct);
        await reader.ReadAsync(Ct);
        Assert.Equal(MigrationRunner.Known.Count, reader.GetInt64(0));
        Assert.Equal(MigrationRunner.Known.Count, reader.GetInt64(1));
        Assert.Equal(1, reader.GetInt32(2));
    }

    [Fact]
    public async Task Check_on_an_empty_database_reports_every_migration_missing_and_the_command_to_run()
    {
        await using var ds = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("check_empty"));

        var status = await MigrationRunner.CheckAsync(ds, Ct);

        Assert.False(status.IsUpToDate);
        Assert.Equal(0, status.CurrentVersion);
        Assert.Equal(MigrationRunner.Known[^1].Version, status.ExpectedVersion);
        Assert.Equal(MigrationRunner.Known, status.Missing);
        Assert.Contains("database schema is behind: missing migration", status.Message, StringComparison.Ordinal);
        Assert.Contains("0001_orleans", status.Message, StringComparison.Ordinal);
        Assert.Contains("dotnet run --project src/Silo -- migrate", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_reports_a_version_whose_row_was_deleted_as_missing_and_apply_restores_it()
    {
        await using var ds = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("check_missing"));
        await MigrationRunner.ApplyAsync(ds, Ct);
        await using (var delete = ds.CreateCommand("DELETE FROM schema_migrations WHERE version = 1"))
        {
            await delete.ExecuteNonQueryAsync(Ct);
        }

        var status = await MigrationRunner.CheckAsync(ds, Ct);

        Assert.Equal([new MigrationId(1, "orleans")], status.Missing);
        Assert.Equal(
            "database schema is behind: missing migration 0001_orleans; run `dotnet run --project src/Silo -- migrate` " +
            "(or restart the single-node app, which migrates at start)",
            status.Message);
        var error = Assert.Throws<InvalidOperationException>(status.EnsureUpToDate);
        Assert.Equal(status.Message, error.Message);

        var report = await MigrationRunner.ApplyAsync(ds, Ct);
        Assert.Equal([new MigrationId(1, "orleans")], report.Applied);
        Assert.True((await MigrationRunner.CheckAsync(ds, Ct)).IsUpToDate);
    }

    [Fact]
    public async Task A_changed_checksum_of_an_applied_migration_is_a_warning_and_is_not_rerun()
    {
        await using var ds = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("checksum"));
        await MigrationRunner.ApplyAsync(ds, Ct);
        await using (var tamper = ds.CreateCommand(
                         "UPDATE schema_migrations SET checksum = 'edited', applied_at = '2001-01-01Z' WHERE version = 1"))
        {
            await tamper.ExecuteNonQueryAsync(Ct);
        }

        var report = await MigrationRunner.ApplyAsync(ds, Ct);
        var status = await MigrationRunner.CheckAsync(ds, Ct);

        Assert.Empty(report.Applied);
        Assert.Contains(report.Warnings, w => w.Contains("0001_orleans changed after it was applied", StringComparison.Ordinal));
        Assert.True(status.IsUpToDate);
        Assert.Contains(status.Warnings, w => w.Contains("0001_orleans", StringComparison.Ordinal));
        await using var appliedAt = ds.CreateCommand("SELECT applied_at FROM schema_migrations WHERE version = 1");
        Assert.Equal(new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc), await appliedAt.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task The_orleans_script_itself_can_run_twice_on_the_same_database()
    {
        await using var ds = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("script_twice"));
        var script = OrleansSql.Script();

        for (var run = 0; run < 2; run++)
        {
            await using var command = ds.CreateCommand(script);
            await command.ExecuteNonQueryAsync(Ct);
        }

        await using var keys = ds.CreateCommand("SELECT count(*) FROM orleansquery");
        Assert.Equal((long)OrleansSql.AllKeys.Count, await keys.ExecuteScalarAsync(Ct));
    }
}

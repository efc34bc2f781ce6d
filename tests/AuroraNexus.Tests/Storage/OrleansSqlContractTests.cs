using AuroraNexus.Grains.Storage;
using AuroraNexus.Tests.Infrastructure;
using Npgsql;
using static AuroraNexus.Tests.Storage.OrleansSql;

namespace AuroraNexus.Tests.Storage;

/// <summary>
/// The catalog's SQL against the semantics the Orleans 10.4.2 ADO.NET providers rely on, with
/// parameters bound as the providers bind them.
/// </summary>
[Collection("postgres")]
public sealed class OrleansSqlContractTests(PostgresFixture postgres) : IAsyncLifetime
{
    private const int Active = 3;
    private const int Dead = 6;
    private static readonly DateTime Now = DateTime.UtcNow;

    private NpgsqlDataSource _ds = null!;
    private OrleansSql _sql = null!;

    public async Task InitializeAsync()
    {
        _ds = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("orleans_sql"));
        await MigrationRunner.ApplyAsync(_ds, CancellationToken.None);
        _sql = new OrleansSql(_ds);
    }

    public async Task DisposeAsync() => await _ds.DisposeAsync();

    [Fact]
    public async Task Catalog_holds_every_key_the_three_providers_need()
    {
        var rows = await _sql.SqlAsync("SELECT string_agg(querykey, ',' ORDER BY querykey) FROM orleansquery");

        Assert.Equal(AllKeys.Order(StringComparer.Ordinal), ((string)rows!).Split(',').Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Membership_version_row_is_created_once_and_a_second_call_returns_false()
    {
        Assert.Equal(true, await _sql.ScalarAsync("InsertMembershipVersionKey", Text("DeploymentId", "c1")));
        Assert.Equal(false, await _sql.ScalarAsync("InsertMembershipVersionKey", Text("DeploymentId", "c1")));

        var rows = await _sql.RunAsync("MembershipReadAllKey", Text("DeploymentId", "c1"));

        var row = Assert.Single(rows);
        Assert.Equal(0, row["version"]);
        Assert.Null(row["starttime"]);
    }

    [Fact]
    public async Task Insert_member_is_a_compare_and_swap_on_the_table_version()
    {
        await _sql.RunAsync("InsertMembershipVersionKey", Text("DeploymentId", "c2"));

        Assert.Equal(true, await InsertMemberAsync("c2", 11111, version: 0));
        Assert.Equal(false, await InsertMemberAsync("c2", 22222, version: 0));
        Assert.Equal(false, await InsertMemberAsync("c2", 11111, version: 1));
        Assert.Equal(true, await InsertMemberAsync("c2", 22222, version: 1));

        var rows = await _sql.RunAsync("MembershipReadAllKey", Text("DeploymentId", "c2"));
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Equal(2, r["version"]));
        Assert.All(rows, r => Assert.Equal(Active, r["status"]));
        Assert.Equal([11111, 22222], rows.Select(r => (int)r["port"]!));
    }

    [Fact]
    public async Task Update_member_needs_the_expected_version_and_an_existing_row_and_bumps_the_version()
    {
        await _sql.RunAsync("InsertMembershipVersionKey", Text("DeploymentId", "c3"));
        await InsertMemberAsync("c3", 11111, version: 0);

        Assert.Equal(false, await UpdateMemberAsync("c3", 11111, Dead, version: 0));
        Assert.Equal(false, await UpdateMemberAsync("c3", 33333, Dead, version: 1));
        Assert.Equal(true, await UpdateMemberAsync("c3", 11111, Dead, version: 1, suspectTimes: "127.0.0.1:1@1, 2024-01-01"));

        var row = Assert.Single(await _sql.RunAsync("MembershipReadRowKey", Text("DeploymentId", "c3"),
            Text("Address", "127.0.0.1"), Int("Port", 11111), Int("Generation", 7)));
        Assert.Equal(2, row["version"]);
        Assert.Equal(Dead, row["status"]);
        Assert.Equal("127.0.0.1:1@1, 2024-01-01", row["suspecttimes"]);
    }

    [Fact]
    public async Task Membership_version_refuses_to_go_past_Int32_MaxValue_instead_of_wrapping()
    {
        await _sql.RunAsync("InsertMembershipVersionKey", Text("DeploymentId", "c4"));
        await _sql.SqlAsync("UPDATE orleansmembershipversiontable SET version = 2147483646 WHERE deploymentid = 'c4'");

        Assert.Equal(true, await InsertMemberAsync("c4", 11111, version: int.MaxValue - 1));
        Assert.Equal(false, await InsertMemberAsync("c4", 22222, version: int.MaxValue));
        Assert.Equal(false, await UpdateMemberAsync("c4", 11111, Dead, version: int.MaxValue));

        var rows = await _sql.RunAsync("MembershipReadAllKey", Text("DeploymentId", "c4"));
        var row = Assert.Single(rows);
        Assert.Equal(int.MaxValue, row["version"]);
        Assert.Equal(Active, row["status"]);
    }

    [Fact]
    public async Task Reading_a_missing_member_returns_one_row_with_the_version_and_no_start_time()
    {
        await _sql.RunAsync("InsertMembershipVersionKey", Text("DeploymentId", "c5"));
        await InsertMemberAsync("c5", 11111, version: 0);

        var row = Assert.Single(await _sql.RunAsync("MembershipReadRowKey", Text("DeploymentId", "c5"),
            Text("Address", "127.0.0.1"), Int("Port", 44444), Int("Generation", 7)));

        Assert.Equal(1, row["version"]);
        Assert.Null(row["starttime"]);
    }

    [Fact]
    public async Task Heartbeat_updates_only_IAmAliveTime_and_never_the_version()
    {
        await _sql.RunAsync("InsertMembershipVersionKey", Text("DeploymentId", "c6"));
        await InsertMemberAsync("c6", 11111, version: 0);
        var later = Now.AddMinutes(3);

        await _sql.RunAsync("UpdateIAmAlivetimeKey", Text("DeploymentId", "c6"), Text("Address", "127.0.0.1"),
            Int("Port", 11111), Int("Generation", 7), Time("IAmAliveTime", later));
        await _sql.RunAsync("UpdateIAmAlivetimeKey", Text("DeploymentId", "c6"), Text("Address", "127.0.0.1"),
            Int("Port", 99999), Int("Generation", 7), Time("IAmAliveTime", later));

        var row = Assert.Single(await _sql.RunAsync("MembershipReadAllKey", Text("DeploymentId", "c6")));
        Assert.Equal(1, row["version"]);
        Assert.Equal(Truncate(later), Truncate(((DateTime)row["iamalivetime"]!).ToUniversalTime()));
    }

    [Fact]
    public async Task Gateway_list_has_fresh_active_silos_with_a_gateway_only()
    {
        await _sql.RunAsync("InsertMembershipVersionKey", Text("DeploymentId", "c7"));
        await InsertMemberAsync("c7", 10001, version: 0, proxyPort: 30001);
        await InsertMemberAsync("c7", 10002, version: 1, proxyPort: 30002, iAmAlive: Now.AddHours(-2));
        await InsertMemberAsync("c7", 10003, version: 2, proxyPort: 0);
        await InsertMemberAsync("c7", 10004, version: 3, proxyPort: 30004, status: Dead);

        var gateways = await _sql.RunAsync("GatewaysQueryKey", Text("DeploymentId", "c7"), Int("Status", Active));

        var gateway = Assert.Single(gateways);
        Assert.Equal("127.0.0.1", gateway["address"]);
        Assert.Equal(30001, gateway["proxyport"]);
        Assert.Equal(7, gateway["generation"]);
    }

    [Fact]
    public async Task Defunct_silo_cleanup_deletes_dead_rows_only_when_unchanged_and_keeps_the_version()
    {
        await _sql.RunAsync("InsertMembershipVersionKey", Text("DeploymentId", "c8"));
        await InsertMemberAsync("c8", 10001, version: 0, status: Dead, iAmAlive: Now.AddDays(-8));
        await InsertMemberAsync("c8", 10002, version: 1, status: Dead, iAmAlive: Now.AddDays(-8));
        await InsertMemberAsync("c8", 10003, version: 2, status: Active, iAmAlive: Now.AddDays(-8));
        var read = await _sql.RunAsync("MembershipReadAllKey", Text("DeploymentId", "c8"));
        var first = read.Single(r => (int)r["port"]! == 10001);

        await _sql.RunAsync("CleanupDefunctSiloEntryKey", Text("DeploymentId", "c8"), Text("Address", "127.0.0.1"),
            Int("Port", 10001), Int("Generation", 7), Time("StartTime", (DateTime)first["starttime"]!),
            Time("IAmAliveTime", ((DateTime)first["iamalivetime"]!).AddSeconds(1)), Text("SuspectTimes", null));
        Assert.Equal(3L, await _sql.SqlAsync("SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = 'c8'"));

        await _sql.RunAsync("CleanupDefunctSiloEntryKey", Text("DeploymentId", "c8"), Text("Address", "127.0.0.1"),
            Int("Port", 10001), Int("Generation", 7), Time("StartTime", (DateTime)first["starttime"]!),
            Time("IAmAliveTime", (DateTime)first["iamalivetime"]!), Text("SuspectTimes", ""));
        Assert.Equal(2L, await _sql.SqlAsync("SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = 'c8'"));

        await _sql.RunAsync("CleanupDefunctSiloEntriesKey", Text("DeploymentId", "c8"), Time("IAmAliveTime", Now.AddDays(-7)));
        var left = Assert.Single(await _sql.RunAsync("MembershipReadAllKey", Text("DeploymentId", "c8")));
        Assert.Equal(10003, left["port"]);
        Assert.Equal(3, left["version"]);
    }

    [Fact]
    public async Task Deleting_a_cluster_removes_its_members_and_version_row_only()
    {
        foreach (var cluster in new[] { "c9", "c9-other" })
        {
            await _sql.RunAsync("InsertMembershipVersionKey", Text("DeploymentId", cluster));
            await InsertMemberAsync(cluster, 10001, version: 0);
        }

        await _sql.RunAsync("DeleteMembershipTableEntriesKey", Text("DeploymentId", "c9"));

        Assert.Empty(await _sql.RunAsync("MembershipReadAllKey", Text("DeploymentId", "c9")));
        Assert.Single(await _sql.RunAsync("MembershipReadAllKey", Text("DeploymentId", "c9-other")));
    }

    [Fact]
    public async Task Concurrent_first_writes_of_one_grain_state_leave_exactly_one_winner_and_one_row()
    {
        var grain = new GrainIdentity(ServiceId: "s1", N0: 0, N1: 42, Extension: null);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => WriteAsync(grain, null, [(byte)i]))));

        Assert.Single(results, r => r is not null);
        Assert.Equal(7, results.Count(r => r is null));
        var row = Assert.Single(await ReadAsync(grain));
        Assert.Equal(results.Single(r => r is not null), row["version"]);
    }

    [Fact]
    public async Task Write_with_a_stale_version_is_a_conflict_and_changes_nothing()
    {
        var grain = new GrainIdentity("s2", 0, 0, "tenant-a/app/user/thread-1");

        var v1 = await WriteAsync(grain, null, [1]);
        var v2 = await WriteAsync(grain, v1, [2]);
        var stale = await WriteAsync(grain, v1, [3]);

        Assert.NotNull(v1);
        Assert.NotNull(v2);
        Assert.NotEqual(v1, v2);
        Assert.Null(stale);
        var row = Assert.Single(await ReadAsync(grain));
        Assert.Equal(new byte[] { 2 }, row["payloadbinary"]);
        Assert.Equal(v2, row["version"]);
    }

    [Fact]
    public async Task Persistence_version_wraps_around_at_Int32_MaxValue()
    {
        var grain = new GrainIdentity("s3", 1, 2, null);
        await WriteAsync(grain, null, [1]);
        await _sql.SqlAsync("UPDATE orleansstorage SET version = 2147483647 WHERE serviceid = 's3'");

        var next = await WriteAsync(grain, int.MaxValue, [2]);

        Assert.Equal(0, next);
        Assert.Equal(1, await WriteAsync(grain, 0, [3]));
    }

    [Fact]
    public async Task Clear_keeps_a_tombstone_whose_version_the_next_write_uses()
    {
        var grain = new GrainIdentity("s4", 0, 0, "thread");
        var written = await WriteAsync(grain, null, [1]);

        var cleared = await _sql.ScalarAsync("ClearStorageKey", StorageParameters(grain, written));
        var row = Assert.Single(await ReadAsync(grain));
        var rewritten = await WriteAsync(grain, (int?)cleared, [2]);

        Assert.NotNull(cleared);
        Assert.NotEqual(written, cleared);
        Assert.Null(row["payloadbinary"]);
        Assert.Equal(cleared, row["version"]);
        Assert.NotNull(rewritten);
    }

    [Fact]
    public async Task Clearing_a_never_written_state_succeeds_and_the_next_write_succeeds()
    {
        var grain = new GrainIdentity("s5", 0, 0, "never-written");

        var cleared = await _sql.ScalarAsync("ClearStorageKey", StorageParameters(grain, null));
        var written = await WriteAsync(grain, (int?)cleared, [9]);

        Assert.NotNull(cleared);
        Assert.NotNull(written);
        Assert.Equal(new byte[] { 9 }, Assert.Single(await ReadAsync(grain))["payloadbinary"]);
    }

    [Fact]
    public async Task Delete_removes_the_row_and_a_stale_delete_is_a_conflict()
    {
        var grain = new GrainIdentity("s6", 0, 0, "to-delete");
        var v1 = await WriteAsync(grain, null, [1]);
        var v2 = await WriteAsync(grain, v1, [2]);

        Assert.Null(await _sql.ScalarAsync("DeleteStorageKey", StorageParameters(grain, v1)));
        var deleted = await _sql.ScalarAsync("DeleteStorageKey", StorageParameters(grain, v2));

        Assert.NotNull(deleted);
        Assert.NotEqual(v2, deleted);
        Assert.Empty(await ReadAsync(grain));
        Assert.NotNull(await _sql.ScalarAsync("DeleteStorageKey", StorageParameters(grain, null)));
        Assert.NotNull(await WriteAsync(grain, null, [3]));
    }

    [Fact]
    public async Task Grain_identities_differing_only_by_a_null_or_empty_or_very_long_extension_are_distinct_rows()
    {
        var longKey = new string('k', 10_000);
        var nullExtension = new GrainIdentity("s7", 5, 6, null);
        var emptyExtension = nullExtension with { Extension = "" };
        var longExtension = nullExtension with { Extension = longKey };

        Assert.NotNull(await WriteAsync(nullExtension, null, [1]));
        Assert.NotNull(await WriteAsync(emptyExtension, null, [2]));
        Assert.NotNull(await WriteAsync(longExtension, null, [3]));
        Assert.Null(await WriteAsync(longExtension, null, [4]));

        Assert.Equal(new byte[] { 1 }, Assert.Single(await ReadAsync(nullExtension))["payloadbinary"]);
        Assert.Equal(new byte[] { 2 }, Assert.Single(await ReadAsync(emptyExtension))["payloadbinary"]);
        Assert.Equal(new byte[] { 3 }, Assert.Single(await ReadAsync(longExtension))["payloadbinary"]);
    }

    [Fact]
    public async Task Reminder_upsert_changes_the_version_every_time_and_delete_needs_the_current_one()
    {
        var first = await UpsertReminderAsync("r1", "probe/a", "tick", 100);
        var second = await UpsertReminderAsync("r1", "probe/a", "tick", 100);

        Assert.NotEqual(first, second);
        var row = Assert.Single(await _sql.RunAsync("ReadReminderRowKey", Text("ServiceId", "r1"), Text("GrainId", "probe/a"),
            Text("ReminderName", "tick")));
        Assert.Equal(second, row["version"]);
        Assert.Equal(60_000L, row["period"]);

        Assert.Equal(false, await _sql.ScalarAsync("DeleteReminderRowKey", Text("ServiceId", "r1"), Text("GrainId", "probe/a"),
            Text("ReminderName", "tick"), Int("Version", first)));
        Assert.Equal(true, await _sql.ScalarAsync("DeleteReminderRowKey", Text("ServiceId", "r1"), Text("GrainId", "probe/a"),
            Text("ReminderName", "tick"), Int("Version", second)));
        Assert.Empty(await _sql.RunAsync("ReadReminderRowsKey", Text("ServiceId", "r1"), Text("GrainId", "probe/a")));
    }

    [Fact]
    public async Task Reminder_ranges_follow_the_ring_including_the_wrap_around_and_the_whole_ring()
    {
        await UpsertReminderAsync("r2", "probe/low", "tick", int.MinValue + 10);
        await UpsertReminderAsync("r2", "probe/mid", "tick", 0);
        await UpsertReminderAsync("r2", "probe/high", "tick", int.MaxValue - 10);
        await UpsertReminderAsync("r2-other", "probe/mid", "tick", 0);

        Assert.Equal(["probe/mid"], await RangeAsync("ReadRangeRows1Key", -100, 100));
        Assert.Equal(["probe/high", "probe/low"], await RangeAsync("ReadRangeRows2Key", 100, -100));
        Assert.Equal(["probe/high", "probe/low", "probe/mid"], await RangeAsync("ReadRangeRows2Key", 5, 5));

        await _sql.RunAsync("DeleteReminderRowsKey", Text("ServiceId", "r2"));
        Assert.Empty(await RangeAsync("ReadRangeRows2Key", 5, 5));
        Assert.Single(await _sql.RunAsync("ReadReminderRowsKey", Text("ServiceId", "r2-other"), Text("GrainId", "probe/mid")));
    }

    private Task<object?> InsertMemberAsync(string cluster, int port, int version, int proxyPort = 30000, int status = Active,
        DateTime? iAmAlive = null) =>
        _sql.ScalarAsync("InsertMembershipKey", Text("DeploymentId", cluster), Text("Address", "127.0.0.1"), Int("Port", port),
            Int("Generation", 7), Text("SiloName", $"silo-{port}"), Text("HostName", "test-host"), Int("Status", status),
            Int("ProxyPort", proxyPort), Time("StartTime", Now.AddMinutes(-1)), Time("IAmAliveTime", iAmAlive ?? Now),
            Int("Version", version));

    private Task<object?> UpdateMemberAsync(string cluster, int port, int status, int version, string? suspectTimes = null) =>
        _sql.ScalarAsync("UpdateMembershipKey", Text("DeploymentId", cluster), Text("Address", "127.0.0.1"), Int("Port", port),
            Int("Generation", 7), Int("Status", status), Text("SuspectTimes", suspectTimes), Time("IAmAliveTime", Now),
            Int("Version", version));

    private static P[] StorageParameters(GrainIdentity grain, object? version) =>
    [
        Int("GrainIdHash", grain.GetHashCode()), Long("GrainIdN0", grain.N0), Long("GrainIdN1", grain.N1),
        Int("GrainTypeHash", 1234), Text("GrainTypeString", "probe-state"), Text("GrainIdExtensionString", grain.Extension),
        Text("ServiceId", grain.ServiceId), Int("GrainStateVersion", (int?)version),
    ];

    private async Task<int?> WriteAsync(GrainIdentity grain, int? version, byte[] payload) =>
        (int?)await _sql.ScalarAsync("WriteToStorageKey", [.. StorageParameters(grain, version), Bytes("PayloadBinary", payload)]);

    private Task<List<Dictionary<string, object?>>> ReadAsync(GrainIdentity grain) =>
        _sql.RunAsync("ReadFromStorageKey", StorageParameters(grain, null)[..7]);

    private async Task<int> UpsertReminderAsync(string service, string grainId, string name, int grainHash) =>
        (int)(await _sql.ScalarAsync("UpsertReminderRowKey", Text("ServiceId", service), Text("GrainId", grainId),
            Text("ReminderName", name), Time("StartTime", Now), Long("Period", 60_000), Int("GrainHash", grainHash)))!;

    private async Task<string[]> RangeAsync(string key, int begin, int end) =>
        (await _sql.RunAsync(key, Text("ServiceId", "r2"), Int("BeginHash", begin), Int("EndHash", end)))
        .Select(r => (string)r["grainid"]!).Order(StringComparer.Ordinal).ToArray();

    private static DateTime Truncate(DateTime value) => new(value.Ticks - value.Ticks % 10, DateTimeKind.Utc);

    private sealed record GrainIdentity(string ServiceId, long N0, long N1, string? Extension);
}

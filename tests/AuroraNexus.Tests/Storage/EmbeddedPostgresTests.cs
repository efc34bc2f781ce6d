using System.Diagnostics;
using System.Globalization;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AuroraNexus.Tests.Storage;

public sealed class EmbeddedPostgresTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"nexus-embedded-{Guid.NewGuid():N}");

    [Fact]
    public void Server_binaries_are_found_on_this_machine()
    {
        var bin = EmbeddedPostgres.FindServerBinaries();

        Assert.NotNull(bin);
        Assert.True(File.Exists(Path.Combine(bin, "pg_ctl")));
        Assert.True(File.Exists(Path.Combine(bin, "postgres")));
    }

    [Fact]
    public async Task Restart_keeps_data_password_and_port_and_dispose_stops_the_server()
    {
        string connectionString;
        await using (var first = await StartAsync())
        {
            connectionString = first.ConnectionString;
            await ExecuteAsync(connectionString, "CREATE TABLE kept (value text); INSERT INTO kept VALUES ('still here')");
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            Assert.Equal("127.0.0.1", builder.Host);
            Assert.Equal("nexus", builder.Database);
            Assert.Equal("nexus", builder.Username);
        }

        Assert.False(File.Exists(Path.Combine(_directory, "cluster", "postmaster.pid")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory, "password")));
        }

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ExecuteAsync(connectionString, "SELECT 1"));

        await using var second = await StartAsync();

        Assert.Equal(connectionString, second.ConnectionString);
        Assert.Equal("still here", await ExecuteAsync(second.ConnectionString, "SELECT value FROM kept"));
    }

    [Fact]
    public async Task A_stale_postmaster_pid_naming_a_live_unrelated_process_does_not_block_the_start()
    {
        await (await StartAsync()).DisposeAsync();
        var pidFile = Path.Combine(_directory, "cluster", "postmaster.pid");
        await File.WriteAllTextAsync(pidFile, $"{Environment.ProcessId}\n{_directory}/cluster\n1700000000\n5432\n");

        await using var server = await StartAsync();

        Assert.Equal(1, await ExecuteAsync(server.ConnectionString, "SELECT 1"));
    }

    [Fact]
    public async Task A_killed_server_leaves_a_stale_postmaster_pid_that_the_next_start_recovers_from()
    {
        var killed = await StartAsync();
        var pidFile = Path.Combine(_directory, "cluster", "postmaster.pid");
        var pid = int.Parse((await File.ReadAllLinesAsync(pidFile))[0], CultureInfo.InvariantCulture);
        using (var postmaster = Process.GetProcessById(pid))
        {
            postmaster.Kill();
        }

        await WaitUntilAsync(() => !IsRunning(pid));
        Assert.True(File.Exists(pidFile));

        await using var server = await StartAsync();

        Assert.Equal(1, await ExecuteAsync(server.ConnectionString, "SELECT 1"));
        await killed.DisposeAsync();
    }

    [Fact]
    public async Task A_second_instance_while_the_owner_runs_shares_the_server_and_leaves_it_running()
    {
        await using var owner = await StartAsync();

        await using (var guest = await StartAsync())
        {
            Assert.True(owner.IsOwner);
            Assert.False(guest.IsOwner);
            Assert.Equal(owner.ConnectionString, guest.ConnectionString);
        }

        Assert.Equal(1, await ExecuteAsync(owner.ConnectionString, "SELECT 1"));
    }

    [Fact]
    public async Task The_server_stops_when_its_owner_process_dies_without_disposing()
    {
        using var owner = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var server = await EmbeddedPostgres.StartAsync(_directory, NullLogger.Instance, owner.Id, timeout.Token);
        Assert.Equal(1, await ExecuteAsync(server.ConnectionString, "SELECT 1"));

        owner.Kill();

        await WaitUntilAsync(() => !File.Exists(Path.Combine(_directory, "cluster", "postmaster.pid")));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ExecuteAsync(server.ConnectionString, "SELECT 1"));
        await server.DisposeAsync();
    }

    [Fact]
    public async Task A_server_orphaned_with_its_owner_and_watchdog_killed_is_adopted_and_stopped_by_the_new_owner()
    {
        var orphan = await StartAsync();
        var ownerFile = Path.Combine(_directory, "owner");
        var watchdog = int.Parse((await File.ReadAllLinesAsync(ownerFile))[1], CultureInfo.InvariantCulture);
        using (var process = Process.GetProcessById(watchdog))
        {
            process.Kill();
        }

        await File.WriteAllTextAsync(ownerFile, $"{DeadProcessId()}\n{watchdog}\n");

        await using (var adopter = await StartAsync())
        {
            Assert.True(adopter.IsOwner);
            Assert.Equal(orphan.ConnectionString, adopter.ConnectionString);
            Assert.Equal(1, await ExecuteAsync(adopter.ConnectionString, "SELECT 1"));
        }

        Assert.False(File.Exists(Path.Combine(_directory, "cluster", "postmaster.pid")));
        await orphan.DisposeAsync();
    }

    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static int DeadProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            await Task.Delay(50, timeout.Token);
        }
    }

    private async Task<EmbeddedPostgres> StartAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return await EmbeddedPostgres.StartAsync(_directory, NullLogger.Instance, timeout.Token);
    }

    private static async Task<object?> ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}

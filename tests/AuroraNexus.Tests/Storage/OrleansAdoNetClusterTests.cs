using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans.Configuration;
using Orleans.Hosting;

namespace AuroraNexus.Tests.Storage;

/// <summary>
/// The migrated schema under the real Orleans ADO.NET providers: two silos and a client on one database.
/// </summary>
[Collection("postgres")]
public sealed class OrleansAdoNetClusterTests(PostgresFixture postgres)
{
    private const string ServiceId = "nexus-tests";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Two_silos_join_as_active_and_grain_state_and_reminders_survive_a_full_cluster_restart()
    {
        using var cts = new CancellationTokenSource(Timeout);
        var ct = cts.Token;
        var connectionString = await postgres.CreateDatabaseAsync("orleans_cluster");
        await using var ds = NpgsqlDataSource.Create(connectionString);
        await MigrationRunner.ApplyAsync(ds, ct);
        var clusterId = $"cluster-{Guid.NewGuid():N}";
        var longKey = "tenant/" + new string('x', 5_000);

        await using (var cluster = await TestCluster.StartAsync(connectionString, clusterId, ct))
        {
            Assert.Equal(new[] { 3, 3 }, await StatusesAsync(ds, clusterId, ct));

            var probe = cluster.Client.GetGrain<IStorageProbeGrain>("tenant-a/app/user/thread-1");
            await probe.SetAsync("first", ct);
            await probe.SetAsync("second", ct);
            await probe.RegisterReminderAsync("nightly", ct);
            await cluster.Client.GetGrain<IStorageProbeGrain>(longKey).SetAsync("long key", ct);
            var cleared = cluster.Client.GetGrain<IStorageProbeGrain>("cleared");
            await cleared.SetAsync("to be cleared", ct);
            await cleared.ClearAsync(ct);
            await probe.DeactivateAsync(ct);
            Assert.Equal("second", await probe.GetAsync(ct));

            await using var row = ds.CreateCommand(
                "SELECT version FROM orleansstorage WHERE serviceid = $1 AND graintypestring = 'storage-probe' " +
                "AND grainidextensionstring = 'tenant-a/app/user/thread-1' AND payloadbinary IS NOT NULL");
            row.Parameters.AddWithValue(ServiceId);
            Assert.Equal(2, await row.ExecuteScalarAsync(ct));

            await using var reminder = ds.CreateCommand(
                "SELECT count(*) FROM orleansreminderstable WHERE serviceid = $1 AND remindername = 'nightly' " +
                "AND grainid LIKE 'storageprobe/%thread-1' AND period = 3600000");
            reminder.Parameters.AddWithValue(ServiceId);
            Assert.Equal(1L, await reminder.ExecuteScalarAsync(ct));
        }

        await using (var cluster = await TestCluster.StartAsync(connectionString, clusterId, ct))
        {
            var statuses = await StatusesAsync(ds, clusterId, ct);
            Assert.Equal(4, statuses.Length);
            Assert.Equal(2, statuses.Count(s => s == 3));

            Assert.Equal("second", await cluster.Client.GetGrain<IStorageProbeGrain>("tenant-a/app/user/thread-1").GetAsync(ct));
            Assert.Equal("long key", await cluster.Client.GetGrain<IStorageProbeGrain>(longKey).GetAsync(ct));
            var cleared = cluster.Client.GetGrain<IStorageProbeGrain>("cleared");
            Assert.Null(await cleared.GetAsync(ct));
            await cleared.SetAsync("written after clear", ct);

            var reminders = cluster.SiloHosts[0].Services.GetRequiredService<IReminderTable>();
            var entries = await reminders.ReadRows(cluster.Client.GetGrain<IStorageProbeGrain>("tenant-a/app/user/thread-1").GetGrainId());
            Assert.Equal("nightly", Assert.Single(entries.Reminders).ReminderName);
        }
    }

    private static async Task<int[]> StatusesAsync(NpgsqlDataSource ds, string clusterId, CancellationToken ct)
    {
        await using var command = ds.CreateCommand("SELECT status FROM orleansmembershiptable WHERE deploymentid = $1 ORDER BY status");
        command.Parameters.AddWithValue(clusterId);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var statuses = new List<int>();
        while (await reader.ReadAsync(ct))
        {
            statuses.Add(reader.GetInt32(0));
        }

        return [.. statuses];
    }

    private sealed class TestCluster : IAsyncDisposable
    {
        private TestCluster(IHost[] silos, IHost client)
        {
            SiloHosts = silos;
            ClientHost = client;
        }

        public IHost[] SiloHosts { get; }

        public IHost ClientHost { get; }

        public IClusterClient Client => ClientHost.Services.GetRequiredService<IClusterClient>();

        public static async Task<TestCluster> StartAsync(string connectionString, string clusterId, CancellationToken ct)
        {
            var silos = new[] { BuildSilo(connectionString, clusterId), BuildSilo(connectionString, clusterId) };
            await Task.WhenAll(silos.Select(s => s.StartAsync(ct)));
            var client = BuildClient(connectionString, clusterId);
            await client.StartAsync(ct);
            return new TestCluster(silos, client);
        }

        public async ValueTask DisposeAsync()
        {
            await ClientHost.StopAsync();
            ClientHost.Dispose();
            await Task.WhenAll(SiloHosts.Select(s => s.StopAsync()));
            foreach (var silo in SiloHosts)
            {
                silo.Dispose();
            }
        }

        private static IHost BuildSilo(string connectionString, string clusterId)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleans(silo =>
            {
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clusterId;
                    o.ServiceId = ServiceId;
                });
                silo.ConfigureEndpoints(IPAddress.Loopback, FreePort(), FreePort());
                silo.UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                });
                silo.AddAdoNetGrainStorage(StorageProbeGrain.StorageName, o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                });
                silo.UseAdoNetReminderService(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                });
            });
            return builder.Build();
        }

        private static IHost BuildClient(string connectionString, string clusterId)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleansClient(client =>
            {
                client.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clusterId;
                    o.ServiceId = ServiceId;
                });
                client.UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                });
            });
            return builder.Build();
        }

        private static int FreePort() => TestApp.FreePort();
    }
}

using System.Net;
using System.Net.Sockets;
using AuroraNexus.Grains.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Serialization;
using Orleans.Storage;

namespace AuroraNexus.Silo;

/// <summary>How a silo (or the single-node WebFront's co-hosted silo) and an Orleans client are configured.</summary>
public static class NexusSiloHosting
{
    public const string StorageName = "nexus";

    public static ISiloBuilder AddNexusSilo(this ISiloBuilder silo, NexusSettings settings, NexusDatabase database, bool singleNode)
    {
        if (singleNode)
        {
            silo.UseLocalhostClustering(settings.SiloPort, settings.OrleansGatewayPort, null, settings.ServiceId, settings.ClusterId);
        }
        else
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = settings.ServiceId;
            });
            silo.ConfigureEndpoints(AdvertisedAddress(), settings.SiloPort, settings.OrleansGatewayPort, listenOnAnyHostAddress: true);
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = database.ConnectionString;
            });

            // Production keeps Orleans' defaults (5 s probes, 3 missed, 2 votes: a killed silo is declared dead after
            // roughly 3 probe periods); tests lower them to exercise failover within their time budget.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                if (settings.MembershipProbeTimeout is { } probe)
                {
                    o.ProbeTimeout = probe;
                }

                if (settings.MissedProbesLimit is { } missed)
                {
                    o.NumMissedProbesLimit = missed;
                }
            });
        }

        // Orleans' own serializer honours [Alias]: renaming a state class does not orphan its stored rows,
        // as the provider's default (JSON with CLR type names) would.
        silo.AddAdoNetGrainStorage(StorageName, (OptionsBuilder<AdoNetGrainStorageOptions> options) =>
            options.Configure<Serializer>((o, serializer) =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = database.ConnectionString;
                o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            }));
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = database.ConnectionString;
        });
        silo.Services.AddNexusGrainServices();
        silo.AddActivityPropagation();
        silo.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout);

        // Every silo runs the dashboard's grains and counters (WebFront serves its pages at /dashboard); its live log
        // stream is off, since log lines may carry tenant data.
        silo.AddDashboard(o => o.HideTrace = true);
        return silo;
    }

    public static IClientBuilder AddNexusClient(this IClientBuilder client, NexusSettings settings, NexusDatabase database)
    {
        client.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = settings.ServiceId;
        });
        client.UseAdoNetClustering(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = database.ConnectionString;
        });

        // Silos that restart come back on new generations: find them within seconds, not the default minute.
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(10));
        client.AddActivityPropagation();
        client.AddDashboard(o => o.HideTrace = true);
        return client;
    }

    /// <summary>Framework chatter at Warning unless the configuration says otherwise; the product's own logs stay at Information.</summary>
    public static void AddNexusLogDefaults(this ILoggingBuilder logging, IConfiguration configuration)
    {
        foreach (var category in new[] { "Microsoft.AspNetCore", "Orleans", "Polly", "System.Net.Http" })
        {
            if (configuration[$"Logging:LogLevel:{category}"] is null)
            {
                logging.AddFilter(category, LogLevel.Warning);
            }
        }
    }

    /// <summary>ORLEANS_ADVERTISED_IP, else the host's first IPv4 address (the container's address under compose).</summary>
    private static IPAddress AdvertisedAddress()
    {
        var configured = Environment.GetEnvironmentVariable("ORLEANS_ADVERTISED_IP");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return IPAddress.TryParse(configured.Trim(), out var ip)
                ? ip
                : throw new NexusConfigurationException("ORLEANS_ADVERTISED_IP", $"'{configured}' is not an IP address");
        }

        var own = Dns.GetHostAddresses(Dns.GetHostName())
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        return own ?? IPAddress.Loopback;
    }
}

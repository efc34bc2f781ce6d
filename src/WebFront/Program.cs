using AuroraNexus.WebFront;

// Single node (default): this process co-hosts a silo and, without DATABASE_URL, a private PostgreSQL.
// NEXUS_MODE=client: a pure Orleans client of the cluster the silos form on DATABASE_URL.
await using var web = await NexusWebApp.CreateAsync(args);
if (web is null)
{
    return 2;
}

await web.App.RunAsync();
return 0;

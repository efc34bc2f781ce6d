using AuroraNexus.Grains.Hosting;
using AuroraNexus.Silo;
using AuroraNexus.WebFront.Api;

namespace AuroraNexus.WebFront;

/// <summary>The WebFront application and the database it owns; disposing stops both, the database last.</summary>
public sealed class NexusWebApp : IAsyncDisposable
{
    private NexusWebApp(WebApplication app, NexusDatabase database)
    {
        App = app;
        Database = database;
    }

    public WebApplication App { get; }

    public NexusDatabase Database { get; }

    /// <returns>null after printing the problem when the configuration is wrong.</returns>
    public static async Task<NexusWebApp?> CreateAsync(string[] args, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.Logging.AddNexusLogDefaults(builder.Configuration);
        var startup = await NexusWebStartup.PrepareAsync(builder);
        if (startup is null)
        {
            return null;
        }

        builder.AddNexusWeb(startup);
        var app = builder.Build();
        app.UseNexusProblemDetails();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapAuthApi();
        app.MapQueryApi();
        app.MapIngestApi();
        app.MapDocumentsApi();
        app.MapHealthApi();
        app.MapAdminSettingsApi();
        return new NexusWebApp(app, startup.Database);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Database.DisposeAsync();
    }
}

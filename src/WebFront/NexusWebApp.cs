using AuroraNexus.Grains.Hosting;
using AuroraNexus.Silo;
using AuroraNexus.WebFront.Api;
using AuroraNexus.WebFront.Ui;

namespace AuroraNexus.WebFront;

/// <summary>The WebFront application and the database it owns; disposing stops both, the database last.</summary>
public sealed class NexusWebApp : IAsyncDisposable
{
    private NexusWebApp(WebApplication app, NexusDatabase database, IReadOnlyList<ListenPort> ports)
    {
        App = app;
        Database = database;
        Ports = ports;
    }

    public WebApplication App { get; }

    public NexusDatabase Database { get; }

    /// <summary>The ports the app listens on and their variables, to name the one a failed start could not bind.</summary>
    public IReadOnlyList<ListenPort> Ports { get; }

    /// <returns>null after printing the problem when the configuration is wrong.</returns>
    /// <param name="configureLogging">Extra log providers (tests capture the log to prove it holds no secret).</param>
    public static async Task<NexusWebApp?> CreateAsync(
        string[] args, IReadOnlyDictionary<string, string?>? overrides = null, Action<ILoggingBuilder>? configureLogging = null)
    {
        // Named after this assembly wherever it is hosted (tests too), so that its static web assets (MudBlazor, Blazor's script) are found.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ApplicationName = typeof(NexusWebApp).Assembly.GetName().Name,
        });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.Logging.AddNexusLogDefaults(builder.Configuration);
        configureLogging?.Invoke(builder.Logging);
        var startup = await NexusWebStartup.PrepareAsync(builder);
        if (startup is null)
        {
            return null;
        }

        builder.AddNexusWeb(startup);
        var app = builder.Build();
        app.UseNexusProblemDetails();
        // The gateway port serves what a silo serves there (health, metrics, internal chat), not the public API.
        var gatewayPort = startup.Settings.GatewayPort;
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (context.Connection.LocalPort == gatewayPort &&
                !(path.StartsWithSegments("/health") || path.StartsWithSegments("/internal") || path.StartsWithSegments("/metrics")))
            {
                await Problems.Write(context, StatusCodes.Status404NotFound, "not_found",
                    $"Port {gatewayPort} (HOST_GATEWAY_PORT) serves /health, /metrics and /internal/v1/chat/completions only; the API is on HOST_API_PORT.");
                return;
            }

            await next(context);
        });
        app.UseRequestLocalization();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapAuthApi();
        app.MapQueryApi();
        app.MapIngestApi();
        app.MapDocumentsApi();
        app.MapHealthApi();
        app.MapAdminSettingsApi();
        app.MapAdminTenancyApi();
        app.MapAdminLlmApi();
        app.MapAdminConversationApi();
        app.MapAdminDoctorApi();
        app.MapNexusGatewaySurface(startup.Settings.GatewayPort);
        app.MapNexusMetrics(startup.Settings.GatewayPort);
        app.MapNexusUi();
        return new NexusWebApp(app, startup.Database, startup.Ports);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Database.DisposeAsync();
    }
}

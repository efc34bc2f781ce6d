using System.Text;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Operations;
using AuroraNexus.Silo;
using AuroraNexus.WebFront.Api;
using AuroraNexus.WebFront.Ui;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.IdentityModel.Tokens;

namespace AuroraNexus.WebFront;

/// <param name="Ports">What the app listens on, checked free before the database opened.</param>
public sealed record NexusWebStartup(NexusSettings Settings, NexusDatabase Database, bool SingleNode, IReadOnlyList<ListenPort> Ports)
{
    /// <summary>Reads the environment and opens the database; prints the problem and returns null on a configuration error.</summary>
    public static async Task<NexusWebStartup?> PrepareAsync(WebApplicationBuilder builder)
    {
        using var loggerFactory = LoggerFactory.Create(l => l.AddSimpleConsole(o => o.SingleLine = true));
        var logger = loggerFactory.CreateLogger("AuroraNexus.WebFront");
        try
        {
            var mode = builder.Configuration["NEXUS_MODE"]?.Trim().ToLowerInvariant() is { Length: > 0 } m ? m : "single";
            if (mode is not ("single" or "client"))
            {
                throw new NexusConfigurationException("NEXUS_MODE", $"'{mode}' is not a mode: use single (default) or client");
            }

            var single = mode == "single";
            var settings = NexusSettings.Load(builder.Configuration, singleNode: single);
            settings.LogGeneratedSecrets(logger);
            var ports = ListenPorts.OfWebFront(settings, builder.Configuration, single);
            ListenPorts.EnsureFree(ports);
            var database = await NexusDatabase.OpenAsync(settings, allowEmbedded: single, migrate: single, logger, CancellationToken.None);
            if (single)
            {
                await database.SeedAsync(settings, logger, CancellationToken.None);
            }

            return new NexusWebStartup(settings, database, single, ports);
        }
        catch (NexusConfigurationException ex)
        {
            Console.Error.WriteLine($"configuration error: {ex.Message}");
            return null;
        }
    }
}

public static class NexusWebHosting
{
    public static WebApplicationBuilder AddNexusWeb(this WebApplicationBuilder builder, NexusWebStartup startup)
    {
        var settings = startup.Settings;
        builder.Services.AddNexusData(settings, startup.Database.DataSource);
        builder.Services.AddSingleton<NexusHealth>();
        builder.Services.AddSingleton(new NexusRuntimeMode(startup.SingleNode));
        builder.Services.AddNexusDoctor();
        builder.Services.AddNexusTelemetry(builder.Configuration, "aurora-nexus-webfront");
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout);
        builder.Services.AddSingleton(new TokenService(settings.JwtSecret));
        builder.Services.AddSingleton(new LoginThrottle(TimeProvider.System));
        builder.AddNexusUi();
        if (startup.SingleNode)
        {
            builder.UseOrleans(silo => silo.AddNexusSilo(settings, startup.Database, singleNode: true));
        }
        else
        {
            builder.UseOrleansClient(client => client.AddNexusClient(settings, startup.Database));
        }

        builder.Services.Configure<FormOptions>(o => o.MultipartBodyLengthLimit = settings.MaxUploadBytes);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = settings.MaxUploadBytes);
        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(o =>
            o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
        builder.Services
            .AddNexusAuthentication()
            .AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = TokenService.Issuer,
                    ValidAudience = TokenService.Audience,
                    IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(settings.JwtSecret)),
                    NameClaimType = "sub",
                    RoleClaimType = "role",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
                o.Events = new JwtBearerEvents
                {
                    OnTokenValidated = async context =>
                    {
                        // Every tenant-owned read is keyed by the tid claim; and the signature is not enough: the user must
                        // still exist in that tenant with that role, with no password or role change since the token was issued.
                        var users = context.HttpContext.RequestServices.GetRequiredService<AuroraNexus.Grains.Storage.UserRepository>();
                        if (await SessionCheck.ProblemAsync(context.Principal, users, context.HttpContext.RequestAborted) is { } problem)
                        {
                            context.Fail(problem);
                        }
                    },
                    OnChallenge = async context =>
                    {
                        context.HandleResponse();
                        var (code, detail) = context.AuthenticateFailure switch
                        {
                            null => ("unauthorized", "Send `Authorization: Bearer <access_token>` obtained from POST /api/auth/login."),
                            { Message: var m } when m.StartsWith("the session ended", StringComparison.Ordinal) =>
                                ("invalid_token", $"The bearer token is no longer valid: {m}. Log in again with POST /api/auth/login."),
                            _ => ("invalid_token", "The bearer token is invalid or expired; log in again with POST /api/auth/login."),
                        };
                        await Problems.Write(context.HttpContext, StatusCodes.Status401Unauthorized, code, detail);
                    },
                    OnForbidden = context => Problems.Write(context.HttpContext, StatusCodes.Status403Forbidden, "forbidden",
                        NexusPolicies.NeedsOperator(context.HttpContext)
                            ? "This route acts on the whole platform: it needs an admin of the default tenant (the platform's operator)."
                            : "This route needs the admin role."),
                };
            });
        builder.Services.AddAuthorizationBuilder()
            .SetDefaultPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder()
                .RequireAuthenticatedUser()
                .RequireClaim("tid")
                .RequireClaim("sub")
                .Build())
            .AddPolicy(NexusPolicies.Admin, p => p.RequireAuthenticatedUser().RequireClaim("tid").RequireRole("admin"))
            .AddPolicy(NexusPolicies.Operator, p => p.RequireAuthenticatedUser().RequireRole("admin")
                .RequireClaim("tid", AuroraNexus.Grains.Storage.UserRepository.DefaultTenant));
        if (!ListenPorts.UrlsConfigured(builder.Configuration))
        {
            // The gateway port serves what a silo serves there (health, metrics, internal chat): in single node this
            // process is the silo; as a client it keeps /metrics off the public API port.
            builder.WebHost.UseUrls($"http://{OpsCommands.BindAddress()}:{settings.ApiPort}", $"http://{OpsCommands.BindAddress()}:{settings.GatewayPort}");
        }

        return builder;
    }
}

/// <summary>
/// Who may use a route beyond being signed in: <see cref="Admin"/> = an admin of the caller's own tenant;
/// <see cref="Operator"/> = an admin of the default (bootstrap) tenant, for what spans every tenant (the doctor, tenants,
/// the Orleans dashboard's cluster-wide grain views).
/// </summary>
public static class NexusPolicies
{
    public const string Admin = "admin";
    public const string Operator = "operator";

    /// <summary>Whether the endpoint being served requires <see cref="Operator"/> (to word its 403).</summary>
    public static bool NeedsOperator(HttpContext http) =>
        http.GetEndpoint()?.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>()
            .Any(a => a.Policy == Operator) == true;
}

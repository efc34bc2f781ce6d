using System.Globalization;
using System.Security.Claims;
using AuroraNexus.Grains.Storage;
using AuroraNexus.WebFront.Api;
using AuroraNexus.WebFront.Components;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Localization;
using Microsoft.AspNetCore.Mvc;
using MudBlazor.Services;
using Orleans.Dashboard;

namespace AuroraNexus.WebFront.Ui;

/// <summary>
/// The admin backoffice: Blazor pages (interactive server rendering, MudBlazor) calling the API's own handlers and
/// repositories, signed in with a cookie checked like the API's bearer tokens; and the Orleans dashboard at /dashboard.
/// </summary>
public static class UiHosting
{
    /// <summary>Routes under /api authenticate with bearer tokens only (a cookie there would open the API to CSRF); the rest with the cookie.</summary>
    public const string Scheme = "nexus";

    public static AuthenticationBuilder AddNexusAuthentication(this IServiceCollection services) =>
        services.AddAuthentication(Scheme)
            .AddPolicyScheme(Scheme, "API bearer token or backoffice cookie", o => o.ForwardDefaultSelector = context =>
                context.Request.Path.StartsWithSegments("/api")
                    ? JwtBearerDefaults.AuthenticationScheme
                    : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.Cookie.Name = "nexus_ui";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.LoginPath = "/login";
                o.AccessDeniedPath = "/denied";
                o.ReturnUrlParameter = "return_url";
                o.ExpireTimeSpan = TokenService.Lifetime;
                o.Events.OnValidatePrincipal = async context =>
                {
                    var users = context.HttpContext.RequestServices.GetRequiredService<UserRepository>();
                    if (await SessionCheck.ProblemAsync(context.Principal, users, context.HttpContext.RequestAborted) is not null)
                    {
                        context.RejectPrincipal();
                        await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                    }
                };
            });

    public static WebApplicationBuilder AddNexusUi(this WebApplicationBuilder builder)
    {
        // Outside a published build (dotnet run, tests) the packages' assets (MudBlazor, Blazor's script) are read where
        // the build left them, as listed in the runtime manifest next to the assembly; a published app has them in wwwroot.
        builder.WebHost.UseStaticWebAssets();
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddMudServices();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddScoped<AuthenticationStateProvider, RevalidatingSessionStateProvider>();
        builder.Services.AddScoped<UiCaller>();
        builder.Services.Configure<RequestLocalizationOptions>(o =>
        {
            var cultures = UiText.Cultures.Select(c => new CultureInfo(c)).ToList();
            o.DefaultRequestCulture = new RequestCulture("en");
            o.SupportedCultures = cultures;
            o.SupportedUICultures = cultures;
        });
        return builder;
    }

    public static void MapNexusUi(this WebApplication app)
    {
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

        app.MapPost("/ui/login", static async (
            [FromForm] string? email, [FromForm] string? password, [FromForm(Name = "return_url")] string? returnUrl,
            HttpContext http, UserRepository users, LoginThrottle throttle, IAntiforgery antiforgery, CancellationToken ct) =>
        {
            var back = LocalUrl(returnUrl);
            if (!await IsGenuineLoginFormAsync(http, antiforgery))
            {
                return Results.LocalRedirect($"/login?error=form_expired&return_url={Uri.EscapeDataString(back)}");
            }

            if (string.IsNullOrWhiteSpace(email) || string.IsNullOrEmpty(password))
            {
                return Results.LocalRedirect($"/login?error=credentials_required&return_url={Uri.EscapeDataString(back)}");
            }

            if (throttle.RetryAfter(email) is not null)
            {
                return Results.LocalRedirect($"/login?error=too_many_attempts&return_url={Uri.EscapeDataString(back)}");
            }

            var user = await users.VerifyAsync(email, password, ct);
            if (user is null)
            {
                throttle.Failed(email);
                return Results.LocalRedirect($"/login?error=invalid_credentials&return_url={Uri.EscapeDataString(back)}");
            }

            throttle.Succeeded(email);
            var identity = new ClaimsIdentity(
            [
                new Claim("sub", user.Id.ToString()),
                new Claim("tid", user.TenantId),
                new Claim("role", user.Role),
                new Claim("email", user.Email),
                new Claim(TokenService.StampClaim, user.SecurityStamp.ToString(CultureInfo.InvariantCulture)),
            ], CookieAuthenticationDefaults.AuthenticationScheme, "email", "role");

            // Signed in already (as this user or another): the new cookie replaces the session.
            await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
            return Results.LocalRedirect(user.Role == "admin" ? back : "/denied");
        }).AllowAnonymous().DisableAntiforgery(); // checked in the handler, to answer a stale form with the login page

        // Any page's button must log out, also one whose form token belongs to a session that has ended since. A forged
        // cross-site post cannot do it: the session cookie is SameSite=Strict, so such a post arrives without it.
        app.MapPost("/ui/logout", static async (HttpContext http) =>
        {
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.LocalRedirect("/login");
        }).AllowAnonymous().DisableAntiforgery();

        app.MapGet("/ui/culture", static (string? culture, [FromQuery(Name = "return_url")] string? returnUrl, HttpContext http) =>
        {
            if (culture is not null && UiText.Cultures.Contains(culture))
            {
                http.Response.Cookies.Append(CookieRequestCultureProvider.DefaultCookieName,
                    CookieRequestCultureProvider.MakeCookieValue(new RequestCulture(culture)),
                    new CookieOptions { MaxAge = TimeSpan.FromDays(365), SameSite = SameSiteMode.Lax, HttpOnly = true });
            }

            return Results.LocalRedirect(LocalUrl(returnUrl));
        }).AllowAnonymous();

        // The dashboard shows every tenant's grains and the cluster's internals: the platform's operator only; its live log
        // (trace) is off (see AddNexusSilo).
        app.MapOrleansDashboard(routePrefix: "/dashboard")
            .RequireAuthorization(NexusPolicies.Operator)
            .AddEndpointFilter(DashboardSilos.CheckAsync);
    }

    /// <summary>
    /// Whether the login form was served by this site to this browser. Its token is tied to whoever was signed in when the
    /// page was rendered: a login page opened before signing in (in another tab, say) carries an anonymous token, which is
    /// as genuine as the current session's for a login; anything else is a form that expired.
    /// </summary>
    private static async Task<bool> IsGenuineLoginFormAsync(HttpContext http, IAntiforgery antiforgery)
    {
        if (await antiforgery.IsRequestValidAsync(http))
        {
            return true;
        }

        if (http.User.Identity?.IsAuthenticated != true)
        {
            return false;
        }

        var signedIn = http.User;
        http.User = new ClaimsPrincipal(new ClaimsIdentity());
        if (await antiforgery.IsRequestValidAsync(http))
        {
            return true;
        }

        http.User = signedIn;
        return false;
    }

    /// <summary>Only paths of this site, so that the login form cannot be used to send someone elsewhere.</summary>
    /// <remarks>The framework's own rule (<c>IsLocalUrl</c>) also refuses control characters, which it would otherwise throw on.</remarks>
    private static string LocalUrl(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal)
            && !url.Any(char.IsControl)
            ? url
            : "/";
}

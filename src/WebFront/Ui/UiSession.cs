using System.Security.Claims;
using AuroraNexus.Grains.Storage;
using AuroraNexus.WebFront.Api;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;

namespace AuroraNexus.WebFront.Ui;

/// <summary>
/// The one session check of the API (bearer tokens) and the backoffice (cookie): the user must still exist in the
/// token's tenant with the token's role, and the security stamp must not have moved (password or role change, deletion).
/// </summary>
public static class SessionCheck
{
    public const string SessionEnded = "the session ended: the user was deleted, or their password or role changed";

    public static async Task<string?> ProblemAsync(ClaimsPrincipal? principal, UserRepository users, CancellationToken ct)
    {
        var tenant = principal?.FindFirst("tid")?.Value;
        var subject = principal?.FindFirst("sub")?.Value;
        if (string.IsNullOrEmpty(tenant) || string.IsNullOrEmpty(subject))
        {
            return "the token carries no tenant (tid) or subject (sub) claim";
        }

        var session = Guid.TryParse(subject, out var userId) ? await users.GetSessionAsync(userId, ct) : null;
        return session is not { } s || s.TenantId != tenant || s.Role != principal!.FindFirst("role")?.Value ||
               principal.FindFirst(TokenService.StampClaim)?.Value != s.SecurityStamp.ToString(System.Globalization.CultureInfo.InvariantCulture)
            ? SessionEnded
            : null;
    }
}

/// <summary>Re-checks an open backoffice circuit's session every minute, so a deleted or demoted admin loses the pages too.</summary>
public sealed class RevalidatingSessionStateProvider(ILoggerFactory logs, IServiceScopeFactory scopes)
    : RevalidatingServerAuthenticationStateProvider(logs)
{
    protected override TimeSpan RevalidationInterval => TimeSpan.FromMinutes(1);

    protected override async Task<bool> ValidateAuthenticationStateAsync(AuthenticationState state, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await SessionCheck.ProblemAsync(state.User, scope.ServiceProvider.GetRequiredService<UserRepository>(), ct) is null;
    }
}

/// <summary>Who uses the backoffice circuit, as the API's <see cref="Caller"/>.</summary>
public sealed class UiCaller(AuthenticationStateProvider auth)
{
    public async Task<Caller> GetAsync() => Caller.From((await auth.GetAuthenticationStateAsync()).User);
}

using System.Collections.Immutable;
using System.Security.Claims;
using System.Text.RegularExpressions;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

public sealed record UserBody(Guid Id, string Email, string Role, bool PasswordIsSeededDefault, DateTimeOffset CreatedAt);

public sealed record CreateUserBody(string? Email, string? Password, string? Role);

public sealed record UpdateUserBody(string? Role, string? Password);

public sealed record ChangePasswordBody(string? CurrentPassword, string? NewPassword);

public sealed record CallerAppBody(string Name, DateTimeOffset CreatedAt);

public sealed record CreateCallerAppBody(string? Name);

public sealed record TenantBody(string Id, string Name, DateTimeOffset CreatedAt);

public sealed record CreateTenantBody(string? Id, string? Name, string? AdminEmail, string? AdminPassword);

public sealed record CreatedTenantBody(string Id, string Name, UserBody Admin);

/// <summary>
/// Users and caller apps of the caller's tenant (admin role), the caller's own password, and tenants (admins of the
/// default tenant, who run the platform). The tenant always comes from the token, never from the request.
/// </summary>
public static partial class AdminTenancyApi
{
    public const int MinPasswordLength = 10;

    public static void MapAdminTenancyApi(this WebApplication app)
    {
        app.MapPost("/api/auth/password", static (
            ChangePasswordBody? body, HttpContext http, UserRepository users, LoginThrottle throttle, CancellationToken ct) =>
            ChangeOwnPasswordAsync(http.User, body, users, throttle, http, ct)).RequireAuthorization();

        var users = app.MapGroup("/api/admin/users").RequireAuthorization("admin");
        users.MapGet("", static async (HttpContext http, UserRepository repo, CancellationToken ct) =>
            TypedResults.Ok((await repo.ListUsersAsync(Caller.From(http.User).TenantId, ct)).Select(ToBody).ToImmutableArray()));

        users.MapGet("/{id:guid}", static async Task<Results<Ok<UserBody>, ProblemHttpResult>> (
            Guid id, HttpContext http, UserRepository repo, CancellationToken ct) =>
            await repo.GetUserAsync(Caller.From(http.User).TenantId, id, ct) is { } user
                ? TypedResults.Ok(ToBody(user))
                : UserNotFound(id));

        users.MapPost("", static (CreateUserBody? body, HttpContext http, UserRepository repo, CancellationToken ct) =>
            CreateUserAsync(Caller.From(http.User).TenantId, body, repo, ct));

        users.MapPatch("/{id:guid}", static (Guid id, UpdateUserBody? body, HttpContext http, UserRepository repo, CancellationToken ct) =>
            UpdateUserAsync(Caller.From(http.User), id, body, repo, ct));

        users.MapDelete("/{id:guid}", static (Guid id, HttpContext http, UserRepository repo, CancellationToken ct) =>
            DeleteUserAsync(Caller.From(http.User), id, repo, ct));

        var apps = app.MapGroup("/api/admin/caller-apps").RequireAuthorization("admin");
        apps.MapGet("", static async (HttpContext http, UserRepository repo, CancellationToken ct) =>
            TypedResults.Ok((await repo.ListCallerAppsAsync(Caller.From(http.User).TenantId, ct))
                .Select(a => new CallerAppBody(a.Name, a.CreatedAt)).ToImmutableArray()));

        apps.MapPost("", static (CreateCallerAppBody? body, HttpContext http, UserRepository repo, CancellationToken ct) =>
            CreateCallerAppAsync(Caller.From(http.User).TenantId, body, repo, ct));

        apps.MapDelete("/{name}", static (string name, HttpContext http, UserRepository repo, CancellationToken ct) =>
            DeleteCallerAppAsync(Caller.From(http.User).TenantId, name, repo, ct));

        // The query form, for names that an upload or a query registered with characters a path cannot carry (such as '/').
        apps.MapDelete("", static async Task<Results<NoContent, ProblemHttpResult>> (
            [Microsoft.AspNetCore.Mvc.FromQuery] string? name, HttpContext http, UserRepository repo, CancellationToken ct) =>
            string.IsNullOrEmpty(name)
                ? Problems.Create(400, "caller_app_required", "Name the caller app: DELETE /api/admin/caller-apps/{name} or DELETE /api/admin/caller-apps?name=...")
                : await DeleteCallerAppAsync(Caller.From(http.User).TenantId, name, repo, ct));

        var tenants = app.MapGroup("/api/admin/tenants").RequireAuthorization(NexusPolicies.Operator);
        tenants.MapGet("", static async (UserRepository repo, CancellationToken ct) =>
            TypedResults.Ok((await repo.ListTenantsAsync(ct)).Select(t => new TenantBody(t.Id, t.Name, t.CreatedAt)).ToImmutableArray()));

        tenants.MapGet("/{id}", static async Task<Results<Ok<TenantBody>, ProblemHttpResult>> (
            string id, UserRepository repo, CancellationToken ct) =>
            (await repo.ListTenantsAsync(ct)).FirstOrDefault(t => t.Id == id) is { } tenant
                ? TypedResults.Ok(new TenantBody(tenant.Id, tenant.Name, tenant.CreatedAt))
                : Problems.Create(404, "tenant_not_found", $"No tenant '{id}'."));

        tenants.MapPost("", static async Task<Results<Created<CreatedTenantBody>, ProblemHttpResult>> (
            CreateTenantBody? body, UserRepository repo, CancellationToken ct) =>
        {
            var id = body?.Id?.Trim().ToLowerInvariant();
            if (id is null || !TenantIdPattern().IsMatch(id))
            {
                return Problems.Create(400, "tenant_id_invalid", "id must be 2-63 characters: lowercase letters, digits and '-', starting with a letter or digit.");
            }

            var email = body!.AdminEmail?.Trim();
            if (EmailProblem(email) is { } emailProblem)
            {
                return Problems.Create(400, "email_invalid", "admin_email: " + emailProblem);
            }

            if (PasswordProblem(body.AdminPassword) is { } problem)
            {
                return Problems.Create(400, "weak_password", problem);
            }

            var name = string.IsNullOrWhiteSpace(body.Name) ? id : body.Name.Trim();
            if (name.Length > 200 || name.Any(char.IsControl))
            {
                return Problems.Create(400, "tenant_name_invalid", "name must be at most 200 characters, without control characters.");
            }

            var (result, admin) = await repo.CreateTenantWithAdminAsync(id, name, email!, body.AdminPassword!, ct);
            return result switch
            {
                TenantCreation.TenantExists => Problems.Create(409, "tenant_exists", $"A tenant '{id}' already exists."),
                TenantCreation.EmailTaken => EmailTaken(),
                _ => TypedResults.Created($"/api/admin/tenants/{id}", new CreatedTenantBody(id, name, ToBody(admin!))),
            };
        });
    }

    /// <summary>
    /// The signed-in user changes their own password (the API's POST /api/auth/password and the backoffice's account
    /// page). Every session of the user ends: the security stamp moves, so tokens and cookies issued before are refused.
    /// </summary>
    /// <param name="http">The request, to carry Retry-After on a 429; none from a backoffice circuit.</param>
    public static async Task<Results<NoContent, ProblemHttpResult>> ChangeOwnPasswordAsync(
        ClaimsPrincipal user, ChangePasswordBody? body, UserRepository users, LoginThrottle throttle, HttpContext? http, CancellationToken ct)
    {
        var caller = Caller.From(user);
        var email = user.FindFirst("email")?.Value;
        if (body is null || string.IsNullOrEmpty(body.CurrentPassword) || email is null)
        {
            return Problems.Create(400, "current_password_required", "Send {\"current_password\": ..., \"new_password\": ...}.");
        }

        // The current password is guessed here as at the login: the same throttle, per email.
        if (throttle.RetryAfter(email) is { } wait)
        {
            return LoginThrottle.TooManyAttempts(http, wait);
        }

        if (PasswordProblem(body.NewPassword) is { } problem)
        {
            return Problems.Create(400, "weak_password", problem);
        }

        var verified = await users.VerifyAsync(email, body.CurrentPassword, ct);
        if (verified is null || verified.Id.ToString() != caller.UserId || verified.TenantId != caller.TenantId)
        {
            throttle.Failed(email);
            return Problems.Create(403, "current_password_wrong", "The current password is wrong; nothing was changed.");
        }

        throttle.Succeeded(email);
        await users.UpdateUserAsync(caller.TenantId, verified.Id, null, body.NewPassword, ct);
        return TypedResults.NoContent(); // the token used here is now stale: log in again with the new password
    }

    /// <summary>Adds a user to the tenant (member unless the role says admin).</summary>
    public static async Task<Results<Created<UserBody>, ProblemHttpResult>> CreateUserAsync(
        string tenant, CreateUserBody? body, UserRepository repo, CancellationToken ct)
    {
        var email = body?.Email?.Trim();
        if (EmailProblem(email) is { } emailProblem)
        {
            return Problems.Create(400, "email_invalid", emailProblem);
        }

        var role = body!.Role?.Trim().ToLowerInvariant() ?? "member";
        if (!UserRepository.Roles.Contains(role))
        {
            return Problems.Create(400, "role_invalid", "role must be admin or member.");
        }

        if (PasswordProblem(body.Password) is { } problem)
        {
            return Problems.Create(400, "weak_password", problem);
        }

        var user = await repo.CreateUserAsync(tenant, email!, body.Password!, role, seededDefault: false, ct);
        return user is null
            ? EmailTaken()
            : TypedResults.Created($"/api/admin/users/{user.Id}", ToBody(user));
    }

    /// <summary>Changes a user's role or password; the tenant keeps at least one admin.</summary>
    public static async Task<Results<Ok<UserBody>, ProblemHttpResult>> UpdateUserAsync(
        Caller caller, Guid id, UpdateUserBody? body, UserRepository repo, CancellationToken ct)
    {
        var role = body?.Role?.Trim().ToLowerInvariant();
        if (role is not null && !UserRepository.Roles.Contains(role))
        {
            return Problems.Create(400, "role_invalid", "role must be admin or member.");
        }

        if (body?.Password is not null && PasswordProblem(body.Password) is { } problem)
        {
            return Problems.Create(400, "weak_password", problem);
        }

        var (result, updated) = await repo.UpdateUserAsync(caller.TenantId, id, role, body?.Password, ct);
        return result switch
        {
            UserChange.LastAdmin => LastAdmin(),
            UserChange.Done when updated is not null => TypedResults.Ok(ToBody(updated)),
            _ => UserNotFound(id),
        };
    }

    /// <summary>Removes a user (never oneself, never the last admin); their sessions end at once.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteUserAsync(
        Caller caller, Guid id, UserRepository repo, CancellationToken ct)
    {
        if (caller.UserId == id.ToString())
        {
            return Problems.Create(409, "cannot_delete_self", "You cannot delete your own account; ask another admin.");
        }

        return await repo.DeleteUserAsync(caller.TenantId, id, ct) switch
        {
            UserChange.Done => TypedResults.NoContent(),
            UserChange.LastAdmin => LastAdmin(),
            _ => UserNotFound(id),
        };
    }

    /// <summary>Registers the name of an app that asks.</summary>
    public static async Task<Results<Created<CallerAppBody>, ProblemHttpResult>> CreateCallerAppAsync(
        string tenant, CreateCallerAppBody? body, UserRepository repo, CancellationToken ct)
    {
        if (Caller.ValidateCallerApp(body?.Name) is { } error)
        {
            return Problems.Create(400, "caller_app_invalid", error.Replace("caller_app", "name", StringComparison.Ordinal));
        }

        var name = body!.Name!.Trim();
        if (!CallerAppNamePattern().IsMatch(name))
        {
            return Problems.Create(400, "caller_app_invalid",
                $"name must be 1-64 letters (a-z, A-Z), digits, '.', '_' or '-', e.g. \"intranet\" (got '{Printable(name)}'): it names the app in URLs such as DELETE /api/admin/caller-apps/{{name}}.");
        }

        return await repo.RegisterCallerAppAsync(tenant, name, ct)
            ? TypedResults.Created($"/api/admin/caller-apps/{Uri.EscapeDataString(name)}", new CallerAppBody(name, DateTimeOffset.UtcNow))
            : Problems.Create(409, "caller_app_exists", $"The caller app '{name}' is already registered.");
    }

    /// <summary>Forgets a caller app of the tenant (its documents and threads stay); the API's and the backoffice's path.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteCallerAppAsync(
        string tenant, string name, UserRepository repo, CancellationToken ct) =>
        await repo.DeleteCallerAppAsync(tenant, name, ct)
            ? TypedResults.NoContent()
            : Problems.Create(404, "caller_app_not_found", $"No caller app '{Printable(name)}' in your tenant.");

    /// <summary>Emails are logins: one address, printable, without spaces, control or invisible characters.</summary>
    public static string? EmailProblem(string? email)
    {
        if (string.IsNullOrEmpty(email) || email.Length > 254)
        {
            return "Send a valid email address (it is the login), at most 254 characters.";
        }

        var at = email.IndexOf('@', StringComparison.Ordinal);
        var bad = email.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) ||
            char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.OtherNotAssigned ||
            c is '<' or '>' or '"' or '\\' or ',' or ';');
        return at <= 0 || at != email.LastIndexOf('@') || at == email.Length - 1 || !email[(at + 1)..].Contains('.', StringComparison.Ordinal) || bad
            ? $"'{Printable(email)}' is not a usable email address: one '@', a domain with a dot, no spaces, quotes, angle brackets or invisible characters."
            : null;
    }

    public static string? PasswordProblem(string? password) =>
        string.IsNullOrEmpty(password) ? "Send a password."
        : password.Length < MinPasswordLength ? $"The password must be at least {MinPasswordLength} characters."
        : password.Length > 1000 ? "The password must be at most 1000 characters."
        : password.Any(char.IsControl) ? "The password must not contain control characters."
        : password.Distinct().Count() < 5 ? "The password repeats too few characters (at least 5 different ones)."
        : NexusSettings.IsPlaceholder(password) || password.Contains("password", StringComparison.OrdinalIgnoreCase) && password.Distinct().Count() < 9
            ? "That password is a well-known placeholder or too guessable; choose a real one."
        : null;

    private static string Printable(string value) =>
        new([.. value.Take(80).Select(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format ? '?' : c)]);

    private static ProblemHttpResult LastAdmin() =>
        Problems.Create(409, "last_admin", "This is the tenant's only admin; make another user admin first.");

    /// <summary>Emails are unique across tenants; the message does not say in which tenant the address is used.</summary>
    private static ProblemHttpResult EmailTaken() =>
        Problems.Create(409, "email_taken", "This email cannot be used for a new account (emails are logins, unique on the platform); choose another.");

    private static ProblemHttpResult UserNotFound(Guid id) => Problems.Create(404, "user_not_found", $"No user {id} in your tenant.");

    public static UserBody ToBody(UserRow u) => new(u.Id, u.Email, u.Role, u.SeededDefault, u.CreatedAt);

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,62}$")]
    private static partial Regex TenantIdPattern();

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,64}\z")]
    private static partial Regex CallerAppNamePattern();
}

using AuroraNexus.Grains.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

public sealed record LoginRequest(string? Email, string? Password);

public sealed record LoginResponse(string AccessToken, string TokenType, int ExpiresIn);

public static class AuthApi
{
    public static void MapAuthApi(this WebApplication app) =>
        app.MapPost("/api/auth/login", static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> (
            LoginRequest? body, UserRepository users, TokenService tokens, LoginThrottle throttle, HttpContext http, CancellationToken ct) =>
        {
            if (body is null || string.IsNullOrWhiteSpace(body.Email) || string.IsNullOrEmpty(body.Password))
            {
                return Problems.Create(400, "credentials_required", "Send {\"email\": ..., \"password\": ...}.");
            }

            if (throttle.RetryAfter(body.Email) is { } wait)
            {
                return LoginThrottle.TooManyAttempts(http, wait);
            }

            var user = await users.VerifyAsync(body.Email, body.Password, ct);
            if (user is null)
            {
                throttle.Failed(body.Email);
                return Problems.Create(401, "invalid_credentials",
                    "Email or password is wrong. The admin password is the one stored in the database: ADMIN_DEFAULT_PASSWORD only seeds the admin on first start.");
            }

            throttle.Succeeded(body.Email);
            var token = tokens.Issue(user.Id, user.TenantId, user.Role, user.Email, user.SecurityStamp);
            return TypedResults.Ok(new LoginResponse(token, "Bearer", (int)TokenService.Lifetime.TotalSeconds));
        }).AllowAnonymous();
}

using AuroraNexus.Grains.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

public sealed record LoginRequest(string? Email, string? Password);

public sealed record LoginResponse(string AccessToken, string TokenType, int ExpiresIn);

public static class AuthApi
{
    public static void MapAuthApi(this WebApplication app) =>
        app.MapPost("/api/auth/login", static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> (
            LoginRequest? body, UserRepository users, TokenService tokens, CancellationToken ct) =>
        {
            if (body is null || string.IsNullOrWhiteSpace(body.Email) || string.IsNullOrEmpty(body.Password))
            {
                return Problems.Create(400, "credentials_required", "Send {\"email\": ..., \"password\": ...}.");
            }

            var user = await users.VerifyAsync(body.Email, body.Password, ct);
            if (user is null)
            {
                return Problems.Create(401, "invalid_credentials",
                    "Email or password is wrong. The admin password is the one stored in the database: ADMIN_DEFAULT_PASSWORD only seeds the admin on first start.");
            }

            var token = tokens.Issue(user.Id, user.TenantId, user.Role, user.Email);
            return TypedResults.Ok(new LoginResponse(token, "Bearer", (int)TokenService.Lifetime.TotalSeconds));
        }).AllowAnonymous();
}

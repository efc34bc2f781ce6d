using System.Security.Claims;

namespace AuroraNexus.WebFront.Api;

/// <summary>Who is calling, from the validated JWT: the tenant is never taken from the request body.</summary>
public sealed record Caller(string TenantId, string UserId, string Role)
{
    public static Caller From(ClaimsPrincipal user) => new(
        user.FindFirstValue("tid") ?? throw new InvalidOperationException("authorised request without tid"),
        user.FindFirstValue("sub") ?? throw new InvalidOperationException("authorised request without sub"),
        user.FindFirstValue("role") ?? "member");

    /// <summary>caller_app names are short identifiers chosen by the integrating app.</summary>
    public static string? ValidateCallerApp(string? callerApp) =>
        string.IsNullOrWhiteSpace(callerApp) ? "caller_app is required (the name of the app that asks, e.g. \"intranet\")."
        : callerApp.Length > 100 ? "caller_app is longer than 100 characters."
        : callerApp.Any(char.IsControl) ? "caller_app contains control characters."
        : null;
}

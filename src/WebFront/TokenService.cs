using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AuroraNexus.WebFront;

/// <summary>
/// Issues the API's HS256 access tokens: <c>sub</c> (user id), <c>tid</c> (tenant), <c>role</c>, and <c>stamp</c>, the
/// user's security stamp, checked on every request so that a password or role change or a deletion ends the session.
/// </summary>
public sealed class TokenService(string secret)
{
    public const string Issuer = "aurora-nexus";
    public const string Audience = "aurora-nexus-api";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);

    private readonly SigningCredentials _signing = new(
        new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256);

    public const string StampClaim = "stamp";

    public string Issue(Guid userId, string tenantId, string role, string email, int securityStamp)
    {
        var handler = new JsonWebTokenHandler();
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Expires = DateTime.UtcNow.Add(Lifetime),
            SigningCredentials = _signing,
            Subject = new ClaimsIdentity(
            [
                new Claim("sub", userId.ToString()),
                new Claim("tid", tenantId),
                new Claim("role", role),
                new Claim("email", email),
                new Claim(StampClaim, securityStamp.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ]),
        });
    }
}

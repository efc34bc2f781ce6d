using Microsoft.AspNetCore.Identity;
using Npgsql;

namespace AuroraNexus.Grains.Storage;

public sealed record UserRow(Guid Id, string TenantId, string Email, string Role, bool SeededDefault);

/// <summary>Users and the login check. Password hashes use ASP.NET Core Identity's hasher (PBKDF2, versioned format).</summary>
public sealed class UserRepository(NpgsqlDataSource db)
{
    private static readonly PasswordHasher<string> Hasher = new();

    public const string DefaultTenant = "default";

    public async Task EnsureTenantAsync(string tenantId, string name, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("INSERT INTO tenants (id, name) VALUES (@id, @n) ON CONFLICT (id) DO NOTHING");
        cmd.Parameters.AddWithValue("id", tenantId);
        cmd.Parameters.AddWithValue("n", name);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Creates the user only when no user has this email; returns false when it already existed.</summary>
    public async Task<bool> CreateIfMissingAsync(
        string tenantId, string email, string password, string role, bool seededDefault, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            INSERT INTO users (id, tenant_id, email, password_hash, role, seeded_default)
            VALUES (@id, @t, @e, @h, @r, @s)
            ON CONFLICT (lower(email)) DO NOTHING
            """);
        cmd.Parameters.AddWithValue("id", Guid.NewGuid());
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("e", email.Trim());
        cmd.Parameters.AddWithValue("h", Hasher.HashPassword(email, password));
        cmd.Parameters.AddWithValue("r", role);
        cmd.Parameters.AddWithValue("s", seededDefault);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<UserRow?> VerifyAsync(string email, string password, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT id, tenant_id, email, password_hash, role, seeded_default FROM users WHERE lower(email) = lower(@e)");
        cmd.Parameters.AddWithValue("e", email.Trim());
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct))
        {
            // Same cost as a real check so that timing does not reveal which emails exist.
            Hasher.VerifyHashedPassword(email, Hasher.HashPassword(email, "x"), password);
            return null;
        }

        var verdict = Hasher.VerifyHashedPassword(r.GetString(2), r.GetString(3), password);
        return verdict == PasswordVerificationResult.Failed
            ? null
            : new UserRow(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(4), r.GetBoolean(5));
    }
}

using Microsoft.AspNetCore.Identity;
using Npgsql;
using NpgsqlTypes;

namespace AuroraNexus.Grains.Storage;

public sealed record UserRow(Guid Id, string TenantId, string Email, string Role, bool SeededDefault, DateTimeOffset CreatedAt);

public sealed record TenantRow(string Id, string Name, DateTimeOffset CreatedAt);

public sealed record CallerAppRow(string TenantId, string Name, DateTimeOffset CreatedAt);

/// <summary>
/// Tenants, users and caller apps. Password hashes use ASP.NET Core Identity's hasher (PBKDF2, versioned format).
/// Every statement on users and caller apps filters by tenant: an id of another tenant reads as absent.
/// </summary>
public sealed class UserRepository(NpgsqlDataSource db)
{
    private static readonly PasswordHasher<string> Hasher = new();

    public const string DefaultTenant = "default";

    public static readonly IReadOnlySet<string> Roles = new HashSet<string>(StringComparer.Ordinal) { "admin", "member" };

    // --- tenants -----------------------------------------------------------------------------------------------

    /// <returns>true when the tenant was created now.</returns>
    public async Task<bool> EnsureTenantAsync(string tenantId, string name, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("INSERT INTO tenants (id, name) VALUES (@id, @n) ON CONFLICT (id) DO NOTHING");
        cmd.Parameters.AddWithValue("id", tenantId);
        cmd.Parameters.AddWithValue("n", name);
        var created = await cmd.ExecuteNonQueryAsync(ct) == 1;
        await new LlmCatalogRepository(db).EnsureDefaultProviderAsync(tenantId, ct);
        return created;
    }

    public async Task<IReadOnlyList<TenantRow>> ListTenantsAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT id, name, created_at FROM tenants ORDER BY id");
        var rows = new List<TenantRow>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            rows.Add(new TenantRow(r.GetString(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2)));
        }

        return rows;
    }

    // --- users -------------------------------------------------------------------------------------------------

    /// <summary>Creates the user only when no user has this email; returns false when it already existed.</summary>
    public async Task<bool> CreateIfMissingAsync(
        string tenantId, string email, string password, string role, bool seededDefault, CancellationToken ct) =>
        await CreateUserAsync(tenantId, email, password, role, seededDefault, ct) is not null;

    /// <returns>null when a user with this email exists (in any tenant: emails are the login).</returns>
    public async Task<UserRow?> CreateUserAsync(
        string tenantId, string email, string password, string role, bool seededDefault, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"""
            INSERT INTO users (id, tenant_id, email, password_hash, role, seeded_default)
            VALUES (@id, @t, @e, @h, @r, @s)
            ON CONFLICT (lower(email)) DO NOTHING
            RETURNING {UserColumns}
            """);
        cmd.Parameters.AddWithValue("id", Guid.NewGuid());
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("e", email.Trim());
        cmd.Parameters.AddWithValue("h", Hasher.HashPassword(email, password));
        cmd.Parameters.AddWithValue("r", role);
        cmd.Parameters.AddWithValue("s", seededDefault);
        return (await ReadUsersAsync(cmd, ct)).FirstOrDefault();
    }

    public async Task<UserRow?> VerifyAsync(string email, string password, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"SELECT {UserColumns}, password_hash FROM users WHERE lower(email) = lower(@e)");
        cmd.Parameters.AddWithValue("e", email.Trim());
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct))
        {
            // Same cost as a real check so that timing does not reveal which emails exist.
            Hasher.VerifyHashedPassword(email, Hasher.HashPassword(email, "x"), password);
            return null;
        }

        var user = ReadUser(r);
        var verdict = Hasher.VerifyHashedPassword(user.Email, r.GetString(6), password);
        return verdict == PasswordVerificationResult.Failed ? null : user;
    }

    public async Task<IReadOnlyList<UserRow>> ListUsersAsync(string tenantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {UserColumns} FROM users WHERE tenant_id = @t ORDER BY lower(email)");
        cmd.Parameters.AddWithValue("t", tenantId);
        return await ReadUsersAsync(cmd, ct);
    }

    public async Task<UserRow?> GetUserAsync(string tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {UserColumns} FROM users WHERE tenant_id = @t AND id = @id");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        return (await ReadUsersAsync(cmd, ct)).FirstOrDefault();
    }

    /// <summary>A new password clears the "still the seeded default" mark.</summary>
    public async Task<UserRow?> UpdateUserAsync(string tenantId, Guid id, string? role, string? newPassword, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"""
            UPDATE users SET
                role = COALESCE(@r, role),
                password_hash = COALESCE(@h, password_hash),
                seeded_default = CASE WHEN @h IS NULL THEN seeded_default ELSE false END,
                password_changed_at = CASE WHEN @h IS NULL THEN password_changed_at ELSE now() END
            WHERE tenant_id = @t AND id = @id
            RETURNING {UserColumns}
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.Add(new NpgsqlParameter("r", NpgsqlDbType.Text) { Value = (object?)role ?? DBNull.Value });
        var hash = newPassword is null ? null : Hasher.HashPassword(id.ToString(), newPassword);
        cmd.Parameters.Add(new NpgsqlParameter("h", NpgsqlDbType.Text) { Value = (object?)hash ?? DBNull.Value });
        return (await ReadUsersAsync(cmd, ct)).FirstOrDefault();
    }

    public async Task<bool> DeleteUserAsync(string tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("DELETE FROM users WHERE tenant_id = @t AND id = @id");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<int> CountAdminsAsync(string tenantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT count(*)::int FROM users WHERE tenant_id = @t AND role = 'admin'");
        cmd.Parameters.AddWithValue("t", tenantId);
        return (int)(await cmd.ExecuteScalarAsync(ct) ?? 0);
    }

    /// <summary>Admins whose password is still the one seeded from ADMIN_DEFAULT_PASSWORD (or generated at first start).</summary>
    public async Task<IReadOnlyList<string>> AdminsWithSeededPasswordAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT email FROM users WHERE role = 'admin' AND seeded_default ORDER BY email");
        var emails = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            emails.Add(r.GetString(0));
        }

        return emails;
    }

    // --- caller apps -------------------------------------------------------------------------------------------

    public async Task<IReadOnlyList<CallerAppRow>> ListCallerAppsAsync(string tenantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT tenant_id, name, created_at FROM caller_apps WHERE tenant_id = @t ORDER BY name");
        cmd.Parameters.AddWithValue("t", tenantId);
        var rows = new List<CallerAppRow>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            rows.Add(new CallerAppRow(r.GetString(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2)));
        }

        return rows;
    }

    /// <returns>true when the app was registered now, false when it already was.</returns>
    public async Task<bool> RegisterCallerAppAsync(string tenantId, string name, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "INSERT INTO caller_apps (tenant_id, name) VALUES (@t, @n) ON CONFLICT (tenant_id, name) DO NOTHING");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("n", name);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<bool> DeleteCallerAppAsync(string tenantId, string name, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("DELETE FROM caller_apps WHERE tenant_id = @t AND name = @n");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("n", name);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    private const string UserColumns = "id, tenant_id, email, role, seeded_default, created_at";

    private static UserRow ReadUser(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetBoolean(4), r.GetFieldValue<DateTimeOffset>(5));

    private static async Task<List<UserRow>> ReadUsersAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        var rows = new List<UserRow>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            rows.Add(ReadUser(r));
        }

        return rows;
    }
}

using Microsoft.AspNetCore.Identity;
using Npgsql;
using NpgsqlTypes;

namespace AuroraNexus.Grains.Storage;

/// <param name="SecurityStamp">Bumped by every password or role change; an access token is valid only with the current one.</param>
public sealed record UserRow(
    Guid Id, string TenantId, string Email, string Role, bool SeededDefault, DateTimeOffset CreatedAt, int SecurityStamp);

public enum UserChange
{
    Done,
    NotFound,
    LastAdmin,
}

public enum TenantCreation
{
    Created,
    TenantExists,
    EmailTaken,
}

public sealed record TenantRow(string Id, string Name, DateTimeOffset CreatedAt);

public sealed record CallerAppRow(string TenantId, string Name, DateTimeOffset CreatedAt);

/// <summary>
/// Tenants, users and caller apps. Password hashes use ASP.NET Core Identity's hasher (PBKDF2, versioned format).
/// Every statement on users and caller apps filters by tenant: an id of another tenant reads as absent.
/// </summary>
public sealed class UserRepository(NpgsqlDataSource db, IPasswordHasher<string> hasher)
{
    private static readonly PasswordHasher<string> DefaultHasher = new();

    // An unknown email is checked against this, made once by the same hasher as real hashes (same algorithm and
    // iterations): it then costs one verification, as a wrong password does, so that timing does not tell which emails exist.
    private readonly Lazy<string> _unknownUserHash = new(() =>
        hasher.HashPassword("", Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))));

    public UserRepository(NpgsqlDataSource db)
        : this(db, DefaultHasher)
    {
    }

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
        cmd.Parameters.AddWithValue("h", hasher.HashPassword(email, password));
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
            hasher.VerifyHashedPassword(email, _unknownUserHash.Value, password);
            return null;
        }

        var user = ReadUser(r);
        var verdict = hasher.VerifyHashedPassword(user.Email, r.GetString(7), password);
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

    /// <summary>
    /// Changes role and/or password. A new password clears the "still the seeded default" mark; any change of either
    /// bumps the security stamp, which ends the user's current sessions. Demoting the tenant's last admin is refused;
    /// the tenant row is locked meanwhile, so two concurrent demotions cannot both pass the check.
    /// </summary>
    public async Task<(UserChange Result, UserRow? User)> UpdateUserAsync(
        string tenantId, Guid id, string? role, string? newPassword, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var guard = await GuardLastAdminAsync(connection, tx, tenantId, id, demoting: role is not null && role != "admin", ct);
        if (guard != UserChange.Done)
        {
            return (guard, null);
        }

        await using var cmd = new NpgsqlCommand(
            $"""
            UPDATE users SET
                security_stamp = security_stamp + CASE WHEN @h IS NOT NULL OR (@r IS NOT NULL AND @r <> role) THEN 1 ELSE 0 END,
                role = COALESCE(@r, role),
                password_hash = COALESCE(@h, password_hash),
                seeded_default = CASE WHEN @h IS NULL THEN seeded_default ELSE false END,
                password_changed_at = CASE WHEN @h IS NULL THEN password_changed_at ELSE now() END
            WHERE tenant_id = @t AND id = @id
            RETURNING {UserColumns}
            """, connection, tx);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.Add(new NpgsqlParameter("r", NpgsqlDbType.Text) { Value = (object?)role ?? DBNull.Value });
        var hash = newPassword is null ? null : hasher.HashPassword(id.ToString(), newPassword);
        cmd.Parameters.Add(new NpgsqlParameter("h", NpgsqlDbType.Text) { Value = (object?)hash ?? DBNull.Value });
        var user = (await ReadUsersAsync(cmd, ct)).FirstOrDefault();
        await tx.CommitAsync(ct);
        return user is null ? (UserChange.NotFound, null) : (UserChange.Done, user);
    }

    public async Task<UserChange> DeleteUserAsync(string tenantId, Guid id, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var guard = await GuardLastAdminAsync(connection, tx, tenantId, id, demoting: true, ct);
        if (guard != UserChange.Done)
        {
            return guard;
        }

        await using var cmd = new NpgsqlCommand("DELETE FROM users WHERE tenant_id = @t AND id = @id", connection, tx);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        var deleted = await cmd.ExecuteNonQueryAsync(ct) == 1;
        await tx.CommitAsync(ct);
        return deleted ? UserChange.Done : UserChange.NotFound;
    }

    /// <summary>What an access token is checked against on every request: the user must still exist, unchanged.</summary>
    public async Task<(string TenantId, string Role, int SecurityStamp)?> GetSessionAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT tenant_id, role, security_stamp FROM users WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (r.GetString(0), r.GetString(1), r.GetInt32(2)) : null;
    }

    /// <summary>Creates a tenant, its OpenRouter provider and its first admin, all or nothing.</summary>
    public async Task<(TenantCreation Result, UserRow? Admin)> CreateTenantWithAdminAsync(
        string tenantId, string name, string adminEmail, string adminPassword, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var tenant = new NpgsqlCommand("INSERT INTO tenants (id, name) VALUES (@id, @n) ON CONFLICT (id) DO NOTHING", connection, tx))
        {
            tenant.Parameters.AddWithValue("id", tenantId);
            tenant.Parameters.AddWithValue("n", name);
            if (await tenant.ExecuteNonQueryAsync(ct) == 0)
            {
                return (TenantCreation.TenantExists, null);
            }
        }

        await LlmCatalogRepository.EnsureDefaultProviderAsync(connection, tx, tenantId, ct);

        await using var user = new NpgsqlCommand(
            $"""
            INSERT INTO users (id, tenant_id, email, password_hash, role, seeded_default)
            VALUES (@id, @t, @e, @h, 'admin', false)
            ON CONFLICT (lower(email)) DO NOTHING
            RETURNING {UserColumns}
            """, connection, tx);
        user.Parameters.AddWithValue("id", Guid.NewGuid());
        user.Parameters.AddWithValue("t", tenantId);
        user.Parameters.AddWithValue("e", adminEmail.Trim());
        user.Parameters.AddWithValue("h", hasher.HashPassword(adminEmail, adminPassword));
        var admin = (await ReadUsersAsync(user, ct)).FirstOrDefault();
        if (admin is null)
        {
            await tx.RollbackAsync(ct);
            return (TenantCreation.EmailTaken, null);
        }

        await tx.CommitAsync(ct);
        return (TenantCreation.Created, admin);
    }

    private static async Task<UserChange> GuardLastAdminAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, string tenantId, Guid id, bool demoting, CancellationToken ct)
    {
        // Two statements on purpose: under READ COMMITTED a statement that waited for the lock still counts with the
        // snapshot it started with, so the count must come from a statement that starts after the lock is held.
        await using (var lockTenant = new NpgsqlCommand("SELECT 1 FROM tenants WHERE id = @t FOR UPDATE", connection, tx))
        {
            lockTenant.Parameters.AddWithValue("t", tenantId);
            await lockTenant.ExecuteNonQueryAsync(ct);
        }

        await using var cmd = new NpgsqlCommand(
            """
            SELECT (SELECT role FROM users WHERE tenant_id = @t AND id = @id),
                   (SELECT count(*)::int FROM users WHERE tenant_id = @t AND role = 'admin' AND id <> @id)
            """, connection, tx);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct) || r.IsDBNull(0))
        {
            return UserChange.NotFound;
        }

        return demoting && r.GetString(0) == "admin" && r.GetInt32(1) == 0 ? UserChange.LastAdmin : UserChange.Done;
    }

    /// <summary>Admins whose password is still the one seeded from ADMIN_DEFAULT_PASSWORD (or generated at first start).</summary>
    /// <summary>Admins still on a generated or weak seeded password: one tenant's, or every tenant's when <paramref name="tenantId"/> is null.</summary>
    public async Task<IReadOnlyList<string>> AdminsWithSeededPasswordAsync(CancellationToken ct, string? tenantId = null)
    {
        await using var cmd = db.CreateCommand(
            "SELECT email FROM users WHERE role = 'admin' AND seeded_default AND (@t::text IS NULL OR tenant_id = @t) ORDER BY email");
        cmd.Parameters.Add(new NpgsqlParameter("t", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)tenantId ?? DBNull.Value });
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

    private const string UserColumns = "id, tenant_id, email, role, seeded_default, created_at, security_stamp";

    private static UserRow ReadUser(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetBoolean(4), r.GetFieldValue<DateTimeOffset>(5), r.GetInt32(6));

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

using AuroraNexus.Grains.Storage;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.AspNetCore.Identity;
using Npgsql;

namespace AuroraNexus.Tests.Storage;

[Collection("postgres")]
public sealed class UserRepositoryTests(PostgresFixture postgres)
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public async Task An_unknown_email_costs_one_verification_against_a_hash_made_once_like_the_real_ones()
    {
        await using var ds = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("users_timing"));
        await MigrationRunner.ApplyAsync(ds, Ct);
        var hasher = new CountingHasher();
        var users = new UserRepository(ds, hasher);
        await users.EnsureTenantAsync(UserRepository.DefaultTenant, "Default", Ct);
        Assert.NotNull(await users.CreateUserAsync(UserRepository.DefaultTenant, "known@timing.test", "the-right-password", "member", false, Ct));
        var realHash = Assert.Single(hasher.Hashes);

        Assert.Null(await users.VerifyAsync("known@timing.test", "a-wrong-password", Ct));
        Assert.Equal([realHash], hasher.Verified);

        Assert.Null(await users.VerifyAsync("nobody@timing.test", "a-wrong-password", Ct));
        Assert.Null(await users.VerifyAsync("someone-else@timing.test", "another-password", Ct));
        Assert.Equal(2, hasher.Hashes.Count); // the stand-in hash, made once
        var standIn = hasher.Hashes[1];
        Assert.Equal([realHash, standIn, standIn], hasher.Verified);
        // Same format, algorithm, iteration count and salt length as a real hash (the header of Identity's v3 format).
        Assert.Equal(Convert.FromBase64String(realHash).Length, Convert.FromBase64String(standIn).Length);
        Assert.Equal(Convert.FromBase64String(realHash)[..13], Convert.FromBase64String(standIn)[..13]);

        Assert.NotNull(await users.VerifyAsync("Known@Timing.test", "the-right-password", Ct));
        Assert.Equal(4, hasher.Verified.Count);
    }

    private sealed class CountingHasher : IPasswordHasher<string>
    {
        private readonly PasswordHasher<string> _inner = new();

        public List<string> Hashes { get; } = [];

        public List<string> Verified { get; } = [];

        public string HashPassword(string user, string password)
        {
            var hash = _inner.HashPassword(user, password);
            lock (Hashes)
            {
                Hashes.Add(hash);
            }

            return hash;
        }

        public PasswordVerificationResult VerifyHashedPassword(string user, string hashedPassword, string providedPassword)
        {
            lock (Verified)
            {
                Verified.Add(hashedPassword);
            }

            return _inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
        }
    }
}

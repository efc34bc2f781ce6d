using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuroraNexus.Tests.Operations;

/// <summary>
/// The first admin's password is flagged for change (health degraded, doctor warning) only when nobody chose it (the
/// generated one, printed on the console) or when it is weak; a password chosen with ADMIN_DEFAULT_PASSWORD is not.
/// </summary>
[Collection("postgres")]
public sealed class AdminSeedTests(PostgresFixture postgres) : IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "nexus-seed-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("change-me-now", true)]
    [InlineData("choose-a-password", true)]
    [InlineData("admin123", true)]
    [InlineData("aaaaaaaaaaaa", true)]
    [InlineData("Tr0mbone-Orchard-Lantern", false)]
    [InlineData("admin-password-for-tests", false)]
    public async Task The_seeded_admin_is_flagged_only_for_a_generated_or_weak_password(string? chosen, bool flagged)
    {
        var cs = await postgres.CreateDatabaseAsync("seed");
        var settings = NexusSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = cs,
            ["NEXUS_DATA_DIR"] = _dataDir,
            ["JWT_SECRET"] = new string('j', 40),
            ["GATEWAY_INTERNAL_SECRET"] = new string('g', 40),
            ["LLM_CREDENTIALS_ENC_KEY"] = FernetKey.Generate().Encode(),
            ["ADMIN_EMAIL"] = "admin@seed.test",
            ["ADMIN_DEFAULT_PASSWORD"] = chosen,
        }).Build(), singleNode: false);
        await using var database = await NexusDatabase.OpenAsync(settings, allowEmbedded: false, migrate: true, NullLogger.Instance, CancellationToken.None);

        using var logs = new LogCapture();
        var (_, printed) = await ConsoleCapture.RunAsync(async () =>
        {
            await database.SeedAsync(settings, logs.CreateLogger("seed"), CancellationToken.None);
            return 0;
        });
        Assert.Equal(chosen is null, printed.Contains("Admin account created", StringComparison.Ordinal));
        // A weak password someone chose is called out in the log (a generated one is printed instead).
        Assert.Equal(flagged && chosen is not null, logs.Lines.Any(l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("ADMIN_DEFAULT_PASSWORD is weak", StringComparison.Ordinal)));
        if (chosen is not null)
        {
            Assert.DoesNotContain(chosen, logs.All);
        }

        var seeded = await new UserRepository(database.DataSource).AdminsWithSeededPasswordAsync(CancellationToken.None);
        Assert.Equal(flagged ? ["admin@seed.test"] : [], seeded);
    }
}

using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using AuroraNexus.Silo;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using AuroraNexus.Tests.Infrastructure;
using Npgsql;

namespace AuroraNexus.Tests.Api;

/// <summary>
/// The rotate flow of LLM_CREDENTIALS_ENC_KEY as ops run it: add the new key first, run rotate-credentials-key,
/// drop the old key. Runs the real command on its own database.
/// </summary>
[Collection("tenancy")]
public sealed class RotationTests(TenancyFixture fx)
{
    [Fact]
    public async Task Rotate_re_encrypts_every_readable_credential_with_the_first_key_and_counts_what_it_could_not()
    {
        var connection = await fx.Postgres.CreateDatabaseAsync("rotate");
        var oldKey = FernetKey.Generate();
        var newKey = FernetKey.Generate();
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-rotate-" + Guid.NewGuid().ToString("N"));
        try
        {
            // Three tenants' credentials written under the old key, and one damaged token.
            var before = Settings(connection, dataDir, oldKey.Encode());
            Assert.Equal(0, await RunAsync("migrate", before));
            var plain = new Dictionary<string, string>();
            await using (var db = NpgsqlDataSource.Create(connection))
            {
                var users = new UserRepository(db);
                var catalog = new LlmCatalogRepository(db);
                var vault = new CredentialVault(before.CredentialKeys, catalog);
                foreach (var tenant in new[] { "r-one", "r-two", "r-three" })
                {
                    await users.EnsureTenantAsync(tenant, tenant, CancellationToken.None);
                    var provider = (await catalog.ListProvidersAsync(tenant, CancellationToken.None)).Single();
                    plain[tenant] = $"sk-or-v1-{tenant}-0123456789abcdef0123456789";
                    var (token, fp, hint) = vault.Seal(plain[tenant]);
                    Assert.Equal(oldKey.Fingerprint, fp);
                    await catalog.CreateCredentialAsync(tenant, provider.Id, "main", token, fp, hint, CancellationToken.None);
                }

                await using var corrupt = db.CreateCommand("UPDATE llm_credentials SET token = left(token, length(token) - 8) || 'AAAAAAAA' WHERE tenant_id = 'r-three'");
                await corrupt.ExecuteNonQueryAsync();
            }

            // The new key alone: nothing readable, the command says so and changes nothing.
            var (code, output) = await CaptureAsync("rotate-credentials-key", Settings(connection, dataDir, newKey.Encode()));
            Assert.Equal(1, code);
            Assert.Contains("3 unreadable", output);
            Assert.Contains(newKey.Fingerprint, output);

            // New key first, old key kept: the two good ones move, the damaged one is reported.
            var both = Settings(connection, dataDir, $"{newKey.Encode()},{oldKey.Encode()}");
            (code, output) = await CaptureAsync("rotate-credentials-key", both);
            Assert.Equal(1, code);
            Assert.Contains("3 total, 2 re-encrypted", output);
            Assert.Contains("1 unreadable", output);

            await using (var db = NpgsqlDataSource.Create(connection))
            {
                await using var fix = db.CreateCommand("DELETE FROM llm_credentials WHERE tenant_id = 'r-three'");
                await fix.ExecuteNonQueryAsync();
            }

            (code, output) = await CaptureAsync("rotate-credentials-key", both);
            Assert.Equal(0, code);
            Assert.Contains("2 total, 0 re-encrypted", output);
            Assert.Contains("2 already current", output);
            Assert.Contains("can now be removed", output);

            // Old key dropped: everything still decrypts to the same secret.
            var after = Settings(connection, dataDir, newKey.Encode());
            await using (var db = NpgsqlDataSource.Create(connection))
            {
                var catalog = new LlmCatalogRepository(db);
                foreach (var (id, tenant, token, fp) in await catalog.ListAllTokensAsync(CancellationToken.None))
                {
                    Assert.Equal(newKey.Fingerprint, fp);
                    Assert.True(after.CredentialKeys.TryDecrypt(token, fp, out var secret, out _));
                    Assert.Equal(plain[tenant], secret);
                    Assert.Equal("readable", new CredentialVault(after.CredentialKeys, catalog).Describe(
                        (await catalog.GetCredentialAsync(tenant, id, CancellationToken.None))!, "openrouter").Status);
                }
            }
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task On_a_single_node_the_command_makes_the_new_key_itself_and_the_app_reads_everything_at_next_start()
    {
        var connection = await fx.Postgres.CreateDatabaseAsync("rotate_single");
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-rotate-" + Guid.NewGuid().ToString("N"));
        try
        {
            NexusSettings SingleNode() => NexusSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(
                new Dictionary<string, string?> { ["DATABASE_URL"] = connection, ["NEXUS_DATA_DIR"] = dataDir }).Build(), singleNode: true);
            var before = SingleNode();
            Assert.NotNull(before.CredentialKeyFile);
            Assert.Equal(0, await RunAsync("migrate", before));
            await using (var db = NpgsqlDataSource.Create(connection))
            {
                await new UserRepository(db).EnsureTenantAsync("solo", "solo", CancellationToken.None);
                var catalog = new LlmCatalogRepository(db);
                var provider = (await catalog.ListProvidersAsync("solo", CancellationToken.None)).Single();
                var (token, fp, hint) = new CredentialVault(before.CredentialKeys, catalog).Seal("sk-or-v1-solo-0123456789abcdef0123456789");
                await catalog.CreateCredentialAsync("solo", provider.Id, "main", token, fp, hint, CancellationToken.None);
            }

            var (code, output) = await CaptureAsync("rotate-credentials-key", before);
            Assert.True(code == 0, output);
            Assert.Contains("1 re-encrypted", output);

            var after = SingleNode();
            Assert.Single(after.CredentialKeys.Fingerprints);
            Assert.NotEqual(before.CredentialKeys.PrimaryFingerprint, after.CredentialKeys.PrimaryFingerprint);
            await using (var db = NpgsqlDataSource.Create(connection))
            {
                var (_, _, token, fp) = (await new LlmCatalogRepository(db).ListAllTokensAsync(CancellationToken.None)).Single();
                Assert.Equal(after.CredentialKeys.PrimaryFingerprint, fp);
                Assert.True(after.CredentialKeys.TryDecrypt(token, fp, out var secret, out _));
                Assert.Equal("sk-or-v1-solo-0123456789abcdef0123456789", secret);
            }
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private static NexusSettings Settings(string connection, string dataDir, string keys) =>
        NexusSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = connection,
            ["NEXUS_DATA_DIR"] = dataDir,
            ["JWT_SECRET"] = new string('j', 40),
            ["GATEWAY_INTERNAL_SECRET"] = new string('g', 40),
            ["LLM_CREDENTIALS_ENC_KEY"] = keys,
        }).Build(), singleNode: false);

    private static Task<int> RunAsync(string command, NexusSettings settings) =>
        OpsCommands.RunAsync(command, settings, NullLogger.Instance);

    private static async Task<(int Code, string Output)> CaptureAsync(string command, NexusSettings settings)
    {
        var (code, output) = await ConsoleCapture.RunAsync(() => RunAsync(command, settings));
        return (code, output);
    }
}

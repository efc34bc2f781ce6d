using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;

namespace AuroraNexus.Tests.Api;

/// <summary>
/// A single-node app on its own PostgreSQL with the loopback OpenRouter, OPENROUTER_API_KEY set (bootstrap) and debug
/// logging captured, where each test creates the tenants it needs so that tests do not see each other's credentials.
/// </summary>
public sealed class TenancyFixture : IAsyncLifetime
{
    public const string BootstrapKey = "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";
    public const string CallerApp = "tests-tenancy";

    private readonly PostgresFixture _postgres = new();
    private int _tenants;

    public OpenRouterStub Stub { get; private set; } = null!;

    public TestApp App { get; private set; } = null!;

    public HttpClient PlatformAdmin { get; private set; } = null!;

    public LogCapture Logs { get; } = new();

    public PostgresFixture Postgres => _postgres;

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        Stub = await OpenRouterStub.StartAsync();
        App = await TestApp.StartAsync(await _postgres.CreateDatabaseAsync("tenancy"), new Dictionary<string, string?>
        {
            ["OPENROUTER_API_KEY"] = BootstrapKey,
            ["LLM_BASE_URL"] = Stub.BaseUrl,
            ["LLM_MODEL"] = OpenRouterStub.DefaultModel,
            ["LLM_PROVIDER_KIND"] = "openrouter",
            ["NEXUS_ALLOW_PRIVATE_LLM_URLS"] = "true", // the stub answers on loopback
            ["PUBLIC_DOMAIN"] = "rag.example.test",
            // Debug everywhere, the framework's chatty categories included (the app keeps them at Warning unless told),
            // and HttpClient at Trace (its request headers): the tests read these logs for secrets.
            ["Logging:LogLevel:Default"] = "Debug",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Debug",
            ["Logging:LogLevel:Orleans"] = "Debug",
            ["Logging:LogLevel:Polly"] = "Debug",
            ["Logging:LogLevel:System.Net.Http"] = "Trace",
        }, Logs);
        PlatformAdmin = await App.LoginAsync();
    }

    public async Task DisposeAsync()
    {
        PlatformAdmin.Dispose();
        await App.DisposeAsync();
        await Stub.DisposeAsync();
        await _postgres.DisposeAsync();
    }

    /// <summary>Logs the platform admin in again (its token ends when its password changes).</summary>
    public async Task ReloginPlatformAdminAsync(string password = TestApp.AdminPassword)
    {
        using var fresh = await App.LoginAsync(TestApp.AdminEmail, password);
        PlatformAdmin.DefaultRequestHeaders.Authorization = fresh.DefaultRequestHeaders.Authorization;
    }

    /// <summary>Creates a tenant with its first admin, logged in, with the given files indexed.</summary>
    public async Task<Tenant> CreateTenantAsync(string prefix, params (string Name, byte[] Content)[] files)
    {
        var id = $"{prefix}-{Interlocked.Increment(ref _tenants)}";
        var email = $"admin@{id}.test";
        var password = "password-of-" + id;
        var created = await PlatformAdmin.PostAsJsonAsync("/api/admin/tenants",
            new { id, name = "Tenant " + id, admin_email = email, admin_password = password });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var admin = await App.LoginAsync(email, password);
        var documents = new List<Guid>();
        string? batchId = null;
        if (files.Length > 0)
        {
            var batch = await TestApp.IngestAsync(admin, CallerApp, files);
            Assert.Equal("completed", batch["status"]!.GetValue<string>());
            batchId = batch["batch_id"]!.GetValue<string>();
            documents.AddRange(batch["documents"]!.AsArray().Select(d => Guid.Parse(d!["id"]!.GetValue<string>())));
        }

        return new Tenant(id, email, password, admin, documents, batchId);
    }

    /// <summary>Points the tenant's built-in OpenRouter provider at the stub and stores <paramref name="apiKey"/> on it.</summary>
    public async Task<JsonNode> AddOpenRouterCredentialAsync(HttpClient admin, string apiKey, string label = "main")
    {
        var provider = await OpenRouterProviderAsync(admin);
        var moved = await admin.PutAsJsonAsync($"/api/admin/providers/{provider}", new { base_url = Stub.BaseUrl, kind = "openrouter" });
        Assert.True(moved.IsSuccessStatusCode, await moved.Content.ReadAsStringAsync());
        var saved = await admin.PostAsJsonAsync("/api/admin/providers/credentials", new { provider_id = provider, label, api_key = apiKey });
        Assert.True(saved.IsSuccessStatusCode, await saved.Content.ReadAsStringAsync());
        return (await saved.Content.ReadFromJsonAsync<JsonNode>())!;
    }

    public static async Task<string> OpenRouterProviderAsync(HttpClient admin)
    {
        var providers = (await admin.GetFromJsonAsync<JsonArray>("/api/admin/providers"))!;
        return providers.Single(p => p!["name"]!.GetValue<string>() == "openrouter")!["id"]!.GetValue<string>();
    }

    public sealed record Tenant(string Id, string Email, string Password, HttpClient Admin, IReadOnlyList<Guid> Documents, string? BatchId);
}

[CollectionDefinition("tenancy")]
public sealed class TenancyCollection : ICollectionFixture<TenancyFixture>;

using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;

namespace AuroraNexus.Tests.Api;

/// <summary>One running single-node app with the test corpus already ingested, shared by the API tests.</summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public const string CallerApp = "tests-api";

    private readonly PostgresFixture _postgres = new();

    public TestApp App { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public JsonNode CorpusBatch { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        App = await TestApp.StartAsync(await _postgres.CreateDatabaseAsync("api"));
        Admin = await App.LoginAsync();
        CorpusBatch = await TestApp.IngestAsync(Admin, CallerApp, TestApp.CorpusFiles());
    }

    public async Task DisposeAsync()
    {
        Admin.Dispose();
        await App.DisposeAsync();
        await _postgres.DisposeAsync();
    }
}

[CollectionDefinition("api")]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>;

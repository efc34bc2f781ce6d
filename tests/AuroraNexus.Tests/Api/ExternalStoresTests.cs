using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;
using Minio;
using Minio.DataModel.Args;
using Minio.Exceptions;
using Npgsql;

namespace AuroraNexus.Tests.Api;

/// <summary>
/// The app with its production stores: S3_ENDPOINT at s3rver and QDRANT_URL at the gRPC stand-in, both on loopback,
/// with a real PostgreSQL and silo.
/// </summary>
public sealed class ExternalStoresFixture : IAsyncLifetime
{
    public const string UploadsBucket = "tests-uploads";

    public PostgresFixture Postgres { get; } = new();

    public S3rverProcess S3 { get; private set; } = null!;

    public QdrantStandIn Qdrant { get; private set; } = null!;

    public TestApp App { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Postgres.InitializeAsync();
        S3 = await S3rverProcess.StartAsync();
        Qdrant = await QdrantStandIn.StartAsync();
        App = await TestApp.StartAsync(await Postgres.CreateDatabaseAsync("stores"), Variables());
        Admin = await App.LoginAsync();
    }

    public Dictionary<string, string?> Variables(string user = S3rverProcess.AccessKey) => new()
    {
        ["S3_ENDPOINT"] = S3.Endpoint.ToString(),
        ["S3_BUCKET_UPLOADS"] = UploadsBucket,
        ["S3_BUCKET_ARTIFACTS"] = "tests-artifacts",
        ["MINIO_ROOT_USER"] = user,
        ["MINIO_ROOT_PASSWORD"] = S3rverProcess.SecretKey,
        ["QDRANT_URL"] = Qdrant.Url.ToString(),
    };

    public IMinioClient RawS3() => new MinioClient()
        .WithEndpoint(S3.Endpoint.Host, S3.Endpoint.Port)
        .WithCredentials(S3rverProcess.AccessKey, S3rverProcess.SecretKey)
        .WithSSL(false)
        .Build();

    public async Task DisposeAsync()
    {
        Admin?.Dispose();
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        if (Qdrant is not null)
        {
            await Qdrant.DisposeAsync();
        }

        if (S3 is not null)
        {
            await S3.DisposeAsync();
        }

        await Postgres.DisposeAsync();
    }
}

public sealed class ExternalStoresTests(ExternalStoresFixture fx) : IClassFixture<ExternalStoresFixture>
{
    private const string CallerApp = "tests-stores";

    private static readonly byte[] Document = Encoding.UTF8.GetBytes(
        """
        # Registre Orvanne-Téluride

        Le registre Orvanne-Téluride recense les barques de la coopérative fluviale. Chaque barque inscrite au registre
        Orvanne-Téluride reçoit une plaque numérotée que le batelier fixe à la proue.

        ## Renouvellement

        La plaque du registre Orvanne-Téluride se renouvelle tous les cinq ans auprès de la capitainerie.
        """);

    [Fact]
    public async Task Files_go_to_S3_vectors_to_Qdrant_tenants_stay_apart_and_a_deleted_document_is_gone()
    {
        var health = await fx.Admin.GetFromJsonAsync<JsonNode>("/api/health");
        Assert.Equal("ok", health!["components"]!["object_store"]!["status"]!.GetValue<string>());
        Assert.StartsWith($"S3 {fx.S3.Endpoint}", health["components"]!["object_store"]!["detail"]!.GetValue<string>());
        Assert.Equal("ok", health["components"]!["vector_store"]!["status"]!.GetValue<string>());
        Assert.StartsWith($"Qdrant {fx.Qdrant.Url}", health["components"]!["vector_store"]!["detail"]!.GetValue<string>());

        var mine = await IngestOneAsync(fx.Admin);
        var tenant = $"stores-{Guid.NewGuid():N}"[..20];
        var created = await fx.Admin.PostAsJsonAsync("/api/admin/tenants",
            new { id = tenant, name = "Other", admin_email = $"admin@{tenant}.test", admin_password = "password-of-the-other-tenant" });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        using var other = await fx.App.LoginAsync($"admin@{tenant}.test", "password-of-the-other-tenant");
        var theirs = await IngestOneAsync(other);

        // The same bytes are stored twice, once per tenant.
        var myKey = await ObjectKeyAsync(mine);
        var theirKey = await ObjectKeyAsync(theirs);
        Assert.NotEqual(myKey, theirKey);
        using var s3 = fx.RawS3();
        await s3.StatObjectAsync(new StatObjectArgs().WithBucket(ExternalStoresFixture.UploadsBucket).WithObject(myKey));
        await s3.StatObjectAsync(new StatObjectArgs().WithBucket(ExternalStoresFixture.UploadsBucket).WithObject(theirKey));

        const string question = "Tous les combien renouveler la plaque du registre Orvanne-Téluride ?";
        Assert.Equal([mine], await CitedAsync(fx.Admin, question));
        Assert.Equal([theirs], await CitedAsync(other, question));

        var deleted = await fx.Admin.DeleteAsync($"/api/documents/{mine}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        Assert.DoesNotContain(mine, await CitedAsync(fx.Admin, question));
        Assert.Equal([theirs], await CitedAsync(other, question));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() =>
            s3.StatObjectAsync(new StatObjectArgs().WithBucket(ExternalStoresFixture.UploadsBucket).WithObject(myKey)));
        var points = Assert.Single(fx.Qdrant.State.Collections).Value.Points.Values;
        Assert.DoesNotContain(points, p => p.Payload["document_id"].StringValue == mine.ToString());
        Assert.Contains(points, p => p.Payload["document_id"].StringValue == theirs.ToString() && p.Payload["tenant_id"].StringValue == tenant);
        Assert.Empty(fx.Qdrant.State.Rejected);
    }

    [Fact]
    public async Task Credentials_MinIO_refuses_fail_uploads_with_503_and_show_in_health()
    {
        using var logs = new LogCapture();
        await using var app = await TestApp.StartAsync(await fx.Postgres.CreateDatabaseAsync("stores_bad"), fx.Variables(user: "not-the-minio-user"), logs);
        using var admin = await app.LoginAsync();

        var health = await admin.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        var store = (await health.Content.ReadFromJsonAsync<JsonNode>())!["components"]!["object_store"]!;
        Assert.Equal("down", store["status"]!.GetValue<string>());
        Assert.Contains("MINIO_ROOT_USER", store["detail"]!.GetValue<string>());

        using var form = new MultipartFormDataContent { { new StringContent(CallerApp), "caller_app" }, { new ByteArrayContent(Document), "files", "registre.md" } };
        var upload = await admin.PostAsync("/api/ingest", form);
        var problem = await upload.Content.ReadFromJsonAsync<JsonNode>();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, upload.StatusCode);
        Assert.Equal("object_store_unavailable", problem!["code"]!.GetValue<string>());
        Assert.Contains("refused the credentials", problem["detail"]!.GetValue<string>());
        var documents = (await admin.GetFromJsonAsync<JsonArray>("/api/documents"))!;
        Assert.Empty(documents);

        // An outage is one warning line naming it, not an unhandled exception with its stack trace.
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("answered 503 object_store_unavailable", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.Contains("unhandled exception", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task An_unreachable_Qdrant_shows_in_health_and_questions_get_503_naming_QDRANT_URL()
    {
        var variables = fx.Variables();
        variables["QDRANT_URL"] = $"http://127.0.0.1:{TestApp.FreePort()}";
        await using var app = await TestApp.StartAsync(await fx.Postgres.CreateDatabaseAsync("stores_noqdrant"), variables);
        using var admin = await app.LoginAsync();

        var health = await admin.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        var store = (await health.Content.ReadFromJsonAsync<JsonNode>())!["components"]!["vector_store"]!;
        Assert.Equal("down", store["status"]!.GetValue<string>());
        Assert.Contains("QDRANT_URL", store["detail"]!.GetValue<string>());

        var asked = await admin.PostAsJsonAsync("/api/query", new { question = "Que dit le registre ?", caller_app = CallerApp });
        var problem = await asked.Content.ReadFromJsonAsync<JsonNode>();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, asked.StatusCode);
        Assert.Equal("vector_store_unavailable", problem!["code"]!.GetValue<string>());
        Assert.Contains("QDRANT_URL", problem["detail"]!.GetValue<string>());

        // A document indexed while the vector store is away fails naming the store, not the file, and says how to run it again.
        var batch = await TestApp.IngestAsync(admin, CallerApp, ("registre.md", Document));
        var doc = Assert.Single(batch["documents"]!.AsArray())!;
        Assert.Equal("failed", doc["status"]!.GetValue<string>());
        Assert.Equal("vector_store_unavailable", doc["error_code"]!.GetValue<string>());
        var error = doc["error"]!.GetValue<string>();
        Assert.Contains("QDRANT_URL", error);
        Assert.Contains("reindex", error);
        Assert.DoesNotContain("Check the file", error);
    }

    [Fact]
    public async Task Switching_a_deployment_to_Qdrant_copies_the_vectors_already_indexed()
    {
        var database = await fx.Postgres.CreateDatabaseAsync("stores_switch");
        Guid document;
        await using (var embedded = await TestApp.StartAsync(database))
        {
            using var before = await embedded.LoginAsync();
            document = await IngestOneAsync(before);
        }

        await using var qdrant = await QdrantStandIn.StartAsync();
        await using var app = await TestApp.StartAsync(database, new Dictionary<string, string?> { ["QDRANT_URL"] = qdrant.Url.ToString() });
        using var admin = await app.LoginAsync();

        var points = Assert.Single(qdrant.State.Collections).Value.Points.Values;
        Assert.NotEmpty(points);
        Assert.All(points, p => Assert.Equal(document.ToString(), p.Payload["document_id"].StringValue));
        Assert.Equal([document], await CitedAsync(admin, "Tous les combien renouveler la plaque du registre Orvanne-Téluride ?"));
        Assert.Empty(qdrant.State.Rejected);
    }

    private static async Task<Guid> IngestOneAsync(HttpClient client)
    {
        var batch = await TestApp.IngestAsync(client, CallerApp, ("registre.md", Document));
        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        var document = Assert.Single(batch["documents"]!.AsArray())!;
        Assert.Equal("indexed", document["status"]!.GetValue<string>());
        return Guid.Parse(document["id"]!.GetValue<string>());
    }

    private static async Task<List<Guid>> CitedAsync(HttpClient client, string question)
    {
        var answer = await IngestionApiTests.Ask(client, question, CallerApp);
        return [.. answer["citations"]!.AsArray().Select(c => Guid.Parse(c!["document_id"]!.GetValue<string>())).Distinct()];
    }

    private async Task<string> ObjectKeyAsync(Guid document)
    {
        await using var db = NpgsqlDataSource.Create(fx.App.ConnectionString);
        await using var cmd = db.CreateCommand("SELECT object_key FROM documents WHERE id = @id");
        cmd.Parameters.AddWithValue("id", document);
        return (string)(await cmd.ExecuteScalarAsync())!;
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;
using Npgsql;

namespace AuroraNexus.Tests.Api;

/// <summary>POST /api/documents/{id}/reindex: the stored file indexed again through the ingestion path, in the caller's tenant only.</summary>
[Collection("api")]
public sealed class DocumentReindexTests(ApiFixture fx)
{
    private const string App = "tests-reindex";

    [Fact]
    public async Task A_reindexed_document_is_indexed_again_with_the_same_chunks_and_another_tenant_gets_404()
    {
        var batch = await TestApp.IngestAsync(fx.Admin, App, ("tortue.txt", Encoding.UTF8.GetBytes(
            "# La tortue luth\n\nLa tortue luth est la plus grande des tortues marines ; elle plonge à plus de mille mètres.\n\n" +
            "## Ponte\n\nElle pond sur les plages de Guyane, où les nids sont surveillés par des bénévoles chaque saison.")));
        var firstBatch = batch["batch_id"]!.GetValue<string>();
        var id = batch["documents"]![0]!["id"]!.GetValue<string>();
        var chunks = batch["documents"]![0]!["chunks"]!.GetValue<int>();
        Assert.True(chunks > 0);

        // Another tenant's admin knows the id: it is not theirs.
        var tenant = "reidx-" + Guid.NewGuid().ToString("N")[..8];
        (await fx.Admin.PostAsJsonAsync("/api/admin/tenants", new
        {
            id = tenant, name = tenant, admin_email = $"admin@{tenant}.tests.local", admin_password = "tenant-admin-password-42",
        })).EnsureSuccessStatusCode();
        using var other = await fx.App.LoginAsync($"admin@{tenant}.tests.local", "tenant-admin-password-42");
        var foreign = await other.PostAsync($"/api/documents/{id}/reindex", null);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal("document_not_found", (await AuthAndValidationTests.Problem(foreign))["code"]!.GetValue<string>());
        var untouched = (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/documents/{id}"))!;
        Assert.Equal("indexed", untouched["status"]!.GetValue<string>());
        Assert.Equal(firstBatch, untouched["batch_id"]!.GetValue<string>());

        var response = await fx.Admin.PostAsync($"/api/documents/{id}/reindex", null);
        var accepted = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var reindexBatch = accepted["batch_id"]!.GetValue<string>();
        Assert.NotEqual(firstBatch, reindexBatch);
        Assert.Equal($"/api/ingest/batches/{reindexBatch}", response.Headers.Location!.ToString());
        var queued = Assert.Single(accepted["documents"]!.AsArray())!;
        Assert.Equal(id, queued["id"]!.GetValue<string>());
        Assert.Equal("queued", queued["status"]!.GetValue<string>());

        var done = await WaitForBatchAsync(reindexBatch);
        Assert.Equal("completed", done["status"]!.GetValue<string>());
        Assert.Equal(1, done["indexed"]!.GetValue<int>());
        var document = (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/documents/{id}"))!;
        Assert.Equal("indexed", document["status"]!.GetValue<string>());
        Assert.Equal(chunks, document["chunks"]!.GetValue<int>());
        Assert.Equal(reindexBatch, document["batch_id"]!.GetValue<string>());
        Assert.Equal(chunks, await ChunkCountAsync(id));
        var before = (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/ingest/batches/{firstBatch}"))!;
        Assert.DoesNotContain(before["documents"]!.AsArray(), d => d!["id"]!.GetValue<string>() == id);

        var answer = await IngestionApiTests.Ask(fx.Admin, "Où pond la tortue luth ?", App);
        Assert.Contains(answer["citations"]!.AsArray(), c => c!["document_id"]!.GetValue<string>() == id);
    }

    [Fact]
    public async Task A_document_that_failed_as_corrupt_stays_failed_with_its_code_when_reindexed()
    {
        var batch = await TestApp.IngestAsync(fx.Admin, App, ("abime.pdf", [0x25, 0x50, 0x44, 0x46, 0x2D, 0x31]));
        var id = batch["documents"]![0]!["id"]!.GetValue<string>();
        Assert.Equal("corrupt_document", batch["documents"]![0]!["error_code"]!.GetValue<string>());

        var response = await fx.Admin.PostAsync($"/api/documents/{id}/reindex", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var done = await WaitForBatchAsync((await response.Content.ReadFromJsonAsync<JsonNode>())!["batch_id"]!.GetValue<string>());

        Assert.Equal("failed", done["status"]!.GetValue<string>());
        var document = (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/documents/{id}"))!;
        Assert.Equal("failed", document["status"]!.GetValue<string>());
        Assert.Equal("corrupt_document", document["error_code"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(document["error"]!.GetValue<string>()));
        Assert.Equal(0, await ChunkCountAsync(id));
    }

    [Fact]
    public async Task An_indexed_document_whose_file_is_gone_fails_when_reindexed_and_is_cited_no_more()
    {
        var batch = await TestApp.IngestAsync(fx.Admin, App, ("loutre.txt", Encoding.UTF8.GetBytes(
            "La loutre d'Europe chasse la nuit le long des rivières de Bretagne ; son terrier s'appelle une catiche. " + Guid.NewGuid())));
        var id = batch["documents"]![0]!["id"]!.GetValue<string>();
        var before = await IngestionApiTests.Ask(fx.Admin, "Comment s'appelle le terrier de la loutre ?", App);
        Assert.Contains(before["citations"]!.AsArray(), c => c!["document_id"]!.GetValue<string>() == id);
        File.Delete(Directory.GetDirectories(Path.Combine(fx.App.DataDirectory, "objects"))
            .Select(d => Path.Combine(d, Guid.Parse(id).ToString("N"))).Single(File.Exists));

        var response = await fx.Admin.PostAsync($"/api/documents/{id}/reindex", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await WaitForBatchAsync((await response.Content.ReadFromJsonAsync<JsonNode>())!["batch_id"]!.GetValue<string>());

        var document = (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/documents/{id}"))!;
        Assert.Equal("failed", document["status"]!.GetValue<string>());
        Assert.Equal("object_missing", document["error_code"]!.GetValue<string>());
        Assert.Equal(0, document["chunks"]!.GetValue<int>());
        Assert.Equal(0, await ChunkCountAsync(id));
        var after = await IngestionApiTests.Ask(fx.Admin, "Comment s'appelle le terrier de la loutre ?", App);
        Assert.False(after["cached"]!.GetValue<bool>());
        Assert.DoesNotContain(after["citations"]!.AsArray(), c => c!["document_id"]!.GetValue<string>() == id);
    }

    [Fact]
    public async Task Reindex_is_refused_while_the_document_is_being_indexed_and_when_its_file_was_not_kept()
    {
        var content = Encoding.UTF8.GetBytes("Le hérisson hiberne de novembre à mars sous un tas de feuilles. " + Guid.NewGuid());
        var batch = await TestApp.IngestAsync(fx.Admin, App, ("herisson.txt", content), ("vide.txt", []));
        var byName = batch["documents"]!.AsArray().ToDictionary(d => d!["filename"]!.GetValue<string>(), d => d!["id"]!.GetValue<string>());
        var duplicate = (await TestApp.IngestAsync(fx.Admin, App, ("herisson-copie.txt", content)))["documents"]![0]!;
        Assert.Equal("duplicate", duplicate["status"]!.GetValue<string>());

        foreach (var notKept in new[] { byName["vide.txt"], duplicate["id"]!.GetValue<string>() })
        {
            var refused = await fx.Admin.PostAsync($"/api/documents/{notKept}/reindex", null);
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal("document_not_stored", (await AuthAndValidationTests.Problem(refused))["code"]!.GetValue<string>());
        }

        // Still being indexed (as its checkpoint says while a worker holds it): refused, and left as it is.
        var indexed = byName["herisson.txt"];
        await SetStatusAsync(indexed, "processing");
        try
        {
            var busy = await fx.Admin.PostAsync($"/api/documents/{indexed}/reindex", null);
            Assert.Equal(HttpStatusCode.Conflict, busy.StatusCode);
            var problem = await AuthAndValidationTests.Problem(busy);
            Assert.Equal("document_in_progress", problem["code"]!.GetValue<string>());
            Assert.Contains(batch["batch_id"]!.GetValue<string>(), problem["detail"]!.GetValue<string>());
            Assert.Equal(batch["batch_id"]!.GetValue<string>(),
                (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/documents/{indexed}"))!["batch_id"]!.GetValue<string>());
        }
        finally
        {
            await SetStatusAsync(indexed, "indexed");
        }

        var unknown = await fx.Admin.PostAsync($"/api/documents/{Guid.NewGuid()}/reindex", null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("document_not_found", (await AuthAndValidationTests.Problem(unknown))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_list_pages_sorts_and_searches_in_the_database_and_reports_the_total()
    {
        const string app = "tests-paging";
        await TestApp.IngestAsync(fx.Admin, app,
            ("paging-b.txt", Encoding.UTF8.GetBytes("Deuxième note de pagination. " + Guid.NewGuid())),
            ("paging-a.txt", Encoding.UTF8.GetBytes("Première note de pagination. " + Guid.NewGuid())),
            ("paging-c.txt", Encoding.UTF8.GetBytes("Troisième note de pagination. " + Guid.NewGuid())));

        var response = await fx.Admin.GetAsync($"/api/documents?caller_app={app}&sort=filename&order=desc&offset=1&limit=1");
        var page = (await response.Content.ReadFromJsonAsync<JsonArray>())!;
        Assert.Equal("3", response.Headers.GetValues("X-Total-Count").Single());
        Assert.Equal("paging-b.txt", Assert.Single(page)!["filename"]!.GetValue<string>());

        var searched = await fx.Admin.GetAsync("/api/documents?q=PAGING-A");
        Assert.Equal("1", searched.Headers.GetValues("X-Total-Count").Single());
        Assert.Equal("paging-a.txt", Assert.Single((await searched.Content.ReadFromJsonAsync<JsonArray>())!)!["filename"]!.GetValue<string>());

        // A wildcard typed in the search is a character, not a pattern.
        var literal = await fx.Admin.GetAsync("/api/documents?q=paging_");
        Assert.Equal("0", literal.Headers.GetValues("X-Total-Count").Single());

        var bad = await fx.Admin.GetAsync("/api/documents?sort=password");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("invalid_sort", (await AuthAndValidationTests.Problem(bad))["code"]!.GetValue<string>());
    }

    private async Task<JsonNode> WaitForBatchAsync(string batchId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        while (true)
        {
            var batch = (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/ingest/batches/{batchId}", timeout.Token))!;
            if (batch["status"]!.GetValue<string>() is not ("queued" or "running"))
            {
                return batch;
            }

            await Task.Delay(100, timeout.Token);
        }
    }

    private async Task<long> ChunkCountAsync(string documentId)
    {
        await using var db = NpgsqlDataSource.Create(fx.App.ConnectionString);
        await using var cmd = db.CreateCommand("SELECT count(*) FROM chunks WHERE document_id = @d");
        cmd.Parameters.AddWithValue("d", Guid.Parse(documentId));
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private async Task SetStatusAsync(string documentId, string status)
    {
        await using var db = NpgsqlDataSource.Create(fx.App.ConnectionString);
        await using var cmd = db.CreateCommand("UPDATE documents SET status = @s WHERE id = @d");
        cmd.Parameters.AddWithValue("s", status);
        cmd.Parameters.AddWithValue("d", Guid.Parse(documentId));
        await cmd.ExecuteNonQueryAsync();
    }
}

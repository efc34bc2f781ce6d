using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;
using Npgsql;

namespace AuroraNexus.Tests.Api;

[Collection("api")]
public sealed class IngestionApiTests(ApiFixture fx)
{
    [Fact]
    public async Task Real_corpus_files_are_all_indexed_with_chunks()
    {
        var batch = fx.CorpusBatch;
        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        Assert.Equal(8, batch["total"]!.GetValue<int>());
        Assert.Equal(8, batch["indexed"]!.GetValue<int>());
        Assert.All(batch["documents"]!.AsArray(), d =>
        {
            Assert.Equal("indexed", d!["status"]!.GetValue<string>());
            Assert.True(d["chunks"]!.GetValue<int>() > 0);
        });

        var documents = (await fx.Admin.GetFromJsonAsync<JsonArray>($"/api/documents?caller_app={ApiFixture.CallerApp}"))!;
        Assert.Equal(8, documents.Count);
        Assert.All(documents, d => Assert.Equal(ApiFixture.CallerApp, d!["caller_app"]!.GetValue<string>()));
        await TestApp.IngestAsync(fx.Admin, "tests-other-app", ("other.txt", Encoding.UTF8.GetBytes("Un autre document, d'une autre application.")));
        var other = (await fx.Admin.GetFromJsonAsync<JsonArray>("/api/documents?caller_app=tests-other-app"))!;
        Assert.Equal("other.txt", Assert.Single(other)!["filename"]!.GetValue<string>());
        Assert.Contains(documents, d => d!["filename"]!.GetValue<string>() == "F3079.txt" && d["status"]!.GetValue<string>() == "indexed");
    }

    [Fact]
    public async Task No_chunk_exceeds_what_the_embedding_model_reads_and_full_text_is_french()
    {
        await using var db = NpgsqlDataSource.Create(fx.App.ConnectionString);
        await using var cmd = db.CreateCommand(
            "SELECT max(token_count), count(*), count(*) FILTER (WHERE tsv @@ to_tsquery('nexus_french', 'medical')) FROM chunks");
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        Assert.InRange(r.GetInt32(0), 1, 254);
        Assert.True(r.GetInt64(1) > 8);
        // "médicale" in the text matches the unaccented, stemmed "medical".
        Assert.True(r.GetInt64(2) > 0);
    }

    [Fact]
    public async Task Bad_files_fail_with_stable_codes_and_do_not_stop_the_rest_of_the_batch()
    {
        var batch = await TestApp.IngestAsync(fx.Admin, "tests-bad-files",
            ("good.md", Encoding.UTF8.GetBytes("# Congé parental\n\nLe congé parental d'éducation permet d'interrompre son activité pour élever un enfant.")),
            ("scan.pdf", [0x25, 0x50, 0x44, 0x46]),
            ("empty.txt", []),
            ("latin1.txt", Encoding.Latin1.GetBytes("Démarche à effectuer auprès de la mairie : acte de naissance, ça dépend.")),
            ("page.html", Encoding.UTF8.GetBytes("<html><body><h1>Carte grise</h1><p>La demande se fait en ligne sur le site de l'ANTS.</p></body></html>")));

        Assert.Equal("completed_with_errors", batch["status"]!.GetValue<string>());
        var byName = batch["documents"]!.AsArray().ToDictionary(d => d!["filename"]!.GetValue<string>(), d => d!);
        Assert.Equal("indexed", byName["good.md"]["status"]!.GetValue<string>());
        Assert.Equal("indexed", byName["page.html"]["status"]!.GetValue<string>());
        Assert.Equal("corrupt_document", byName["scan.pdf"]["error_code"]!.GetValue<string>());
        Assert.Equal("empty_file", byName["empty.txt"]["error_code"]!.GetValue<string>());
        Assert.Equal("invalid_encoding", byName["latin1.txt"]["error_code"]!.GetValue<string>());
        Assert.All(new[] { "scan.pdf", "empty.txt", "latin1.txt" }, n =>
        {
            Assert.Equal("failed", byName[n]["status"]!.GetValue<string>());
            Assert.False(string.IsNullOrWhiteSpace(byName[n]["error"]!.GetValue<string>()));
        });
        Assert.Equal(2, batch["indexed"]!.GetValue<int>());
        Assert.Equal(3, batch["failed"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_same_content_uploaded_again_is_a_duplicate_not_indexed_twice()
    {
        var content = Encoding.UTF8.GetBytes("Le bail mobilité est un contrat de location de courte durée, de 1 à 10 mois.");
        var first = await TestApp.IngestAsync(fx.Admin, "tests-dup", ("bail.txt", content));
        var second = await TestApp.IngestAsync(fx.Admin, "tests-dup", ("bail-copie.txt", content));
        Assert.Equal("indexed", first["documents"]![0]!["status"]!.GetValue<string>());
        Assert.Equal("duplicate", second["documents"]![0]!["status"]!.GetValue<string>());
        Assert.Equal(1, second["duplicate"]!.GetValue<int>());
    }

    [Fact]
    public async Task Simultaneous_uploads_of_the_same_bytes_index_them_once()
    {
        var content = Encoding.UTF8.GetBytes("Le congé de proche aidant permet de cesser temporairement son activité. " + Guid.NewGuid());
        var batches = await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
            TestApp.IngestAsync(fx.Admin, "tests-dup-race", ($"aidant-{i}.txt", content))));
        var statuses = batches.Select(b => b["documents"]![0]!["status"]!.GetValue<string>()).ToList();
        Assert.Equal(1, statuses.Count(s => s == "indexed"));
        Assert.Equal(4, statuses.Count(s => s == "duplicate"));
    }

    [Fact]
    public async Task Upload_without_files_or_caller_app_is_a_400_problem()
    {
        using var noFiles = new MultipartFormDataContent { { new StringContent("x"), "caller_app" } };
        var response = await fx.Admin.PostAsync("/api/ingest", noFiles);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("no_files", (await AuthAndValidationTests.Problem(response))["code"]!.GetValue<string>());

        using var noApp = new MultipartFormDataContent { { new ByteArrayContent([65]), "files", "a.txt" } };
        response = await fx.Admin.PostAsync("/api/ingest", noApp);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("caller_app_required", (await AuthAndValidationTests.Problem(response))["code"]!.GetValue<string>());

        response = await fx.Admin.PostAsJsonAsync("/api/ingest", new { files = "nope" });
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("multipart_required", (await AuthAndValidationTests.Problem(response))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_deleted_document_is_never_cited_again()
    {
        var batch = await TestApp.IngestAsync(fx.Admin, "tests-delete",
            ("zebre.txt", Encoding.UTF8.GetBytes("Le zèbre de Grévy vit dans les savanes semi-arides du Kenya et d'Éthiopie.")));
        var id = batch["documents"]![0]!["id"]!.GetValue<string>();
        var before = await Ask(fx.Admin, "Où vit le zèbre de Grévy ?", "tests-delete");
        Assert.Contains(before["citations"]!.AsArray(), c => c!["document_id"]!.GetValue<string>() == id);

        var deleted = await fx.Admin.DeleteAsync($"/api/documents/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var after = await Ask(fx.Admin, "Où vit le zèbre de Grévy ?", "tests-delete");
        Assert.DoesNotContain(after["citations"]!.AsArray(), c => c!["document_id"]!.GetValue<string>() == id);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Admin.DeleteAsync($"/api/documents/{id}")).StatusCode);
    }

    internal static async Task<JsonNode> Ask(HttpClient client, string question, string callerApp, string? threadId = null)
    {
        var response = await client.PostAsJsonAsync("/api/query", new { question, caller_app = callerApp, thread_id = threadId });
        var body = await response.Content.ReadFromJsonAsync<JsonNode>();
        Assert.True(response.IsSuccessStatusCode, $"query answered {(int)response.StatusCode}: {body}");
        return body!;
    }
}

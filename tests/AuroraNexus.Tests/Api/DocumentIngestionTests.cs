using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;
using AuroraNexus.Tests.Ingestion;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AuroraNexus.Tests.Api;

/// <summary>PDF and Word uploads, honest terminal states, replace=true, deletion and batch events, through the HTTP API.</summary>
[Collection("api")]
public sealed class DocumentIngestionTests(ApiFixture fx)
{
    [Fact]
    public async Task Pdf_and_docx_are_indexed_and_every_bad_file_ends_failed_with_its_code_without_stopping_the_batch()
    {
        var batch = await TestApp.IngestAsync(fx.Admin, "tests-formats",
            ("passeport.pdf", TestDocuments.Pdf("Passeport biométrique", "Le passeport biométrique est valable dix ans pour un adulte. La demande se fait en mairie. " + Guid.NewGuid())),
            ("permis.docx", TestDocuments.Docx("Permis de conduire", ["Le permis de conduire se renouvelle tous les quinze ans. " + Guid.NewGuid()],
                ["Une photo", "Un justificatif de domicile"], [["Catégorie", "Durée"], ["B", "15 ans"]])),
            ("scan.pdf", TestDocuments.ScannedPdf()),
            ("archive.pdf", TestDocuments.Zip()),
            ("protege.pdf", TestDocuments.EncryptedPdf()),
            ("protege.docx", TestDocuments.EncryptedDocxLookalike()),
            ("tableur.xlsx", [1, 2, 3]),
            ("vide.pdf", []),
            ("bombe.docx", TestDocuments.DocxBomb(32 * 1024 * 1024)),
            ("imbrique.html", Encoding.UTF8.GetBytes(new StringBuilder().Insert(0, "<div><b><i>", 60_000) + "La carte grise se demande en ligne. " + Guid.NewGuid())),
            ("citations.md", Encoding.UTF8.GetBytes(new string('>', 10_000) + " Le livret de famille se demande en mairie. " + Guid.NewGuid()
                + $"\n\n# Livret{new string(' ', 300_000)}#{new string(' ', 300_000)}de famille\n\n{new string(' ', 300_000)}fin")),
            ("..\\..\\etc/mot\tde passe.txt", Encoding.UTF8.GetBytes("Le mot de passe se change dans l'espace personnel. " + Guid.NewGuid())));

        Assert.Equal("completed_with_errors", batch["status"]!.GetValue<string>());
        var byName = batch["documents"]!.AsArray().ToDictionary(d => d!["filename"]!.GetValue<string>(), d => d!);
        Assert.Equal(12, byName.Count);
        foreach (var name in new[] { "passeport.pdf", "permis.docx", "imbrique.html", "citations.md", "motde passe.txt" })
        {
            Assert.Equal("indexed", byName[name]["status"]!.GetValue<string>());
            Assert.True(byName[name]["chunks"]!.GetValue<int>() > 0, name);
        }

        var expected = new Dictionary<string, string>
        {
            ["scan.pdf"] = "no_extractable_text",
            ["archive.pdf"] = "corrupt_document",
            ["protege.pdf"] = "encrypted_document",
            ["protege.docx"] = "encrypted_document",
            ["tableur.xlsx"] = "unsupported_type",
            ["vide.pdf"] = "empty_file",
            ["bombe.docx"] = "content_too_large",
        };
        foreach (var (name, code) in expected)
        {
            Assert.Equal("failed", byName[name]["status"]!.GetValue<string>());
            Assert.Equal(code, byName[name]["error_code"]!.GetValue<string>());
            Assert.Equal(0, byName[name]["chunks"]!.GetValue<int>());
            Assert.False(string.IsNullOrWhiteSpace(byName[name]["error"]!.GetValue<string>()));
        }

        Assert.Contains("OCR", byName["scan.pdf"]["error"]!.GetValue<string>());
        Assert.Equal(5, batch["indexed"]!.GetValue<int>());
        Assert.Equal(7, batch["failed"]!.GetValue<int>());

        var answer = await IngestionApiTests.Ask(fx.Admin, "Combien de temps le passeport biométrique est-il valable ?", "tests-formats");
        Assert.Contains(answer["citations"]!.AsArray(), c => c!["filename"]!.GetValue<string>() == "passeport.pdf");
    }

    [Fact]
    public async Task An_unsupported_type_is_refused_without_being_stored()
    {
        var before = ObjectCount();
        using var form = new MultipartFormDataContent
        {
            { new StringContent("tests-unsupported"), "caller_app" },
            { new ByteArrayContent(new byte[100_000]), "files", "image.png" },
        };
        var response = await fx.Admin.PostAsync("/api/ingest", form);
        var body = (await response.Content.ReadFromJsonAsync<JsonNode>())!;

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("unsupported_type", body["code"]!.GetValue<string>());
        Assert.Contains("image.png", body["detail"]!.GetValue<string>());
        Assert.Contains(".docx", body["detail"]!.GetValue<string>());
        Assert.Equal(before, ObjectCount());
    }

    [Fact]
    public async Task An_unsupported_file_next_to_a_readable_one_fails_alone_in_an_accepted_batch()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("tests-unsupported"), "caller_app" },
            { new ByteArrayContent(new byte[1000]), "files", "photo.png" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes("La carte vitale se commande en ligne. " + Guid.NewGuid())), "files", "carte.txt" },
        };
        var response = await fx.Admin.PostAsync("/api/ingest", form);
        var body = (await response.Content.ReadFromJsonAsync<JsonNode>())!;

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var byName = body["documents"]!.AsArray().ToDictionary(d => d!["filename"]!.GetValue<string>(), d => d!);
        Assert.Equal("unsupported_type", byName["photo.png"]["error_code"]!.GetValue<string>());
        Assert.Equal("failed", byName["photo.png"]["status"]!.GetValue<string>());
        Assert.Equal("queued", byName["carte.txt"]["status"]!.GetValue<string>());
        Assert.Equal("(missing)", ObjectPath(byName["photo.png"]["id"]!.GetValue<string>()));
        Assert.True(File.Exists(ObjectPath(byName["carte.txt"]["id"]!.GetValue<string>())));
    }

    [Fact]
    public async Task Replace_true_indexes_a_new_version_and_removes_the_old_ones_chunks_vectors_and_file()
    {
        const string app = "tests-replace";
        var v1 = await TestApp.IngestAsync(fx.Admin, app,
            ("tarifs.txt", Encoding.UTF8.GetBytes("Le tarif de la cantine scolaire est de 3 euros par repas pour le quotient familial A.")));
        var oldId = v1["documents"]![0]!["id"]!.GetValue<string>();
        Assert.Equal("indexed", v1["documents"]![0]!["status"]!.GetValue<string>());

        // The same bytes again: a duplicate that points at the document already there.
        var again = await TestApp.IngestAsync(fx.Admin, app,
            ("tarifs.txt", Encoding.UTF8.GetBytes("Le tarif de la cantine scolaire est de 3 euros par repas pour le quotient familial A.")));
        Assert.Equal("duplicate", again["documents"]![0]!["status"]!.GetValue<string>());
        Assert.Contains(oldId, again["documents"]![0]!["error"]!.GetValue<string>());

        using var form = new MultipartFormDataContent
        {
            { new StringContent(app), "caller_app" },
            { new StringContent("true"), "replace" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes("Le tarif de la cantine scolaire passe à 4 euros par repas pour le quotient familial A.")), "files", "tarifs.txt" },
        };
        var response = await fx.Admin.PostAsync("/api/ingest", form);
        var accepted = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var newId = accepted["documents"]![0]!["id"]!.GetValue<string>();
        // The old version and the duplicate record of it are both replaced.
        var replaced = accepted["documents"]![0]!["replaced"]!.AsArray().Select(r => r!.GetValue<string>()).ToList();
        Assert.Equal(2, replaced.Count);
        Assert.Contains(oldId, replaced);
        Assert.Contains(again["documents"]![0]!["id"]!.GetValue<string>(), replaced);
        var v2 = await WaitForBatchAsync(accepted["batch_id"]!.GetValue<string>());
        Assert.Equal("indexed", v2["documents"]![0]!["status"]!.GetValue<string>());
        AssertCounts(v2, "completed", total: 1, indexed: 1, duplicate: 0, failed: 0);

        Assert.Equal(HttpStatusCode.NotFound, (await fx.Admin.GetAsync($"/api/documents/{oldId}")).StatusCode);
        Assert.Equal(0, await ChunkCountAsync(oldId));
        Assert.True(await ChunkCountAsync(newId) > 0);
        Assert.False(File.Exists(ObjectPath(oldId)));
        Assert.DoesNotContain(await VectorsAsync(), v => v.DocumentId == Guid.Parse(oldId));
        Assert.Contains(await VectorsAsync(), v => v.DocumentId == Guid.Parse(newId));
        var listed = (await fx.Admin.GetFromJsonAsync<JsonArray>($"/api/documents?caller_app={app}"))!;
        Assert.Equal([newId], listed.Select(d => d!["id"]!.GetValue<string>()));
        var answer = await IngestionApiTests.Ask(fx.Admin, "Quel est le tarif de la cantine scolaire par repas ?", app);
        var cited = answer["citations"]!.AsArray().Select(c => c!["document_id"]!.GetValue<string>()).ToList();
        Assert.Contains(newId, cited);
        Assert.DoesNotContain(oldId, cited);

        // The batches that held the replaced documents count them no more: nothing shows as pending.
        foreach (var earlier in new[] { v1, again })
        {
            var batch = (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/ingest/batches/{earlier["batch_id"]}"))!;
            AssertCounts(batch, "completed", total: 0, indexed: 0, duplicate: 0, failed: 0);
            Assert.Empty(batch["documents"]!.AsArray());
        }
    }

    [Fact]
    public async Task Replace_true_with_a_new_version_that_fails_keeps_the_old_one_listed_and_cited_and_the_new_one_says_why()
    {
        const string app = "tests-replace-failed";
        const string question = "Quels documents faut-il pour l'inscription à la cantine du collège Jean Moulin ?";
        var v1 = await TestApp.IngestAsync(fx.Admin, app, ("inscription-cantine.pdf", TestDocuments.Pdf("Inscription à la cantine",
            "L'inscription à la cantine du collège Jean Moulin demande un justificatif de domicile et l'attestation de quotient familial.")));
        var oldId = v1["documents"]![0]!["id"]!.GetValue<string>();
        Assert.Equal("indexed", v1["documents"]![0]!["status"]!.GetValue<string>());

        // A damaged file (a ZIP named .pdf) as the new version.
        using var form = new MultipartFormDataContent
        {
            { new StringContent(app), "caller_app" },
            { new StringContent("true"), "replace" },
            { new ByteArrayContent(TestDocuments.Zip()), "files", "inscription-cantine.pdf" },
        };
        var response = await fx.Admin.PostAsync("/api/ingest", form);
        var accepted = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var newId = accepted["documents"]![0]!["id"]!.GetValue<string>();
        Assert.Equal([oldId], accepted["documents"]![0]!["replaced"]!.AsArray().Select(r => r!.GetValue<string>()));
        var v2 = await WaitForBatchAsync(accepted["batch_id"]!.GetValue<string>());

        var failed = v2["documents"]![0]!;
        Assert.Equal("failed", failed["status"]!.GetValue<string>());
        Assert.Equal("corrupt_document", failed["error_code"]!.GetValue<string>());
        Assert.Contains("earlier version stays", failed["error"]!.GetValue<string>());
        AssertCounts(v2, "failed", total: 1, indexed: 0, duplicate: 0, failed: 1);
        var v1Now = (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/ingest/batches/{v1["batch_id"]}"))!;
        AssertCounts(v1Now, "completed", total: 1, indexed: 1, duplicate: 0, failed: 0);

        var old = (await fx.Admin.GetFromJsonAsync<JsonNode>($"/api/documents/{oldId}"))!;
        Assert.Equal("indexed", old["status"]!.GetValue<string>());
        var listed = (await fx.Admin.GetFromJsonAsync<JsonArray>($"/api/documents?caller_app={app}"))!
            .ToDictionary(d => d!["id"]!.GetValue<string>(), d => d!["status"]!.GetValue<string>());
        Assert.Equal(new Dictionary<string, string> { [oldId] = "indexed", [newId] = "failed" }, listed);
        Assert.True(await ChunkCountAsync(oldId) > 0);
        Assert.True(File.Exists(ObjectPath(oldId)));
        Assert.Contains(await VectorsAsync(), v => v.DocumentId == Guid.Parse(oldId));
        var answer = await IngestionApiTests.Ask(fx.Admin, question, app);
        Assert.Contains(answer["citations"]!.AsArray(), c => c!["document_id"]!.GetValue<string>() == oldId);
    }

    private static void AssertCounts(JsonNode batch, string status, int total, int indexed, int duplicate, int failed)
    {
        Assert.Equal(
            (status, total, indexed, duplicate, failed, 0),
            (batch["status"]!.GetValue<string>(), batch["total"]!.GetValue<int>(), batch["indexed"]!.GetValue<int>(),
                batch["duplicate"]!.GetValue<int>(), batch["failed"]!.GetValue<int>(), batch["pending"]!.GetValue<int>()));
    }

    private Task<IReadOnlyList<AuroraNexus.Grains.Retrieval.RankedChunk>> VectorsAsync() =>
        BatchRecoveryTests.VectorsAsync(fx.App.Services.GetRequiredService<IGrainFactory>(), AuroraNexus.Grains.Storage.UserRepository.DefaultTenant);

    [Fact]
    public async Task Deleting_a_document_removes_its_file_and_chunks_and_it_is_never_cited_again()
    {
        const string app = "tests-delete-pdf";
        var batch = await TestApp.IngestAsync(fx.Admin, app,
            ("ornithorynque.pdf", TestDocuments.Pdf("Ornithorynque", "L'ornithorynque est un mammifère semi-aquatique endémique de l'est de l'Australie qui pond des oeufs.")));
        var id = batch["documents"]![0]!["id"]!.GetValue<string>();
        Assert.True(File.Exists(ObjectPath(id)));
        var before = await IngestionApiTests.Ask(fx.Admin, "Où vit l'ornithorynque ?", app);
        Assert.Contains(before["citations"]!.AsArray(), c => c!["document_id"]!.GetValue<string>() == id);

        Assert.Equal(HttpStatusCode.NoContent, (await fx.Admin.DeleteAsync($"/api/documents/{id}")).StatusCode);

        Assert.False(File.Exists(ObjectPath(id)));
        Assert.Equal(0, await ChunkCountAsync(id));
        var after = await IngestionApiTests.Ask(fx.Admin, "Où vit l'ornithorynque ?", app);
        Assert.False(after["cached"]!.GetValue<bool>());
        Assert.DoesNotContain(after["citations"]!.AsArray(), c => c!["document_id"]!.GetValue<string>() == id);
    }

    [Fact]
    public async Task Batch_events_stream_progress_for_each_document_then_done()
    {
        using var form = new MultipartFormDataContent { { new StringContent("tests-events"), "caller_app" } };
        form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes("Le quotient familial se calcule à partir des revenus du foyer. " + Guid.NewGuid())), "files", "quotient.txt");
        form.Add(new ByteArrayContent(TestDocuments.ScannedPdf()), "files", "scan.pdf");
        form.Add(new ByteArrayContent([]), "files", "vide.txt");
        var accepted = (await (await fx.Admin.PostAsync("/api/ingest", form)).Content.ReadFromJsonAsync<JsonNode>())!;
        var batchId = accepted["batch_id"]!.GetValue<string>();

        var events = await ReadEventsAsync(fx.Admin, $"/api/ingest/batches/{batchId}/events");

        Assert.Equal("done", events[^1].Name);
        Assert.Equal("completed_with_errors", events[^1].Data["status"]!.GetValue<string>());
        var progress = events.Where(e => e.Name == "progress").Select(e => e.Data).ToList();
        Assert.Equal(events.Count - 1, progress.Count);
        var last = progress.GroupBy(p => p["document"]!["filename"]!.GetValue<string>()).ToDictionary(g => g.Key, g => g.Last()["document"]!);
        Assert.Equal(["quotient.txt", "scan.pdf", "vide.txt"], last.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("indexed", last["quotient.txt"]["status"]!.GetValue<string>());
        Assert.True(last["quotient.txt"]["chunks"]!.GetValue<int>() > 0);
        Assert.Equal("no_extractable_text", last["scan.pdf"]["error_code"]!.GetValue<string>());
        Assert.Equal("empty_file", last["vide.txt"]["error_code"]!.GetValue<string>());
        Assert.All(progress, p => Assert.Equal(batchId, p["batch_id"]!.GetValue<string>()));

        var unknown = await fx.Admin.GetAsync($"/api/ingest/batches/{Guid.NewGuid()}/events");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("batch_not_found", (await AuthAndValidationTests.Problem(unknown))["code"]!.GetValue<string>());
    }

    internal static async Task<List<(string Name, JsonNode Data)>> ReadEventsAsync(HttpClient client, string path)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var events = new List<(string, JsonNode)>();
        string? name = null;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((name!, JsonNode.Parse(line["data: ".Length..])!));
            }
        }

        return events;
    }

    private async Task<JsonNode> WaitForBatchAsync(string batchId)
    {
        var events = await ReadEventsAsync(fx.Admin, $"/api/ingest/batches/{batchId}/events");
        return events[^1].Data;
    }

    private async Task<long> ChunkCountAsync(string documentId)
    {
        await using var db = NpgsqlDataSource.Create(fx.App.ConnectionString);
        await using var cmd = db.CreateCommand("SELECT count(*) FROM chunks WHERE document_id = @d");
        cmd.Parameters.AddWithValue("d", Guid.Parse(documentId));
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private int ObjectCount() =>
        Directory.Exists(Path.Combine(fx.App.DataDirectory, "objects"))
            ? Directory.GetFiles(Path.Combine(fx.App.DataDirectory, "objects"), "*", SearchOption.AllDirectories).Length
            : 0;

    /// <summary>Where the single-node object store keeps a document's file: {tenant}/{id:N} under the data directory.</summary>
    private string ObjectPath(string documentId) =>
        Directory.GetDirectories(Path.Combine(fx.App.DataDirectory, "objects"))
            .Select(d => Path.Combine(d, Guid.Parse(documentId).ToString("N")))
            .FirstOrDefault(File.Exists) ?? "(missing)";
}

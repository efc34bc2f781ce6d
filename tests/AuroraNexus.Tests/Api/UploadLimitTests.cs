using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;
using Npgsql;

namespace AuroraNexus.Tests.Api;

[Collection("tenancy")]
public sealed class UploadLimitTests(TenancyFixture fx)
{
    private const int Limit = 256 * 1024;

    [Fact]
    public async Task Uploads_over_the_limit_or_cut_off_half_way_are_refused_and_leave_nothing_stored()
    {
        await using var app = await TestApp.StartAsync(await fx.Postgres.CreateDatabaseAsync("limits"),
            new Dictionary<string, string?> { ["NEXUS_MAX_UPLOAD_BYTES"] = Limit.ToString(CultureInfo.InvariantCulture) });
        using var admin = await app.LoginAsync();

        // Announced too large: refused before a byte of it is read.
        using (var form = Form(("gros.txt", new byte[Limit + 1])))
        {
            var response = await admin.PostAsync("/api/ingest", form);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            var problem = await AuthAndValidationTests.Problem(response);
            Assert.Equal("too_large", problem["code"]!.GetValue<string>());
            Assert.Contains("NEXUS_MAX_UPLOAD_BYTES", problem["detail"]!.GetValue<string>());
        }

        // Sent without a length (chunked): a first file fits and is stored, the second goes over; neither is kept.
        using (var form = Form(("petit.txt", Encoding.UTF8.GetBytes("Un petit fichier qui tient.")), ("gros.txt", Filled(Limit))))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/ingest") { Content = new ChunkedContent(form) };
            try
            {
                var response = await admin.SendAsync(request);
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
                Assert.Equal("too_large", (await AuthAndValidationTests.Problem(response))["code"]!.GetValue<string>());
            }
            catch (HttpRequestException)
            {
                // The server answers 413 while the client is still sending, then closes the connection rather than read
                // the rest: whether the client saw the answer first is a race. What is stored is checked below.
            }
        }

        // Cut off half-way: the connection closes in the middle of a file.
        await SendHalfAndCloseAsync(app, admin);

        // Fields in any order: caller_app after the files still works, and the limit is per request.
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes("La taxe foncière est due par le propriétaire au 1er janvier.")), "files", "taxe.txt");
            form.Add(new StringContent("tests-limits"), "caller_app");
            var response = await admin.PostAsync("/api/ingest", form);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var batchId = (await response.Content.ReadFromJsonAsync<JsonNode>())!["batch_id"]!.GetValue<string>();
            var events = await DocumentIngestionTests.ReadEventsAsync(admin, $"/api/ingest/batches/{batchId}/events");
            Assert.Equal("completed", events[^1].Data["status"]!.GetValue<string>());
        }

        await WaitUntilAsync(() => Task.FromResult(ObjectFiles(app).Length == 1));
        Assert.Equal("taxe", Assert.Single(await DocumentNamesAsync(app)));
        Assert.DoesNotContain(ObjectFiles(app), f => f.EndsWith(".part", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_same_bytes_in_another_tenant_are_an_independent_document_that_reveals_nothing()
    {
        var content = Encoding.UTF8.GetBytes("Le chèque énergie aide les ménages modestes à payer leurs factures. " + Guid.NewGuid());
        var a = await fx.CreateTenantAsync("dedupe-a", ("energie.txt", content));
        var b = await fx.CreateTenantAsync("dedupe-b");

        var batch = await TestApp.IngestAsync(b.Admin, TenancyFixture.CallerApp, ("energie.txt", content));

        var doc = batch["documents"]![0]!;
        Assert.Equal("indexed", doc["status"]!.GetValue<string>());
        Assert.NotEqual(a.Documents[0].ToString(), doc["id"]!.GetValue<string>());
        Assert.DoesNotContain(a.Documents[0].ToString(), batch.ToJsonString());
        var again = await TestApp.IngestAsync(b.Admin, TenancyFixture.CallerApp, ("energie-copie.txt", content));
        Assert.Equal("duplicate", again["documents"]![0]!["status"]!.GetValue<string>());
        Assert.Contains(doc["id"]!.GetValue<string>(), again["documents"]![0]!["error"]!.GetValue<string>());
        Assert.DoesNotContain(a.Documents[0].ToString(), again.ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, (await b.Admin.GetAsync($"/api/ingest/batches/{a.BatchId}/events")).StatusCode);
    }

    [Fact]
    public async Task A_batch_of_a_thousand_small_files_is_accepted_in_one_request_and_every_file_ends_in_a_terminal_state()
    {
        var tenant = await fx.CreateTenantAsync("thousand");
        var files = Enumerable.Range(0, 1000)
            .Select(i => ($"fiche-{i:D4}.txt", Encoding.UTF8.GetBytes($"Fiche {i} : la démarche numéro {i} se fait en ligne.")))
            .ToArray();
        files[500] = ("fiche-0500.txt", []);

        var batch = await TestApp.IngestAsync(tenant.Admin, TenancyFixture.CallerApp, files);

        Assert.Equal("completed_with_errors", batch["status"]!.GetValue<string>());
        Assert.Equal(1000, batch["total"]!.GetValue<int>());
        Assert.Equal(999, batch["indexed"]!.GetValue<int>());
        Assert.Equal("empty_file", batch["documents"]!.AsArray().Single(d => d!["filename"]!.GetValue<string>() == "fiche-0500.txt")!["error_code"]!.GetValue<string>());
    }

    private static MultipartFormDataContent Form(params (string Name, byte[] Content)[] files)
    {
        var form = new MultipartFormDataContent { { new StringContent("tests-limits"), "caller_app" } };
        foreach (var (name, content) in files)
        {
            form.Add(new ByteArrayContent(content), "files", name);
        }

        return form;
    }

    private static byte[] Filled(int size) => Encoding.UTF8.GetBytes(new string('a', size));

    /// <summary>Announces a body of 200 KB, sends its first 100 KB, and closes the connection.</summary>
    private static async Task SendHalfAndCloseAsync(TestApp app, HttpClient admin)
    {
        const string boundary = "cut-off-boundary";
        var head = Encoding.ASCII.GetBytes(
            $"--{boundary}\r\nContent-Disposition: form-data; name=\"caller_app\"\r\n\r\ntests-limits\r\n"
            + $"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"coupe.txt\"\r\nContent-Type: text/plain\r\n\r\n");
        const int announced = 200 * 1024;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(app.BaseAddress.Host, app.BaseAddress.Port);
        var stream = tcp.GetStream();
        var request = Encoding.ASCII.GetBytes(
            $"POST /api/ingest HTTP/1.1\r\nHost: {app.BaseAddress.Authority}\r\nAuthorization: {admin.DefaultRequestHeaders.Authorization}\r\n"
            + $"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {announced}\r\n\r\n");
        await stream.WriteAsync(request);
        await stream.WriteAsync(head);
        await stream.WriteAsync(Filled(100 * 1024));
        await stream.FlushAsync();
        await WaitUntilAsync(() => Task.FromResult(ObjectFiles(app).Length > 0));
        tcp.Client.Close();
        await WaitUntilAsync(() => Task.FromResult(ObjectFiles(app).Length == 0));
    }

    private static string[] ObjectFiles(TestApp app)
    {
        var root = Path.Combine(app.DataDirectory, "objects");
        return Directory.Exists(root) ? Directory.GetFiles(root, "*", SearchOption.AllDirectories) : [];
    }

    private static async Task<List<string>> DocumentNamesAsync(TestApp app)
    {
        await using var db = NpgsqlDataSource.Create(app.ConnectionString);
        await using var cmd = db.CreateCommand("SELECT filename FROM documents ORDER BY filename");
        var names = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            names.Add(Path.GetFileNameWithoutExtension(r.GetString(0)));
        }

        return names;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(50);
        }
    }

    /// <summary>Sends the inner content without a Content-Length, as a streaming client does.</summary>
    private sealed class ChunkedContent : HttpContent
    {
        private readonly HttpContent _inner;

        public ChunkedContent(HttpContent inner)
        {
            _inner = inner;
            Headers.ContentType = inner.Headers.ContentType;
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _inner.CopyToAsync(stream, context);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AuroraNexus.Tests.Api;

/// <summary>Two tenants on one app: neither can reach, see or be answered with the other's data.</summary>
[Collection("tenancy")]
public sealed class IsolationTests(TenancyFixture fx)
{
    private const string Marker = "Zanzibar-Quetzal";

    private static readonly byte[] MarkerDocument = Encoding.UTF8.GetBytes(
        $"""
        # Procédure {Marker}

        La procédure {Marker} encadre l'archivage des registres de la coopérative fluviale de Montargis.
        Chaque registre {Marker} est scellé par le greffier puis déposé aux archives départementales.

        ## Délais

        Les registres sont conservés quarante ans. Passé ce délai, la commission {Marker} décide de leur versement.
        """);

    [Fact]
    public async Task Every_id_of_another_tenant_is_a_404_and_nothing_of_it_is_listed()
    {
        var a = await fx.CreateTenantAsync("iso-a", TestApp.CorpusFiles()[..4]);
        var b = await fx.CreateTenantAsync("iso-b", [.. TestApp.CorpusFiles()[4..], ("registre.md", MarkerDocument)]);

        var asked = await IngestionApiTests.Ask(a.Admin, "Qu'est-ce que l'aide médicale de l'État (AME) ?", TenancyFixture.CallerApp, "thread-of-a");
        var queryId = asked["query_id"]!.GetValue<string>();
        var credential = (await fx.AddOpenRouterCredentialAsync(a.Admin, "sk-or-v1-a11ce5ecre7a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9"))["credential"]!["id"]!.GetValue<string>();
        var provider = await TenancyFixture.OpenRouterProviderAsync(a.Admin);
        var users = (await a.Admin.GetFromJsonAsync<JsonArray>("/api/admin/users"))!;
        var userId = users[0]!["id"]!.GetValue<string>();
        var document = a.Documents[0];

        var reads = new (HttpMethod Method, string Path, string Code)[]
        {
            (HttpMethod.Get, $"/api/documents/{document}", "document_not_found"),
            (HttpMethod.Delete, $"/api/documents/{document}", "document_not_found"),
            (HttpMethod.Post, $"/api/documents/{document}/reindex", "document_not_found"),
            (HttpMethod.Get, $"/api/ingest/batches/{a.BatchId}", "batch_not_found"),
            (HttpMethod.Get, $"/api/admin/threads/{TenancyFixture.CallerApp}/thread-of-a", "thread_not_found"),
            (HttpMethod.Get, $"/api/admin/queries/{queryId}", "query_not_found"),
            (HttpMethod.Get, $"/api/admin/providers/credentials/{credential}", "credential_not_found"),
            (HttpMethod.Put, $"/api/admin/providers/credentials/{credential}", "credential_not_found"),
            (HttpMethod.Delete, $"/api/admin/providers/credentials/{credential}", "credential_not_found"),
            (HttpMethod.Post, $"/api/admin/providers/credentials/{credential}/test", "credential_not_found"),
            (HttpMethod.Put, $"/api/admin/providers/{provider}", "provider_not_found"),
            (HttpMethod.Delete, $"/api/admin/providers/{provider}", "provider_not_found"),
            (HttpMethod.Get, $"/api/admin/users/{userId}", "user_not_found"),
            (HttpMethod.Patch, $"/api/admin/users/{userId}", "user_not_found"),
            (HttpMethod.Delete, $"/api/admin/users/{userId}", "user_not_found"),
        };
        foreach (var (method, path, code) in reads)
        {
            using var request = new HttpRequestMessage(method, path);
            if (method == HttpMethod.Put || method == HttpMethod.Post || method == HttpMethod.Patch)
            {
                request.Content = JsonContent.Create(new { label = "stolen", api_key = "sk-or-v1-stolen0123456789", role = "member" });
            }

            var response = await b.Admin.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {path} answered {(int)response.StatusCode}: {body}");
            Assert.Equal(code, JsonNode.Parse(body)!["code"]!.GetValue<string>());
        }

        // Nothing changed for A, and A's model is not B's to use.
        Assert.Equal(HttpStatusCode.OK, (await a.Admin.GetAsync($"/api/documents/{document}")).StatusCode);
        var model = await b.Admin.PostAsJsonAsync("/api/admin/models", new { provider_id = provider, model = "x/y" });
        Assert.Equal(HttpStatusCode.NotFound, model.StatusCode);
        var credentialOnForeignProvider = await b.Admin.PostAsJsonAsync("/api/admin/providers/credentials",
            new { provider_id = provider, api_key = "sk-or-v1-stolen0123456789" });
        Assert.Equal(HttpStatusCode.NotFound, credentialOnForeignProvider.StatusCode);
        var aCredential = (await a.Admin.GetFromJsonAsync<JsonNode>($"/api/admin/providers/credentials/{credential}"))!;
        Assert.Equal("main", aCredential["label"]!.GetValue<string>());

        // Listings of B hold only B's rows.
        var docs = (await b.Admin.GetFromJsonAsync<JsonArray>("/api/documents"))!;
        Assert.Equal(b.Documents.Order(), docs.Select(d => Guid.Parse(d!["id"]!.GetValue<string>())).Order());
        Assert.Empty((await b.Admin.GetFromJsonAsync<JsonArray>("/api/admin/threads"))!);
        Assert.Empty((await b.Admin.GetFromJsonAsync<JsonArray>("/api/admin/queries"))!);
        Assert.Empty((await b.Admin.GetFromJsonAsync<JsonNode>("/api/admin/providers/credentials"))!["credentials"]!.AsArray());
        Assert.DoesNotContain(a.Email, (await b.Admin.GetStringAsync("/api/admin/users")));
        await ByokTests.AssertProblemAsync(await b.Admin.GetAsync("/api/admin/tenants"), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Answers_citations_and_logs_of_one_tenant_never_hold_the_others_text()
    {
        var a = await fx.CreateTenantAsync("text-a", [.. TestApp.CorpusFiles()[..4], ("registre.md", MarkerDocument)]);
        var b = await fx.CreateTenantAsync("text-b", TestApp.CorpusFiles()[4..]);

        // B asks exactly what only A's documents answer: B gets its own documents or nothing, never A's.
        foreach (var question in new[] { $"Que dit la procédure {Marker} sur les registres ?", "Qu'est-ce que l'aide médicale de l'État (AME) ?" })
        {
            var answer = await IngestionApiTests.Ask(b.Admin, question, TenancyFixture.CallerApp, "b-thread");
            Assert.DoesNotContain("coopérative fluviale", answer["answer"]!.GetValue<string>());
            Assert.DoesNotContain("coopérative fluviale", answer["citations"]!.ToJsonString());
            Assert.DoesNotContain("coopérative fluviale", answer["sections"]!.ToJsonString());
            Assert.All(answer["citations"]!.AsArray(), c => Assert.Contains(Guid.Parse(c!["document_id"]!.GetValue<string>()), b.Documents));
        }

        var own = await IngestionApiTests.Ask(a.Admin, $"Que dit la procédure {Marker} sur les registres ?", TenancyFixture.CallerApp);
        Assert.Contains(own["citations"]!.AsArray(), c => c!["filename"]!.GetValue<string>() == "registre.md");

        // The follow-up of B's thread resolves against B's outline only.
        var detail = await IngestionApiTests.Ask(b.Admin, "détaille le point 2", TenancyFixture.CallerApp, "b-thread");
        Assert.DoesNotContain("coopérative fluviale", detail.ToJsonString());

        await using var connection = new NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT string_agg(question || answer || retrieval_query || citations::text, ' ') FROM queries_log WHERE tenant_id = @t", connection);
        cmd.Parameters.AddWithValue("t", b.Id);
        var logged = (string)(await cmd.ExecuteScalarAsync())!;
        Assert.DoesNotContain("registre.md", logged);
        Assert.DoesNotContain("coopérative fluviale", logged);
        Assert.DoesNotContain("coopérative fluviale", fx.Logs.All);
    }

    [Fact]
    public async Task Members_cannot_manage_and_a_tenant_keeps_at_least_one_admin()
    {
        var tenant = await fx.CreateTenantAsync("roles");
        var member = await ByokTests.PostAsync(tenant.Admin, "/api/admin/users",
            new { email = $"member@{tenant.Id}.test", password = "member-password-1", role = "member" });
        Assert.Equal("member", member["role"]!.GetValue<string>());
        await ByokTests.AssertProblemAsync(await tenant.Admin.PostAsJsonAsync("/api/admin/users",
            new { email = $"member@{tenant.Id}.test", password = "member-password-1" }), HttpStatusCode.Conflict, "email_taken");
        await ByokTests.AssertProblemAsync(await tenant.Admin.PostAsJsonAsync("/api/admin/users",
            new { email = $"weak@{tenant.Id}.test", password = "short" }), HttpStatusCode.BadRequest, "weak_password");

        using var memberClient = await fx.App.LoginAsync($"member@{tenant.Id}.test", "member-password-1");
        foreach (var path in new[] { "/api/admin/users", "/api/admin/providers", "/api/admin/providers/credentials", "/api/admin/queries", "/api/admin/settings" })
        {
            await ByokTests.AssertProblemAsync(await memberClient.GetAsync(path), HttpStatusCode.Forbidden, "forbidden");
        }

        Assert.Equal(HttpStatusCode.OK, (await memberClient.GetAsync("/api/documents")).StatusCode);

        var admins = (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/admin/users"))!
            .Where(u => u!["role"]!.GetValue<string>() == "admin").ToList();
        var onlyAdmin = admins.Single()!["id"]!.GetValue<string>();
        await ByokTests.AssertProblemAsync(await tenant.Admin.PatchAsJsonAsync($"/api/admin/users/{onlyAdmin}", new { role = "member" }),
            HttpStatusCode.Conflict, "last_admin");
        await ByokTests.AssertProblemAsync(await tenant.Admin.DeleteAsync($"/api/admin/users/{onlyAdmin}"), HttpStatusCode.Conflict, "cannot_delete_self");

        var apps = await ByokTests.PostAsync(tenant.Admin, "/api/admin/caller-apps", new { name = "intranet" });
        Assert.Equal("intranet", apps["name"]!.GetValue<string>());
        var listed = (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/admin/caller-apps"))!;
        Assert.Contains(listed, x => x!["name"]!.GetValue<string>() == "intranet");
    }

    [Fact]
    public async Task Repeated_wrong_passwords_for_one_email_are_throttled_and_other_accounts_are_not()
    {
        var tenant = await fx.CreateTenantAsync("throttle");
        using var anonymous = fx.App.Anonymous();
        for (var i = 0; i < 10; i++)
        {
            var wrong = await anonymous.PostAsJsonAsync("/api/auth/login", new { email = tenant.Email, password = "wrong-password-" + i });
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        var refused = await anonymous.PostAsJsonAsync("/api/auth/login", new { email = " " + tenant.Email.ToUpperInvariant(), password = tenant.Password });
        await ByokTests.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "too_many_attempts");
        Assert.NotNull(refused.Headers.RetryAfter);
        using var other = await fx.App.LoginAsync(); // the platform admin is not affected
    }

    [Fact]
    public async Task A_session_ends_when_its_user_is_deleted_demoted_or_given_a_new_password()
    {
        var tenant = await fx.CreateTenantAsync("session");
        async Task<(string Id, HttpClient Client)> NewAdminAsync(string name)
        {
            var email = $"{name}@{tenant.Id}.test";
            var user = await ByokTests.PostAsync(tenant.Admin, "/api/admin/users", new { email, password = "second-admin-pw-1", role = "admin" });
            return (user["id"]!.GetValue<string>(), await fx.App.LoginAsync(email, "second-admin-pw-1"));
        }

        var (demotedId, demoted) = await NewAdminAsync("demoted");
        Assert.Equal(HttpStatusCode.OK, (await demoted.GetAsync("/api/admin/users")).StatusCode);
        (await tenant.Admin.PatchAsJsonAsync($"/api/admin/users/{demotedId}", new { role = "member" })).EnsureSuccessStatusCode();
        var stale = await ByokTests.AssertProblemAsync(await demoted.GetAsync("/api/admin/users"), HttpStatusCode.Unauthorized, "invalid_token");
        Assert.Contains("log in again", stale["detail"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
        using (var relogged = await fx.App.LoginAsync($"demoted@{tenant.Id}.test", "second-admin-pw-1"))
        {
            await ByokTests.AssertProblemAsync(await relogged.GetAsync("/api/admin/users"), HttpStatusCode.Forbidden, "forbidden");
        }

        var (resetId, reset) = await NewAdminAsync("reset");
        (await tenant.Admin.PatchAsJsonAsync($"/api/admin/users/{resetId}", new { password = "a-brand-new-pw-7" })).EnsureSuccessStatusCode();
        await ByokTests.AssertProblemAsync(await reset.GetAsync("/api/documents"), HttpStatusCode.Unauthorized, "invalid_token");

        var (deletedId, deleted) = await NewAdminAsync("deleted");
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Admin.DeleteAsync($"/api/admin/users/{deletedId}")).StatusCode);
        var ghost = await deleted.PostAsJsonAsync("/api/admin/users", new { email = $"ghost@{tenant.Id}.test", password = "ghost-password-1", role = "admin" });
        await ByokTests.AssertProblemAsync(ghost, HttpStatusCode.Unauthorized, "invalid_token");
    }

    [Fact]
    public async Task Two_admins_removing_each_other_at_once_leave_the_tenant_one_admin()
    {
        var tenant = await fx.CreateTenantAsync("race");
        var repo = fx.App.Services.GetRequiredService<UserRepository>();
        for (var round = 0; round < 20; round++)
        {
            var one = await repo.CreateUserAsync(tenant.Id, $"one-{round}@{tenant.Id}.test", "race-password-1", "admin", false, CancellationToken.None);
            var two = await repo.CreateUserAsync(tenant.Id, $"two-{round}@{tenant.Id}.test", "race-password-1", "admin", false, CancellationToken.None);
            await using (var connection = new NpgsqlConnection(fx.App.ConnectionString))
            {
                // Only these two are admins for the round.
                await connection.OpenAsync();
                await using var demoteOthers = new NpgsqlCommand(
                    "UPDATE users SET role = 'member' WHERE tenant_id = @t AND id <> @a AND id <> @b", connection);
                demoteOthers.Parameters.AddWithValue("t", tenant.Id);
                demoteOthers.Parameters.AddWithValue("a", one!.Id);
                demoteOthers.Parameters.AddWithValue("b", two!.Id);
                await demoteOthers.ExecuteNonQueryAsync();
            }

            var demote = repo.UpdateUserAsync(tenant.Id, two!.Id, "member", null, CancellationToken.None);
            var delete = repo.DeleteUserAsync(tenant.Id, one!.Id, CancellationToken.None);
            await Task.WhenAll(demote, delete);
            Assert.Contains(UserChange.LastAdmin, new[] { (await demote).Result, await delete });
            Assert.Single(await repo.ListUsersAsync(tenant.Id, CancellationToken.None), u => u.Role == "admin");
        }
    }

    [Fact]
    public async Task A_tenant_is_created_with_its_admin_or_not_at_all()
    {
        var taken = await fx.CreateTenantAsync("taken");
        var response = await fx.PlatformAdmin.PostAsJsonAsync("/api/admin/tenants",
            new { id = "orphan-" + taken.Id, admin_email = taken.Email.ToUpperInvariant(), admin_password = "orphan-password-1" });
        var problem = await ByokTests.AssertProblemAsync(response, HttpStatusCode.Conflict, "email_taken");
        Assert.DoesNotContain(taken.Id, problem["detail"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await fx.PlatformAdmin.GetAsync($"/api/admin/tenants/orphan-{taken.Id}")).StatusCode);
        var retry = await fx.PlatformAdmin.PostAsJsonAsync("/api/admin/tenants",
            new { id = "orphan-" + taken.Id, admin_email = $"first@orphan-{taken.Id}.test", admin_password = "orphan-password-1" });
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);

        foreach (var email in new[] { "@", "a@b@c.test", "<script>@x.test", "evil\r\nSet-Cookie: x@x.test", "a\u200b@a.test", "nodot@localhost" })
        {
            var bad = await taken.Admin.PostAsJsonAsync("/api/admin/users", new { email, password = "valid-password-123" });
            await ByokTests.AssertProblemAsync(bad, HttpStatusCode.BadRequest, "email_invalid");
        }

        foreach (var password in new[] { "1111111111", "aaaaaaaaaa", "passwordpassword", "\0\0\0\0\0\0\0\0\0\0x" })
        {
            var weak = await taken.Admin.PostAsJsonAsync("/api/admin/users", new { email = $"u{password.Length}@{taken.Id}.test", password });
            await ByokTests.AssertProblemAsync(weak, HttpStatusCode.BadRequest, "weak_password");
        }
    }
}

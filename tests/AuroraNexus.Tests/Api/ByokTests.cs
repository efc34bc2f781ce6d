using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AuroraNexus.Tests.Api;

/// <summary>Bring-your-own-key: credentials per tenant, Fernet at rest, the tenant grain as the only way out.</summary>
[Collection("tenancy")]
public sealed class ByokTests(TenancyFixture fx)
{
    private const string TenantKey = "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";
    private const string Question = "Qu'est-ce que l'aide médicale de l'État (AME) ?";

    private static (string, byte[])[] Files => TestApp.CorpusFiles()[..4];

    [Fact]
    public async Task The_tenants_database_credential_wins_over_OPENROUTER_API_KEY_which_serves_only_the_bootstrap_tenant()
    {
        var tenant = await fx.CreateTenantAsync("byok", Files);
        var before = fx.Stub.ChatCalls;
        var extractive = await IngestionApiTests.Ask(tenant.Admin, Question, TenancyFixture.CallerApp);
        Assert.Equal("extractive", extractive["mode"]!.GetValue<string>());
        Assert.Equal(before, fx.Stub.ChatCalls);

        // Pasted with a leading space and a line break: stored trimmed, never shown.
        var saved = await fx.AddOpenRouterCredentialAsync(tenant.Admin, " " + TenantKey + "\n");
        var json = saved.ToJsonString();
        Assert.DoesNotContain(TenantKey[..20], json);
        Assert.Equal("****" + TenantKey[^4..], saved["credential"]!["masked_key"]!.GetValue<string>());
        Assert.Equal("readable", saved["credential"]!["status"]!.GetValue<string>());

        var answer = await IngestionApiTests.Ask(tenant.Admin, Question, TenancyFixture.CallerApp);
        Assert.Equal("llm", answer["mode"]!.GetValue<string>());
        var call = fx.Stub.ChatRequests[^1];
        Assert.Equal("Bearer " + TenantKey, call.Authorization);
        Assert.Equal("https://rag.example.test", call.Referer);
        Assert.False(string.IsNullOrEmpty(call.Title));

        var listing = (await tenant.Admin.GetFromJsonAsync<JsonNode>("/api/admin/providers/credentials"))!;
        Assert.DoesNotContain(TenantKey[..20], listing.ToJsonString());
        Assert.Equal("tenant_credential", listing["route"]!["source"]!.GetValue<string>());
        var stored = await ScalarAsync<string>("SELECT token FROM llm_credentials WHERE tenant_id = @t", tenant.Id);
        Assert.DoesNotContain(TenantKey, stored);
        Assert.StartsWith("gAAAAA", stored);

        // The bootstrap tenant answers with OPENROUTER_API_KEY until it stores a key of its own, which then wins.
        await TestApp.IngestAsync(fx.PlatformAdmin, TenancyFixture.CallerApp, Files);
        await IngestionApiTests.Ask(fx.PlatformAdmin, Question, TenancyFixture.CallerApp);
        Assert.Equal("Bearer " + TenancyFixture.BootstrapKey, fx.Stub.ChatRequests[^1].Authorization);
        const string own = "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";
        var ownCredential = await fx.AddOpenRouterCredentialAsync(fx.PlatformAdmin, own, "platform");
        await IngestionApiTests.Ask(fx.PlatformAdmin, Question, TenancyFixture.CallerApp);
        Assert.Equal("Bearer " + own, fx.Stub.ChatRequests[^1].Authorization);
        var removed = await fx.PlatformAdmin.DeleteAsync($"/api/admin/providers/credentials/{ownCredential["credential"]!["id"]!.GetValue<string>()}");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        await IngestionApiTests.Ask(fx.PlatformAdmin, "Qui peut bénéficier de l'aide médicale de l'État ?", TenancyFixture.CallerApp);
        Assert.Equal("Bearer " + TenancyFixture.BootstrapKey, fx.Stub.ChatRequests[^1].Authorization);
    }

    [Fact]
    public async Task A_provider_other_than_OpenRouter_never_gets_the_attribution_headers()
    {
        var tenant = await fx.CreateTenantAsync("compat", Files);
        var provider = await PostAsync(tenant.Admin, "/api/admin/providers",
            new { name = "in-house", kind = "openai_compatible", base_url = fx.Stub.BaseUrl + "/" });
        Assert.Equal(fx.Stub.BaseUrl, provider["base_url"]!.GetValue<string>());
        var providerId = provider["id"]!.GetValue<string>();
        await PostAsync(tenant.Admin, "/api/admin/providers/credentials", new { provider_id = providerId, label = "lab", api_key = "lab-key-0123456789abcdef" });
        var model = await PostAsync(tenant.Admin, "/api/admin/models", new { provider_id = providerId, model = "mistral-small-lab", is_default = true });
        Assert.True(model["is_default"]!.GetValue<bool>());

        var answer = await IngestionApiTests.Ask(tenant.Admin, Question, TenancyFixture.CallerApp);
        Assert.Equal("llm", answer["mode"]!.GetValue<string>());
        var call = fx.Stub.ChatRequests[^1];
        Assert.Equal("Bearer lab-key-0123456789abcdef", call.Authorization);
        Assert.Null(call.Referer);
        Assert.Null(call.Title);
        Assert.Equal("mistral-small-lab", JsonNode.Parse(call.Body)!["model"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n")]
    [InlineData("sk-or-v1-abc def0123456789")]
    [InlineData("change-me")]
    [InlineData("sk-or-v1-...")]
    public async Task Keys_that_cannot_be_keys_are_refused_with_credential_invalid(string apiKey)
    {
        var tenant = await fx.CreateTenantAsync("badkey");
        var provider = await TenancyFixture.OpenRouterProviderAsync(tenant.Admin);
        var response = await tenant.Admin.PostAsJsonAsync("/api/admin/providers/credentials", new { provider_id = provider, api_key = apiKey });
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "credential_invalid");
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM llm_credentials WHERE tenant_id = @t", tenant.Id));
    }

    [Theory]
    [InlineData("ftp://models.example.test/v1")]
    [InlineData("not a url")]
    [InlineData("file:///etc/passwd")]
    [InlineData("https://user:secret@models.example.test/v1")]
    public async Task A_provider_base_url_must_be_http_or_https(string baseUrl)
    {
        var tenant = await fx.CreateTenantAsync("badurl");
        var response = await tenant.Admin.PostAsJsonAsync("/api/admin/providers", new { name = "x", base_url = baseUrl });
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid_base_url");
    }

    [Fact]
    public async Task Test_connection_reports_the_providers_verdict_and_records_it()
    {
        var tenant = await fx.CreateTenantAsync("test");
        var saved = await fx.AddOpenRouterCredentialAsync(tenant.Admin, TenantKey);
        var id = saved["credential"]!["id"]!.GetValue<string>();

        var ok = await PostAsync(tenant.Admin, $"/api/admin/providers/credentials/{id}/test", new { });
        Assert.Equal("ok", ok["status"]!.GetValue<string>());
        var keyCall = fx.Stub.Requests[^1];
        Assert.EndsWith("/key", keyCall.Path);
        Assert.Equal("Bearer " + TenantKey, keyCall.Authorization);

        fx.Stub.EnqueueKeyError(401, OpenRouterStub.InvalidKeyMessage);
        var rejected = await PostAsync(tenant.Admin, $"/api/admin/providers/credentials/{id}/test", new { });
        Assert.Equal("provider_auth_failed", rejected["status"]!.GetValue<string>());
        Assert.DoesNotContain(TenantKey, rejected.ToJsonString());

        var view = (await tenant.Admin.GetFromJsonAsync<JsonNode>($"/api/admin/providers/credentials/{id}"))!;
        Assert.Equal("provider_auth_failed", view["last_test_status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Test_connection_uses_and_names_the_tenants_default_model_not_LLM_MODEL()
    {
        const string chosen = "mistralai/mistral-small";
        var tenant = await fx.CreateTenantAsync("testmodel");
        var saved = await fx.AddOpenRouterCredentialAsync(tenant.Admin, TenantKey);
        var id = saved["credential"]!["id"]!.GetValue<string>();
        var provider = await TenancyFixture.OpenRouterProviderAsync(tenant.Admin);
        await PostAsync(tenant.Admin, "/api/admin/models", new { provider_id = provider, model = chosen, is_default = true });

        var ok = await PostAsync(tenant.Admin, $"/api/admin/providers/credentials/{id}/test", new { });
        Assert.Equal("ok", ok["status"]!.GetValue<string>());
        Assert.Equal(chosen, ok["model"]!.GetValue<string>());
        Assert.Contains($"'{chosen}'", ok["message"]!.GetValue<string>());
        Assert.DoesNotContain(OpenRouterStub.DefaultModel, ok.ToJsonString());

        // A provider that cannot serve now: the verdict names the model the tenant's queries would ask for.
        fx.Stub.EnqueueKeyError(503, "No allowed providers are available for the selected model.");
        fx.Stub.EnqueueKeyError(503, "No allowed providers are available for the selected model.");
        var unavailable = await PostAsync(tenant.Admin, $"/api/admin/providers/credentials/{id}/test", new { });
        Assert.Equal("provider_unavailable", unavailable["status"]!.GetValue<string>());
        Assert.Contains($"'{chosen}'", unavailable["message"]!.GetValue<string>());
        Assert.DoesNotContain(OpenRouterStub.DefaultModel, unavailable["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Test_connection_of_an_openai_compatible_provider_warns_when_it_does_not_list_the_tenants_model()
    {
        var tenant = await fx.CreateTenantAsync("testlisted");
        var provider = (await PostAsync(tenant.Admin, "/api/admin/providers",
            new { name = "in-house", kind = "openai_compatible", base_url = fx.Stub.BaseUrl }))["id"]!.GetValue<string>();
        var saved = await PostAsync(tenant.Admin, "/api/admin/providers/credentials",
            new { provider_id = provider, label = "lab", api_key = "lab-key-0123456789abcdef" });
        var id = saved["credential"]!["id"]!.GetValue<string>();
        var model = (await PostAsync(tenant.Admin, "/api/admin/models",
            new { provider_id = provider, model = "mistral-small-lab", is_default = true }))["id"]!.GetValue<string>();

        var unlisted = await PostAsync(tenant.Admin, $"/api/admin/providers/credentials/{id}/test", new { });
        Assert.Equal("ok", unlisted["status"]!.GetValue<string>());
        Assert.Equal("mistral-small-lab", unlisted["model"]!.GetValue<string>());
        Assert.Contains(unlisted["warnings"]!.AsArray(), w => w!.GetValue<string>().StartsWith("model_not_listed", StringComparison.Ordinal) &&
            w.GetValue<string>().Contains("'mistral-small-lab'", StringComparison.Ordinal));

        Assert.True((await tenant.Admin.DeleteAsync($"/api/admin/models/{model}")).IsSuccessStatusCode);
        await PostAsync(tenant.Admin, "/api/admin/models", new { provider_id = provider, model = "mistralai/mistral-small", is_default = true });
        var listed = await PostAsync(tenant.Admin, $"/api/admin/providers/credentials/{id}/test", new { });
        Assert.Equal("mistralai/mistral-small", listed["model"]!.GetValue<string>());
        Assert.DoesNotContain(listed["warnings"]!.AsArray(), w => w!.GetValue<string>().StartsWith("model_not_listed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_key_the_provider_rejects_is_provider_auth_failed_naming_tenant_and_credential_and_a_foreign_key_is_warned()
    {
        var tenant = await fx.CreateTenantAsync("reject", Files);
        var saved = await fx.AddOpenRouterCredentialAsync(tenant.Admin, "sk-proj-0123456789abcdefghijklmnop", "copied-from-openai");
        Assert.Contains(saved["warnings"]!.AsArray(), w => w!.GetValue<string>().StartsWith("key_prefix_unexpected", StringComparison.Ordinal));

        fx.Stub.EnqueueInvalidKey();
        var calls = fx.Stub.ChatCalls;
        var response = await tenant.Admin.PostAsJsonAsync("/api/query", new { question = Question, caller_app = TenancyFixture.CallerApp });
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadGateway, "provider_auth_failed");
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains(tenant.Id, detail);
        Assert.Contains("copied-from-openai", detail);
        Assert.Contains("Credentials", detail);
        Assert.DoesNotContain("sk-proj-0123456789", detail);
        Assert.Equal(calls + 1, fx.Stub.ChatCalls); // 401 is not retried
    }

    [Fact]
    public async Task A_credential_no_configured_key_can_read_is_unreadable_fails_fast_and_other_tenants_are_unaffected()
    {
        var broken = await fx.CreateTenantAsync("unreadable", Files);
        var healthy = await fx.CreateTenantAsync("healthy", Files);
        var saved = await fx.AddOpenRouterCredentialAsync(broken.Admin, TenantKey);
        await fx.AddOpenRouterCredentialAsync(healthy.Admin, TenantKey.Replace("7e57", "beef", StringComparison.Ordinal));
        var id = saved["credential"]!["id"]!.GetValue<string>();

        // What a changed LLM_CREDENTIALS_ENC_KEY looks like: the token was made by a key that is no longer configured.
        var lostKey = FernetKey.Generate();
        await ExecuteAsync("UPDATE llm_credentials SET token = @tok, key_fingerprint = @fp WHERE tenant_id = @t",
            broken.Id, ("tok", Fernet.Encrypt(lostKey, TenantKey)), ("fp", lostKey.Fingerprint));
        var grains = fx.App.Services.GetRequiredService<IGrainFactory>();
        await grains.GetGrain<ITenantGrain>(broken.Id).InvalidateAsync();

        var configured = fx.App.Services.GetRequiredService<NexusSettings>().CredentialKeys.PrimaryFingerprint;
        var view = (await broken.Admin.GetFromJsonAsync<JsonNode>($"/api/admin/providers/credentials/{id}"))!;
        Assert.Equal("unreadable", view["status"]!.GetValue<string>());
        Assert.Equal(lostKey.Fingerprint, view["key_fingerprint"]!.GetValue<string>());
        Assert.Contains(configured, view["configured_fingerprints"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.Contains(lostKey.Fingerprint, view["problem"]!.GetValue<string>());

        var calls = fx.Stub.Requests.Count;
        var response = await broken.Admin.PostAsJsonAsync("/api/query", new { question = Question, caller_app = TenancyFixture.CallerApp });
        var problem = await AssertProblemAsync(response, HttpStatusCode.Conflict, "credential_unreadable");
        Assert.Contains(lostKey.Fingerprint, problem["detail"]!.GetValue<string>());
        Assert.Contains(configured, problem["detail"]!.GetValue<string>());
        var test = await PostAsync(broken.Admin, $"/api/admin/providers/credentials/{id}/test", new { });
        Assert.Equal("credential_unreadable", test["status"]!.GetValue<string>());
        Assert.Equal(calls, fx.Stub.Requests.Count); // no outbound call at all

        var other = await IngestionApiTests.Ask(healthy.Admin, Question, TenancyFixture.CallerApp);
        Assert.Equal("llm", other["mode"]!.GetValue<string>());

        var health = (await fx.PlatformAdmin.GetFromJsonAsync<JsonNode>("/api/health"))!;
        var keyHealth = health["components"]!["credentials_key"]!;
        Assert.Equal("degraded", keyHealth["status"]!.GetValue<string>());
        Assert.Contains(lostKey.Fingerprint, keyHealth["detail"]!.GetValue<string>());

        // Debug logging was on throughout: neither the key nor any Fernet key text is in the log.
        Assert.DoesNotContain(TenantKey, fx.Logs.All);
        Assert.DoesNotContain(TenantKey[9..30], fx.Logs.All);
        Assert.DoesNotContain(lostKey.Encode(), fx.Logs.All);
        Assert.DoesNotContain(TenancyFixture.BootstrapKey[9..30], fx.Logs.All);
        Assert.Contains(fx.Logs.Lines, l => l.Contains("unreadable", StringComparison.Ordinal) && l.Contains(lostKey.Fingerprint, StringComparison.Ordinal));
        await ExecuteAsync("DELETE FROM llm_credentials WHERE tenant_id = @t", broken.Id);
    }

    [Fact]
    public async Task The_internal_gateway_needs_the_secret_and_a_tenant_and_answers_through_the_tenant_grain()
    {
        var tenant = await fx.CreateTenantAsync("gateway");
        var secret = fx.App.Services.GetRequiredService<NexusSettings>().GatewaySecret;
        using var http = new HttpClient { BaseAddress = fx.App.GatewayAddress };
        var body = new { model = OpenRouterStub.DefaultModel, messages = new[] { new { role = "user", content = "Bonjour" } } };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        await AssertGatewayErrorAsync(await SendAsync(http, body, null, tenant.Id), 401, "gateway_unauthorized");
        await AssertGatewayErrorAsync(await SendAsync(http, body, secret + "x", tenant.Id), 401, "gateway_unauthorized");
        await AssertGatewayErrorAsync(await SendAsync(http, body, secret, null), 400, "tenant_required");
        await AssertGatewayErrorAsync(await SendAsync(http, body, secret, "no-such-tenant"), 404, "tenant_not_found");
        await AssertGatewayErrorAsync(await SendAsync(http, body, secret, tenant.Id), 409, "llm_not_configured");

        await fx.AddOpenRouterCredentialAsync(tenant.Admin, TenantKey);
        var reply = await SendAsync(http, body, secret, tenant.Id);
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        var completion = (await reply.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(OpenRouterStub.CompliantAnswer, completion["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        Assert.Equal("Bearer " + TenantKey, fx.Stub.ChatRequests[^1].Authorization);

        fx.Stub.EnqueueStream("Bon", "jour", " !");
        var streamed = await SendAsync(http, new { messages = body.messages, stream = true }, secret, tenant.Id);
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType?.MediaType);
        var events = (await streamed.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1].Trim());
        var text = string.Concat(events[..^1].Select(e => JsonNode.Parse(e["data: ".Length..])!["choices"]![0]!["delta"]!["content"]?.GetValue<string>()));
        Assert.Equal("Bonjour !", text);

        fx.Stub.EnqueueStreamCutOff("Bon");
        var cut = await SendAsync(http, new { messages = body.messages, stream = true }, secret, tenant.Id);
        var cutEvents = (await cut.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(cutEvents, e => e.Trim() == "data: [DONE]");
        var last = JsonNode.Parse(cutEvents[^1]["data: ".Length..])!;
        Assert.Equal("stream_incomplete", last["error"]!["code"]!.GetValue<string>());
        Assert.Equal("stream_incomplete", last["error"]!["type"]!.GetValue<string>());
        Assert.Equal("error", last["choices"]![0]!["finish_reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_credential_rotated_to_a_new_key_is_masked_to_its_new_end_and_the_next_call_uses_it()
    {
        const string newKey = "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";
        var tenant = await fx.CreateTenantAsync("rotate-key");
        var saved = await fx.AddOpenRouterCredentialAsync(tenant.Admin, TenantKey);
        var id = saved["credential"]!["id"]!.GetValue<string>();
        var secret = fx.App.Services.GetRequiredService<NexusSettings>().GatewaySecret;
        using var http = new HttpClient { BaseAddress = fx.App.GatewayAddress };
        var body = new { model = OpenRouterStub.DefaultModel, messages = new[] { new { role = "user", content = "Bonjour" } } };
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(http, body, secret, tenant.Id)).StatusCode);
        Assert.Equal("Bearer " + TenantKey, fx.Stub.ChatRequests[^1].Authorization);

        var rotated = await tenant.Admin.PutAsJsonAsync($"/api/admin/providers/credentials/{id}", new { api_key = newKey });
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        var view = (await tenant.Admin.GetFromJsonAsync<JsonNode>($"/api/admin/providers/credentials/{id}"))!;
        var masked = view["masked_key"]!.GetValue<string>();
        Assert.EndsWith(newKey[^4..], masked);
        Assert.DoesNotContain(newKey[9..40], masked);
        Assert.Equal("readable", view["status"]!.GetValue<string>());
        Assert.DoesNotContain(newKey, await tenant.Admin.GetStringAsync("/api/admin/providers/credentials"));

        // The next call, on whichever silo, signs with the new key.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(http, body, secret, tenant.Id)).StatusCode);
        Assert.Equal("Bearer " + newKey, fx.Stub.ChatRequests[^1].Authorization);
        Assert.DoesNotContain(newKey, fx.Logs.All);
    }

    [Fact]
    public async Task A_generated_or_weak_seeded_admin_password_keeps_health_degraded_until_it_is_changed()
    {
        // ADMIN_DEFAULT_PASSWORD here is one of the operator's choosing: nothing to act on.
        var health = (await fx.PlatformAdmin.GetFromJsonAsync<JsonNode>("/api/health"))!;
        Assert.Equal("ok", health["components"]!["admin_password"]!["status"]!.GetValue<string>());

        // As the seed marks a generated or weak password (AdminSeedTests shows which).
        await ExecuteAsync("UPDATE users SET seeded_default = true WHERE tenant_id = @t AND email = @e", UserRepository.DefaultTenant,
            ("e", TestApp.AdminEmail));
        health = (await fx.PlatformAdmin.GetFromJsonAsync<JsonNode>("/api/health"))!;
        Assert.Equal("degraded", health["components"]!["admin_password"]!["status"]!.GetValue<string>());
        var reason = health["components"]!["admin_password"]!["detail"]!.GetValue<string>();
        Assert.Contains("ADMIN_DEFAULT_PASSWORD", reason);
        Assert.DoesNotContain(TestApp.AdminEmail, reason);
        Assert.True(health["ready"]!.GetValue<bool>());

        // Anyone may ask for health: the same status, but the account detail is for operators only.
        using (var stranger = fx.App.Anonymous())
        {
            var open = (await stranger.GetFromJsonAsync<JsonNode>("/api/health"))!;
            Assert.Equal("degraded", open["components"]!["admin_password"]!["status"]!.GetValue<string>());
            Assert.DoesNotContain("ADMIN_DEFAULT_PASSWORD", open["components"]!["admin_password"]!["detail"]!.GetValue<string>());
            Assert.Contains("operators", open["components"]!["admin_password"]!["detail"]!.GetValue<string>());
            Assert.Contains("operators", open["components"]!["credentials_key"]!["detail"]!.GetValue<string>());
        }

        // Another tenant's overview counts its own admins: the default tenant's password is not its warning.
        var other = await fx.CreateTenantAsync("own-admins");
        var scoped = await fx.App.Services.GetRequiredService<NexusHealth>().CheckAsync(CancellationToken.None, other.Id);
        Assert.Equal("ok", scoped.Components["admin_password"].Status);
        var forTenantAdmin = (await other.Admin.GetFromJsonAsync<JsonNode>("/api/health"))!;
        Assert.DoesNotContain("ADMIN_DEFAULT_PASSWORD", forTenantAdmin["components"]!["admin_password"]!["detail"]!.GetValue<string>());

        await AssertProblemAsync(await fx.PlatformAdmin.PostAsJsonAsync("/api/auth/password",
            new { current_password = "wrong-password-here", new_password = "a-much-better-password" }), HttpStatusCode.Forbidden, "current_password_wrong");
        await AssertProblemAsync(await fx.PlatformAdmin.PostAsJsonAsync("/api/auth/password",
            new { current_password = TestApp.AdminPassword, new_password = "change-me-now" }), HttpStatusCode.BadRequest, "weak_password");
        try
        {
            var changed = await fx.PlatformAdmin.PostAsJsonAsync("/api/auth/password",
                new { current_password = TestApp.AdminPassword, new_password = "a-much-better-password" });
            Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);

            // The token that changed the password is stale now, like every other session of that user.
            await AssertProblemAsync(await fx.PlatformAdmin.GetAsync("/api/documents"), HttpStatusCode.Unauthorized, "invalid_token");
            using var anonymous = fx.App.Anonymous();
            health = (await anonymous.GetFromJsonAsync<JsonNode>("/api/health"))!;
            Assert.Equal("ok", health["components"]!["admin_password"]!["status"]!.GetValue<string>());
            Assert.Equal(HttpStatusCode.Unauthorized,
                (await anonymous.PostAsJsonAsync("/api/auth/login", new { email = TestApp.AdminEmail, password = TestApp.AdminPassword })).StatusCode);
            using var fresh = await fx.App.LoginAsync(TestApp.AdminEmail, "a-much-better-password");
            Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync("/api/documents")).StatusCode);

            // Put it back for the other tests of the collection, which log in with the seeded password.
            var back = await fresh.PostAsJsonAsync("/api/auth/password", new { current_password = "a-much-better-password", new_password = TestApp.AdminPassword });
            Assert.Equal(HttpStatusCode.NoContent, back.StatusCode);
        }
        finally
        {
            await fx.ReloginPlatformAdminAsync();
        }
    }

    [Theory]
    [InlineData("[1,2,3]")]
    [InlineData("\"str\"")]
    [InlineData("{\"messages\":[1,2]}")]
    [InlineData("{\"messages\":[{\"role\":1,\"content\":\"x\"}]}")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":42}]}")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":{\"a\":1}}]}")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":123}")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":1e308}")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":-5}")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1e30}")]
    [InlineData("not json at all")]
    public async Task The_internal_gateway_refuses_malformed_bodies_with_400(string body)
    {
        var secret = fx.App.Services.GetRequiredService<NexusSettings>().GatewaySecret;
        using var http = new HttpClient { BaseAddress = fx.App.GatewayAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/internal/v1/chat/completions")
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        request.Headers.Add("X-Tenant-Id", "default");
        await AssertGatewayErrorAsync(await http.SendAsync(request), 400, "bad_request");
    }

    [Fact]
    public async Task Provider_and_model_changes_that_conflict_are_409s_never_database_outages()
    {
        var tenant = await fx.CreateTenantAsync("conflict");
        var first = await PostAsync(tenant.Admin, "/api/admin/providers", new { name = "lab", kind = "openai_compatible", base_url = fx.Stub.BaseUrl });
        await AssertProblemAsync(await tenant.Admin.PostAsJsonAsync("/api/admin/providers",
            new { name = "LAB", kind = "openai_compatible", base_url = fx.Stub.BaseUrl }), HttpStatusCode.Conflict, "provider_exists");
        var openRouter = await TenancyFixture.OpenRouterProviderAsync(tenant.Admin);
        await AssertProblemAsync(await tenant.Admin.PutAsJsonAsync($"/api/admin/providers/{openRouter}", new { name = "Lab" }),
            HttpStatusCode.Conflict, "provider_exists");
        await AssertProblemAsync(await tenant.Admin.PutAsJsonAsync($"/api/admin/providers/{openRouter}", new { name = "evil\n\u001b[31m" }),
            HttpStatusCode.BadRequest, "provider_name_invalid");
        await AssertProblemAsync(await tenant.Admin.PostAsJsonAsync("/api/admin/models",
            new { provider_id = first["id"]!.GetValue<string>(), model = "mod\u0000el" }), HttpStatusCode.BadRequest, "invalid_characters");

        var providerId = first["id"]!.GetValue<string>();
        var models = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            models.Add((await PostAsync(tenant.Admin, "/api/admin/models", new { provider_id = providerId, model = $"m-{i}" }))["id"]!.GetValue<string>());
        }

        var results = await Task.WhenAll(models.Select(m => tenant.Admin.PutAsync($"/api/admin/models/{m}/default", null)));
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var listed = (await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/admin/models"))!;
        Assert.Single(listed, m => m!["is_default"]!.GetValue<bool>());

        await AssertProblemAsync(await tenant.Admin.DeleteAsync($"/api/admin/providers/{providerId}"), HttpStatusCode.Conflict, "provider_in_use");
    }

    private async Task<T> ScalarAsync<T>(string sql, string tenant)
    {
        await using var connection = new NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        cmd.Parameters.AddWithValue("t", tenant);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql, string tenant, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        cmd.Parameters.AddWithValue("t", tenant);
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value);
        }

        await cmd.ExecuteNonQueryAsync();
    }

    internal static async Task<JsonNode> PostAsync(HttpClient client, string path, object body)
    {
        var response = await client.PostAsJsonAsync(path, body);
        var json = await response.Content.ReadFromJsonAsync<JsonNode>();
        Assert.True(response.IsSuccessStatusCode, $"{path} answered {(int)response.StatusCode}: {json}");
        return json!;
    }

    internal static async Task<JsonNode> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status} {code}, got {(int)response.StatusCode}: {body}");
        var problem = JsonNode.Parse(body)!;
        Assert.Equal(code, problem["code"]!.GetValue<string>());
        return problem;
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, object body, string? secret, string? tenant)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/internal/v1/chat/completions") { Content = JsonContent.Create(body) };
        if (secret is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        }

        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant-Id", tenant);
        }

        return await http.SendAsync(request);
    }

    /// <summary>OpenAI's error object carrying the API's stable code as a string in <c>code</c> (and in <c>type</c>).</summary>
    private static async Task AssertGatewayErrorAsync(HttpResponseMessage response, int status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status} {code}, got {(int)response.StatusCode}: {body}");
        var error = JsonNode.Parse(body)!["error"]!;
        Assert.Equal(System.Text.Json.JsonValueKind.String, error["code"]!.GetValueKind());
        Assert.Equal(code, error["code"]!.GetValue<string>());
        Assert.Equal(code, error["type"]!.GetValue<string>());
        Assert.False(string.IsNullOrWhiteSpace(error["message"]!.GetValue<string>()));
    }
}

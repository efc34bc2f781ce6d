using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Tests.Api;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuroraNexus.Tests.Operations;

/// <summary>The running app's ops surface: /api/admin/doctor, readiness and liveness, /metrics, and logs at debug level.</summary>
[Collection("tenancy")]
public sealed class OpsApiTests(TenancyFixture fx)
{
    private const string RejectedKey = "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";

    [Fact]
    public async Task Admin_doctor_names_a_credential_the_provider_rejected_and_is_for_the_platform_operator_only()
    {
        var tenant = await fx.CreateTenantAsync("doctor");
        var saved = await fx.AddOpenRouterCredentialAsync(tenant.Admin, RejectedKey, label: "rejected-one");
        var id = saved["credential"]!["id"]!.GetValue<string>();
        fx.Stub.EnqueueKeyError(401, OpenRouterStub.InvalidKeyMessage);
        var test = await ByokTests.PostAsync(tenant.Admin, $"/api/admin/providers/credentials/{id}/test", new { });
        Assert.Equal("provider_auth_failed", test["status"]!.GetValue<string>());

        var forbidden = await tenant.Admin.GetAsync("/api/admin/doctor");
        await ByokTests.AssertProblemAsync(forbidden, HttpStatusCode.Forbidden, "forbidden");

        var report = (await fx.PlatformAdmin.GetFromJsonAsync<JsonNode>("/api/admin/doctor"))!;
        var checks = report["checks"]!.AsArray();
        JsonNode Check(string name) => checks.First(c => c!["check"]!.GetValue<string>() == name)!;
        Assert.Equal("error", Check("credentials_rejected")["status"]!.GetValue<string>());
        Assert.Contains($"tenant {tenant.Id} / openrouter / 'rejected-one' (provider_auth_failed)", Check("credentials_rejected")["verdict"]!.GetValue<string>());
        Assert.Equal("ok", Check("postgres")["status"]!.GetValue<string>());
        Assert.Equal("ok", Check("schema")["status"]!.GetValue<string>());
        Assert.Equal("ok", Check("credentials_key_decrypts")["status"]!.GetValue<string>());
        Assert.Equal("ok", Check("public_domain")["status"]!.GetValue<string>());
        Assert.Equal("error", report["status"]!.GetValue<string>());
        Assert.Equal(2, report["exit_code"]!.GetValue<int>());
        Assert.DoesNotContain(RejectedKey, report.ToJsonString());
        Assert.Contains("--test-credentials", Check("credentials_rejected")["verdict"]!.GetValue<string>() + Check("credentials_rejected")["fix"]);

        // test_credentials=true asks the provider now, with the same test as the admin API.
        fx.Stub.RejectKey(RejectedKey);
        var live = (await fx.PlatformAdmin.GetFromJsonAsync<JsonNode>("/api/admin/doctor?test_credentials=true"))!;
        var liveRejected = live["checks"]!.AsArray().First(c => c!["check"]!.GetValue<string>() == "credentials_rejected")!;
        Assert.Equal("error", liveRejected["status"]!.GetValue<string>());
        Assert.Contains("just now", liveRejected["verdict"]!.GetValue<string>());
        Assert.Contains($"tenant {tenant.Id} / openrouter / 'rejected-one' (provider_auth_failed)", liveRejected["verdict"]!.GetValue<string>());

        (await tenant.Admin.DeleteAsync($"/api/admin/providers/credentials/{id}")).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task Liveness_and_readiness_are_separate_and_readiness_carries_the_configuration_check()
    {
        using var anonymous = fx.App.Anonymous();
        var live = await anonymous.GetAsync("/api/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        var ready = (await anonymous.GetFromJsonAsync<JsonNode>("/api/health/ready"))!;
        Assert.True(ready["ready"]!.GetValue<bool>(), ready.ToJsonString());
        Assert.Equal("ok", ready["components"]!["configuration"]!["status"]!.GetValue<string>());
        Assert.Equal("ok", ready["components"]!["cluster"]!["status"]!.GetValue<string>());

        using var gateway = new HttpClient { BaseAddress = fx.App.GatewayAddress };
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task Metrics_on_the_gateway_port_count_queries_and_ingested_documents_per_tenant()
    {
        var tenant = await fx.CreateTenantAsync("metrics", TestApp.CorpusFiles().Take(2).ToArray());
        await IngestionApiTests.Ask(tenant.Admin, "Comment faire une donation au dernier vivant ?", TenancyFixture.CallerApp, "metrics-1");

        using var gateway = new HttpClient { BaseAddress = fx.App.GatewayAddress };
        var text = await WaitForMetricAsync(gateway, $"tenant=\"{tenant.Id}\"", "nexus_queries_total");

        Assert.Matches($@"nexus_queries_total\{{[^}}]*tenant=""{tenant.Id}""[^}}]*\}} 1", text);
        Assert.Matches($@"nexus_ingestion_documents_total\{{[^}}]*status=""indexed""[^}}]*tenant=""{tenant.Id}""[^}}]*\}} 2", text);
        Assert.Contains("orleans_", text);
        // ASP.NET Core's request metrics are checked on a silo process of the cluster test: in this test process many apps
        // share one instrument identity, and an app disposed earlier takes the exported stream with it.

        // Tenant ids are not for the public API port.
        using var api = fx.App.Anonymous();
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task Debug_logs_hold_none_of_the_infrastructure_secrets()
    {
        using var anonymous = fx.App.Anonymous();
        (await anonymous.GetAsync("/api/health")).EnsureSuccessStatusCode();
        (await fx.PlatformAdmin.GetAsync("/api/admin/doctor")).EnsureSuccessStatusCode();
        var settings = fx.App.Services.GetRequiredService<NexusSettings>();
        using var internalCall = new HttpRequestMessage(HttpMethod.Post, new Uri(fx.App.GatewayAddress, "/internal/v1/chat/completions"))
        {
            Content = JsonContent.Create(new { messages = new[] { new { role = "user", content = "x" } } }),
        };
        internalCall.Headers.Add("X-Tenant-Id", "default");
        internalCall.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", settings.GatewaySecret);
        using var gateway = new HttpClient();
        await gateway.SendAsync(internalCall);

        var logs = fx.Logs.All;
        Assert.Contains(fx.Logs.Lines, l => l.StartsWith("Debug", StringComparison.Ordinal)); // the capture really is at debug level
        Assert.DoesNotContain(settings.JwtSecret, logs);
        Assert.DoesNotContain(settings.GatewaySecret, logs);
        var keyFile = File.ReadAllText(NexusSettings.SecretPath(settings.DataDirectory, "LLM_CREDENTIALS_ENC_KEY")).Trim();
        Assert.DoesNotContain(keyFile, logs);
        Assert.DoesNotContain(TestApp.AdminPassword, logs);
        Assert.DoesNotContain(TenancyFixture.BootstrapKey, logs);
        var dbPassword = new Npgsql.NpgsqlConnectionStringBuilder(fx.App.ConnectionString).Password;
        Assert.False(string.IsNullOrEmpty(dbPassword));
        Assert.DoesNotContain("Password=" + dbPassword, logs);
        Assert.DoesNotContain(dbPassword!, logs);
    }

    private static async Task<string> WaitForMetricAsync(HttpClient gateway, string needle, string name)
    {
        // The Prometheus exporter serves a snapshot that is refreshed at most once a second or so.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var text = await gateway.GetStringAsync("/metrics");
            if (text.Split('\n').Any(l => l.StartsWith(name, StringComparison.Ordinal) && l.Contains(needle, StringComparison.Ordinal)) ||
                DateTime.UtcNow > deadline)
            {
                return text;
            }

            await Task.Delay(300);
        }
    }
}

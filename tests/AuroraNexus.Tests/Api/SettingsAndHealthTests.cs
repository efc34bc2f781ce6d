using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AuroraNexus.Tests.Api;

[Collection("api")]
public sealed class SettingsAndHealthTests(ApiFixture fx)
{
    [Fact]
    public async Task Retrieve_k_from_the_tenant_settings_bounds_the_citations()
    {
        try
        {
            var put = await fx.Admin.PutAsJsonAsync("/api/admin/settings", new { retrieve_k = 5, mmr_lambda = 0.7 });
            var saved = (await put.Content.ReadFromJsonAsync<JsonNode>())!;
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            Assert.Equal(5, saved["retrieve_k"]!.GetValue<int>());
            Assert.Equal(0.7, saved["mmr_lambda"]!.GetValue<double>());

            var answer = await IngestionApiTests.Ask(fx.Admin, "Qu'est-ce que l'aide médicale de l'État ?", ApiFixture.CallerApp);
            Assert.Equal(5, answer["citations"]!.AsArray().Count);
        }
        finally
        {
            var d = AuroraNexus.Grains.Tenancy.TenantSettings.Defaults;
            await fx.Admin.PutAsJsonAsync("/api/admin/settings", new { retrieve_k = d.RetrieveK, mmr_lambda = d.MmrLambda });
        }

        var restored = await IngestionApiTests.Ask(fx.Admin, "Qu'est-ce que l'aide médicale de l'État ?", ApiFixture.CallerApp);
        Assert.True(restored["citations"]!.AsArray().Count > 5);
    }

    [Fact]
    public async Task A_top_k_below_four_still_gets_an_answer_with_an_outline()
    {
        var response = await fx.Admin.PostAsJsonAsync("/api/query",
            new { question = "Comment faire une donation au dernier vivant ?", caller_app = ApiFixture.CallerApp, options = new { top_k = 1 } });
        var answer = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.InRange(answer["sections"]!.AsArray().Count, 4, 8);
    }

    [Fact]
    public async Task Out_of_range_settings_are_refused_with_invalid_setting()
    {
        var response = await fx.Admin.PutAsJsonAsync("/api/admin/settings", new { retrieve_k = 3 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_setting", (await AuthAndValidationTests.Problem(response))["code"]!.GetValue<string>());
        response = await fx.Admin.PutAsJsonAsync("/api/admin/settings", new { mmr_lambda = 1.5 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Health_is_not_ready_and_names_the_cause_when_postgres_is_unreachable()
    {
        var services = fx.App.Services;
        await using var unreachable = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={Infrastructure.TestApp.FreePort()};Username=x;Password=y;Timeout=2");
        var health = new NexusHealth(services, unreachable, services.GetRequiredService<IObjectStore>(), services.GetRequiredService<IGrainFactory>(),
            services.GetRequiredService<NexusSettings>());

        var report = await health.CheckAsync(CancellationToken.None);

        Assert.False(report.Ready);
        Assert.Equal("down", report.Components["postgres"].Status);
        Assert.Contains("DATABASE_URL", report.Components["postgres"].Detail);
        Assert.Equal("down", report.Components["schema"].Status);
        Assert.Equal("ok", report.Components["cluster"].Status);
    }
}

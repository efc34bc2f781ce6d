using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
    public async Task The_settings_preview_answers_with_the_unsaved_values_as_a_saved_setting_would_and_saves_nothing()
    {
        const string question = "Qu'est-ce que l'aide médicale de l'État ?";
        var d = AuroraNexus.Grains.Tenancy.TenantSettings.Defaults;
        var tried = new { retrieve_k = 5, mmr_lambda = 1.0, fusion_dense_weight = 0.0, fusion_document_weight = 0.0, bm25_k1 = 1.2 };
        var baseline = Ranking(await IngestionApiTests.Ask(fx.Admin, question, ApiFixture.CallerApp));

        var response = await fx.Admin.PostAsJsonAsync("/api/admin/settings/preview", new { question, settings = tried });
        var preview = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(5, preview["citations"]!.AsArray().Count);
        Assert.NotEqual(baseline[..5], Ranking(preview));
        var current = (await fx.Admin.GetFromJsonAsync<JsonNode>("/api/admin/settings"))!;
        Assert.Equal(d.RetrieveK, current["retrieve_k"]!.GetValue<int>());
        Assert.Equal(d.DenseWeight, current["fusion_dense_weight"]!.GetValue<double>());

        var invalid = await fx.Admin.PostAsJsonAsync("/api/admin/settings/preview", new { question, settings = new { mmr_lambda = 2 } });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Equal("invalid_setting", (await AuthAndValidationTests.Problem(invalid))["code"]!.GetValue<string>());

        // Saved, the same values rank the same passages with the same scores: the preview went through the query path.
        try
        {
            (await fx.Admin.PutAsJsonAsync("/api/admin/settings", tried)).EnsureSuccessStatusCode();
            Assert.Equal(Ranking(preview), Ranking(await IngestionApiTests.Ask(fx.Admin, question, ApiFixture.CallerApp)));
        }
        finally
        {
            await fx.Admin.PutAsJsonAsync("/api/admin/settings", new
            {
                retrieve_k = d.RetrieveK, mmr_lambda = d.MmrLambda, fusion_dense_weight = d.DenseWeight,
                fusion_document_weight = d.DocumentWeight, bm25_k1 = d.Bm25K1,
            });
        }

        static string[] Ranking(JsonNode answer) => [.. answer["citations"]!.AsArray().Select(c =>
            $"{c!["document_id"]}#{c["chunk_index"]}:{c["score"]}")];
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
        foreach (object body in new object[]
                 {
                     new { bm25_b = 1.5 }, new { bm25_k1 = -1 }, new { fusion_document_weight = 11 }, new { fusion_lead_weight = -0.1 },
                     new { lexical_accent_stem_weight = 20 }, new { lexical_candidates = 0 }, new { dense_candidates = 5000 },
                     new { lexical_aside_weight = 1.5 }, new { lexical_aside_weight = -0.5 },
                 })
        {
            response = await fx.Admin.PutAsJsonAsync("/api/admin/settings", body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("invalid_setting", (await AuthAndValidationTests.Problem(response))["code"]!.GetValue<string>());
        }
    }

    [Theory]
    [InlineData("cache_ttl_minutes", -1)]
    [InlineData("cache_ttl_minutes", 10081)]
    [InlineData("cache_max_entries", 9)]
    [InlineData("cache_max_entries", 100001)]
    public async Task A_cache_setting_out_of_range_is_refused_naming_it_and_nothing_of_the_save_is_written(string setting, int value)
    {
        var d = AuroraNexus.Grains.Tenancy.TenantSettings.Defaults;
        try
        {
            var save = await SendJsonAsync(HttpMethod.Put, "/api/admin/settings",
                $$"""{"retrieve_k": 7, "cache_ttl_minutes": 30, "cache_max_entries": 50, "{{setting}}": {{value}}}""");
            Assert.Equal(HttpStatusCode.BadRequest, save.StatusCode);
            var problem = await AuthAndValidationTests.Problem(save);
            Assert.Equal("invalid_setting", problem["code"]!.GetValue<string>());
            Assert.Equal(setting, problem["setting"]!.GetValue<string>());
            Assert.Contains(setting, problem["detail"]!.GetValue<string>());
            var stored = await StoredSettingsAsync();
            Assert.Equal(d.RetrieveK, stored.RetrieveK);
            Assert.Equal(d.CacheTtlMinutes, stored.CacheTtlMinutes);
            Assert.Equal(d.CacheMaxEntries, stored.CacheMaxEntries);

            var preview = await SendJsonAsync(HttpMethod.Post, "/api/admin/settings/preview",
                $$$"""{"question": "Qu'est-ce que l'aide médicale de l'État ?", "settings": {"{{{setting}}}": {{{value}}}}}""");
            Assert.Equal(HttpStatusCode.BadRequest, preview.StatusCode);
            Assert.Equal(setting, (await AuthAndValidationTests.Problem(preview))["setting"]!.GetValue<string>());
        }
        finally
        {
            await fx.Admin.PutAsJsonAsync("/api/admin/settings", new { retrieve_k = d.RetrieveK });
        }
    }

    [Fact]
    public async Task Cache_settings_are_saved_within_their_bounds_and_a_preview_accepts_them_without_saving_them()
    {
        var d = AuroraNexus.Grains.Tenancy.TenantSettings.Defaults;
        var current = (await fx.Admin.GetFromJsonAsync<JsonNode>("/api/admin/settings"))!;
        Assert.Equal(360, current["cache_ttl_minutes"]!.GetValue<int>());
        Assert.Equal(2000, current["cache_max_entries"]!.GetValue<int>());

        var preview = await fx.Admin.PostAsJsonAsync("/api/admin/settings/preview",
            new { question = "Qu'est-ce que l'aide médicale de l'État ?", settings = new { cache_ttl_minutes = 0, cache_max_entries = 10 } });
        Assert.Equal(HttpStatusCode.OK, preview.StatusCode);
        Assert.Equal(d.CacheTtlMinutes, (await StoredSettingsAsync()).CacheTtlMinutes);

        try
        {
            foreach (var (ttl, max) in new[] { (0, 10), (10080, 100000) })
            {
                var put = await fx.Admin.PutAsJsonAsync("/api/admin/settings", new { cache_ttl_minutes = ttl, cache_max_entries = max });
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
                var saved = (await put.Content.ReadFromJsonAsync<JsonNode>())!;
                Assert.Equal(ttl, saved["cache_ttl_minutes"]!.GetValue<int>());
                Assert.Equal(max, saved["cache_max_entries"]!.GetValue<int>());
                var stored = await StoredSettingsAsync();
                Assert.Equal((ttl, max), (stored.CacheTtlMinutes, stored.CacheMaxEntries));
            }
        }
        finally
        {
            await fx.Admin.PutAsJsonAsync("/api/admin/settings", new { cache_ttl_minutes = d.CacheTtlMinutes, cache_max_entries = d.CacheMaxEntries });
        }
    }

    [Theory]
    [InlineData("\"NaN\"")]
    [InlineData("\"Infinity\"")]
    [InlineData("\"-Infinity\"")]
    [InlineData("\"1e400\"")]
    [InlineData("1e400")]
    public async Task A_number_that_is_not_finite_is_refused_naming_the_setting_and_nothing_of_the_save_is_written(string value)
    {
        var d = AuroraNexus.Grains.Tenancy.TenantSettings.Defaults;
        try
        {
            var save = await SendJsonAsync(HttpMethod.Put, "/api/admin/settings", $$"""{"retrieve_k": 7, "mmr_lambda": {{value}}}""");
            Assert.Equal(HttpStatusCode.BadRequest, save.StatusCode);
            var problem = await AuthAndValidationTests.Problem(save);
            Assert.Equal("invalid_setting", problem["code"]!.GetValue<string>());
            Assert.Equal("mmr_lambda", problem["setting"]!.GetValue<string>());
            Assert.Contains("mmr_lambda", problem["detail"]!.GetValue<string>());
            var stored = await StoredSettingsAsync();
            Assert.Equal(d.RetrieveK, stored.RetrieveK);
            Assert.Equal(d.MmrLambda, stored.MmrLambda);

            var whole = await SendJsonAsync(HttpMethod.Put, "/api/admin/settings", $$"""{"retrieve_k": {{value}}}""");
            Assert.Equal(HttpStatusCode.BadRequest, whole.StatusCode);
            Assert.Equal("retrieve_k", (await AuthAndValidationTests.Problem(whole))["setting"]!.GetValue<string>());

            var preview = await SendJsonAsync(HttpMethod.Post, "/api/admin/settings/preview",
                $$$"""{"question": "Qu'est-ce que l'aide médicale de l'État ?", "settings": {"retrieve_k": 7, "bm25_k1": {{{value}}}}}""");
            Assert.Equal(HttpStatusCode.BadRequest, preview.StatusCode);
            problem = await AuthAndValidationTests.Problem(preview);
            Assert.Equal("invalid_setting", problem["code"]!.GetValue<string>());
            Assert.Equal("bm25_k1", problem["setting"]!.GetValue<string>());
        }
        finally
        {
            await fx.Admin.PutAsJsonAsync("/api/admin/settings", new { retrieve_k = d.RetrieveK, mmr_lambda = d.MmrLambda });
        }
    }

    [Fact]
    public async Task A_save_the_database_refuses_half_way_writes_none_of_its_values()
    {
        var d = AuroraNexus.Grains.Tenancy.TenantSettings.Defaults;
        try
        {
            // Valid for the API, refused by PostgreSQL (jsonb holds no NUL): written after retrieve_k, it must take it back.
            var save = await SendJsonAsync(HttpMethod.Put, "/api/admin/settings",
                """{"retrieve_k": 7, "mmr_lambda": 0.3, "system_prompt": "Réponds en français.\u0000", "bm25_b": 0.4}""");
            Assert.Equal(HttpStatusCode.BadRequest, save.StatusCode);
            var stored = await StoredSettingsAsync();
            Assert.Equal(d.RetrieveK, stored.RetrieveK);
            Assert.Equal(d.MmrLambda, stored.MmrLambda);
            Assert.Equal(d.Bm25B, stored.Bm25B);
        }
        finally
        {
            await fx.Admin.PutAsJsonAsync("/api/admin/settings", new { retrieve_k = d.RetrieveK, mmr_lambda = d.MmrLambda, bm25_b = d.Bm25B });
        }
    }

    /// <summary>The settings as the database holds them (the tenant grain may still hold the ones it read before).</summary>
    private Task<AuroraNexus.Grains.Tenancy.TenantSettings> StoredSettingsAsync() =>
        fx.App.Services.GetRequiredService<SettingsRepository>().LoadAsync(UserRepository.DefaultTenant, CancellationToken.None);

    private Task<HttpResponseMessage> SendJsonAsync(HttpMethod method, string path, string json) =>
        fx.Admin.SendAsync(new HttpRequestMessage(method, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") });

    [Fact]
    public async Task Fusion_and_bm25_settings_default_to_the_measured_values_and_can_be_changed()
    {
        var d = AuroraNexus.Grains.Tenancy.TenantSettings.Defaults;
        try
        {
            var current = (await fx.Admin.GetFromJsonAsync<JsonNode>("/api/admin/settings"))!;
            Assert.Equal(d.Bm25K1, current["bm25_k1"]!.GetValue<double>());
            Assert.Equal(d.DocumentWeight, current["fusion_document_weight"]!.GetValue<double>());
            Assert.Equal(0.25, current["lexical_aside_weight"]!.GetValue<double>());

            var put = await fx.Admin.PutAsJsonAsync("/api/admin/settings", new
            {
                bm25_k1 = 1.2, bm25_b = 0.5, fusion_document_weight = 0, fusion_lead_weight = 0, lexical_accent_stem_weight = 0,
                lexical_candidates = 100, dense_candidates = 80, lexical_aside_weight = 1,
            });
            var saved = (await put.Content.ReadFromJsonAsync<JsonNode>())!;
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            Assert.Equal(1.2, saved["bm25_k1"]!.GetValue<double>());
            Assert.Equal(0.5, saved["bm25_b"]!.GetValue<double>());
            Assert.Equal(0, saved["fusion_document_weight"]!.GetValue<double>());
            Assert.Equal(100, saved["lexical_candidates"]!.GetValue<int>());
            Assert.Equal(80, saved["dense_candidates"]!.GetValue<int>());
            Assert.Equal(1, saved["lexical_aside_weight"]!.GetValue<double>());

            // Chunk-only full text, accent-folded column alone: still answers.
            var answer = await IngestionApiTests.Ask(fx.Admin, "Comment faire une donation au dernier vivant ?", ApiFixture.CallerApp);
            Assert.NotEmpty(answer["citations"]!.AsArray());
        }
        finally
        {
            await fx.Admin.PutAsJsonAsync("/api/admin/settings", new
            {
                bm25_k1 = d.Bm25K1, bm25_b = d.Bm25B, fusion_document_weight = d.DocumentWeight, fusion_lead_weight = d.LeadWeight,
                lexical_accent_stem_weight = d.AccentStemWeight, lexical_candidates = d.LexicalCandidates,
                dense_candidates = d.DenseCandidates, lexical_aside_weight = d.AsideWeight,
            });
        }
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
    [Fact]
    public async Task Health_is_not_ready_while_the_schema_is_behind_and_names_the_command_then_ready_once_migrated()
    {
        var services = fx.App.Services;
        var name = "behind_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = NpgsqlDataSource.Create(fx.App.ConnectionString))
        {
            await using var create = admin.CreateCommand($"CREATE DATABASE {name}");
            await create.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(fx.App.ConnectionString) { Database = name };
        await using var db = NpgsqlDataSource.Create(builder.ConnectionString);
        await MigrationRunner.ApplyAsync(db, CancellationToken.None);
        await using (var forget = db.CreateCommand("DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"))
        {
            await forget.ExecuteNonQueryAsync();
        }

        var health = new NexusHealth(services, db, services.GetRequiredService<IObjectStore>(), services.GetRequiredService<IGrainFactory>(),
            services.GetRequiredService<NexusSettings>());

        var behind = await health.CheckAsync(CancellationToken.None);
        Assert.False(behind.Ready);
        Assert.Equal("down", behind.Components["schema"].Status);
        Assert.Contains("migrate", behind.Components["schema"].Detail);

        await MigrationRunner.ApplyAsync(db, CancellationToken.None);
        var current = await health.CheckAsync(CancellationToken.None);
        Assert.Equal("ok", current.Components["schema"].Status);
        Assert.True(current.Ready, string.Join("; ", current.Components.Where(c => c.Value.Status != "ok").Select(c => $"{c.Key}: {c.Value.Detail}")));
    }

    [Fact]
    public async Task Health_is_not_ready_while_the_process_drains_after_a_stop_signal()
    {
        var services = new StoppingServices(fx.App.Services);
        var health = new NexusHealth(services, fx.App.Services.GetRequiredService<NpgsqlDataSource>(),
            fx.App.Services.GetRequiredService<IObjectStore>(), fx.App.Services.GetRequiredService<IGrainFactory>(),
            fx.App.Services.GetRequiredService<NexusSettings>());

        var report = await health.CheckAsync(CancellationToken.None);

        Assert.False(report.Ready);
        Assert.Equal("down", report.Components["lifecycle"].Status);
        Assert.Contains("draining", report.Components["lifecycle"].Detail);
    }

    [Fact]
    public async Task Health_is_not_ready_while_this_silo_is_not_active_in_the_cluster()
    {
        var real = fx.App.Services.GetRequiredService<Orleans.Runtime.IClusterMembershipService>();
        var local = fx.App.Services.GetRequiredService<Orleans.Runtime.ILocalSiloDetails>().SiloAddress;
        var services = new JoiningServices(fx.App.Services, real, local);
        var health = new NexusHealth(services, fx.App.Services.GetRequiredService<NpgsqlDataSource>(),
            fx.App.Services.GetRequiredService<IObjectStore>(), fx.App.Services.GetRequiredService<IGrainFactory>(),
            fx.App.Services.GetRequiredService<NexusSettings>());

        var report = await health.CheckAsync(CancellationToken.None);

        Assert.False(report.Ready);
        Assert.Equal("down", report.Components["cluster"].Status);
        Assert.Contains("Joining", report.Components["cluster"].Detail);
        Assert.True((await fx.App.Services.GetRequiredService<NexusHealth>().CheckAsync(CancellationToken.None)).Ready);
    }

    /// <summary>The app's services, with a membership view in which this silo is still joining.</summary>
    private sealed class JoiningServices(IServiceProvider inner, Orleans.Runtime.IClusterMembershipService real, Orleans.Runtime.SiloAddress local)
        : IServiceProvider, Orleans.Runtime.IClusterMembershipService
    {
        public Orleans.Runtime.ClusterMembershipSnapshot CurrentSnapshot => new(
            real.CurrentSnapshot.Members.SetItem(local, new Orleans.Runtime.ClusterMember(local, Orleans.Runtime.SiloStatus.Joining, "joining")),
            real.CurrentSnapshot.Version);

        public IAsyncEnumerable<Orleans.Runtime.ClusterMembershipSnapshot> MembershipUpdates => real.MembershipUpdates;

        public ValueTask Refresh(Orleans.Runtime.MembershipVersion minimumVersion = default, CancellationToken cancellationToken = default) =>
            real.Refresh(minimumVersion, cancellationToken);

        public Task<bool> TryKill(Orleans.Runtime.SiloAddress siloAddress) => Task.FromResult(false);

        public object? GetService(Type serviceType) =>
            serviceType == typeof(Orleans.Runtime.IClusterMembershipService) ? this : inner.GetService(serviceType);
    }

    /// <summary>The app's services, with a lifetime that has received its stop signal.</summary>
    private sealed class StoppingServices(IServiceProvider inner) : IServiceProvider, IHostApplicationLifetime
    {
        private static readonly CancellationToken Stopped = new(canceled: true);

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => Stopped;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public object? GetService(Type serviceType) => serviceType == typeof(IHostApplicationLifetime) ? this : inner.GetService(serviceType);

        public void StopApplication()
        {
        }
    }
}

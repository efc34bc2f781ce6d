using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AuroraNexus.Tests.Browser;

/// <summary>The backoffice in a real browser: what an admin does, and what a member cannot.</summary>
[Collection("browser")]
public sealed class BackofficeTests(BrowserFixture fx)
{
    [Fact]
    public async Task Admin_logs_in_and_the_overview_shows_every_component_and_the_default_password_warning()
    {
        // The admin's password is one of their own choosing; mark it as the seed marks a generated or weak one.
        await SetSeededAsync(true);
        try
        {
            await OverviewShowsComponentsAndPasswordWarningAsync();
        }
        finally
        {
            await SetSeededAsync(false);
        }
    }

    private async Task SetSeededAsync(bool seeded)
    {
        await using var connection = new Npgsql.NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("UPDATE users SET seeded_default = @s WHERE email = @e", connection);
        cmd.Parameters.AddWithValue("s", seeded);
        cmd.Parameters.AddWithValue("e", TestApp.AdminEmail);
        Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
    }

    private async Task OverviewShowsComponentsAndPasswordWarningAsync()
    {
        var page = await fx.LoginAsync();
        await page.Locator("[data-testid=health]").WaitForAsync();
        var health = await page.Locator("[data-testid=health]").InnerTextAsync();
        foreach (var component in new[] { "postgres", "schema", "cluster", "vector_store", "object_store", "embeddings", "credentials_key" })
        {
            Assert.Contains(component, health);
        }

        // The seeded admin still uses a generated or weak password: the overview says so.
        var warnings = await page.Locator("[data-testid=warning]").AllInnerTextsAsync();
        Assert.Contains(warnings, w => w.Contains("admin password is still the default", StringComparison.Ordinal));
        await BrowserFixture.ScreenshotAsync(page, "overview");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Upload_of_three_files_shows_two_indexed_and_the_broken_one_failed_with_its_reason()
    {
        var page = await fx.LoginAsync();
        await page.GotoAsync("/documents");
        await page.Locator("[data-testid=documents-table]").WaitForAsync();
        var corpus = TestApp.CorpusFiles();
        var latin1 = Encoding.Latin1.GetBytes("Résumé de la procédure : déposer le dossier à la mairie, où l'agent vérifie les pièces. Délai : deux à trois semaines.");
        await BrowserFixture.WaitForFileInputAsync(page);
        await page.Locator("input[type=file]").SetInputFilesAsync(new[]
        {
            new FilePayload { Name = "F3079.txt", MimeType = "text/plain", Buffer = corpus.Single(f => f.Name == "F3079.txt").Content },
            new FilePayload { Name = "F33267.txt", MimeType = "text/plain", Buffer = corpus.Single(f => f.Name == "F33267.txt").Content },
            new FilePayload { Name = "broken-latin1.txt", MimeType = "text/plain", Buffer = latin1 },
        });

        // Live progress until the batch ends; ingestion embeds on the CPU, so this may take a while here.
        var status = page.Locator("[data-testid=batch-status]");
        await Assertions.Expect(status).ToContainTextAsync("completed_with_errors", new() { Timeout = 180_000 });
        var documents = page.Locator("[data-testid=batch-doc]");
        Assert.Equal(3, await documents.CountAsync());
        Assert.Equal(2, await page.Locator("[data-testid=batch-doc][data-status=indexed]").CountAsync());
        var failed = page.Locator("[data-testid=batch-doc][data-status=failed]");
        Assert.Equal(1, await failed.CountAsync());
        var reason = await failed.InnerTextAsync();
        Assert.Contains("broken-latin1.txt", reason);
        Assert.Contains("invalid_encoding", reason);
        Assert.Contains("Latin-1", reason);

        // Each file had its own bar, read to the end.
        var bars = await page.Locator("[data-testid=upload-progress]").AllInnerTextsAsync();
        Assert.Equal(3, bars.Count);
        Assert.All(bars, b => Assert.Contains("100%", b));
        Assert.Contains(bars, b => b.Contains("broken-latin1.txt", StringComparison.Ordinal));

        // The list below shows them too, with the error code on the failed one.
        var table = page.Locator("[data-testid=documents-table]");
        await Assertions.Expect(table).ToContainTextAsync("broken-latin1.txt");
        await Assertions.Expect(table).ToContainTextAsync("invalid_encoding");
        await BrowserFixture.ScreenshotAsync(page, "documents-upload");

        // The batches page lists the batch; its row opens each document's outcome.
        await page.GotoAsync("/batches");
        var batches = page.Locator("[data-testid=batches-table]");
        await Assertions.Expect(batches).ToContainTextAsync("completed_with_errors");
        await batches.Locator("tbody tr", new() { HasText = "completed_with_errors" }).First.ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=batch-detail]")).ToContainTextAsync("invalid_encoding");
        await Assertions.Expect(page.Locator("[data-testid=batch-detail]")).ToContainTextAsync("F3079.txt");
        await BrowserFixture.ScreenshotAsync(page, "batches");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Playground_answer_shows_citations_and_clicking_S2_resolves_the_follow_up()
    {
        var page = await fx.LoginAsync();
        await page.GotoAsync("/playground");
        var question = page.Locator("[data-testid=pg-question] input, input[data-testid=pg-question]").First;
        await question.FillAsync("Comment faire une donation au dernier vivant ?");
        await page.ClickAsync("[data-testid=pg-ask]");

        var s2 = page.Locator("[data-testid=pg-section-S2]");
        await s2.WaitForAsync();
        Assert.True(await page.Locator("[data-testid=pg-citation]").CountAsync() > 0);
        await Assertions.Expect(page.Locator("[data-testid=pg-citation]").First).ToContainTextAsync("F2767.txt");

        // The answer's Markdown is rendered: its section titles are bold elements, not asterisks.
        var answer = page.Locator("[data-testid=pg-answer]").First;
        Assert.True(await answer.Locator("strong").CountAsync() > 0, await answer.InnerHTMLAsync());
        Assert.DoesNotContain("**", await answer.InnerTextAsync());
        await BrowserFixture.ScreenshotAsync(page, "playground-answer");

        await s2.ClickAsync();
        var followUp = page.Locator("[data-testid=pg-followup]");
        await Assertions.Expect(followUp).ToContainTextAsync("S2");
        await Assertions.Expect(followUp).ToContainTextAsync("sid");
        Assert.Equal(2, await page.Locator("[data-testid=pg-turn]").CountAsync());
        await BrowserFixture.ScreenshotAsync(page, "playground-follow-up");

        // The queries log shows both turns, the follow-up with its section; its caller-app filter filters.
        await page.GotoAsync("/queries");
        var log = page.Locator("[data-testid=queries-table]");
        var app = page.Locator("[data-testid=queries-app] input, input[data-testid=queries-app]").First;
        await app.FillAsync("no-such-caller-app");
        await page.ClickAsync("[data-testid=queries-search]");
        await Assertions.Expect(log).Not.ToContainTextAsync("dernier vivant");
        await app.FillAsync("playground");
        await page.ClickAsync("[data-testid=queries-search]");
        await Assertions.Expect(log).ToContainTextAsync("Comment faire une donation au dernier vivant ?");
        await Assertions.Expect(log).ToContainTextAsync("S2");
        await BrowserFixture.ScreenshotAsync(page, "queries-log");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Added_credential_is_shown_masked_and_its_key_never_reaches_the_page()
    {
        const string key = "sk-or-v1-0123456789abcdef0123456789abcdef-tail9876";

        // In a tenant of its own: with a key, the default tenant's answers would go to OpenRouter, unreachable here.
        var (_, email, password, client) = await fx.CreateTenantAsync("cred");
        client.Dispose();
        var page = await fx.LoginAsync(email, password);
        await page.GotoAsync("/llm");
        await page.Locator("[data-testid=credentials-table]").WaitForAsync();
        await page.Locator("[data-testid=credential-label] input, input[data-testid=credential-label]").First.FillAsync("main key");
        await page.Locator("[data-testid=credential-key] input, input[data-testid=credential-key]").First.FillAsync(key);
        await page.ClickAsync("[data-testid=credential-add]");

        var masked = page.Locator("[data-testid=credential-masked]");
        await Assertions.Expect(masked).ToContainTextAsync("9876");
        Assert.DoesNotContain("0123456789abcdef", await masked.InnerTextAsync());
        await Assertions.Expect(page.Locator("[data-testid=credential-status]")).ToContainTextAsync("readable");
        await BrowserFixture.ScreenshotAsync(page, "credentials");

        // Nothing of the secret in the rendered page, once the form is cleared.
        Assert.DoesNotContain("0123456789abcdef", await page.ContentAsync());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_setting_out_of_range_is_refused_with_the_products_message_and_nothing_is_saved()
    {
        var page = await fx.LoginAsync();
        await page.GotoAsync("/settings");
        var retrieveK = page.Locator("[data-testid=retrieve-k] input, input[data-testid=retrieve-k]").First;
        await retrieveK.WaitForAsync();
        var before = await retrieveK.InputValueAsync();
        await retrieveK.FillAsync("99");
        await retrieveK.BlurAsync();
        await page.ClickAsync("[data-testid=settings-save]");

        var message = page.Locator("[data-testid=settings-message]");
        await Assertions.Expect(message).ToContainTextAsync("invalid_setting");
        await Assertions.Expect(message).ToContainTextAsync("retrieve_k must be between 4 and 50");
        Assert.DoesNotContain("   at ", await message.InnerTextAsync());
        await BrowserFixture.ScreenshotAsync(page, "settings-invalid");

        var saved = await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<System.Text.Json.Nodes.JsonNode>(fx.Admin, "/api/admin/settings");
        Assert.Equal(before, saved!["retrieve_k"]!.ToString());
        foreach (var setting in new[] { "cache_ttl_minutes", "cache_max_entries" })
        {
            var field = page.Locator($"[data-testid={setting.Replace('_', '-')}] input, input[data-testid={setting.Replace('_', '-')}]").First;
            await Assertions.Expect(field).ToHaveValueAsync(saved[setting]!.ToString());
        }

        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_settings_preview_answers_with_the_unsaved_values_of_the_form_and_saves_nothing()
    {
        var page = await fx.LoginAsync();
        await page.GotoAsync("/settings");
        var retrieveK = page.Locator("[data-testid=retrieve-k] input, input[data-testid=retrieve-k]").First;
        await retrieveK.WaitForAsync();
        await retrieveK.FillAsync("5");
        await retrieveK.BlurAsync();
        await page.Locator("[data-testid=preview-question] input, input[data-testid=preview-question]").First
            .FillAsync("Comment faire une donation au dernier vivant ?");
        await page.ClickAsync("[data-testid=preview-ask]");

        await Assertions.Expect(page.Locator("[data-testid=preview-citation]")).ToHaveCountAsync(5);
        await Assertions.Expect(page.Locator("[data-testid=preview-citations]")).ToContainTextAsync("F2767.txt");
        await BrowserFixture.ScreenshotAsync(page, "settings-preview");
        var saved = await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<System.Text.Json.Nodes.JsonNode>(fx.Admin, "/api/admin/settings");
        Assert.NotEqual(5, saved!["retrieve_k"]!.GetValue<int>());
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_document_found_by_the_search_is_reindexed_from_its_row_with_the_batch_progress()
    {
        var name = $"reindex-{Guid.NewGuid():N}"[..16] + ".txt";
        var batch = await TestApp.IngestAsync(fx.Admin, "browser-reindex", (name,
            Encoding.UTF8.GetBytes("Le phare du Créac'h, à Ouessant, est l'un des plus puissants d'Europe ; sa lumière porte à soixante kilomètres.")));
        Assert.Equal("completed", batch["status"]!.GetValue<string>());

        var page = await fx.LoginAsync();
        await page.GotoAsync("/documents");
        await page.Locator("[data-testid=documents-search] input, input[data-testid=documents-search]").First.FillAsync(name);
        await Assertions.Expect(page.Locator("[data-testid=doc-name]")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=doc-name]")).ToHaveTextAsync(name);
        await Assertions.Expect(page.Locator("[data-testid=documents-total]")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^1 "));

        await page.ClickAsync("[data-testid=doc-reindex]");
        await Assertions.Expect(page.Locator("[data-testid=batch-status]")).ToContainTextAsync("completed", new() { Timeout = 180_000 });
        await Assertions.Expect(page.Locator("[data-testid=batch-doc][data-status=indexed]")).ToContainTextAsync(name);
        await Assertions.Expect(page.Locator("[data-testid=doc-status]")).ToContainTextAsync("indexed");
        await BrowserFixture.ScreenshotAsync(page, "documents-reindex");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_provider_is_renamed_and_deleted_and_a_model_deleted_from_the_llm_page()
    {
        var (_, email, password, client) = await fx.CreateTenantAsync("prov");
        using (client)
        {
            var created = await client.PostAsJsonAsync("/api/admin/providers", new { name = "edge-llm", kind = "openai_compatible", base_url = "https://8.8.8.8/v1" });
            Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
            var providerId = (await created.Content.ReadFromJsonAsync<JsonNode>())!["id"]!.GetValue<string>();
            (await client.PostAsJsonAsync("/api/admin/models", new { provider_id = providerId, model = "edge/small", is_default = false })).EnsureSuccessStatusCode();
        }

        var page = await fx.LoginAsync(email, password);
        await page.GotoAsync("/llm");
        await page.Locator("[data-testid=providers-table]").WaitForAsync();
        await page.Locator("[data-testid=provider-row]", new() { HasText = "edge-llm" }).Locator("[data-testid=provider-edit]").ClickAsync();
        var name = page.Locator("[data-testid=provider-edit-name] input, input[data-testid=provider-edit-name]").First;
        await name.FillAsync("edge-llm-renamed");
        await name.BlurAsync();
        await page.ClickAsync("[data-testid=provider-save]");
        await Assertions.Expect(page.Locator("[data-testid=provider-name]", new() { HasText = "edge-llm-renamed" })).ToHaveCountAsync(1);

        // Deleting asks first; the dialog's button confirms.
        await page.Locator("[data-testid=model-row]", new() { HasText = "edge/small" }).Locator("[data-testid=model-delete]").ClickAsync();
        await page.Locator(".mud-dialog").GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=model-name]", new() { HasText = "edge/small" })).ToHaveCountAsync(0);
        await page.Locator("[data-testid=provider-row]", new() { HasText = "edge-llm-renamed" }).Locator("[data-testid=provider-delete]").ClickAsync();
        await page.Locator(".mud-dialog").GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Assertions.Expect(page.Locator("[data-testid=provider-name]", new() { HasText = "edge-llm" })).ToHaveCountAsync(0);
        await BrowserFixture.ScreenshotAsync(page, "providers-edited");
        await page.Context.CloseAsync();

        using var check = await fx.App.LoginAsync(email, password);
        var providers = (await check.GetFromJsonAsync<JsonArray>("/api/admin/providers"))!;
        Assert.DoesNotContain(providers, p => p!["name"]!.GetValue<string>().StartsWith("edge-llm", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Users_page_adds_a_member_and_a_caller_app_and_deletes_the_app()
    {
        var (_, email, password, client) = await fx.CreateTenantAsync("users");
        var page = await fx.LoginAsync(email, password);
        await page.GotoAsync("/users");
        await page.Locator("[data-testid=users-table]").WaitForAsync();

        await page.Locator("[data-testid=user-email] input, input[data-testid=user-email]").First.FillAsync("new.member@users.tests.local");
        await page.Locator("[data-testid=user-password] input, input[data-testid=user-password]").First.FillAsync("member-password-123");
        await page.ClickAsync("[data-testid=user-add]");
        await Assertions.Expect(page.Locator("[data-testid=users-table]")).ToContainTextAsync("new.member@users.tests.local");

        await page.Locator("[data-testid=app-name] input, input[data-testid=app-name]").First.FillAsync("kiosk");
        await page.ClickAsync("[data-testid=app-add]");
        var apps = page.Locator("[data-testid=apps-table]");
        await Assertions.Expect(apps).ToContainTextAsync("kiosk");
        await apps.Locator("tr", new() { HasText = "kiosk" }).Locator("[data-testid=app-delete]").ClickAsync();
        await Assertions.Expect(apps).Not.ToContainTextAsync("kiosk");
        await BrowserFixture.ScreenshotAsync(page, "users");
        await page.Context.CloseAsync();

        var users = await client.GetStringAsync("/api/admin/users");
        Assert.Contains("new.member@users.tests.local", users);
        Assert.DoesNotContain("kiosk", await client.GetStringAsync("/api/admin/caller-apps"));
        client.Dispose();
    }

    [Fact]
    public async Task Member_cannot_open_admin_pages_nor_the_dashboard()
    {
        var page = await fx.LoginAsync(BrowserFixture.MemberEmail, BrowserFixture.MemberPassword);
        await page.Locator("[data-testid=denied]").WaitForAsync();
        foreach (var path in new[] { "/", "/documents", "/llm", "/settings", "/users", "/dashboard/" })
        {
            var response = await page.GotoAsync(path);
            Assert.Contains("/denied", page.Url);
            Assert.Equal(403, response!.Status);
            await page.Locator("[data-testid=denied]").WaitForAsync();
        }

        Assert.Equal(0, await page.Locator("[data-testid=documents-table]").CountAsync());
        await BrowserFixture.ScreenshotAsync(page, "member-denied");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Pages_speak_the_browser_language_and_the_switch_changes_it()
    {
        var page = await fx.LoginAsync(locale: "fr-FR");
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("Vue d'ensemble");
        await BrowserFixture.ScreenshotAsync(page, "overview-fr");

        await page.ClickAsync("[data-testid=language]");
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("Overview");
        await page.Context.CloseAsync();

        var anonymous = await fx.Browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = fx.App.BaseAddress.ToString(), Locale = "fr-FR" });
        await anonymous.GotoAsync("/login");
        await Assertions.Expect(anonymous.Locator("[data-testid=login-submit]")).ToContainTextAsync("Se connecter");
        await anonymous.FillAsync("#email", TestApp.AdminEmail);
        await anonymous.FillAsync("#password", "not-the-password-at-all");
        await anonymous.ClickAsync("[data-testid=login-submit]");
        await Assertions.Expect(anonymous.Locator("[data-testid=login-error]")).ToContainTextAsync("invalid_credentials");
        await anonymous.Context.CloseAsync();
    }
}

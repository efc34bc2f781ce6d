using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Storage;
using AuroraNexus.WebFront.Api;
using Microsoft.Extensions.DependencyInjection;

namespace AuroraNexus.Tests.Api;

/// <summary>Password changes are throttled like logins; what admins type in is bounded, and what is registered can be removed.</summary>
[Collection("tenancy")]
public sealed class AdminInputLimitsTests(TenancyFixture fx)
{
    [Fact]
    public async Task Ten_wrong_current_passwords_make_the_password_change_and_the_login_wait()
    {
        var tenant = await fx.CreateTenantAsync("pwchange");
        for (var i = 0; i < LoginThrottle.MaxFailures; i++)
        {
            await ByokTests.AssertProblemAsync(await tenant.Admin.PostAsJsonAsync("/api/auth/password",
                new { current_password = $"wrong-guess-{i}", new_password = "a-brand-new-password" }), HttpStatusCode.Forbidden, "current_password_wrong");
        }

        var blocked = await tenant.Admin.PostAsJsonAsync("/api/auth/password",
            new { current_password = tenant.Password, new_password = "a-brand-new-password" });
        await ByokTests.AssertProblemAsync(blocked, HttpStatusCode.TooManyRequests, "too_many_attempts");
        Assert.InRange(int.Parse(blocked.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture), 1, 300);

        using var anonymous = fx.App.Anonymous();
        await ByokTests.AssertProblemAsync(await anonymous.PostAsJsonAsync("/api/auth/login",
            new { email = tenant.Email, password = tenant.Password }), HttpStatusCode.TooManyRequests, "too_many_attempts");
        // Nothing was changed: the token that made the attempts is still valid.
        Assert.Equal(HttpStatusCode.OK, (await tenant.Admin.GetAsync("/api/admin/users")).StatusCode);
    }

    [Fact]
    public async Task Credential_labels_are_1_to_64_printable_characters_and_keys_at_most_512_without_invisible_characters()
    {
        var tenant = await fx.CreateTenantAsync("labels");
        var provider = await TenancyFixture.OpenRouterProviderAsync(tenant.Admin);
        const string key = "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";

        foreach (var label in new[] { new string('l', 65), "line\nbreak", "zero\u200Bwidth", "bell\u0007" })
        {
            var refused = await ByokTests.AssertProblemAsync(await tenant.Admin.PostAsJsonAsync("/api/admin/providers/credentials",
                new { provider_id = provider, label, api_key = key }), HttpStatusCode.BadRequest, "credential_label_invalid");
            Assert.Contains("label", refused["detail"]!.GetValue<string>());
        }

        foreach (var apiKey in new[] { "sk-or-v1-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(252)), "sk-or-v1-abc\u200Bdef0123456789" })
        {
            var refused = await ByokTests.AssertProblemAsync(await tenant.Admin.PostAsJsonAsync("/api/admin/providers/credentials",
                new { provider_id = provider, label = "main", api_key = apiKey }), HttpStatusCode.BadRequest, "credential_invalid");
            Assert.StartsWith("api_key", refused["detail"]!.GetValue<string>());
        }

        var longest = new string('é', 64);
        var saved = await ByokTests.PostAsync(tenant.Admin, "/api/admin/providers/credentials", new { provider_id = provider, label = longest, api_key = key });
        Assert.Equal(longest, saved["credential"]!["label"]!.GetValue<string>());
        var id = saved["credential"]!["id"]!.GetValue<string>();
        await ByokTests.AssertProblemAsync(await tenant.Admin.PutAsJsonAsync($"/api/admin/providers/credentials/{id}",
            new { label = longest + "x" }), HttpStatusCode.BadRequest, "credential_label_invalid");
        await ByokTests.AssertProblemAsync(await tenant.Admin.PutAsJsonAsync($"/api/admin/providers/credentials/{id}",
            new { api_key = "sk-or-v1-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(300)) }), HttpStatusCode.BadRequest, "credential_invalid");
        Assert.Equal(HttpStatusCode.OK, (await tenant.Admin.PutAsJsonAsync($"/api/admin/providers/credentials/{id}", new { label = "renamed" })).StatusCode);
    }

    [Fact]
    public async Task A_system_prompt_longer_than_8000_characters_is_refused_naming_the_setting()
    {
        var tenant = await fx.CreateTenantAsync("prompt");
        var tooLong = new string('p', AdminSettingsApi.MaxSystemPromptLength + 1);

        var refused = await ByokTests.AssertProblemAsync(await tenant.Admin.PutAsJsonAsync("/api/admin/settings",
            new { system_prompt = tooLong }), HttpStatusCode.BadRequest, "invalid_setting");
        Assert.Contains("system_prompt", refused["detail"]!.GetValue<string>());
        Assert.Equal("system_prompt", refused["setting"]!.GetValue<string>());
        Assert.Contains("8000", refused["detail"]!.GetValue<string>());
        await ByokTests.AssertProblemAsync(await tenant.Admin.PostAsJsonAsync("/api/admin/settings/preview",
            new { question = "Qui peut demander l'AME ?", settings = new { system_prompt = tooLong } }), HttpStatusCode.BadRequest, "invalid_setting");

        var longest = new string('p', AdminSettingsApi.MaxSystemPromptLength);
        var saved = await tenant.Admin.PutAsJsonAsync("/api/admin/settings", new { system_prompt = longest });
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        Assert.Equal(longest, (await saved.Content.ReadFromJsonAsync<JsonNode>())!["system_prompt"]!.GetValue<string>());
    }

    [Fact]
    public async Task Caller_apps_created_by_admins_are_identifiers_and_any_registered_app_can_be_deleted()
    {
        var tenant = await fx.CreateTenantAsync("apps");
        foreach (var name in new[] { "dept/hr", "intra net", "é-app", new string('a', 65) })
        {
            var refused = await ByokTests.AssertProblemAsync(await tenant.Admin.PostAsJsonAsync("/api/admin/caller-apps", new { name }),
                HttpStatusCode.BadRequest, "caller_app_invalid");
            Assert.Contains("name must be 1-64", refused["detail"]!.GetValue<string>());
        }

        var created = await tenant.Admin.PostAsJsonAsync("/api/admin/caller-apps", new { name = "intranet.v2_x-1" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Admin.DeleteAsync(created.Headers.Location)).StatusCode);

        // An upload or a query may register a name with a '/': the query form deletes it.
        Assert.True(await fx.App.Services.GetRequiredService<UserRepository>().RegisterCallerAppAsync(tenant.Id, "dept/hr", CancellationToken.None));
        Assert.Equal(HttpStatusCode.NoContent, (await tenant.Admin.DeleteAsync("/api/admin/caller-apps?name=dept%2Fhr")).StatusCode);
        await ByokTests.AssertProblemAsync(await tenant.Admin.DeleteAsync("/api/admin/caller-apps?name=dept%2Fhr"), HttpStatusCode.NotFound, "caller_app_not_found");
        await ByokTests.AssertProblemAsync(await tenant.Admin.DeleteAsync("/api/admin/caller-apps"), HttpStatusCode.BadRequest, "caller_app_required");
        Assert.Empty((await tenant.Admin.GetFromJsonAsync<JsonArray>("/api/admin/caller-apps"))!);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AuroraNexus.Tests.Browser;

/// <summary>Logging in while logged in, a login form that expired, and changing one's own password in the backoffice.</summary>
[Collection("browser")]
public sealed partial class AccountAndLoginTests(BrowserFixture fx)
{
    private HttpClient CookieClient() =>
        new(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = fx.App.BaseAddress,
        };

    private static async Task<string> LoginFormTokenAsync(HttpClient client)
    {
        var token = AntiforgeryField().Match(await client.GetStringAsync("/login"));
        Assert.True(token.Success, "the login form carries an antiforgery token");
        return WebUtility.HtmlDecode(token.Groups["v"].Value);
    }

    private static Task<HttpResponseMessage> PostLoginAsync(HttpClient client, string token, string email, string password) =>
        client.PostAsync("/ui/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token,
            ["email"] = email,
            ["password"] = password,
            ["return_url"] = "/documents",
        }));

    /// <summary>A user of its own, so that changing its password leaves the other tests' accounts alone.</summary>
    private async Task<(string Email, string Password)> CreateAdminAsync(string prefix)
    {
        var email = $"{prefix}-{Guid.NewGuid():N}"[..20] + "@tests.local";
        const string password = "first-password-of-this-test";
        var created = await fx.Admin.PostAsJsonAsync("/api/admin/users", new { email, password, role = "admin" });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        return (email, password);
    }

    [Fact]
    public async Task Posting_a_login_form_opened_before_signing_in_replaces_the_session_instead_of_a_bad_request()
    {
        using var client = CookieClient();
        var anonymousForm = await LoginFormTokenAsync(client);
        var first = await PostLoginAsync(client, anonymousForm, TestApp.AdminEmail, TestApp.AdminPassword);
        Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);

        // The same form again (another tab opened before signing in), now with the session cookie: the token is for nobody.
        var again = await PostLoginAsync(client, anonymousForm, TestApp.AdminEmail, TestApp.AdminPassword);
        Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
        Assert.Equal("/documents", again.Headers.Location!.OriginalString);

        // As another user: the new session replaces the first.
        var asMember = await PostLoginAsync(client, anonymousForm, BrowserFixture.MemberEmail, BrowserFixture.MemberPassword);
        Assert.Equal(HttpStatusCode.Redirect, asMember.StatusCode);
        Assert.Equal("/denied", asMember.Headers.Location!.OriginalString);
        var login = await client.GetStringAsync("/login");
        Assert.Contains($"You are logged in as {BrowserFixture.MemberEmail}", login);

        // And a form rendered for the current session works as before.
        var back = await PostLoginAsync(client, await LoginFormTokenAsync(client), TestApp.AdminEmail, TestApp.AdminPassword);
        Assert.Equal("/documents", back.Headers.Location!.OriginalString);
        Assert.Contains($"You are logged in as {TestApp.AdminEmail}", await client.GetStringAsync("/login"));
    }

    [Theory]
    [InlineData("CfDJ8-not-a-token")]
    [InlineData("")]
    public async Task A_login_form_whose_token_does_not_hold_goes_back_to_the_login_page_saying_it_expired(string token)
    {
        using var client = CookieClient();
        await LoginFormTokenAsync(client); // the antiforgery cookie, as a browser has it

        var response = await PostLoginAsync(client, token, TestApp.AdminEmail, TestApp.AdminPassword);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!.OriginalString;
        Assert.StartsWith("/login?error=form_expired", location, StringComparison.Ordinal);
        var page = await client.GetStringAsync(location);
        Assert.Contains("The form expired; please sign in again.", page);
        Assert.DoesNotContain("send valid JSON", page);
        Assert.DoesNotContain("nexus_ui", string.Join(";", response.Headers.TryGetValues("Set-Cookie", out var c) ? c : []));
    }

    [Fact]
    public async Task Logging_out_from_a_page_whose_form_token_belongs_to_an_ended_session_still_logs_out()
    {
        using var client = CookieClient();
        var form = await LoginFormTokenAsync(client);
        Assert.Equal(HttpStatusCode.Redirect, (await PostLoginAsync(client, form, TestApp.AdminEmail, TestApp.AdminPassword)).StatusCode);

        var logout = await client.PostAsync("/ui/logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = form }));

        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        Assert.Equal("/login", logout.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Redirect, (await client.GetAsync("/documents")).StatusCode);
        Assert.DoesNotContain("You are logged in as", await client.GetStringAsync("/login"));
    }

    [Fact]
    public async Task In_the_browser_a_login_form_opened_before_logging_in_in_another_tab_logs_in_again()
    {
        var context = await fx.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = fx.App.BaseAddress.ToString().TrimEnd('/') });
        context.SetDefaultTimeout(BrowserFixture.Timeout);
        var early = await context.NewPageAsync();
        await early.GotoAsync("/login");
        var other = await context.NewPageAsync();
        await other.GotoAsync("/login");
        await other.FillAsync("#email", TestApp.AdminEmail);
        await other.FillAsync("#password", TestApp.AdminPassword);
        await other.ClickAsync("[data-testid=login-submit]");
        await other.WaitForURLAsync(url => !url.Contains("/login", StringComparison.Ordinal));

        await early.FillAsync("#email", TestApp.AdminEmail);
        await early.FillAsync("#password", TestApp.AdminPassword);
        await early.ClickAsync("[data-testid=login-submit]");

        await early.Locator("[data-testid=health]").WaitForAsync();
        Assert.Equal(new Uri(fx.App.BaseAddress, "/").ToString(), early.Url);
        await context.CloseAsync();
    }

    [Fact]
    public async Task The_account_page_changes_the_password_shows_the_products_errors_and_sends_to_the_login_page()
    {
        var (email, password) = await CreateAdminAsync("account");
        const string newPassword = "second-password-of-this-test";
        var page = await fx.LoginAsync(email, password);

        // From the user button of the top bar.
        await page.ClickAsync("[data-testid=who]");
        await page.WaitForURLAsync(url => url.EndsWith("/account", StringComparison.Ordinal));
        var current = page.Locator("[data-testid=account-current] input, input[data-testid=account-current]").First;
        var fresh = page.Locator("[data-testid=account-new] input, input[data-testid=account-new]").First;
        var confirm = page.Locator("[data-testid=account-confirm] input, input[data-testid=account-confirm]").First;
        var error = page.Locator("[data-testid=account-error]");

        await current.FillAsync("not-my-current-password");
        await fresh.FillAsync(newPassword);
        await confirm.FillAsync(newPassword);
        await page.ClickAsync("[data-testid=account-save]");
        await Assertions.Expect(error).ToContainTextAsync("current_password_wrong: The current password is wrong; nothing was changed.");

        await current.FillAsync(password);
        await fresh.FillAsync("short");
        await confirm.FillAsync("short");
        await page.ClickAsync("[data-testid=account-save]");
        await Assertions.Expect(error).ToContainTextAsync("weak_password");
        await BrowserFixture.ScreenshotAsync(page, "account-error");

        await fresh.FillAsync(newPassword);
        await confirm.FillAsync(newPassword);
        await page.ClickAsync("[data-testid=account-save]");
        await page.WaitForURLAsync(url => url.Contains("/login", StringComparison.Ordinal));
        await Assertions.Expect(page.Locator("[data-testid=login-notice]")).ToContainTextAsync("every session of this account has ended");
        await BrowserFixture.ScreenshotAsync(page, "account-password-changed");

        // The session of this browser ended with the others.
        await page.GotoAsync("/documents");
        await page.WaitForURLAsync(url => url.Contains("/login", StringComparison.Ordinal));

        // The new password logs in, the old one no longer does.
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", newPassword);
        await page.ClickAsync("[data-testid=login-submit]");
        await page.Locator("[data-testid=documents-table]").WaitForAsync();
        using var anonymous = fx.App.Anonymous();
        var old = await anonymous.PostAsJsonAsync("/api/auth/login", new { email, password });
        Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_default_password_warning_of_the_overview_links_to_the_account_page()
    {
        var (email, password) = await CreateAdminAsync("seeded");
        await SetSeededAsync(email, true);
        try
        {
            var page = await fx.LoginAsync(email, password, locale: "fr-FR");
            var link = page.Locator("[data-testid=change-password]");
            await Assertions.Expect(link).ToHaveTextAsync("Changer mon mot de passe");
            await link.ClickAsync();
            await page.WaitForURLAsync(url => url.EndsWith("/account", StringComparison.Ordinal));
            await Assertions.Expect(page.Locator("[data-testid=account-save]")).ToContainTextAsync("Changer le mot de passe");
            await page.Context.CloseAsync();
        }
        finally
        {
            await SetSeededAsync(email, false);
        }
    }

    private async Task SetSeededAsync(string email, bool seeded)
    {
        await using var connection = new Npgsql.NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("UPDATE users SET seeded_default = @s WHERE email = @e", connection);
        cmd.Parameters.AddWithValue("s", seeded);
        cmd.Parameters.AddWithValue("e", email);
        Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"(?<v>[^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}

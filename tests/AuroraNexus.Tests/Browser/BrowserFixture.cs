using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AuroraNexus.Tests.Browser;

/// <summary>
/// One single-node app (real PostgreSQL, co-hosted silo) with a donation document indexed and a member user, and one
/// headless Debian Chromium driven by Playwright, shared by the backoffice tests.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string MemberEmail = "member@tests.local";
    public const string MemberPassword = "member-password-for-tests";

    /// <summary>Playwright's waits: generous, since the machine's CPU is shared.</summary>
    public const float Timeout = 90_000;

    private readonly PostgresFixture _postgres = new();
    private IPlaywright? _playwright;

    public TestApp App { get; private set; } = null!;

    public HttpClient Admin { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "artifacts", "screenshots");

    public async Task InitializeAsync()
    {
        await _postgres.InitializeAsync();
        App = await TestApp.StartAsync(await _postgres.CreateDatabaseAsync("browser"));
        Admin = await App.LoginAsync();
        var member = await Admin.PostAsJsonAsync("/api/admin/users", new { email = MemberEmail, password = MemberPassword, role = "member" });
        member.EnsureSuccessStatusCode();
        var donation = TestApp.CorpusFiles().Single(f => f.Name == "F2767.txt");
        var batch = await TestApp.IngestAsync(Admin, "playground", donation);
        Assert.Equal("completed", batch["status"]!.GetValue<string>());

        Directory.CreateDirectory(ScreenshotDirectory);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // As root Chromium needs --no-sandbox; the machine has no network, so nothing may call home.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>A fresh browser context (own cookies), logged in through the login form.</summary>
    public async Task<IPage> LoginAsync(string email = TestApp.AdminEmail, string password = TestApp.AdminPassword, string locale = "en-US")
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = App.BaseAddress.ToString().TrimEnd('/'),
            Locale = locale,
            ViewportSize = new ViewportSize { Width = 1400, Height = 1000 },
        });
        context.SetDefaultTimeout(Timeout);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/login");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("[data-testid=login-submit]");
        await page.WaitForURLAsync(url => !url.Contains("/login", StringComparison.Ordinal));
        return page;
    }

    /// <summary>
    /// Waits until Blazor's InputFile has wired its change listener on the page's file input: files set before that
    /// (the page rendered, its JavaScript initialisation not yet run, a slow circuit) are never uploaded.
    /// </summary>
    public static Task WaitForFileInputAsync(IPage page) =>
        page.WaitForFunctionAsync("() => { const i = document.querySelector('input[type=file]'); return !!i && i._blazorInputFileNextFileId !== undefined; }");

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    public Task<HttpClient> CookieClientAsync(string email = TestApp.AdminEmail, string password = TestApp.AdminPassword) =>
        App.BackofficeLoginAsync(email, password);

    /// <summary>A tenant of its own with its first admin, for tests whose changes (a credential) would change the others' answers.</summary>
    public async Task<(string Id, string Email, string Password, HttpClient Client)> CreateTenantAsync(string prefix)
    {
        var id = $"{prefix}-{Guid.NewGuid():N}"[..20];
        var email = $"admin@{id}.tests.local";
        const string password = "tenant-admin-password-42";
        var response = await Admin.PostAsJsonAsync("/api/admin/tenants", new { id, name = id, admin_email = email, admin_password = password });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (id, email, password, await App.LoginAsync(email, password));
    }

    public async Task<JsonNode> AskAsync(string question, string callerApp, string threadId)
    {
        var response = await Admin.PostAsJsonAsync("/api/query", new { question, caller_app = callerApp, thread_id = threadId });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonNode>())!;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        Admin?.Dispose();
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        await _postgres.DisposeAsync();
    }
}

[CollectionDefinition("browser")]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>;

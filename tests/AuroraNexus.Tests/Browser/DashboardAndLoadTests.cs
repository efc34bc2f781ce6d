using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json.Nodes;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace AuroraNexus.Tests.Browser;

/// <summary>The Orleans dashboard shows no secret and only to admins; the documents page with 1,000 documents.</summary>
[Collection("browser")]
public sealed class DashboardAndLoadTests(BrowserFixture fx, ITestOutputHelper output)
{
    [Fact]
    public async Task Dashboard_is_for_admins_only_and_its_grain_state_views_show_no_secret()
    {
        // Secrets the cluster holds: a tenant credential's plaintext, the JWT and gateway secrets, the Fernet keys.
        // The key goes to a tenant of its own: with it, the default tenant's answers would go to OpenRouter, unreachable here.
        const string apiKey = "sk-or-v1-dashboardsecret0123456789abcdefXYZ";
        var (keyedTenant, _, _, keyed) = await fx.CreateTenantAsync("dash");
        using var keyedClient = keyed;
        (await keyed.PostAsJsonAsync("/api/admin/providers/credentials", new { label = "dashboard-check", api_key = apiKey })).EnsureSuccessStatusCode();
        var route = await keyed.GetFromJsonAsync<JsonNode>("/api/admin/providers/credentials");
        Assert.Equal("tenant_credential", route!["route"]!["source"]!.GetValue<string>());

        var settings = fx.App.Services.GetRequiredService<NexusSettings>();
        var secrets = new List<string> { apiKey, settings.JwtSecret, settings.GatewaySecret };
        Assert.NotNull(settings.CredentialKeyFile);
        secrets.AddRange(File.ReadAllText(settings.CredentialKeyFile).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        // Activate the grains that have state or hold secrets in memory: a thread, the tenant (it decrypts the key), a batch.
        var thread = "dashboard-" + Guid.NewGuid().ToString("N");
        await fx.AskAsync("Comment faire une donation au dernier vivant ?", "dashboard", thread);
        var batch = await TestApp.IngestAsync(fx.Admin, "dashboard", ("dashboard-note.txt", "Une note brève sur le tableau de bord."u8.ToArray()));
        var userId = (await fx.Admin.GetFromJsonAsync<JsonNode>("/api/admin/users"))!.AsArray()
            .Single(u => u!["email"]!.GetValue<string>() == TestApp.AdminEmail)!["id"]!.GetValue<string>();

        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = fx.App.BaseAddress };
        var anonymousResponse = await anonymous.GetAsync("/dashboard/DashboardCounters");
        Assert.Equal(HttpStatusCode.Redirect, anonymousResponse.StatusCode);
        Assert.Contains("/login", anonymousResponse.Headers.Location!.ToString());
        using var member = await fx.CookieClientAsync(BrowserFixture.MemberEmail, BrowserFixture.MemberPassword);
        var memberResponse = await member.GetAsync("/dashboard/DashboardCounters");
        Assert.Equal(HttpStatusCode.Redirect, memberResponse.StatusCode);
        Assert.Contains("/denied", memberResponse.Headers.Location!.ToString());

        using var admin = await fx.CookieClientAsync();
        var types = await admin.GetFromJsonAsync<string[]>("/dashboard/GrainTypes");
        Assert.NotNull(types);
        var key = new AuroraNexus.Grains.Conversation.ThreadKey("default", "dashboard", userId, thread).ToString();
        var views = new Dictionary<string, string>
        {
            [typeof(TenantGrain).FullName!] = keyedTenant,
            [typeof(AuroraNexus.Grains.Conversation.ThreadGrain).FullName!] = key,
            [typeof(IngestionBatchGrain).FullName!] = batch["batch_id"]!.GetValue<string>(),
        };
        var bodies = new List<string>();
        foreach (var (type, id) in views)
        {
            Assert.Contains(type, types);
            var response = await admin.GetAsync($"/dashboard/GrainState?grainId={Uri.EscapeDataString(id)}&grainType={Uri.EscapeDataString(type)}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            bodies.Add(await response.Content.ReadAsStringAsync());
        }

        foreach (var path in new[] { "/dashboard/DashboardCounters", "/dashboard/ClusterStats", "/dashboard/Reminders", "/dashboard/TopGrainMethods", "/dashboard/GrainTypes" })
        {
            var response = await admin.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            bodies.Add(await response.Content.ReadAsStringAsync());
        }

        foreach (var body in bodies)
        {
            foreach (var secret in secrets.Where(s => s.Length >= 16))
            {
                Assert.DoesNotContain(secret, body);
            }
        }

        // The live log stream is off.
        var trace = await admin.GetAsync("/dashboard/Trace");
        Assert.NotEqual(HttpStatusCode.OK, trace.StatusCode);
    }

    [Fact]
    public void Grain_state_never_holds_a_secret_and_the_tenant_grain_has_none()
    {
        var grains = typeof(TenantGrain).Assembly.GetTypes().Where(t => t.IsClass && typeof(Grain).IsAssignableFrom(t)).ToList();
        Assert.Contains(typeof(TenantGrain), grains);
        Assert.DoesNotContain(StateTypes(typeof(TenantGrain)), _ => true);

        var states = grains.SelectMany(StateTypes).ToList();
        Assert.NotEmpty(states);
        foreach (var state in states)
        {
            foreach (var property in state.GetProperties(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
            {
                var name = property.Name.ToLowerInvariant();
                Assert.False(name.Contains("secret") || name.Contains("apikey") || name.Contains("api_key") || name.Contains("password") ||
                    name.Contains("token") && !name.Contains("tokencount"), $"{state.Name}.{property.Name} looks like a secret in grain state");
            }
        }

        static IEnumerable<Type> StateTypes(Type grain) => grain.GetConstructors()
            .SelectMany(c => c.GetParameters())
            .Select(p => p.ParameterType)
            .Where(t => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IPersistentState<>))
            .Select(t => t.GetGenericArguments()[0]);
    }

    /// <summary>Resolves when the documents table shows its 1,000 documents and a first row; records that time.</summary>
    private const string RowsObserver =
        """
        (() => {
          const shown = () => {
            const table = document.querySelector('[data-testid=documents-table]');
            return table && table.textContent.includes('1000') && document.querySelector('[data-testid=doc-name]');
          };
          window.nexusRowsAfter = t0 => new Promise(resolve => {
            const check = () => shown() ? resolve(performance.now() - t0) : requestAnimationFrame(check);
            check();
          });
          window.nexusRowsShown = new Promise(resolve => {
            const check = () => shown() ? resolve(performance.now()) : setTimeout(check, 5);
            check();
          });
          window.nexusLayoutShown = new Promise(resolve => {
            const check = () => document.querySelector('.mud-layout') ? resolve(performance.now()) : setTimeout(check, 2);
            check();
          });
        })();
        """;

    /// <summary>
    /// Where a full load's time went, each since the start of navigation: the HTML received, the scripts run
    /// (DOMContentLoaded), the circuit negotiated, the first render of the page (layout, empty table), the rows.
    /// </summary>
    private const string Phases =
        """
        async () => {
          const rows = await window.nexusRowsShown;
          const layout = await window.nexusLayoutShown;
          const nav = performance.getEntriesByType('navigation')[0];
          const negotiate = performance.getEntriesByType('resource').find(e => e.name.includes('/_blazor/negotiate'));
          return [nav.responseEnd, nav.domContentLoadedEventEnd, negotiate ? negotiate.responseEnd : 0, layout, rows];
        }
        """;

    [Fact]
    public async Task Documents_page_with_1000_documents_loads_and_its_time_is_reported()
    {
        // A tenant of its own, so that the other tests' documents stay as they are.
        var tenant = "bench-" + Guid.NewGuid().ToString("N")[..8];
        const string email = "bench-admin@tests.local";
        const string password = "bench-password-for-tests";
        (await fx.Admin.PostAsJsonAsync("/api/admin/tenants", new { id = tenant, name = "bench", admin_email = email, admin_password = password }))
            .EnsureSuccessStatusCode();
        var repo = fx.App.Services.GetRequiredService<IngestionRepository>();
        var documents = Enumerable.Range(0, 1000).Select(i => new NewDocument(
            Guid.NewGuid(), $"document-{i:0000}.txt", "text/plain", 1000 + i, Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()),
            $"{tenant}/{i}", i % 10 == 0 ? DocumentStatuses.Failed : DocumentStatuses.Duplicate, i % 10 == 0 ? "invalid_encoding" : "duplicate",
            "seeded row")).ToList();
        await repo.CreateBatchAsync(tenant, "bench", Guid.NewGuid(), "bench", documents, CancellationToken.None);

        var server = Stopwatch.StartNew();
        var first = await repo.ListDocumentPageAsync(tenant, new DocumentPageQuery(null, null, "created", true, 0, 25), CancellationToken.None);
        server.Stop();
        Assert.Equal(1000, first.Total);
        Assert.Equal(25, first.Rows.Count);

        var page = await fx.LoginAsync(email, password);

        // Timed in the page itself (performance.now, checked every animation frame), not by the test's polling.
        await page.AddInitScriptAsync(RowsObserver);
        const int runs = 7;
        var full = new List<double>();
        var inApp = new List<double>();
        var phases = new List<double[]>();
        for (var run = 0; run < runs; run++)
        {
            // A full load, from the start of navigation: the page, Blazor's script, the circuit, the listing, the first rows.
            await page.GotoAsync("/documents");
            var phase = await page.EvaluateAsync<double[]>(Phases);
            phases.Add(phase);
            full.Add(phase[^1]);

            // Within the app (the circuit is up): from the overview, a click on Documents in the menu.
            await page.GotoAsync("/");
            await page.Locator("[data-testid=health]").WaitForAsync();
            inApp.Add(await page.EvaluateAsync<double>(
                "() => { const t0 = performance.now(); document.querySelector(\"a[href='/documents']\").click(); return window.nexusRowsAfter(t0); }"));
        }

        // One page of rows is rendered (the table pages), not 1,000.
        Assert.Equal(25, await page.Locator("[data-testid=doc-name]").CountAsync());

        // Sorted and paged by the database: by file name descending, then the second page.
        var names = page.Locator("[data-testid=doc-name]");
        await page.ClickAsync("[data-testid=sort-filename]");
        await Microsoft.Playwright.Assertions.Expect(names.First).ToHaveTextAsync("document-0000.txt");
        await page.ClickAsync("[data-testid=sort-filename]");
        await Microsoft.Playwright.Assertions.Expect(names.First).ToHaveTextAsync("document-0999.txt");
        await page.Locator("[data-testid=documents-pager] button", new() { HasTextRegex = new System.Text.RegularExpressions.Regex("^2$") }).ClickAsync();
        await Microsoft.Playwright.Assertions.Expect(names.First).ToHaveTextAsync("document-0974.txt");
        await Microsoft.Playwright.Assertions.Expect(page.Locator("[data-testid=documents-range]")).ToHaveTextAsync("26–50 / 1000");
        Assert.Equal(25, await names.CountAsync());
        await BrowserFixture.ScreenshotAsync(page, "documents-1000");
        full.Sort();
        inApp.Sort();
        var median = runs / 2;
        var typical = phases.OrderBy(p => p[^1]).ElementAt(median);
        var line = $"documents page with 1000 documents ({runs} runs): full load median {full[median]:0} ms (min {full[0]:0}, max {full[^1]:0}; " +
            $"in the median run: HTML {typical[0]:0}, scripts run {typical[1]:0}, circuit negotiated {typical[2]:0}, page rendered {typical[3]:0}, rows {typical[4]:0} ms); " +
            $"in-app navigation median {inApp[median]:0} ms (min {inApp[0]:0}, max {inApp[^1]:0}); database page of 25 rows and count {server.Elapsed.TotalMilliseconds:0} ms";
        output.WriteLine(line);
        Console.WriteLine("[ui-load] " + line);
        await page.Context.CloseAsync();
    }
}

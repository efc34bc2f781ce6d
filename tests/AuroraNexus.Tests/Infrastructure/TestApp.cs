using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using AuroraNexus.WebFront;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Tests.Infrastructure;

/// <summary>The real single-node WebFront (co-hosted silo, real PostgreSQL) on loopback ports, driven over HTTP.</summary>
public sealed partial class TestApp : IAsyncDisposable
{
    public const string AdminEmail = "admin@tests.local";
    public const string AdminPassword = "admin-password-for-tests";

    private readonly NexusWebApp _web;

    private TestApp(NexusWebApp web, Uri baseAddress, string dataDirectory, string connectionString)
    {
        _web = web;
        BaseAddress = baseAddress;
        DataDirectory = dataDirectory;
        ConnectionString = connectionString;
    }

    public Uri BaseAddress { get; }

    /// <summary>The co-hosted silo's gateway port: /health and the internal chat endpoint.</summary>
    public Uri GatewayAddress { get; private init; } = null!;

    public string DataDirectory { get; }

    public string ConnectionString { get; }

    public IServiceProvider Services => _web.App.Services;

    public static async Task<TestApp> StartAsync(
        string connectionString, IReadOnlyDictionary<string, string?>? extra = null, LogCapture? logs = null)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-test-" + Guid.NewGuid().ToString("N"));
        var port = FreePort();
        var gatewayPort = FreePort();
        var overrides = new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = connectionString,
            ["NEXUS_DATA_DIR"] = dataDir,
            ["HOST_API_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["HOST_GATEWAY_PORT"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_SILO_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_GATEWAY_PORT"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["ADMIN_EMAIL"] = AdminEmail,
            ["ADMIN_DEFAULT_PASSWORD"] = AdminPassword,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>())
        {
            overrides[k] = v;
        }

        var web = await NexusWebApp.CreateAsync([], overrides, logs is null ? null : l => l.AddProvider(logs)) ?? throw new InvalidOperationException("the app refused its configuration");
        await web.App.StartAsync();
        return new TestApp(web, new Uri($"http://127.0.0.1:{port}"), dataDir, connectionString)
        {
            GatewayAddress = new Uri($"http://127.0.0.1:{gatewayPort}"),
        };
    }

    public HttpClient Anonymous() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(3) };

    public async Task<HttpClient> LoginAsync(string email = AdminEmail, string password = AdminPassword)
    {
        var client = Anonymous();
        var response = await client.PostAsJsonAsync("/api/auth/login", new { email, password });
        response.EnsureSuccessStatusCode();
        var token = (await response.Content.ReadFromJsonAsync<JsonNode>())!["access_token"]!.GetValue<string>();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>
    /// An HTTP client signed in to the backoffice (cookie) as a browser is: through the login form and its antiforgery
    /// token. For the pages' endpoints outside /api, such as the Orleans dashboard's data.
    /// </summary>
    public async Task<HttpClient> BackofficeLoginAsync(string email = AdminEmail, string password = AdminPassword)
    {
        var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        var client = new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        var form = await client.GetStringAsync("/login");
        var token = AntiforgeryField().Match(form);
        Assert.True(token.Success, "the login form carries an antiforgery token");
        var response = await client.PostAsync("/ui/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token.Groups["v"].Value),
            ["email"] = email,
            ["password"] = password,
            ["return_url"] = "/",
        }));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return client;
    }

    /// <summary>Uploads files in one batch and waits until the batch reaches a final state.</summary>
    public static async Task<JsonNode> IngestAsync(HttpClient client, string callerApp, params (string Name, byte[] Content)[] files)
    {
        using var form = new MultipartFormDataContent { { new StringContent(callerApp), "caller_app" } };
        foreach (var (name, content) in files)
        {
            form.Add(new ByteArrayContent(content), "files", name);
        }

        var response = await client.PostAsync("/api/ingest", form);
        var accepted = await response.Content.ReadFromJsonAsync<JsonNode>();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"ingest answered {(int)response.StatusCode}: {accepted}");
        var id = accepted!["batch_id"]!.GetValue<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        while (true)
        {
            var batch = (await client.GetFromJsonAsync<JsonNode>($"/api/ingest/batches/{id}", timeout.Token))!;
            if (batch["status"]!.GetValue<string>() is not ("queued" or "running"))
            {
                return batch;
            }

            await Task.Delay(200, timeout.Token);
        }
    }

    public static (string Name, byte[] Content)[] CorpusFiles() =>
        [.. Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Data", "corpus"), "*.txt")
            .Order(StringComparer.Ordinal)
            .Select(f => (Path.GetFileName(f), File.ReadAllBytes(f)))];

    private static readonly object PortLock = new();
    private static int _nextPort = 20000 + (Environment.ProcessId % 1000) * 10;

    /// <summary>
    /// A loopback port for a server a test starts, handed out once per test run. Ports come from 20000-29999, below the
    /// kernel's ephemeral range: a port the kernel picked for us and we released can be taken again by any outgoing
    /// connection (to PostgreSQL, a silo...) before the server binds it, which made cluster tests fail at random.
    /// </summary>
    public static int FreePort()
    {
        lock (PortLock)
        {
            for (var tries = 0; tries < 10000; tries++)
            {
                var port = _nextPort;
                _nextPort = _nextPort >= 29999 ? 20000 : _nextPort + 1;
                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    return port;
                }
                catch (SocketException)
                {
                    // In use by something else on the machine: try the next one.
                }
            }

            throw new InvalidOperationException("no free loopback port in 20000-29999");
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("name=\"__RequestVerificationToken\" value=\"(?<v>[^\"]+)\"")]
    private static partial System.Text.RegularExpressions.Regex AntiforgeryField();

    public async ValueTask DisposeAsync()
    {
        await _web.App.StopAsync();
        await _web.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

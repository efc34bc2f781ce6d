using System.Net;
using System.Net.Http.Json;
using AuroraNexus.Grains.Llm;

namespace AuroraNexus.Tests.Api;

/// <summary>A tenant admin cannot point a provider at the platform's own network (the app here does not allow it).</summary>
[Collection("api")]
public sealed class ProviderGuardTests(ApiFixture fx)
{
    [Theory]
    [InlineData("http://127.0.0.1:17500/internal/v1")]
    [InlineData("http://localhost:18500/api")]
    [InlineData("http://169.254.169.254/latest")]
    [InlineData("http://10.1.2.3/v1")]
    [InlineData("http://192.168.0.10:8000/v1")]
    [InlineData("http://[::1]:9000/v1")]
    [InlineData("http://[fd00::5]/v1")]
    [InlineData("http://[::ffff:127.0.0.1]/v1")]
    public async Task Loopback_private_and_link_local_base_urls_are_refused(string baseUrl)
    {
        var created = await fx.Admin.PostAsJsonAsync("/api/admin/providers", new { name = "internal-" + Guid.NewGuid().ToString("N")[..8], base_url = baseUrl });
        var problem = await ByokTests.AssertProblemAsync(created, HttpStatusCode.BadRequest, "base_url_not_allowed");
        Assert.Contains(EndpointGuard.AllowVariable, problem["detail"]!.GetValue<string>());

        var openRouter = await TenancyFixture.OpenRouterProviderAsync(fx.Admin);
        var moved = await fx.Admin.PutAsJsonAsync($"/api/admin/providers/{openRouter}", new { base_url = baseUrl });
        await ByokTests.AssertProblemAsync(moved, HttpStatusCode.BadRequest, "base_url_not_allowed");
    }

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("172.16.5.4", false)]
    [InlineData("172.32.0.1", true)]
    [InlineData("100.64.0.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("8.8.8.8", true)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fc00::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("2606:4700:4700::1111", true)]
    [InlineData("198.51.100.7", false)]
    [InlineData("203.0.113.7", false)]
    [InlineData("::127.0.0.1", false)]
    [InlineData("::ffff:0:7f00:1", false)]
    [InlineData("64:ff9b::a9fe:a9fe", false)]
    [InlineData("64:ff9b:1::a00:1", false)]
    [InlineData("2002:7f00:1::", false)]
    [InlineData("64:ff9b::808:808", true)]
    [InlineData("2002:808:808::1", true)]
    [InlineData("::", false)]
    public void Public_means_routable_on_the_internet(string address, bool isPublic) =>
        Assert.Equal(isPublic, EndpointGuard.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public async Task The_gateway_port_serves_the_gateway_only()
    {
        using var gateway = new HttpClient { BaseAddress = fx.App.GatewayAddress };
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("/health/live")).StatusCode);
        var api = await gateway.PostAsJsonAsync("/api/auth/login", new { email = "x@y.z", password = "whatever-password" });
        await ByokTests.AssertProblemAsync(api, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Admin.GetAsync("/health/live")).StatusCode);
    }
}

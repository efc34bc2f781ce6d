using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;

namespace AuroraNexus.Tests.Api;

/// <summary>
/// A single node as a newcomer starts it: loopback only, no PUBLIC_DOMAIN, an admin password of their own choosing
/// (ADMIN_DEFAULT_PASSWORD). Neither is something to act on, so neither degrades health nor warns in the doctor.
/// </summary>
[Collection("api")]
public sealed class FreshSingleNodeHealthTests(ApiFixture fx)
{
    [Fact]
    public async Task No_public_domain_on_loopback_and_a_chosen_admin_password_leave_health_and_doctor_ok()
    {
        using var anonymous = fx.App.Anonymous();
        var health = (await anonymous.GetFromJsonAsync<JsonNode>("/api/health"))!;
        Assert.Equal("ok", health["components"]!["configuration"]!["status"]!.GetValue<string>());
        Assert.Equal("ok", health["components"]!["admin_password"]!["status"]!.GetValue<string>());

        var doctor = (await fx.Admin.GetFromJsonAsync<JsonNode>("/api/admin/doctor"))!;
        JsonNode Line(string check) => Assert.Single(doctor["checks"]!.AsArray(), c => c!["check"]!.GetValue<string>() == check)!;
        Assert.Equal("ok", Line("public_domain")["status"]!.GetValue<string>());
        Assert.Contains("loopback", Line("public_domain")["verdict"]!.GetValue<string>());
        Assert.Equal("ok", Line("admin_password")["status"]!.GetValue<string>());
    }

    [Fact]
    public void The_test_admin_password_is_one_of_its_own_choosing()
    {
        // The test above relies on it: a weak one would rightly be flagged.
        Assert.False(AuroraNexus.Grains.Hosting.NexusSettings.IsWeakPassword(TestApp.AdminPassword));
    }
}

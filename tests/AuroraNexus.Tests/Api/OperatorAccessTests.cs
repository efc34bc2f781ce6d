using System.Net;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AuroraNexus.Tests.Api;

/// <summary>
/// What spans every tenant (the Orleans dashboard, the doctor, tenants) is for the platform's operator: an admin of the
/// default tenant. An admin of any other tenant is refused.
/// </summary>
[Collection("tenancy")]
public sealed class OperatorAccessTests(TenancyFixture fx)
{
    [Fact]
    public async Task Dashboard_doctor_and_tenants_refuse_another_tenants_admin_and_answer_the_default_tenants_admin()
    {
        var tenant = await fx.CreateTenantAsync("operator");
        using var otherAdmin = await fx.App.BackofficeLoginAsync(tenant.Email, tenant.Password);
        var page = await otherAdmin.GetAsync("/dashboard/GrainTypes");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Contains("/denied", page.Headers.Location!.ToString());
        using (var xhr = new HttpRequestMessage(HttpMethod.Get, "/dashboard/DashboardCounters"))
        {
            xhr.Headers.Add("X-Requested-With", "XMLHttpRequest");
            Assert.Equal(HttpStatusCode.Forbidden, (await otherAdmin.SendAsync(xhr)).StatusCode);
        }

        var doctor = await ByokTests.AssertProblemAsync(await tenant.Admin.GetAsync("/api/admin/doctor"), HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains("admin of the default tenant", doctor["detail"]!.GetValue<string>());
        await ByokTests.AssertProblemAsync(await tenant.Admin.GetAsync("/api/admin/tenants"), HttpStatusCode.Forbidden, "forbidden");
        await ByokTests.AssertProblemAsync(await tenant.Admin.GetAsync("/api/admin/tenants/default"), HttpStatusCode.Forbidden, "forbidden");
        // Its own tenant's admin routes stay open to it.
        Assert.Equal(HttpStatusCode.OK, (await tenant.Admin.GetAsync("/api/admin/users")).StatusCode);

        using var operatorAdmin = await fx.App.BackofficeLoginAsync();
        Assert.Equal(HttpStatusCode.OK, (await operatorAdmin.GetAsync("/dashboard/GrainTypes")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await operatorAdmin.GetAsync("/dashboard/DashboardCounters")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.PlatformAdmin.GetAsync("/api/admin/doctor")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.PlatformAdmin.GetAsync("/api/admin/tenants")).StatusCode);
    }

    [Fact]
    public async Task Dashboard_silo_routes_answer_400_for_a_bogus_address_and_404_for_an_unknown_silo()
    {
        using var operatorAdmin = await fx.App.BackofficeLoginAsync();
        var hosts = await fx.App.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        var silo = hosts.Keys.First().ToParsableString();

        foreach (var route in new[] { "SiloProperties", "SiloCounters", "SiloStats", "HistoricalStats" })
        {
            await ByokTests.AssertProblemAsync(await operatorAdmin.GetAsync($"/dashboard/{route}/x"), HttpStatusCode.BadRequest, "silo_address_invalid");
            await ByokTests.AssertProblemAsync(await operatorAdmin.GetAsync($"/dashboard/{route}/127.0.0.1:1@1"), HttpStatusCode.NotFound, "silo_not_found");
            Assert.Equal(HttpStatusCode.OK, (await operatorAdmin.GetAsync($"/dashboard/{route}/{silo}")).StatusCode);
        }
    }
}

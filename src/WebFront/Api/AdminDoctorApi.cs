using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Operations;
using AuroraNexus.Grains.Tenancy;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace AuroraNexus.WebFront.Api;

public sealed record DoctorLine(string Check, string Status, string Verdict, string? Fix);

public sealed record DoctorBody(string Status, int ExitCode, IReadOnlyList<DoctorLine> Checks);

/// <summary>
/// <c>GET /api/admin/doctor</c>: the same checks as the <c>doctor</c> command, on this process's environment and
/// database. It looks across tenants (credential keys, rejected credentials), so only the platform's operator (an
/// admin of the default tenant) may run it. <c>?test_credentials=true</c> also tests every stored credential against its provider.
/// </summary>
public static class AdminDoctorApi
{
    public static void MapAdminDoctorApi(this WebApplication app)
    {
        app.MapGet("/api/admin/doctor", static async Task<Ok<DoctorBody>> (
            NexusDoctor doctor, IConfiguration config, NexusSettings settings, NexusRuntimeMode mode,
            NpgsqlDataSource db, IEnumerable<IComponentProbe> probes, CredentialTester tester, CancellationToken ct,
            [FromQuery(Name = "test_credentials")] bool? testCredentials) =>
        {
            // test_credentials=true asks every provider now (the admin API's credential test, recorded the same way).
            var options = new DoctorOptions(testCredentials == true ? tester : null);
            var report = await doctor.RunAsync(new DoctorContext(config, mode.SingleNode, settings, db, null, probes, options), ct);
            return TypedResults.Ok(new DoctorBody(report.Status, report.ExitCode,
                [.. report.Results.Select(r => new DoctorLine(r.Check, r.Status, r.Verdict, r.Fix))]));
        }).RequireAuthorization(NexusPolicies.Operator);
    }
}

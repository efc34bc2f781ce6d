using System.Text;
using System.Text.RegularExpressions;
using AuroraNexus.Tests.Infrastructure;

namespace AuroraNexus.Tests.Api;

/// <summary>The ingestion counter on /metrics counts every document's outcome, those decided at upload included.</summary>
[Collection("tenancy")]
public sealed class IngestionMetricsTests(TenancyFixture fx)
{
    [Fact]
    public async Task Files_refused_at_upload_and_duplicates_are_counted_with_their_status()
    {
        var tenant = await fx.CreateTenantAsync("ingest-metrics");
        var content = Encoding.UTF8.GetBytes("La carte grise se demande en ligne sur le site de l'ANTS.");
        var batch = await TestApp.IngestAsync(tenant.Admin, TenancyFixture.CallerApp,
            ("carte-grise.txt", content), ("carte-grise-copie.txt", content), ("vide.txt", []), ("photo.png", [1, 2, 3]));
        Assert.Equal(
            (1, 1, 2),
            (batch["indexed"]!.GetValue<int>(), batch["duplicate"]!.GetValue<int>(), batch["failed"]!.GetValue<int>()));

        using var gateway = new HttpClient { BaseAddress = fx.App.GatewayAddress };
        var expected = new Dictionary<string, long> { ["indexed"] = 1, ["duplicate"] = 1, ["failed"] = 2 };
        var counted = new Dictionary<string, long>();
        // The Prometheus exporter serves a snapshot that is refreshed at most once a second or so.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var text = await gateway.GetStringAsync("/metrics");
            counted = expected.Keys.ToDictionary(status => status, status => Counter(text, tenant.Id, status));
            if (expected.All(e => counted[e.Key] == e.Value) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(300);
        }

        Assert.Equal(expected, counted);
    }

    private static long Counter(string metrics, string tenant, string status)
    {
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("nexus_ingestion_documents_total{", StringComparison.Ordinal)
            && l.Contains($"tenant=\"{tenant}\"", StringComparison.Ordinal) && l.Contains($"status=\"{status}\"", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(Regex.Match(line, @"\} (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}

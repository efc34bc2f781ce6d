using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AuroraNexus.Grains.Operations;

/// <summary>
/// The product's own counters, per tenant (exported with Orleans', ASP.NET Core's, HttpClient's and Npgsql's on
/// /metrics and by OTLP). Tags carry ids only, never question text or secrets.
/// </summary>
public static class NexusMetrics
{
    public const string MeterName = "AuroraNexus";
    public const string ActivitySourceName = "AuroraNexus";

    private static readonly Meter Meter = new(MeterName);

    public static readonly ActivitySource Activities = new(ActivitySourceName);

    private static readonly Counter<long> Queries =
        Meter.CreateCounter<long>("nexus.queries", unit: "{query}", description: "Questions answered, by tenant and mode");

    private static readonly Counter<long> IngestedDocuments =
        Meter.CreateCounter<long>("nexus.ingestion.documents", unit: "{document}",
            description: "Documents that reached a final state, by tenant and status; files refused at upload (unsupported, empty, too large, duplicate) included");

    /// <param name="mode">llm, extractive, clarification or error.</param>
    public static void QueryAnswered(string tenantId, string mode) =>
        Queries.Add(1, new KeyValuePair<string, object?>("tenant", tenantId), new KeyValuePair<string, object?>("mode", mode));

    /// <param name="status">indexed, duplicate or failed.</param>
    public static void DocumentIngested(string tenantId, string status) =>
        IngestedDocuments.Add(1, new KeyValuePair<string, object?>("tenant", tenantId), new KeyValuePair<string, object?>("status", status));
}

using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;

namespace AuroraNexus.Grains.Operations;

/// <summary>
/// The doctor's view of the production stores: each adapter's own probe (the one health uses), so the doctor and
/// <c>/api/health</c> never disagree. A warning (the store answers, something needs an admin) is not a failure.
/// </summary>
internal static class StoreProbeResults
{
    public static ProbeResult From(ComponentProbe probe) =>
        probe.IsError ? new ProbeResult(false, probe.Message) : new ProbeResult(true, probe.Message);
}

/// <summary>S3 (MinIO): reachable, credentials accepted, both buckets present.</summary>
internal sealed class ObjectStoreComponentProbe(IObjectStore store) : IComponentProbe
{
    public string Name => ComponentProbeNames.ObjectStore;

    public async Task<ProbeResult> ProbeAsync(CancellationToken ct) => StoreProbeResults.From(await store.ProbeAsync(ct));
}

/// <summary>Qdrant: reachable, the embedding model's collection present with its tenant index.</summary>
internal sealed class VectorStoreComponentProbe(IVectorStore store) : IComponentProbe
{
    public string Name => ComponentProbeNames.Qdrant;

    public async Task<ProbeResult> ProbeAsync(CancellationToken ct) => StoreProbeResults.From(await store.ProbeAsync(ct));
}

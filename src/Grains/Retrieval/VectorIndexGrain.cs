using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Npgsql;

namespace AuroraNexus.Grains.Retrieval;

/// <summary>
/// The embedded vector index of one tenant: its vectors in memory, loaded from the tenant's <c>chunks</c> rows on
/// activation (PostgreSQL is the source of truth, so losing the silo loses nothing), searched exactly.
/// Reentrant: searches interleave; mutations replace whole dictionaries entries on the grain's single thread.
/// </summary>
[Reentrant]
public sealed partial class VectorIndexGrain(NpgsqlDataSource db, ILogger<VectorIndexGrain> logger) : Grain, IVectorIndexGrain
{
    private readonly Dictionary<long, (Guid DocumentId, float[] Vector)> _vectors = [];
    private readonly Dictionary<Guid, HashSet<long>> _byDocument = [];

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var tenantId = this.GetPrimaryKeyString();
        await using var cmd = db.CreateCommand("SELECT id, document_id, embedding FROM chunks WHERE tenant_id = @t");
        cmd.Parameters.AddWithValue("t", tenantId);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            Put(r.GetInt64(0), r.GetGuid(1), r.GetFieldValue<float[]>(2));
        }

        LogLoaded(logger, tenantId, _vectors.Count);
    }

    public Task AddAsync(ImmutableArray<VectorEntry> entries, CancellationToken cancellationToken = default)
    {
        foreach (var doc in entries.Select(e => e.DocumentId).Distinct())
        {
            Remove(doc);
        }

        foreach (var e in entries)
        {
            Put(e.ChunkId, e.DocumentId, e.Vector);
        }

        return Task.CompletedTask;
    }

    public Task RemoveDocumentAsync(Guid documentId, CancellationToken cancellationToken = default)
    {
        Remove(documentId);
        return Task.CompletedTask;
    }

    public Task<ImmutableArray<RankedChunk>> RankAsync(RankRequest request, CancellationToken cancellationToken = default)
    {
        var n = Math.Max(0, request.DenseCandidates);
        var top = new PriorityQueue<(long, Guid, float[]), float>(n + 1);
        foreach (var (id, (doc, vec)) in _vectors)
        {
            var score = HybridRanker.Dot(request.QueryVector, vec);
            if (top.Count < n)
            {
                top.Enqueue((id, doc, vec), score);
            }
            else if (n > 0 && top.TryPeek(out _, out var lowest) && score > lowest)
            {
                top.DequeueEnqueue((id, doc, vec), score);
            }
        }

        var dense = new List<(long, Guid, float[])>(top.Count);
        while (top.TryDequeue(out var item, out _))
        {
            dense.Add(item);
        }

        return Task.FromResult(HybridRanker.Rank(request, dense,
            id => _vectors.TryGetValue(id, out var v) ? v : null,
            doc => _byDocument.TryGetValue(doc, out var ids) ? ids : []));
    }

    public Task<ImmutableArray<RankedChunk>> SearchAsync(VectorQuery query, CancellationToken cancellationToken = default)
    {
        var only = query.Documents.IsDefaultOrEmpty ? null : query.Documents.ToHashSet();
        var hits = _vectors
            .Where(kv => only is null || only.Contains(kv.Value.DocumentId))
            .Select(kv => new RankedChunk(kv.Key, kv.Value.DocumentId, HybridRanker.Dot(query.Vector, kv.Value.Vector)))
            .OrderByDescending(h => h.Score).ThenBy(h => h.ChunkId)
            .Take(Math.Max(0, query.Limit));
        return Task.FromResult<ImmutableArray<RankedChunk>>([.. hits]);
    }

    private void Put(long chunkId, Guid documentId, float[] vector)
    {
        _vectors[chunkId] = (documentId, vector);
        if (!_byDocument.TryGetValue(documentId, out var set))
        {
            _byDocument[documentId] = set = [];
        }

        set.Add(chunkId);
    }

    private void Remove(Guid documentId)
    {
        if (_byDocument.Remove(documentId, out var ids))
        {
            foreach (var id in ids)
            {
                _vectors.Remove(id);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Vector index of tenant {TenantId} loaded with {Count} vectors")]
    private static partial void LogLoaded(ILogger logger, string tenantId, int count);
}

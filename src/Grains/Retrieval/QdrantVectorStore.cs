using System.Collections.Immutable;
using AuroraNexus.Grains.Hosting;
using Grpc.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Qdrant.Client;
using Qdrant.Client.Grpc;
using static Qdrant.Client.Grpc.Conditions;

namespace AuroraNexus.Grains.Retrieval;

/// <summary>Where Qdrant is (QDRANT_URL, its gRPC port) and which vector space the collection holds.</summary>
public sealed record QdrantOptions(Uri Url, string Model, int Dimensions)
{
    /// <summary>One collection per embedding model: vectors of different models are never compared.</summary>
    public string Collection => "nexus_chunks_" + new string([.. Model.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')]);

}

/// <summary>
/// Production vector store: Qdrant over gRPC. One collection per embedding model holds every tenant; each point carries
/// <c>tenant_id</c> (a keyword index marked as the tenant key) and <c>document_id</c>, and every read — search and
/// scroll — filters on the tenant, so one tenant's query can never see another's chunks. Point ids are the chunks' ids
/// (unique across tenants), so the same bytes uploaded by two tenants are two independent sets of points.
/// </summary>
public sealed partial class QdrantVectorStore : IVectorStore, IDisposable
{
    public const string TenantField = "tenant_id";
    public const string DocumentField = "document_id";

    private readonly QdrantOptions _options;
    private readonly QdrantClient _client;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _ensureLock = new(1, 1);
    private volatile bool _collectionReady;

    public QdrantVectorStore(QdrantOptions options, ILogger<QdrantVectorStore> logger)
    {
        _options = options;
        _logger = logger;
        _client = new QdrantClient(options.Url, grpcTimeout: TimeSpan.FromSeconds(30));
    }

    public string Describe => $"Qdrant {_options.Url} (collection {_options.Collection}, {_options.Dimensions} dimensions, cosine)";

    /// <summary>Creates the collection and its payload indexes when missing; safe from every process at once.</summary>
    public async Task EnsureCollectionAsync(CancellationToken cancellationToken)
    {
        if (_collectionReady)
        {
            return;
        }

        await _ensureLock.WaitAsync(cancellationToken);
        try
        {
            if (_collectionReady)
            {
                return;
            }

            await Guard(async () =>
            {
                if (!await _client.CollectionExistsAsync(_options.Collection, cancellationToken))
                {
                    try
                    {
                        await _client.CreateCollectionAsync(_options.Collection,
                            new VectorParams { Size = (ulong)_options.Dimensions, Distance = Distance.Cosine },
                            cancellationToken: cancellationToken);
                        LogCollectionCreated(_logger, _options.Collection, _options.Url);
                    }
                    catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists)
                    {
                        // Another process created it between the check and the call.
                    }
                }
                var indexed = (await CheckDimensionsAsync(cancellationToken)).PayloadSchema.Keys.ToHashSet();
                if (!indexed.Contains(TenantField))
                {
                    await CreateIndexAsync(TenantField,
                        new PayloadIndexParams { KeywordIndexParams = new KeywordIndexParams { IsTenant = true } }, cancellationToken);
                }

                if (!indexed.Contains(DocumentField))
                {
                    await CreateIndexAsync(DocumentField, null, cancellationToken);
                }
            });
            _collectionReady = true;
        }
        finally
        {
            _ensureLock.Release();
        }
    }

    /// <summary>How many points the collection holds (every tenant).</summary>
    public async Task<ulong> CountPointsAsync(CancellationToken cancellationToken)
    {
        await EnsureCollectionAsync(cancellationToken);
        var info = await Guard(() => _client.GetCollectionInfoAsync(_options.Collection, cancellationToken));
        return info.PointsCount;
    }

    /// <summary>
    /// Fills an empty collection from the vectors PostgreSQL keeps for this model (the chunks table is the source of
    /// truth): a deployment switched to Qdrant, or a collection lost and recreated, finds every indexed document again.
    /// Reads all tenants on purpose; each point is written with its own tenant.
    /// </summary>
    public async Task<int> BackfillAsync(Npgsql.NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        if (await CountPointsAsync(cancellationToken) > 0)
        {
            return 0;
        }

        await using var cmd = db.CreateCommand(
            "SELECT tenant_id, document_id, id, embedding FROM chunks WHERE embedding_model = @m ORDER BY tenant_id, document_id, id");
        cmd.Parameters.AddWithValue("m", _options.Model);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        var copied = 0;
        string? tenant = null;
        var pending = ImmutableArray.CreateBuilder<VectorEntry>();
        Guid? lastDocument = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            var rowTenant = reader.GetString(0);
            var document = reader.GetGuid(1);
            // Whole documents per call: an upsert replaces the vectors of the documents it names.
            if (tenant is not null && (rowTenant != tenant || (pending.Count >= 512 && document != lastDocument)))
            {
                await UpsertAsync(tenant, pending.ToImmutable(), cancellationToken);
                copied += pending.Count;
                pending.Clear();
            }

            tenant = rowTenant;
            lastDocument = document;
            pending.Add(new VectorEntry(reader.GetInt64(2), document, reader.GetFieldValue<float[]>(3)));
        }

        if (tenant is not null && pending.Count > 0)
        {
            await UpsertAsync(tenant, pending.ToImmutable(), cancellationToken);
            copied += pending.Count;
        }

        return copied;
    }

    public async Task UpsertAsync(string tenantId, ImmutableArray<VectorEntry> entries, CancellationToken cancellationToken)
    {
        if (entries.IsDefaultOrEmpty)
        {
            return;
        }

        await EnsureCollectionAsync(cancellationToken);
        var documents = entries.Select(e => e.DocumentId).Distinct().ToList();
        var points = entries.Select(e => new PointStruct
        {
            Id = checked((ulong)e.ChunkId),
            Vectors = e.Vector,
            Payload = { [TenantField] = tenantId, [DocumentField] = e.DocumentId.ToString() },
        }).ToList();
        await Guard(async () =>
        {
            // A retried document replaces its earlier chunks, whose ids differ: drop them first, as the embedded index does.
            await _client.DeleteAsync(_options.Collection, DocumentsFilter(tenantId, documents), wait: true, cancellationToken: cancellationToken);
            await _client.UpsertAsync(_options.Collection, points, wait: true, cancellationToken: cancellationToken);
        });
    }

    public async Task DeleteDocumentAsync(string tenantId, Guid documentId, CancellationToken cancellationToken)
    {
        await EnsureCollectionAsync(cancellationToken);
        await Guard(() => _client.DeleteAsync(_options.Collection, DocumentsFilter(tenantId, [documentId]), wait: true,
            cancellationToken: cancellationToken));
    }

    public async Task<ImmutableArray<RankedChunk>> SearchAsync(
        string tenantId, float[] vector, int limit, ImmutableArray<Guid> documents, CancellationToken cancellationToken)
    {
        if (limit <= 0)
        {
            return [];
        }

        await EnsureCollectionAsync(cancellationToken);
        var filter = documents.IsDefaultOrEmpty ? TenantFilter(tenantId) : DocumentsFilter(tenantId, documents);
        var points = await Guard(() => _client.QueryAsync(_options.Collection, vector, filter: filter, limit: (ulong)limit,
            payloadSelector: new[] { DocumentField }, cancellationToken: cancellationToken));
        return [.. points.Select(p => new RankedChunk((long)p.Id.Num, DocumentOf(p.Payload), p.Score))
            .OrderByDescending(h => h.Score).ThenBy(h => h.ChunkId)];
    }

    /// <summary>
    /// The same ranking as the embedded index: Qdrant gives the dense candidates, then the vectors the ranker also needs
    /// (lexical hits, followed-up chunks, chunks of documents found as a whole) are read with tenant-filtered scrolls.
    /// </summary>
    public async Task<ImmutableArray<RankedChunk>> RankAsync(string tenantId, RankRequest request, CancellationToken cancellationToken)
    {
        await EnsureCollectionAsync(cancellationToken);
        var known = new Dictionary<long, (Guid DocumentId, float[] Vector)>();
        var dense = new List<(long, Guid, float[])>();
        if (request.DenseCandidates > 0)
        {
            var points = await Guard(() => _client.QueryAsync(_options.Collection, request.QueryVector, filter: TenantFilter(tenantId),
                limit: (ulong)request.DenseCandidates, payloadSelector: new[] { DocumentField }, vectorsSelector: true,
                cancellationToken: cancellationToken));
            foreach (var p in points)
            {
                var entry = (DocumentOf(p.Payload), VectorOf(p.Vectors));
                known[(long)p.Id.Num] = entry;
                dense.Add(((long)p.Id.Num, entry.Item1, entry.Item2));
            }
        }

        var wanted = request.Lexical.Select(h => h.ChunkId)
            .Concat(request.PreferredChunks.IsDefault ? [] : request.PreferredChunks)
            .Where(id => id >= 0 && !known.ContainsKey(id)).Distinct().ToList();
        if (wanted.Count > 0)
        {
            await ScrollIntoAsync(Filter(tenantId, HasId([.. wanted.Select(id => (ulong)id)])), known, cancellationToken);
        }

        var byDocument = new Dictionary<Guid, List<long>>();
        var documents = request.Documents.IsDefault ? [] : request.Documents;
        if ((request.DocumentWeight > 0 || request.LeadWeight > 0) && documents.Length > 0)
        {
            // Only the documents the ranker will look into: those without a dense or lexical candidate.
            var present = dense.Select(d => d.Item2)
                .Concat(request.Lexical.Where(h => known.ContainsKey(h.ChunkId)).Select(h => known[h.ChunkId].DocumentId))
                .ToHashSet();
            var missing = documents.Select(d => d.DocumentId).Where(d => !present.Contains(d)).Distinct().ToList();
            if (missing.Count > 0)
            {
                var found = new Dictionary<long, (Guid DocumentId, float[] Vector)>();
                await ScrollIntoAsync(DocumentsFilter(tenantId, missing), found, cancellationToken);
                foreach (var (id, entry) in found)
                {
                    known[id] = entry;
                    if (!byDocument.TryGetValue(entry.DocumentId, out var list))
                    {
                        byDocument[entry.DocumentId] = list = [];
                    }

                    list.Add(id);
                }
            }
        }

        return HybridRanker.Rank(request, dense,
            id => known.TryGetValue(id, out var v) ? v : null,
            doc => byDocument.TryGetValue(doc, out var ids) ? ids : []);
    }

    public async Task<ComponentProbe> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Guard(() => _client.HealthAsync(cancellationToken));
            if (!await Guard(() => _client.CollectionExistsAsync(_options.Collection, cancellationToken)))
            {
                _collectionReady = false;
                return ComponentProbe.Error(
                    $"Qdrant at {_options.Url} is reachable but collection {_options.Collection} is missing: restart a silo, which " +
                    "recreates it and copies the vectors kept in PostgreSQL back into it");
            }

            await Guard(() => CheckDimensionsAsync(cancellationToken));
            return ComponentProbe.Ok(Describe);
        }
        catch (VectorStoreUnavailableException ex)
        {
            return ComponentProbe.Error(ex.Message);
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _ensureLock.Dispose();
    }

    private async Task CreateIndexAsync(string field, PayloadIndexParams? parameters, CancellationToken cancellationToken)
    {
        try
        {
            await _client.CreatePayloadIndexAsync(_options.Collection, field, PayloadSchemaType.Keyword, parameters,
                cancellationToken: cancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists)
        {
            // Another process created it between the check and the call.
        }
    }

    private async Task<CollectionInfo> CheckDimensionsAsync(CancellationToken cancellationToken)
    {
        var info = await _client.GetCollectionInfoAsync(_options.Collection, cancellationToken);
        var size = info.Config?.Params?.VectorsConfig?.Params?.Size;
        if (size is { } s && s != (ulong)_options.Dimensions)
        {
            throw new VectorStoreUnavailableException(
                $"collection {_options.Collection} in Qdrant at {_options.Url} holds {s}-dimension vectors, the model {_options.Model} makes " +
                $"{_options.Dimensions}: delete the collection, then restart a silo (it recreates it and refills it from PostgreSQL)");
        }

        return info;
    }

    private async Task ScrollIntoAsync(Filter filter, Dictionary<long, (Guid, float[])> into, CancellationToken cancellationToken)
    {
        PointId? offset = null;
        do
        {
            var page = await Guard(() => _client.ScrollAsync(_options.Collection, filter, limit: 256, offset: offset,
                payloadSelector: new[] { DocumentField }, vectorsSelector: true, cancellationToken: cancellationToken));
            foreach (var p in page.Result)
            {
                into[(long)p.Id.Num] = (DocumentOf(p.Payload), VectorOf(p.Vectors));
            }

            offset = page.NextPageOffset;
        }
        while (offset is not null);
    }

    private static Filter TenantFilter(string tenantId) => new() { Must = { MatchKeyword(TenantField, tenantId) } };

    private static Filter Filter(string tenantId, Condition condition) =>
        new() { Must = { MatchKeyword(TenantField, tenantId), condition } };

    private static Filter DocumentsFilter(string tenantId, IReadOnlyCollection<Guid> documents) =>
        Filter(tenantId, Match(DocumentField, [.. documents.Select(d => d.ToString())]));

    private static Guid DocumentOf(IDictionary<string, Value> payload) =>
        payload.TryGetValue(DocumentField, out var v) && Guid.TryParse(v.StringValue, out var id)
            ? id
            : throw new VectorStoreUnavailableException($"a Qdrant point has no {DocumentField} payload: the collection was not written by this product");

    private static float[] VectorOf(VectorsOutput vectors)
    {
        var v = vectors?.Vector ?? throw new VectorStoreUnavailableException("Qdrant returned a point without its vector");
        if (v.Dense is { } dense)
        {
            return [.. dense.Data];
        }

        // Servers before the dense/sparse split send the values in the older field.
#pragma warning disable CS0612, CS0618
        return [.. v.Data];
#pragma warning restore CS0612, CS0618
    }

    private Task Guard(Func<Task> call) => Guard(async () =>
    {
        await call();
        return true;
    });

    private async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (RpcException ex)
        {
            if (ex.StatusCode == StatusCode.NotFound)
            {
                // Deleted behind our back: the next call recreates it.
                _collectionReady = false;
            }

            throw new VectorStoreUnavailableException(ex.StatusCode switch
            {
                StatusCode.Unavailable or StatusCode.DeadlineExceeded =>
                    $"Qdrant at {_options.Url} is unreachable ({ex.StatusCode}): check QDRANT_URL (the gRPC port, 6334) and that Qdrant runs",
                StatusCode.Unauthenticated or StatusCode.PermissionDenied =>
                    $"Qdrant at {_options.Url} refused the request ({ex.StatusCode}): it expects an API key this product does not send; run it without one on the private network",
                StatusCode.NotFound =>
                    $"collection {_options.Collection} is missing in Qdrant at {_options.Url} ({ex.Status.Detail}): restart a silo, which recreates and refills it",
                _ => $"Qdrant at {_options.Url} failed ({ex.StatusCode}: {ex.Status.Detail}); check the Qdrant logs",
            }, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created Qdrant collection {Collection} at {Url}")]
    private static partial void LogCollectionCreated(ILogger logger, string collection, Uri url);
}

/// <summary>The vector store cannot serve requests; the message names the cause and the fix. Crosses grain calls.</summary>
[GenerateSerializer, Alias("nexus.VectorStoreUnavailableException")]
public sealed class VectorStoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner)
{
    public string Code => "vector_store_unavailable";
}

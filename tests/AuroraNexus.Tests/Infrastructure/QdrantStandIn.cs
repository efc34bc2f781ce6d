using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Qdrant.Client.Grpc;

namespace AuroraNexus.Tests.Infrastructure;

/// <summary>
/// A loopback gRPC server speaking the part of Qdrant's protocol the product uses (qdrant.Qdrant/HealthCheck;
/// qdrant.Collections/CollectionExists, Create, Get; qdrant.Points/CreateFieldIndex, Upsert, Delete, Query, Scroll),
/// with the message types shipped in Qdrant.Client. Points live in memory; searches are exact cosine, as Qdrant's
/// Cosine distance (vectors normalised on write). It answers errors as Qdrant does (NotFound for a missing collection,
/// AlreadyExists on a second Create) and, unlike Qdrant, REJECTS with FailedPrecondition any read or delete that does not
/// filter on one tenant (<c>must: tenant_id = keyword</c>): isolation is the adapter's job and this checks it.
/// </summary>
public sealed class QdrantStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;

    private QdrantStandIn(WebApplication app, Uri url, QdrantState state)
    {
        _app = app;
        Url = url;
        State = state;
    }

    /// <summary>The gRPC address (QDRANT_URL).</summary>
    public Uri Url { get; }

    public QdrantState State { get; }

    public static async Task<QdrantStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        var state = new QdrantState();
        builder.Services.AddSingleton(state);
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<IServiceMethodProvider<QdrantHealthService>, QdrantMethods>();
        builder.Services.AddSingleton<IServiceMethodProvider<QdrantCollectionsService>, QdrantMethods>();
        builder.Services.AddSingleton<IServiceMethodProvider<QdrantPointsService>, QdrantMethods>();
        var app = builder.Build();
        app.MapGrpcService<QdrantHealthService>();
        app.MapGrpcService<QdrantCollectionsService>();
        app.MapGrpcService<QdrantPointsService>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new QdrantStandIn(app, new Uri(address.Replace("[::1]", "127.0.0.1")), state);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    internal static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string service, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        new(MethodType.Unary, service, name,
            Marshallers.Create(r => r.ToByteArray(), new MessageParser<TRequest>(() => new TRequest()).ParseFrom),
            Marshallers.Create(r => r.ToByteArray(), new MessageParser<TResponse>(() => new TResponse()).ParseFrom));
}

/// <summary>Binds Qdrant's method names to the stand-in's handlers (Qdrant.Client ships no server base classes).</summary>
internal sealed class QdrantMethods :
    IServiceMethodProvider<QdrantHealthService>, IServiceMethodProvider<QdrantCollectionsService>, IServiceMethodProvider<QdrantPointsService>
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<QdrantHealthService> context) =>
        Add<QdrantHealthService, HealthCheckRequest, HealthCheckReply>(context, "qdrant.Qdrant", "HealthCheck", (s, r, c) => s.HealthCheck(r, c));

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<QdrantCollectionsService> context)
    {
        const string service = "qdrant.Collections";
        Add<QdrantCollectionsService, CollectionExistsRequest, CollectionExistsResponse>(context, service, "CollectionExists", (s, r, c) => s.CollectionExists(r, c));
        Add<QdrantCollectionsService, CreateCollection, CollectionOperationResponse>(context, service, "Create", (s, r, c) => s.Create(r, c));
        Add<QdrantCollectionsService, GetCollectionInfoRequest, GetCollectionInfoResponse>(context, service, "Get", (s, r, c) => s.Get(r, c));
    }

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<QdrantPointsService> context)
    {
        const string service = "qdrant.Points";
        Add<QdrantPointsService, CreateFieldIndexCollection, PointsOperationResponse>(context, service, "CreateFieldIndex", (s, r, c) => s.CreateFieldIndex(r, c));
        Add<QdrantPointsService, UpsertPoints, PointsOperationResponse>(context, service, "Upsert", (s, r, c) => s.Upsert(r, c));
        Add<QdrantPointsService, DeletePoints, PointsOperationResponse>(context, service, "Delete", (s, r, c) => s.Delete(r, c));
        Add<QdrantPointsService, QueryPoints, QueryResponse>(context, service, "Query", (s, r, c) => s.Query(r, c));
        Add<QdrantPointsService, ScrollPoints, ScrollResponse>(context, service, "Scroll", (s, r, c) => s.Scroll(r, c));
    }

    private static void Add<TService, TRequest, TResponse>(
        ServiceMethodProviderContext<TService> context, string service, string name, UnaryServerMethod<TService, TRequest, TResponse> handler)
        where TService : class
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        context.AddUnaryMethod(QdrantStandIn.Unary<TRequest, TResponse>(service, name), [], handler);
}

/// <summary>The stand-in's collections, and every call it served (method and collection) for the tests to inspect.</summary>
public sealed class QdrantState
{
    public ConcurrentDictionary<string, StandInCollection> Collections { get; } = new();

    public ConcurrentQueue<string> Calls { get; } = new();

    /// <summary>Requests refused because they did not filter on a tenant.</summary>
    public ConcurrentQueue<string> Rejected { get; } = new();

    internal StandInCollection Require(string name) =>
        Collections.TryGetValue(name, out var c)
            ? c
            : throw new RpcException(new Status(StatusCode.NotFound, $"Not found: Collection `{name}` doesn't exist!"));
}

public sealed class StandInCollection(ulong size)
{
    public ulong Size { get; } = size;

    public ConcurrentDictionary<ulong, (float[] Vector, Dictionary<string, Value> Payload)> Points { get; } = new();

    public ConcurrentDictionary<string, PayloadIndexParams?> Indexes { get; } = new();

    public Lock Gate { get; } = new();
}

public sealed class QdrantHealthService
{
    public Task<HealthCheckReply> HealthCheck(HealthCheckRequest request, ServerCallContext context) =>
        Task.FromResult(new HealthCheckReply { Title = "qdrant - vector search engine (stand-in)", Version = "1.13.0" });
}

public sealed class QdrantCollectionsService(QdrantState state)
{
    private const string Service = "qdrant.Collections";

    public Task<CollectionExistsResponse> CollectionExists(CollectionExistsRequest request, ServerCallContext context)
    {
        state.Calls.Enqueue($"CollectionExists {request.CollectionName}");
        return Task.FromResult(new CollectionExistsResponse
        {
            Result = new CollectionExists { Exists = state.Collections.ContainsKey(request.CollectionName) },
        });
    }

    public Task<CollectionOperationResponse> Create(CreateCollection request, ServerCallContext context)
    {
        state.Calls.Enqueue($"Create {request.CollectionName}");
        var vectors = request.VectorsConfig?.Params;
        if (vectors is null || vectors.Size == 0 || vectors.Distance == Distance.UnknownDistance)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "Wrong input: vectors config with size and distance required"));
        }

        if (!state.Collections.TryAdd(request.CollectionName, new StandInCollection(vectors.Size)))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"Wrong input: Collection `{request.CollectionName}` already exists!"));
        }

        return Task.FromResult(new CollectionOperationResponse { Result = true });
    }

    public Task<GetCollectionInfoResponse> Get(GetCollectionInfoRequest request, ServerCallContext context)
    {
        state.Calls.Enqueue($"Get {request.CollectionName}");
        var c = state.Require(request.CollectionName);
        var info = new CollectionInfo
        {
            Status = CollectionStatus.Green,
            PointsCount = (ulong)c.Points.Count,
            Config = new CollectionConfig
            {
                Params = new CollectionParams
                {
                    VectorsConfig = new VectorsConfig { Params = new VectorParams { Size = c.Size, Distance = Distance.Cosine } },
                },
            },
        };
        foreach (var (field, parameters) in c.Indexes)
        {
            info.PayloadSchema[field] = new PayloadSchemaInfo { DataType = PayloadSchemaType.Keyword, Params = parameters, Points = (ulong)c.Points.Count };
        }

        return Task.FromResult(new GetCollectionInfoResponse { Result = info });
    }
}

public sealed class QdrantPointsService(QdrantState state)
{
    private const string Service = "qdrant.Points";
    private const string TenantField = "tenant_id";

    public Task<PointsOperationResponse> CreateFieldIndex(CreateFieldIndexCollection request, ServerCallContext context)
    {
        state.Calls.Enqueue($"CreateFieldIndex {request.CollectionName} {request.FieldName} {request.FieldType} tenant={request.FieldIndexParams?.KeywordIndexParams?.IsTenant == true}");
        var c = state.Require(request.CollectionName);
        if (!c.Indexes.TryAdd(request.FieldName, request.FieldIndexParams))
        {
            // The strict reading of Qdrant's behaviour: an index is created once.
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"Wrong input: index on `{request.FieldName}` already exists"));
        }

        return Task.FromResult(Completed());
    }

    public Task<PointsOperationResponse> Upsert(UpsertPoints request, ServerCallContext context)
    {
        state.Calls.Enqueue($"Upsert {request.CollectionName} {request.Points.Count}");
        var c = state.Require(request.CollectionName);
        lock (c.Gate)
        {
            foreach (var p in request.Points)
            {
                var vector = DenseOf(p.Vectors?.Vector);
                if ((ulong)vector.Length != c.Size)
                {
                    throw new RpcException(new Status(StatusCode.InvalidArgument,
                        $"Wrong input: Vector dimension error: expected dim: {c.Size}, got {vector.Length}"));
                }

                if (!p.Id.HasNum)
                {
                    throw new RpcException(new Status(StatusCode.InvalidArgument, "Wrong input: this stand-in stores numeric ids only"));
                }

                c.Points[p.Id.Num] = (Normalised(vector), new Dictionary<string, Value>(p.Payload));
            }
        }

        return Task.FromResult(Completed());
    }

    public Task<PointsOperationResponse> Delete(DeletePoints request, ServerCallContext context)
    {
        state.Calls.Enqueue($"Delete {request.CollectionName}");
        var c = state.Require(request.CollectionName);
        var filter = request.Points?.Filter;
        RequireTenant(filter, "Delete");
        lock (c.Gate)
        {
            foreach (var id in c.Points.Where(kv => Matches(filter!, kv.Key, kv.Value.Payload)).Select(kv => kv.Key).ToList())
            {
                c.Points.TryRemove(id, out _);
            }
        }

        return Task.FromResult(Completed());
    }

    public Task<QueryResponse> Query(QueryPoints request, ServerCallContext context)
    {
        state.Calls.Enqueue($"Query {request.CollectionName} limit={request.Limit}");
        var c = state.Require(request.CollectionName);
        RequireTenant(request.Filter, "Query");
        var nearest = request.Query?.Nearest ?? throw new RpcException(new Status(StatusCode.InvalidArgument, "this stand-in answers nearest queries only"));
        var query = Normalised(nearest.Dense?.Data.ToArray() ?? []);
        if ((ulong)query.Length != c.Size)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"Wrong input: Vector dimension error: expected dim: {c.Size}, got {query.Length}"));
        }

        var limit = request.HasLimit ? (int)request.Limit : 10;
        var response = new QueryResponse();
        List<(ulong Id, float Score, float[] Vector, Dictionary<string, Value> Payload)> hits;
        lock (c.Gate)
        {
            hits = [.. c.Points
                .Where(kv => Matches(request.Filter, kv.Key, kv.Value.Payload))
                .Select(kv => (kv.Key, Dot(query, kv.Value.Vector), kv.Value.Vector, kv.Value.Payload))
                .OrderByDescending(h => h.Item2).ThenBy(h => h.Key)
                .Take(limit)];
        }

        foreach (var (id, score, vector, payload) in hits)
        {
            var point = new ScoredPoint { Id = id, Score = score, Version = 1 };
            Select(request.WithPayload, payload, point.Payload);
            if (request.WithVectors?.Enable == true)
            {
                point.Vectors = Output(vector);
            }

            response.Result.Add(point);
        }

        return Task.FromResult(response);
    }

    public Task<ScrollResponse> Scroll(ScrollPoints request, ServerCallContext context)
    {
        state.Calls.Enqueue($"Scroll {request.CollectionName}");
        var c = state.Require(request.CollectionName);
        RequireTenant(request.Filter, "Scroll");
        var limit = request.HasLimit ? (int)request.Limit : 10;
        var from = request.Offset?.Num ?? 0;
        List<KeyValuePair<ulong, (float[] Vector, Dictionary<string, Value> Payload)>> page;
        lock (c.Gate)
        {
            // Qdrant scrolls in id order and names the first id of the next page.
            page = [.. c.Points.Where(kv => kv.Key >= from && Matches(request.Filter, kv.Key, kv.Value.Payload))
                .OrderBy(kv => kv.Key).Take(limit + 1)];
        }

        var response = new ScrollResponse();
        foreach (var (id, (vector, payload)) in page.Take(limit))
        {
            var point = new RetrievedPoint { Id = id };
            Select(request.WithPayload, payload, point.Payload);
            if (request.WithVectors?.Enable == true)
            {
                point.Vectors = Output(vector);
            }

            response.Result.Add(point);
        }

        if (page.Count > limit)
        {
            response.NextPageOffset = page[limit].Key;
        }

        return Task.FromResult(response);
    }

    /// <summary>The isolation rule under test: a must condition matching one tenant_id keyword.</summary>
    private void RequireTenant(Filter? filter, string method)
    {
        var scoped = filter?.Must.Any(m => m.Field is { Key: TenantField, Match.Keyword: { Length: > 0 } }) == true;
        if (!scoped)
        {
            state.Rejected.Enqueue(method);
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"{method} without a must-match filter on {TenantField}: every read must be scoped to one tenant"));
        }
    }

    private static bool Matches(Filter? filter, ulong id, Dictionary<string, Value> payload)
    {
        if (filter is null)
        {
            return true;
        }

        return filter.Must.All(c => Holds(c, id, payload)) &&
            !filter.MustNot.Any(c => Holds(c, id, payload)) &&
            (filter.Should.Count == 0 || filter.Should.Any(c => Holds(c, id, payload)));
    }

    private static bool Holds(Condition condition, ulong id, Dictionary<string, Value> payload) => condition.ConditionOneOfCase switch
    {
        Condition.ConditionOneOfOneofCase.HasId => condition.HasId.HasId.Any(p => p.HasNum && p.Num == id),
        Condition.ConditionOneOfOneofCase.Filter => Matches(condition.Filter, id, payload),
        Condition.ConditionOneOfOneofCase.Field => FieldHolds(condition.Field, payload),
        _ => throw new RpcException(new Status(StatusCode.InvalidArgument, $"this stand-in does not evaluate {condition.ConditionOneOfCase} conditions")),
    };

    private static bool FieldHolds(FieldCondition field, Dictionary<string, Value> payload)
    {
        if (field.Match is null || !payload.TryGetValue(field.Key, out var value) || !value.HasStringValue)
        {
            return false;
        }

        return field.Match.MatchValueCase switch
        {
            Match.MatchValueOneofCase.Keyword => value.StringValue == field.Match.Keyword,
            Match.MatchValueOneofCase.Keywords => field.Match.Keywords.Strings.Contains(value.StringValue),
            Match.MatchValueOneofCase.ExceptKeywords => !field.Match.ExceptKeywords.Strings.Contains(value.StringValue),
            _ => throw new RpcException(new Status(StatusCode.InvalidArgument, $"this stand-in does not evaluate {field.Match.MatchValueCase} matches")),
        };
    }

    private static void Select(WithPayloadSelector? selector, Dictionary<string, Value> payload, Google.Protobuf.Collections.MapField<string, Value> into)
    {
        if (selector is null)
        {
            return;
        }

        foreach (var (key, value) in payload)
        {
            var wanted = selector.SelectorOptionsCase switch
            {
                WithPayloadSelector.SelectorOptionsOneofCase.Enable => selector.Enable,
                WithPayloadSelector.SelectorOptionsOneofCase.Include => selector.Include.Fields.Contains(key),
                WithPayloadSelector.SelectorOptionsOneofCase.Exclude => !selector.Exclude.Fields.Contains(key),
                _ => false,
            };
            if (wanted)
            {
                into[key] = value;
            }
        }
    }

    private static VectorsOutput Output(float[] vector)
    {
        var dense = new DenseVector();
        dense.Data.AddRange(vector);
        return new VectorsOutput { Vector = new VectorOutput { Dense = dense } };
    }

    private static float[] DenseOf(Vector? vector)
    {
        if (vector is null)
        {
            return [];
        }

        if (vector.Dense is { } dense)
        {
            return [.. dense.Data];
        }

#pragma warning disable CS0612, CS0618
        return [.. vector.Data];
#pragma warning restore CS0612, CS0618
    }

    private static float[] Normalised(float[] v)
    {
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        return norm == 0 ? v : [.. v.Select(x => x / norm)];
    }

    private static float Dot(float[] a, float[] b)
    {
        var sum = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    private static PointsOperationResponse Completed() =>
        new() { Result = new UpdateResult { Status = UpdateStatus.Completed, OperationId = 1 } };
}

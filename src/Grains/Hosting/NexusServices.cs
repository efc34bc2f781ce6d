using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Operations;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AuroraNexus.Grains.Hosting;

public static class NexusServices
{
    /// <summary>The application services every process needs: database access, object store, stores.</summary>
    public static IServiceCollection AddNexusData(this IServiceCollection services, NexusSettings settings, NpgsqlDataSource dataSource)
    {
        services.AddSingleton(settings);
        services.AddSingleton(dataSource);
        services.AddNexusStores(settings);
        services.AddSingleton<IngestionRepository>();
        services.AddSingleton<ConversationRepository>();
        services.AddSingleton<SettingsRepository>();
        services.AddSingleton<UserRepository>();
        services.AddSingleton<LlmCatalogRepository>();
        services.AddSingleton(sp => new AuroraNexus.Grains.Tenancy.CredentialVault(
            sp.GetRequiredService<NexusSettings>().CredentialKeys, sp.GetRequiredService<LlmCatalogRepository>()));
        services.AddProviderHttpClient(settings.AllowPrivateLlmUrls, settings.LlmBaseUrl);
        services.AddTransient<AuroraNexus.Grains.Tenancy.CredentialTester>();
        return services;
    }

    /// <summary>
    /// The object and vector stores: S3_ENDPOINT set = MinIO, else the local folder; QDRANT_URL set = Qdrant, else the
    /// embedded index. The external ones are prepared (buckets, collection) at start by <see cref="StoreInitializer"/>.
    /// </summary>
    public static IServiceCollection AddNexusStores(this IServiceCollection services, NexusSettings settings)
    {
        if (settings.S3 is { } s3)
        {
            services.AddSingleton(sp => new S3ObjectStore(s3, sp.GetRequiredService<ILogger<S3ObjectStore>>()));
            services.AddSingleton<IObjectStore>(sp => sp.GetRequiredService<S3ObjectStore>());
            services.AddSingleton<IComponentProbe, ObjectStoreComponentProbe>();
        }
        else
        {
            services.AddSingleton<IObjectStore>(_ => new LocalObjectStore(settings.ObjectsDirectory));
        }

        if (settings.QdrantUrl is { } qdrant)
        {
            services.AddSingleton(sp => new QdrantVectorStore(
                new QdrantOptions(qdrant, MiniLmEmbedder.Model, MiniLmEmbedder.VectorDimensions), sp.GetRequiredService<ILogger<QdrantVectorStore>>()));
            services.AddSingleton<IVectorStore>(sp => sp.GetRequiredService<QdrantVectorStore>());
            services.AddSingleton<IComponentProbe, VectorStoreComponentProbe>();
        }
        else
        {
            services.AddSingleton<IVectorStore, EmbeddedVectorStore>();
        }

        services.AddHostedService<StoreInitializer>();
        return services;
    }

    /// <summary>What grains need on a silo: embeddings, chunking, retrieval, the answer writer.</summary>
    public static IServiceCollection AddNexusGrainServices(this IServiceCollection services)
    {
        // One embedder per silo: its run slots are the silo-wide bound on ONNX work, whatever the number of workers.
        services.AddSingleton(sp => sp.GetRequiredService<NexusSettings>().Ingestion);
        services.AddSingleton(sp => new MiniLmEmbedder(sp.GetRequiredService<IngestionOptions>().Embedding));
        services.AddSingleton<IEmbedder>(sp => sp.GetRequiredService<MiniLmEmbedder>());
        services.AddSingleton(sp => new Chunker(sp.GetRequiredService<IEmbedder>(), new ChunkerOptions()));
        services.AddSingleton<LexicalSearch>();
        services.AddSingleton<RetrievalService>();
        services.AddSingleton<IAnswerWriter, TenantAnswerWriter>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ReplacedVersionRemoval>();
        services.AddHostedService<IngestionSweeper>();
        return services;
    }
}

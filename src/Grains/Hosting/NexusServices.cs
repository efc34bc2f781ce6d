using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace AuroraNexus.Grains.Hosting;

public static class NexusServices
{
    /// <summary>The application services every process needs: database access, object store, stores.</summary>
    public static IServiceCollection AddNexusData(this IServiceCollection services, NexusSettings settings, NpgsqlDataSource dataSource)
    {
        services.AddSingleton(settings);
        services.AddSingleton(dataSource);
        services.AddSingleton<IObjectStore>(_ => new LocalObjectStore(settings.ObjectsDirectory));
        services.AddSingleton<IngestionRepository>();
        services.AddSingleton<ConversationRepository>();
        services.AddSingleton<SettingsRepository>();
        services.AddSingleton<UserRepository>();
        services.AddSingleton<LlmCatalogRepository>();
        services.AddSingleton(sp => new AuroraNexus.Grains.Tenancy.CredentialVault(
            sp.GetRequiredService<NexusSettings>().CredentialKeys, sp.GetRequiredService<LlmCatalogRepository>()));
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
        services.AddHttpClient<ChatCompletionsClient>();
        services.AddSingleton<IAnswerWriter, TenantAnswerWriter>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddHostedService<IngestionSweeper>();
        return services;
    }
}

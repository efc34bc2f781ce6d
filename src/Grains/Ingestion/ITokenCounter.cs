namespace AuroraNexus.Grains.Ingestion;

/// <summary>Counts tokens the way an embedding model reads text.</summary>
public interface ITokenCounter
{
    /// <summary>Tokens of <paramref name="text"/> alone, without the special tokens the model adds around every input.</summary>
    int CountTokens(string text);

    /// <summary>Most tokens of text the model reads (special tokens excluded); anything beyond is silently dropped.</summary>
    int MaxInputTokens { get; }
}

/// <summary>Turns texts into vectors; the token counting it exposes is the one its model applies.</summary>
public interface IEmbedder : ITokenCounter
{
    int Dimensions { get; }

    /// <summary>Identifies the vector space: vectors of different models are never compared.</summary>
    string ModelName { get; }

    /// <summary>One L2-normalised vector per text, in input order.</summary>
    Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken ct);

    /// <summary>One question's vector, without queueing behind bulk ingestion work.</summary>
    Task<float[]> EmbedQueryAsync(string text, CancellationToken ct);
}

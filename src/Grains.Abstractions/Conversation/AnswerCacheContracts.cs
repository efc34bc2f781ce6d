using System.Collections.Immutable;
using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Grains.Conversation;

/// <summary>An answer as it can be served again: text, outline with its grounding, citations.</summary>
[GenerateSerializer, Immutable, Alias("nexus.CachedAnswer")]
public sealed record CachedAnswer(
    [property: Id(0)] string Mode,
    [property: Id(1)] string Answer,
    [property: Id(2)] ImmutableArray<OutlineSection> Outline,
    [property: Id(3)] ImmutableArray<Citation> Citations,
    [property: Id(4)] string? Model,
    [property: Id(5)] string SuiviStatus);

/// <summary>The result of a lookup, with the generation to hand back to <see cref="IAnswerCacheGrain.PutAsync"/>.</summary>
[GenerateSerializer, Immutable, Alias("nexus.CacheLookup")]
public sealed record CacheLookup([property: Id(0)] CachedAnswer? Answer, [property: Id(1)] long Generation);

/// <summary>
/// How long the tenant's answers are served again (<see cref="TimeSpan.Zero"/>: the cache is off, nothing is stored or
/// served) and how many are kept. Given with every call, from the settings the caller already holds.
/// </summary>
[GenerateSerializer, Immutable, Alias("nexus.CachePolicy")]
public sealed record CachePolicy([property: Id(0)] TimeSpan Lifetime, [property: Id(1)] int Capacity)
{
    public bool IsOff => Lifetime <= TimeSpan.Zero || Capacity <= 0;

    public static CachePolicy Of(TenantSettings settings) =>
        new(TimeSpan.FromMinutes(settings.CacheTtlMinutes), settings.CacheMaxEntries);
}

/// <summary>
/// One per tenant (the grain key is the tenant id, so two tenants never share an entry). Keys are built by the
/// thread grain from the normalised question, the retrieval query, the settings and the model; the corpus is
/// covered by <see cref="InvalidateAsync"/>, called on every indexing and deletion.
/// </summary>
[Alias("nexus.IAnswerCacheGrain")]
public interface IAnswerCacheGrain : IGrainWithStringKey
{
    /// <summary>The answer stored under <paramref name="key"/> if it is younger than the policy's lifetime.</summary>
    [Alias("Lookup")]
    Task<CacheLookup> LookupAsync(string key, CachePolicy policy, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the answer unless the corpus changed since <paramref name="generation"/> was read or the policy turns the
    /// cache off; then drops the least recently used entries beyond the policy's capacity.
    /// </summary>
    [Alias("Put")]
    Task PutAsync(string key, CachedAnswer answer, long generation, CachePolicy policy, CancellationToken cancellationToken = default);

    [Alias("Invalidate")]
    Task InvalidateAsync(CancellationToken cancellationToken = default);
}

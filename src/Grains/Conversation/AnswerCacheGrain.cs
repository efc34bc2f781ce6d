using System.Security.Cryptography;
using System.Text;
using AuroraNexus.Grains.Tenancy;
using Orleans.Concurrency;

namespace AuroraNexus.Grains.Conversation;

/// <summary>
/// A tenant's answer cache, in memory: at most the tenant's <c>cache_max_entries</c>, each served for at most its
/// <c>cache_ttl_minutes</c> (0: none stored, none served), the least recently used dropped first. Every corpus or
/// settings change starts a new generation and empties it.
/// </summary>
[Reentrant]
public sealed class AnswerCacheGrain(TimeProvider clock) : Grain, IAnswerCacheGrain
{
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recency = new();
    private long _generation;

    public Task<CacheLookup> LookupAsync(string key, CachePolicy policy, CancellationToken cancellationToken = default)
    {
        if (_entries.TryGetValue(key, out var node))
        {
            if (!policy.IsOff && clock.GetUtcNow() - node.Value.StoredAt <= policy.Lifetime)
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                return Task.FromResult(new CacheLookup(node.Value.Answer, _generation));
            }

            Remove(node);
        }

        return Task.FromResult(new CacheLookup(null, _generation));
    }

    public Task PutAsync(string key, CachedAnswer answer, long generation, CachePolicy policy, CancellationToken cancellationToken = default)
    {
        if (generation != _generation)
        {
            // Computed on a corpus that has changed since: serving it again would be stale.
            return Task.CompletedTask;
        }

        if (policy.IsOff)
        {
            return Task.CompletedTask;
        }

        if (_entries.TryGetValue(key, out var existing))
        {
            Remove(existing);
        }

        var node = _recency.AddFirst(new Entry(key, answer, clock.GetUtcNow()));
        _entries[key] = node;
        while (_entries.Count > policy.Capacity && _recency.Last is { } oldest)
        {
            Remove(oldest);
        }

        return Task.CompletedTask;
    }

    public Task InvalidateAsync(CancellationToken cancellationToken = default)
    {
        _generation++;
        _entries.Clear();
        _recency.Clear();
        return Task.CompletedTask;
    }

    /// <summary>
    /// The cache key: everything an answer depends on besides the corpus (the cache's own settings are not). Hashed, so
    /// that keys stay short and no question text sits in the key space.
    /// </summary>
    public static string Key(string question, string retrievalQuery, int topK, TenantSettings settings, LlmRoute route)
    {
        var material = string.Join('\n',
            Normalize(question), Normalize(retrievalQuery), topK.ToString(System.Globalization.CultureInfo.InvariantCulture),
            (settings with { CacheTtlMinutes = 0, CacheMaxEntries = 0 }).ToString(), route.Source, route.ProviderName ?? "", route.ProviderKind ?? "", route.BaseUrl ?? "", route.Model ?? "",
            route.CredentialId?.ToString() ?? "");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(material)));
    }

    /// <summary>Case, accents kept; spacing, trailing punctuation and Unicode forms folded.</summary>
    public static string Normalize(string text)
    {
        var folded = text.Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        var builder = new StringBuilder(folded.Length);
        var space = false;
        foreach (var c in folded)
        {
            if (char.IsWhiteSpace(c))
            {
                space = builder.Length > 0;
                continue;
            }

            if (space)
            {
                builder.Append(' ');
                space = false;
            }

            builder.Append(c is '’' or '`' ? '\'' : c);
        }

        return builder.ToString().TrimEnd('?', '!', '.', ' ', '…');
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.Key);
    }

    private sealed record Entry(string Key, CachedAnswer Answer, DateTimeOffset StoredAt);
}

using System.Collections.Immutable;
using System.Numerics;

namespace AuroraNexus.Grains.Retrieval;

/// <summary>
/// Fuses lexical (BM25) and dense (cosine) scores by min-max normalisation — rank fusion was measured worse on
/// the French corpora because the English embedding model is the weaker signal — then picks the top K with MMR.
/// </summary>
public static class HybridRanker
{
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0f;
        var i = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            var acc = Vector<float>.Zero;
            var width = Vector<float>.Count;
            for (; i <= a.Length - width; i += width)
            {
                acc += new Vector<float>(a.Slice(i, width)) * new Vector<float>(b.Slice(i, width));
            }

            sum = Vector.Dot(acc, Vector<float>.One);
        }

        for (; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    /// <param name="vectorOf">The stored vector of a chunk, or null when the index does not hold it.</param>
    public static ImmutableArray<RankedChunk> Rank(
        RankRequest request,
        IReadOnlyList<(long ChunkId, Guid DocumentId, float[] Vector)> denseTop,
        Func<long, (Guid DocumentId, float[] Vector)?> vectorOf)
    {
        var candidates = new Dictionary<long, Candidate>();
        foreach (var (id, doc, vec) in denseTop)
        {
            candidates[id] = new Candidate(id, doc, vec, Dot(request.QueryVector, vec), 0);
        }

        foreach (var hit in request.Lexical)
        {
            if (candidates.TryGetValue(hit.ChunkId, out var c))
            {
                candidates[hit.ChunkId] = c with { Lexical = hit.Score };
            }
            else if (vectorOf(hit.ChunkId) is { } stored)
            {
                candidates[hit.ChunkId] = new Candidate(
                    hit.ChunkId, stored.DocumentId, stored.Vector, Dot(request.QueryVector, stored.Vector), hit.Score);
            }
        }

        foreach (var id in request.PreferredChunks)
        {
            if (!candidates.ContainsKey(id) && vectorOf(id) is { } stored)
            {
                candidates[id] = new Candidate(id, stored.DocumentId, stored.Vector, Dot(request.QueryVector, stored.Vector), 0);
            }
        }

        if (candidates.Count == 0)
        {
            return [];
        }

        var list = candidates.Values.ToList();
        var (dMin, dMax) = MinMax(list.Select(c => (double)c.Dense));
        var (lMin, lMax) = MinMax(list.Select(c => c.Lexical));
        var preferred = request.PreferredChunks.ToHashSet();
        var fused = list.Select(c =>
        {
            var score = Normalize(c.Lexical, lMin, lMax) + request.DenseWeight * Normalize(c.Dense, dMin, dMax);
            if (preferred.Contains(c.ChunkId))
            {
                // A resolved follow-up stays on the sources of the section it details.
                score += 1 + request.DenseWeight;
            }

            return (Candidate: c, Score: score);
        }).OrderByDescending(x => x.Score).ThenBy(x => x.Candidate.ChunkId).ToList();

        return Mmr(fused, request.TopK, request.MmrLambda);
    }

    /// <summary>
    /// Picks documents, not chunks: each document competes with its best chunk, and MMR keeps near-identical
    /// documents from crowding the list. When the tenant has fewer documents than K, the rest is filled with the
    /// next best chunks.
    /// </summary>
    private static ImmutableArray<RankedChunk> Mmr(List<(Candidate Candidate, double Score)> pool, int k, double lambda)
    {
        var bestPerDocument = pool
            .GroupBy(p => p.Candidate.DocumentId)
            .Select(g => g.First())
            .Take(Math.Max(k * 5, 50))
            .ToList();
        var selected = new List<(Candidate Candidate, double Score)>();
        var maxScore = pool[0].Score;
        while (selected.Count < k && bestPerDocument.Count > 0)
        {
            var bestIndex = 0;
            var bestValue = double.NegativeInfinity;
            for (var i = 0; i < bestPerDocument.Count; i++)
            {
                var (cand, score) = bestPerDocument[i];
                double redundancy = 0;
                foreach (var (s, _) in selected)
                {
                    redundancy = Math.Max(redundancy, Dot(cand.Vector, s.Vector));
                }

                var relevance = maxScore > 0 ? score / maxScore : score;
                var value = lambda * relevance - (1 - lambda) * redundancy;
                if (value > bestValue)
                {
                    bestValue = value;
                    bestIndex = i;
                }
            }

            selected.Add(bestPerDocument[bestIndex]);
            bestPerDocument.RemoveAt(bestIndex);
        }

        if (selected.Count < k)
        {
            var chosen = selected.Select(s => s.Candidate.ChunkId).ToHashSet();
            selected.AddRange(pool.Where(p => !chosen.Contains(p.Candidate.ChunkId)).Take(k - selected.Count));
        }

        return [.. selected.Select(s => new RankedChunk(s.Candidate.ChunkId, s.Candidate.DocumentId, s.Score))];
    }

    private static (double Min, double Max) MinMax(IEnumerable<double> values)
    {
        var min = double.PositiveInfinity;
        var max = double.NegativeInfinity;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return (min, max);
    }

    private static double Normalize(double v, double min, double max) => max > min ? (v - min) / (max - min) : (max > 0 ? 1 : 0);

    private sealed record Candidate(long ChunkId, Guid DocumentId, float[] Vector, float Dense, double Lexical);
}

using System.Collections.Immutable;
using System.Numerics;

namespace AuroraNexus.Grains.Retrieval;

/// <summary>
/// Fuses the chunk's BM25, its cosine with the question, and its document's whole-document BM25 and first-line score,
/// each min-max normalised over the candidates and weighted by the tenant's settings — rank fusion was measured worse
/// on the French corpora because the English embedding model is the weaker signal — then picks the top K with MMR.
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
    /// <param name="chunksOf">The chunks the index holds for a document.</param>
    public static ImmutableArray<RankedChunk> Rank(
        RankRequest request,
        IReadOnlyList<(long ChunkId, Guid DocumentId, float[] Vector)> denseTop,
        Func<long, (Guid DocumentId, float[] Vector)?> vectorOf,
        Func<Guid, IEnumerable<long>> chunksOf)
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

        var documents = request.Documents.IsDefault ? [] : request.Documents;
        if (request.DocumentWeight > 0 || request.LeadWeight > 0)
        {
            // A document found as a whole competes with its chunk closest to the question.
            var present = candidates.Values.Select(c => c.DocumentId).ToHashSet();
            foreach (var d in documents.Where(d => !present.Contains(d.DocumentId)))
            {
                Candidate? best = null;
                foreach (var id in chunksOf(d.DocumentId))
                {
                    if (vectorOf(id) is { } stored)
                    {
                        var closeness = Dot(request.QueryVector, stored.Vector);
                        if (best is null || closeness > best.Dense)
                        {
                            best = new Candidate(id, d.DocumentId, stored.Vector, closeness, 0);
                        }
                    }
                }

                if (best is not null)
                {
                    candidates[best.ChunkId] = best;
                }
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
        var docScore = documents.ToDictionary(d => d.DocumentId, d => d.Score);
        var leadScore = documents.ToDictionary(d => d.DocumentId, d => d.Lead);
        var lexical = Scaled(list, c => c.Lexical);
        var dense = Scaled(list, c => c.Dense);
        var whole = Scaled(list, c => docScore.GetValueOrDefault(c.DocumentId));
        var lead = Scaled(list, c => leadScore.GetValueOrDefault(c.DocumentId));
        var preferred = request.PreferredChunks.ToHashSet();
        var fused = list.Select(c =>
        {
            var score = lexical(c) + request.DenseWeight * dense(c) + request.DocumentWeight * whole(c) + request.LeadWeight * lead(c);
            if (preferred.Contains(c.ChunkId))
            {
                // A resolved follow-up stays on the sources of the section it details.
                score += 1 + request.DenseWeight + request.DocumentWeight + request.LeadWeight;
            }

            return (Candidate: c, Score: score);
        }).OrderByDescending(x => x.Score).ThenBy(x => x.Candidate.ChunkId).ToList();

        return Mmr(fused, request.TopK, request.MmrLambda);
    }

    /// <summary>Min-max normalisation of a signal over the candidates.</summary>
    private static Func<Candidate, double> Scaled(List<Candidate> list, Func<Candidate, double> signal)
    {
        var (min, max) = MinMax(list.Select(signal));
        return c => Normalize(signal(c), min, max);
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

using System.Collections.Immutable;
using Npgsql;

namespace AuroraNexus.Grains.Retrieval;

public sealed record ChunkText(long ChunkId, Guid DocumentId, string FileName, int ChunkIndex, string Text);

/// <summary>
/// French full-text retrieval on PostgreSQL: the question and the chunks go through the same
/// <c>nexus_french</c> configuration (unaccent + Snowball French stemmer + stop words), and chunks are
/// scored with BM25 over the tenant's own chunks (document frequencies are the tenant's, never global).
/// </summary>
public sealed class LexicalSearch(NpgsqlDataSource db)
{
    private const double K1 = 1.2;
    private const double B = 0.75;

    public async Task<ImmutableArray<LexicalHit>> SearchAsync(string tenantId, string query, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            WITH q AS (
                SELECT DISTINCT lexeme FROM unnest(to_tsvector('nexus_french', @q))
            ),
            tsq AS (
                SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS query FROM q
            ),
            stats AS (
                SELECT count(*)::float8 AS n, coalesce(avg(length(tsv)), 1)::float8 AS avgdl
                FROM chunks WHERE tenant_id = @t
            ),
            m AS (
                SELECT c.id, length(c.tsv)::float8 AS dl, u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS tf
                FROM chunks c, tsq, unnest(c.tsv) AS u
                WHERE c.tenant_id = @t AND tsq.query IS NOT NULL AND c.tsv @@ tsq.query
                  AND u.lexeme IN (SELECT lexeme FROM q)
            ),
            df AS (
                SELECT lexeme, count(*)::float8 AS df FROM m GROUP BY lexeme
            )
            SELECT m.id,
                   sum(ln(1 + (stats.n - df.df + 0.5) / (df.df + 0.5))
                       * m.tf * (@k1 + 1) / (m.tf + @k1 * (1 - @b + @b * m.dl / stats.avgdl))) AS score
            FROM m JOIN df USING (lexeme), stats
            GROUP BY m.id
            ORDER BY score DESC, m.id
            LIMIT @limit
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("q", query);
        cmd.Parameters.AddWithValue("k1", K1);
        cmd.Parameters.AddWithValue("b", B);
        cmd.Parameters.AddWithValue("limit", limit);
        var hits = ImmutableArray.CreateBuilder<LexicalHit>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            hits.Add(new LexicalHit(r.GetInt64(0), r.GetDouble(1)));
        }

        return hits.ToImmutable();
    }

    /// <summary>Loads the texts of the given chunks, in the given order, from this tenant only.</summary>
    public async Task<IReadOnlyList<ChunkText>> LoadChunksAsync(string tenantId, IReadOnlyList<long> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        await using var cmd = db.CreateCommand(
            """
            SELECT c.id, c.document_id, d.filename, c.chunk_index, c.text
            FROM chunks c JOIN documents d ON d.id = c.document_id AND d.tenant_id = c.tenant_id
            WHERE c.tenant_id = @t AND c.id = ANY(@ids) AND d.status = 'indexed'
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("ids", ids.ToArray());
        var byId = new Dictionary<long, ChunkText>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            byId[r.GetInt64(0)] = new ChunkText(r.GetInt64(0), r.GetGuid(1), r.GetString(2), r.GetInt32(3), r.GetString(4));
        }

        return [.. ids.Where(byId.ContainsKey).Select(id => byId[id])];
    }
}

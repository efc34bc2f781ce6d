using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Npgsql;

namespace AuroraNexus.Grains.Retrieval;

public sealed record ChunkText(long ChunkId, Guid DocumentId, string FileName, int ChunkIndex, string Text);

/// <param name="Limit">Chunks and documents returned, each.</param>
/// <param name="AccentStemWeight">Weight of the accent-kept stemming column added to the accent-folded one; 0 to skip it.</param>
/// <param name="Documents">Whether to score whole documents too.</param>
/// <param name="Lead">Whether to score the first line of each document too.</param>
/// <param name="AsideWeight">
/// Weight of the words that appear only inside parentheses of the question (an acronym's expansion, a clarification),
/// against 1 for the rest.
/// </param>
public sealed record LexicalOptions(int Limit, double K1, double B, double AccentStemWeight, bool Documents, bool Lead, double AsideWeight = 1);

/// <summary>The best chunks and the best documents for a question.</summary>
public sealed record LexicalResult(ImmutableArray<LexicalHit> Chunks, ImmutableArray<DocumentHit> Documents)
{
    /// <summary>Adds <paramref name="weight"/> times the scores of <paramref name="other"/> to those of <paramref name="first"/>.</summary>
    public static LexicalResult Combine(LexicalResult first, LexicalResult other, double weight, int limit)
    {
        var chunks = first.Chunks.ToDictionary(h => h.ChunkId, h => h.Score);
        foreach (var h in other.Chunks)
        {
            chunks[h.ChunkId] = chunks.GetValueOrDefault(h.ChunkId) + weight * h.Score;
        }

        var documents = first.Documents.ToDictionary(h => h.DocumentId, h => (h.Score, h.Lead));
        foreach (var h in other.Documents)
        {
            var (score, lead) = documents.GetValueOrDefault(h.DocumentId);
            documents[h.DocumentId] = (score + weight * h.Score, lead + weight * h.Lead);
        }

        return new LexicalResult(
            [.. chunks.OrderByDescending(p => p.Value).ThenBy(p => p.Key).Take(limit).Select(p => new LexicalHit(p.Key, p.Value))],
            [.. documents.OrderByDescending(p => p.Value.Score).ThenBy(p => p.Key).Take(limit)
                .Select(p => new DocumentHit(p.Key, p.Value.Score, p.Value.Lead))]);
    }
}

/// <summary>
/// French full-text retrieval on PostgreSQL: the question and the chunks go through the same configuration —
/// <c>nexus_french</c> (unaccent + Snowball French stemmer + stop words) and, weighted, <c>nexus_french_accents</c>
/// (the stemmer on the words as written) — and are scored with BM25 over the tenant's own chunks and documents
/// (document frequencies are the tenant's, never global). A document's first line is scored apart.
/// </summary>
public sealed partial class LexicalSearch(NpgsqlDataSource db)
{
    /// <summary>The full-text columns of <c>chunks</c> (whole text, first line) and the configuration both are built with.</summary>
    private static readonly (string Column, string Lead, string Config)[] Columns =
        [("tsv", "lead_tsv", "nexus_french"), ("tsv_accents", "lead_tsv_accents", "nexus_french_accents")];

    /// <summary>
    /// Words that shape a question rather than say what it is about ("comment", "quel", "peut-on", "faire"...). Documents
    /// rarely contain the interrogatives, so their rarity gave them the heaviest weights; measured on the dev questions,
    /// leaving them out of the full-text query ranks the answering document higher. A question made only of them keeps them.
    /// </summary>
    internal const string QuestionWords =
        "comment quel quels quelle quelles quoi pourquoi quand combien peut peux puis doit dois faut faire a été " +
        "how what which why when can could should would does do";

    /// <summary>One innermost group in parentheses.</summary>
    [GeneratedRegex(@"\([^()]*\)")]
    private static partial Regex Asides();

    /// <summary>
    /// The question without what it says in parentheses (nested groups and full-width parentheses included), whose words
    /// are weighted by <see cref="LexicalOptions.AsideWeight"/>. An unbalanced parenthesis is left as it is.
    /// </summary>
    internal static string WithoutAsides(string question)
    {
        var text = question.Replace('（', '(').Replace('）', ')');
        for (var i = 0; i < 32; i++)
        {
            var next = Asides().Replace(text, " ");
            if (next.Length == text.Length)
            {
                break;
            }

            text = next;
        }

        return text;
    }

    public async Task<LexicalResult> SearchAsync(string tenantId, string query, LexicalOptions options, CancellationToken ct)
    {
        var folded = SearchColumnAsync(tenantId, query, Columns[0], options, ct);
        if (options.AccentStemWeight <= 0)
        {
            return await folded;
        }

        var accents = await SearchColumnAsync(tenantId, query, Columns[1], options, ct);
        return LexicalResult.Combine(await folded, accents, options.AccentStemWeight, options.Limit);
    }

    private async Task<LexicalResult> SearchColumnAsync(
        string tenantId, string query, (string Column, string Lead, string Config) source, LexicalOptions options, CancellationToken ct)
    {
        var (col, leadCol, cfg) = source;
        await using var cmd = db.CreateCommand(
            $$"""
            WITH asked AS (
                SELECT DISTINCT lexeme FROM unnest(to_tsvector('{{cfg}}', @q))
            ),
            kept AS (
                SELECT lexeme FROM asked WHERE lexeme NOT IN (SELECT lexeme FROM unnest(to_tsvector('{{cfg}}', @qwords)))
            ),
            q AS (
                SELECT lexeme FROM kept
                UNION ALL
                SELECT lexeme FROM asked WHERE NOT EXISTS (SELECT 1 FROM kept)
            ),
            main AS (
                SELECT lexeme FROM unnest(to_tsvector('{{cfg}}', @main))
            ),
            qw AS (
                SELECT lexeme, CASE WHEN lexeme IN (SELECT lexeme FROM main) OR NOT EXISTS (SELECT 1 FROM main JOIN q USING (lexeme))
                                    THEN 1.0 ELSE @aside END::float8 AS w
                FROM q
            ),
            tsq AS (
                SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS query FROM q
            ),
            stats AS (
                SELECT count(*)::float8 AS n, coalesce(avg(length({{col}})), 1)::float8 AS avgdl,
                       greatest(count(DISTINCT document_id), 1)::float8 AS docs,
                       greatest(sum(token_count), 1)::float8 AS tokens
                FROM chunks WHERE tenant_id = @t
            ),
            m AS (
                SELECT c.id, c.document_id, length(c.{{col}})::float8 AS dl, u.lexeme,
                       coalesce(array_length(u.positions, 1), 1)::float8 AS tf
                FROM chunks c, tsq, unnest(c.{{col}}) AS u
                WHERE c.tenant_id = @t AND tsq.query IS NOT NULL AND c.{{col}} @@ tsq.query
                  AND u.lexeme IN (SELECT lexeme FROM q)
            ),
            df AS (
                SELECT lexeme, count(*)::float8 AS df, count(DISTINCT document_id)::float8 AS ddf FROM m GROUP BY lexeme
            ),
            chunk AS (
                SELECT m.id, m.document_id,
                       sum(qw.w * ln(1 + (stats.n - df.df + 0.5) / (df.df + 0.5))
                           * m.tf * (@k1 + 1) / (m.tf + @k1 * (1 - @b + @b * m.dl / stats.avgdl))) AS score
                FROM m JOIN df USING (lexeme) JOIN qw USING (lexeme), stats
                GROUP BY m.id, m.document_id
            ),
            dm AS (
                SELECT document_id, lexeme, sum(tf) AS tf FROM m GROUP BY document_id, lexeme
            ),
            dl AS (
                SELECT document_id, sum(token_count)::float8 AS dl FROM chunks
                WHERE tenant_id = @t AND document_id IN (SELECT document_id FROM dm)
                GROUP BY document_id
            ),
            doc AS (
                SELECT dm.document_id,
                       sum(qw.w * ln(1 + (stats.docs - df.ddf + 0.5) / (df.ddf + 0.5))
                           * dm.tf * (@k1 + 1) / (dm.tf + @k1 * (1 - @b + @b * dl.dl * stats.docs / stats.tokens))) AS score
                FROM dm JOIN df USING (lexeme) JOIN qw USING (lexeme) JOIN dl USING (document_id), stats
                GROUP BY dm.document_id
            ),
            lead AS (
                SELECT c.document_id, sum(qw.w * ln(1 + (stats.docs - df.ddf + 0.5) / (df.ddf + 0.5))) AS score
                FROM chunks c, stats, unnest(c.{{leadCol}}) AS u JOIN df USING (lexeme) JOIN qw USING (lexeme)
                WHERE c.tenant_id = @t AND c.chunk_index = 0 AND @lead
                  AND c.document_id IN (SELECT document_id FROM dm)
                GROUP BY c.document_id
            )
            (SELECT id, document_id, score, 0::float8 FROM chunk ORDER BY score DESC, id LIMIT @limit)
            UNION ALL
            (SELECT 0::int8, doc.document_id, doc.score, coalesce(lead.score, 0) FROM doc LEFT JOIN lead USING (document_id)
             WHERE @documents ORDER BY doc.score DESC, doc.document_id LIMIT @limit)
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("q", query);
        cmd.Parameters.AddWithValue("main", WithoutAsides(query));
        cmd.Parameters.AddWithValue("aside", options.AsideWeight);
        cmd.Parameters.AddWithValue("qwords", QuestionWords);
        cmd.Parameters.AddWithValue("k1", options.K1);
        cmd.Parameters.AddWithValue("b", options.B);
        cmd.Parameters.AddWithValue("limit", options.Limit);
        cmd.Parameters.AddWithValue("documents", options.Documents);
        cmd.Parameters.AddWithValue("lead", options.Lead);
        var chunks = ImmutableArray.CreateBuilder<LexicalHit>();
        var documents = ImmutableArray.CreateBuilder<DocumentHit>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            if (r.GetInt64(0) == 0)
            {
                documents.Add(new DocumentHit(r.GetGuid(1), r.GetDouble(2), r.GetDouble(3)));
            }
            else
            {
                chunks.Add(new LexicalHit(r.GetInt64(0), r.GetDouble(2)));
            }
        }

        return new LexicalResult(chunks.ToImmutable(), documents.ToImmutable());
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

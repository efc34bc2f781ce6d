using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Tests.Infrastructure;
using Npgsql;

namespace AuroraNexus.Tests.Retrieval;

/// <summary>French full-text search on a real PostgreSQL with the product's schema.</summary>
[Collection("postgres")]
public sealed class LexicalSearchTests(PostgresFixture postgres)
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly LexicalOptions Options = new(20, 0.6, 0.75, 1.0, Documents: true, Lead: true);

    [Fact]
    public async Task Interrogatives_do_not_find_documents_by_themselves_but_the_subject_does()
    {
        await using var db = await SeedAsync("lexical_question_words", ("acme",
        [
            ("resiliation.txt", "Résilier un abonnement\nVous pouvez résilier votre abonnement par lettre recommandée."),
            ("commentaires.txt", "Comment fonctionne la commission\nComment, quand et pourquoi la commission se réunit : chaque mois."),
        ]));
        var search = new LexicalSearch(db);

        var result = await search.SearchAsync("acme", "Comment résilier mon abonnement ?", Options, Ct);

        var names = await FileNamesAsync(db, result);
        Assert.Equal(["resiliation.txt"], names);
    }

    [Fact]
    public async Task Words_in_parentheses_count_less_so_the_document_that_answers_outranks_the_one_that_defines()
    {
        await using var db = await SeedAsync("lexical_asides", ("acme",
        [
            ("faed.txt", "Le Fichier automatisé des empreintes digitales (FAED) contient les empreintes des personnes mises en cause dans une procédure pénale et les traces relevées sur les lieux d'une infraction."),
            ("faed-consultation.txt", "Seuls les agents habilités ont directement accès au FAED. Les officiers de police judiciaire sont destinataires des résultats de la consultation du fichier. Le FAED peut également être consulté par les services de police d'États étrangers."),
            ("faed-duree.txt", "Les informations du FAED sont conservées 25 ans. Vous pouvez demander leur effacement."),
            ("permis.txt", "Le permis de conduire se demande en ligne."),
        ]));
        var search = new LexicalSearch(db);
        const string question = "FAED (Fichier automatisé des empreintes digitales) : qui peut le consulter ?";

        var asides = await FileNamesAsync(db, await search.SearchAsync("acme", question, Options with { AsideWeight = 0.25 }, Ct));
        var flat = await FileNamesAsync(db, await search.SearchAsync("acme", question, Options with { AsideWeight = 1 }, Ct));

        Assert.Equal("faed-consultation.txt", asides[0]);
        Assert.Equal("faed.txt", flat[0]);

        // A question that is all parentheses keeps its words at full weight.
        var onlyAside = await FileNamesAsync(db, await search.SearchAsync("acme", "(permis de conduire)", Options with { AsideWeight = 0 }, Ct));
        Assert.Equal("permis.txt", onlyAside[0]);
    }

    [Theory]
    [InlineData("FAED (Fichier automatisé) : qui ?", "FAED   : qui ?")]
    [InlineData("CNIL (Commission (nationale) informatique) : c'est quoi ?", "CNIL   : c'est quoi ?")]
    [InlineData("SIV（Système d'immatriculation）: accès", "SIV : accès")]
    [InlineData("Pourquoi (sans fin", "Pourquoi (sans fin")]
    [InlineData("()", " ")]
    public void What_a_question_says_in_parentheses_is_set_apart_nested_and_full_width_included(string question, string main) =>
        Assert.Equal(main.Replace(" ", ""), LexicalSearch.WithoutAsides(question).Replace(" ", ""));

    [Fact]
    public async Task A_question_made_only_of_question_words_still_searches_with_them()
    {
        await using var db = await SeedAsync("lexical_only_question_words", ("acme",
        [
            ("resiliation.txt", "Résilier un abonnement\nVous pouvez résilier votre abonnement par lettre recommandée."),
            ("commentaires.txt", "Comment fonctionne la commission\nComment, quand et pourquoi la commission se réunit : chaque mois."),
        ]));
        var search = new LexicalSearch(db);

        var result = await search.SearchAsync("acme", "Comment ? Pourquoi ? Quand ?", Options, Ct);

        Assert.Equal(["commentaires.txt"], await FileNamesAsync(db, result));
    }

    [Fact]
    public async Task Another_tenants_chunks_are_neither_found_nor_counted()
    {
        await using var db = await SeedAsync("lexical_tenants",
            ("acme", [("mediation.txt", "La médiation familiale\nLe médiateur aide les parents à trouver un accord.")]),
            ("globex", [("mediation-globex.txt", "La médiation de la consommation\nUn médiateur règle le litige avec le vendeur."),
                        ("vendeur.txt", "Le vendeur et la médiation\nLa médiation est gratuite pour le consommateur.")]));
        var search = new LexicalSearch(db);

        var acme = await search.SearchAsync("acme", "médiation vendeur", Options, Ct);
        var alone = await SeedAsync("lexical_tenant_alone",
            ("acme", [("mediation.txt", "La médiation familiale\nLe médiateur aide les parents à trouver un accord.")]));
        await using (alone)
        {
            var reference = await new LexicalSearch(alone).SearchAsync("acme", "médiation vendeur", Options, Ct);

            Assert.Equal(["mediation.txt"], await FileNamesAsync(db, acme));
            // Scores depend on the tenant's own statistics only: the same corpus alone scores the same.
            Assert.Equal(reference.Chunks.Select(c => c.Score), acme.Chunks.Select(c => c.Score));
            Assert.Equal(reference.Documents.Select(d => (d.Score, d.Lead)), acme.Documents.Select(d => (d.Score, d.Lead)));
        }
    }

    private async Task<NpgsqlDataSource> SeedAsync(string name, params (string Tenant, (string File, string Text)[] Docs)[] tenants)
    {
        var db = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync(name));
        await MigrationRunner.ApplyAsync(db, Ct);
        foreach (var (tenant, docs) in tenants)
        {
            await using (var t = db.CreateCommand("INSERT INTO tenants (id, name) VALUES (@t, @t) ON CONFLICT DO NOTHING"))
            {
                t.Parameters.AddWithValue("t", tenant);
                await t.ExecuteNonQueryAsync(Ct);
            }

            foreach (var (file, text) in docs)
            {
                var id = Guid.NewGuid();
                await using var cmd = db.CreateCommand(
                    """
                    INSERT INTO documents (id, tenant_id, caller_app, filename, size_bytes, object_key, status, chunk_count)
                    VALUES (@id, @t, 'tests', @f, @size, @f, 'indexed', 1);
                    INSERT INTO chunks (tenant_id, document_id, chunk_index, text, token_count, embedding_model, embedding)
                    VALUES (@t, @id, 0, @text, @tokens, 'test', ARRAY[1, 0]::real[]);
                    """);
                cmd.Parameters.AddWithValue("id", id);
                cmd.Parameters.AddWithValue("t", tenant);
                cmd.Parameters.AddWithValue("f", file);
                cmd.Parameters.AddWithValue("size", (long)text.Length);
                cmd.Parameters.AddWithValue("text", text);
                cmd.Parameters.AddWithValue("tokens", text.Split(' ').Length);
                await cmd.ExecuteNonQueryAsync(Ct);
            }
        }

        return db;
    }

    private static async Task<string[]> FileNamesAsync(NpgsqlDataSource db, LexicalResult result)
    {
        var names = new List<string>();
        foreach (var hit in result.Documents)
        {
            await using var cmd = db.CreateCommand("SELECT filename FROM documents WHERE id = @id");
            cmd.Parameters.AddWithValue("id", hit.DocumentId);
            names.Add((string)(await cmd.ExecuteScalarAsync(Ct))!);
        }

        return [.. names];
    }
}

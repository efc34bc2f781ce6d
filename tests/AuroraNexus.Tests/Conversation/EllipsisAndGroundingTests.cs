using System.Collections.Immutable;
using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Tests.Conversation;

public sealed class EllipsisAndGroundingTests
{
    [Theory]
    [InlineData("Et pour un mineur ?", "Comment changer de nom ?", "Comment changer de nom pour un mineur ?")]
    [InlineData("et si je suis mineur ?", "Comment changer de nom ?", "Comment changer de nom si je suis mineur ?")]
    [InlineData("Et dans le cas d'un divorce ?", "Comment changer de nom ?", "Comment changer de nom dans le cas d'un divorce ?")]
    [InlineData("Qu'en est-il des mineurs ?", "Comment changer de nom ?", "Comment changer de nom des mineurs ?")]
    [InlineData("Et un mineur ?", "Comment changer de nom ?", "Comment changer de nom un mineur ?")]
    [InlineData("What about minors?", "How do I change my name?", "How do I change my name minors ?")]
    [InlineData("And for a minor?", "How do I change my name?", "How do I change my name for a minor ?")]
    public void An_elliptical_question_takes_the_subject_of_the_previous_one(string question, string previous, string expected) =>
        Assert.Equal(expected, EllipsisRewriter.Rewrite(question, previous));

    [Theory]
    [InlineData("Comment changer de prénom ?", "Comment changer de nom ?")]
    [InlineData("Etre mineur change-t-il quelque chose ?", "Comment changer de nom ?")]
    [InlineData("Et comment faire une demande d'aide médicale de l'État quand on vit en France depuis trois mois ?", "Comment changer de nom ?")]
    [InlineData("Et pour un mineur ?", null)]
    [InlineData("Et comment contester une amende de stationnement ?", "Comment changer de nom ?")]
    [InlineData("And how do I renew a passport?", "How do I change my name?")]
    [InlineData("Et quels documents fournir ?", "Comment changer de nom ?")]
    public void A_question_that_stands_on_its_own_is_not_rewritten(string question, string? previous) =>
        Assert.Null(EllipsisRewriter.Rewrite(question, previous));

    [Fact]
    public void A_completed_question_never_exceeds_the_question_limit()
    {
        var rewritten = EllipsisRewriter.Rewrite("Et pour un mineur de moins de seize ans ?", new string('x', 3990) + " ?");
        Assert.NotNull(rewritten);
        Assert.True(rewritten.Length <= EllipsisRewriter.MaxLength, $"{rewritten.Length} characters");
        Assert.EndsWith("pour un mineur de moins de seize ans ?", rewritten);
    }

    [Theory]
    [InlineData("1. Partie 1", "Partie 1")]
    [InlineData("II) Démarches", "Démarches")]
    [InlineData("**B. Recours**", "Recours")]
    [InlineData("2024 en chiffres", "2024 en chiffres")]
    public void Outline_titles_lose_the_answers_own_list_numbering(string raw, string expected) =>
        Assert.Equal(expected, SuiviBlock.CleanTitle(raw));

    [Fact]
    public void Each_part_is_grounded_in_the_passages_it_cites()
    {
        Passage P(long id) => new(id, Guid.Empty, $"f{id}.txt", 0, 1, "texte");
        var passages = new[] { P(10), P(20), P(30), P(40) };
        const string answer =
            """
            ## 1. Conditions
            Il faut résider en France [1][2].

            ## 2. Démarches
            La demande se fait en mairie [3].

            ## 3. Délais
            Le délai est de deux mois.

            ## 4. Recours
            Un recours est possible [4] [9].

            SUIVI
            [S1] Conditions
            [S2] Démarches
            [S3] Délais
            [S4] Recours
            """;
        var parsed = SuiviBlock.Parse(answer);
        var outline = SectionGrounding.Ground(answer, parsed.Sections, passages);
        Assert.Equal([10L, 20L], outline[0].ChunkIds.ToArray());
        Assert.Equal([30L], outline[1].ChunkIds.ToArray());
        Assert.Equal([10L, 20L, 30L, 40L], outline[2].ChunkIds.ToArray()); // no citation: every passage
        Assert.Equal([40L], outline[3].ChunkIds.ToArray()); // [9] does not exist
    }

    [Fact]
    public void Cache_keys_fold_spacing_case_and_punctuation_but_not_settings_or_model()
    {
        var route = new LlmRoute("tenant_credential", "openrouter", "openrouter", "https://x", "m1", Guid.Empty, "main", "****", null);
        var settings = TenantSettings.Defaults;
        var key = AnswerCacheGrain.Key("Qu'est-ce que l'AME ?", "Qu'est-ce que l'AME ?", 10, settings, route);
        Assert.Equal(key, AnswerCacheGrain.Key("  qu’est-ce   QUE l'AME?", "qu'est-ce que l'ame", 10, settings, route));
        Assert.NotEqual(key, AnswerCacheGrain.Key("Qu'est-ce que l'AME ?", "Qu'est-ce que l'AME ?", 10, settings with { RetrieveK = 12 }, route));
        Assert.Equal(key, AnswerCacheGrain.Key("Qu'est-ce que l'AME ?", "Qu'est-ce que l'AME ?", 10,
            settings with { CacheTtlMinutes = 5, CacheMaxEntries = 10 }, route)); // the cache's own settings change no answer
        Assert.NotEqual(key, AnswerCacheGrain.Key("Qu'est-ce que l'AME ?", "Qu'est-ce que l'AME ?", 10, settings, route with { Model = "m2" }));
        Assert.NotEqual(key, AnswerCacheGrain.Key("Qu'est-ce que l'AME ?", "Qu'est-ce que l'AME ?", 12, settings, route));
        Assert.NotEqual(key, AnswerCacheGrain.Key("Qu'est-ce que l'AME ?", "Qu'est-ce que l'AME ?", 10, settings, route with { BaseUrl = "https://y" }));
        Assert.DoesNotContain("AME", key, StringComparison.OrdinalIgnoreCase);
    }
}

using AuroraNexus.Grains.Conversation;

namespace AuroraNexus.Tests.Conversation;

public sealed class SuiviBlockTests
{
    private const string Body = """
        Le contrat à durée déterminée (CDD) ne peut être conclu que pour une tâche précise et temporaire.

        Il doit être écrit et transmis au salarié au plus tard dans les deux jours ouvrables suivant l'embauche.
        """;

    private static string[] Titles(SuiviParseResult result) => [.. result.Sections.Select(s => s.Title)];

    private static string[] Ids(SuiviParseResult result) => [.. result.Sections.Select(s => s.Id)];

    [Fact]
    public void Canonical_block_is_compliant_and_split_from_the_body()
    {
        var answer = Body + """


            SUIVI
            [S1] Cas de recours autorisés
            [S2] Durée maximale et renouvellement
            [S3] Mentions obligatoires du contrat
            [S4] Indemnité de fin de contrat
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Compliant, result.Status);
        Assert.Empty(result.Problems);
        Assert.Equal(["S1", "S2", "S3", "S4"], Ids(result));
        Assert.Equal("Durée maximale et renouvellement", result.Sections[1].Title);
        Assert.Equal(Body, result.Body);
    }

    [Fact]
    public void Windows_line_endings_are_still_compliant()
    {
        var answer = "Réponse.\r\n\r\nSUIVI\r\n[S1] Un\r\n[S2] Deux\r\n[S3] Trois\r\n[S4] Quatre\r\n";

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Compliant, result.Status);
        Assert.Equal("Réponse.", result.Body);
    }

    [Fact]
    public void Translated_header_follow_up_is_repaired_from_its_own_items()
    {
        var answer = """
            A fixed-term contract may only be used for a temporary task.

            FOLLOW-UP
            [S1] Authorised cases
            [S2] Maximum duration
            [S3] Mandatory clauses
            [S4] End-of-contract allowance
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.HeaderNotCanonical, result.Problems);
        Assert.Equal(["Authorised cases", "Maximum duration", "Mandatory clauses", "End-of-contract allowance"], Titles(result));
        Assert.Equal("A fixed-term contract may only be used for a temporary task.", result.Body);
    }

    [Fact]
    public void French_header_with_colon_and_numbered_items_is_repaired()
    {
        var answer = Body + """


            Suivi :
            1. Cas de recours autorisés
            2. Durée maximale
            3. Mentions obligatoires
            4. Indemnité de précarité
            5. Requalification en CDI
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.HeaderNotCanonical, result.Problems);
        Assert.Contains(SuiviProblems.NumberingNotCanonical, result.Problems);
        Assert.Equal(["S1", "S2", "S3", "S4", "S5"], Ids(result));
        Assert.Equal("Requalification en CDI", result.Sections[4].Title);
        Assert.Equal(Body, result.Body);
    }

    [Fact]
    public void Bold_header_with_bulleted_sids_is_repaired()
    {
        var answer = """
            Les cookies de mesure d'audience peuvent être exemptés de consentement sous conditions.

            **SUIVI**
            - [S1] Finalité strictement limitée
            - [S2] Données anonymisées
            - [S3] Durée de vie de 13 mois
            - [S4] Information des utilisateurs
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Equal(["Finalité strictement limitée", "Données anonymisées", "Durée de vie de 13 mois", "Information des utilisateurs"], Titles(result));
        Assert.DoesNotContain("SUIVI", result.Body);
    }

    [Fact]
    public void Markdown_heading_header_with_s1_colon_numbering_is_repaired()
    {
        var answer = """
            La vidéosurveillance des salariés est encadrée par le Code du travail et le RGPD.

            ## SUIVI
            S1: Information préalable des salariés
            S2: Consultation du CSE
            S3: Durée de conservation des images
            S4: Droits d'accès aux enregistrements
            S5: Sanctions de la CNIL
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Equal(5, result.Sections.Length);
        Assert.Equal("Consultation du CSE", result.Sections[1].Title);
    }

    [Fact]
    public void Parenthesised_sids_under_follow_up_colon_are_repaired()
    {
        var answer = """
            You can request a full copy of a birth certificate from the town hall of the place of birth.

            Follow-up:
            (S1) Who may request a full copy
            (S2) Online request
            (S3) Processing times
            (S4) Certificates for people born abroad
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Equal("Who may request a full copy", result.Sections[0].Title);
        Assert.Equal("Certificates for people born abroad", result.Sections[3].Title);
    }

    [Fact]
    public void Letter_numbering_is_renumbered_as_sids()
    {
        var answer = """
            Le changement de prénom se demande à la mairie du lieu de résidence ou de naissance.

            SUIVI
            A) Pièces justificatives
            B) Intérêt légitime
            C) Saisine du procureur
            D) Mise à jour des actes
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.NumberingNotCanonical, result.Problems);
        Assert.Equal(["S1", "S2", "S3", "S4"], Ids(result));
        Assert.Equal("Intérêt légitime", result.Sections[1].Title);
    }

    [Fact]
    public void Skipped_numbers_are_renumbered_consecutively()
    {
        var answer = "Réponse.\n\nSUIVI\n[S1] Un\n[S2] Deux\n[S4] Quatre\n[S5] Cinq";

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Equal(["S1", "S2", "S3", "S4"], Ids(result));
        Assert.Equal(["Un", "Deux", "Quatre", "Cinq"], Titles(result));
    }

    [Fact]
    public void Text_after_the_block_is_moved_into_the_body()
    {
        var answer = Body + """


            SUIVI
            [S1] Cas de recours autorisés
            [S2] Durée maximale
            [S3] Mentions obligatoires
            [S4] Indemnité de fin de contrat

            N'hésitez pas à me demander si vous souhaitez que je détaille l'un de ces points.
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.TextAfterBlock, result.Problems);
        Assert.Equal(4, result.Sections.Length);
        Assert.EndsWith("détaille l'un de ces points.", result.Body);
        Assert.EndsWith("[S4] Indemnité de fin de contrat", SuiviBlock.Normalize(answer));
    }

    [Fact]
    public void More_than_eight_items_keep_the_first_eight()
    {
        var items = string.Join('\n', Enumerable.Range(1, 10).Select(i => $"[S{i}] Point numéro {i}"));
        var answer = "Réponse détaillée.\n\nSUIVI\n" + items;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.TooManyItems, result.Problems);
        Assert.Equal(8, result.Sections.Length);
        Assert.Equal("Point numéro 8", result.Sections[7].Title);
    }

    [Fact]
    public void Too_few_items_are_rebuilt_from_the_answer_bold_lead_ins()
    {
        var answer = """
            Voici les obligations de l'employeur qui installe des caméras :

            **Information des salariés** : chaque salarié doit être informé individuellement.
            **Consultation du CSE** : le comité doit être consulté avant la mise en place.
            **Durée de conservation** : les images ne sont pas conservées plus d'un mois.
            **Registre des traitements** : le dispositif doit y être inscrit.

            SUIVI
            [S1] Information
            [S2] CSE
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.TooFewItems, result.Problems);
        Assert.Contains(SuiviProblems.RebuiltFromStructure, result.Problems);
        Assert.Equal(["Information des salariés", "Consultation du CSE", "Durée de conservation", "Registre des traitements"], Titles(result));
        Assert.DoesNotContain("[S1] Information", result.Body);
    }

    [Fact]
    public void Missing_block_is_rebuilt_from_markdown_headings()
    {
        var answer = """
            # Le congé de naissance

            ## Bénéficiaires
            Le père salarié et, le cas échéant, le conjoint de la mère.

            ## Durée
            Trois jours ouvrables.

            ## Démarches
            Informer l'employeur et fournir l'acte de naissance.

            ## Rémunération
            Le congé est rémunéré par l'employeur.

            ## Cumul avec le congé de paternité
            Les deux congés se cumulent.
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.BlockMissing, result.Problems);
        Assert.Equal(["Bénéficiaires", "Durée", "Démarches", "Rémunération", "Cumul avec le congé de paternité"], Titles(result));
    }

    [Fact]
    public void Missing_block_is_rebuilt_from_a_numbered_list_with_bold_labels()
    {
        var answer = """
            Pour obtenir un extrait d'acte de naissance, plusieurs voies existent :

            1. **En ligne** : sur le site de la commune ou via le service public.
            2. **Par courrier** : en écrivant à la mairie du lieu de naissance.
            3. **Au guichet** : en se présentant avec une pièce d'identité.
            4. **Pour les Français nés à l'étranger** : auprès du service central d'état civil.
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Equal(["En ligne", "Par courrier", "Au guichet", "Pour les Français nés à l'étranger"], Titles(result));
    }

    [Fact]
    public void Missing_block_is_rebuilt_from_bullet_labels_before_colons()
    {
        var answer = """
            Les droits des personnes filmées sont les suivants :
            - Droit d'accès : obtenir les images où elles apparaissent.
            - Droit d'effacement : sous conditions.
            - Droit d'opposition : pour motif légitime.
            - Droit à l'information : par un panneau visible.
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Equal(["Droit d'accès", "Droit d'effacement", "Droit d'opposition", "Droit à l'information"], Titles(result));
    }

    [Fact]
    public void Headerless_sid_lines_at_the_end_are_repaired()
    {
        var answer = """
            Le RGPD s'applique à tout traitement de données personnelles.

            [S1] Champ d'application
            [S2] Bases légales
            [S3] Droits des personnes
            [S4] Sanctions
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.HeaderMissing, result.Problems);
        Assert.Equal(4, result.Sections.Length);
        Assert.Equal("Le RGPD s'applique à tout traitement de données personnelles.", result.Body);
    }

    [Fact]
    public void Block_wrapped_in_a_code_fence_is_repaired()
    {
        var answer = """
            La durée de conservation des images ne doit pas dépasser un mois.

            ```
            SUIVI
            [S1] Durée de conservation
            [S2] Exceptions
            [S3] Accès aux images
            [S4] Sanctions
            ```
            """;

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Equal(4, result.Sections.Length);
        Assert.Equal("La durée de conservation des images ne doit pas dépasser un mois.", result.Body);
    }

    [Fact]
    public void Blank_line_inside_the_block_is_repaired()
    {
        var answer = "Réponse.\n\nSUIVI\n\n[S1] Un\n[S2] Deux\n\n[S3] Trois\n[S4] Quatre";

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.BlockFormatting, result.Problems);
        Assert.Equal(["Un", "Deux", "Trois", "Quatre"], Titles(result));
    }

    [Fact]
    public void Block_on_one_line_is_repaired()
    {
        var answer = "Réponse.\n\nSUIVI : [S1] Consentement [S2] Refus [S3] Durée de validité [S4] Preuve du consentement";

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Equal(["Consentement", "Refus", "Durée de validité", "Preuve du consentement"], Titles(result));
        Assert.Equal("Réponse.", result.Body);
    }

    [Fact]
    public void Block_written_before_the_answer_is_moved_to_the_end()
    {
        var answer = """
            SUIVI
            [S1] Bases légales
            [S2] Information des personnes
            [S3] Durée de conservation
            [S4] Sécurité des données

            Le traitement de données personnelles doit reposer sur l'une des six bases légales du RGPD.
            """;

        var result = SuiviBlock.Parse(answer);
        var normalized = SuiviBlock.Normalize(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Contains(SuiviProblems.TextAfterBlock, result.Problems);
        Assert.StartsWith("Le traitement de données personnelles", normalized);
        Assert.EndsWith("[S4] Sécurité des données", normalized);
    }

    [Fact]
    public void Colon_after_the_section_id_is_repaired()
    {
        var answer = "Réponse.\n\nSUIVI\n[S1] : Consentement\n[S2] : Refus\n[S3] : Durée de validité\n[S4] : Preuve";

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.Repaired, result.Status);
        Assert.Equal(["Consentement", "Refus", "Durée de validité", "Preuve"], Titles(result));
    }

    [Fact]
    public void Answer_without_block_or_structure_is_non_compliant_with_no_sections()
    {
        var answer = "Le RGPD est le règlement européen sur la protection des données. Il s'applique depuis le 25 mai 2018.";

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.NonCompliant, result.Status);
        Assert.Empty(result.Sections);
        Assert.Contains(SuiviProblems.NoUsableOutline, result.Problems);
        Assert.Equal(answer, result.Body);
        Assert.Empty(result.ToOutline([1, 2]));
    }

    [Fact]
    public void Block_with_three_items_and_no_structure_is_non_compliant_and_never_returned()
    {
        var answer = Body + "\n\nSUIVI\n[S1] Cas de recours\n[S2] Durée\n[S3] Indemnité";

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(SuiviCompliance.NonCompliant, result.Status);
        Assert.Contains(SuiviProblems.TooFewItems, result.Problems);
        Assert.Empty(result.Sections);
        Assert.Equal(Body, result.Body);
        Assert.Equal(Body, SuiviBlock.Normalize(answer));
    }

    [Fact]
    public void Markdown_emphasis_is_removed_from_titles()
    {
        var answer = "Réponse.\n\nSUIVI\n[S1] **Consentement**\n[S2] `Refus`\n[S3] Durée :\n[S4] __Preuve__";

        var result = SuiviBlock.Parse(answer);

        Assert.Equal(["Consentement", "Refus", "Durée", "Preuve"], Titles(result));
    }

    [Fact]
    public void Render_writes_the_canonical_block()
    {
        var block = SuiviBlock.Render(["Un", "  Deux  ", "Trois\nsuite", "Quatre"]);

        Assert.Equal("SUIVI\n[S1] Un\n[S2] Deux\n[S3] Trois suite\n[S4] Quatre", block);
    }

    [Fact]
    public void Render_shortens_long_titles_on_a_word_boundary()
    {
        var longTitle = string.Join(' ', Enumerable.Repeat("conservation", 20));

        var block = SuiviBlock.Render([longTitle, "Deux", "Trois", "Quatre"]);
        var first = block.Split('\n')[1];

        Assert.True(first.Length <= "[S1] ".Length + SuiviBlock.MaxTitleLength);
        Assert.EndsWith("conservation…", first);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(9)]
    public void Render_refuses_fewer_than_four_or_more_than_eight_titles(int count) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SuiviBlock.Render([.. Enumerable.Range(1, count).Select(i => $"Titre {i}")]));

    [Fact]
    public void Rendered_block_parses_back_as_compliant()
    {
        string[] titles = ["Information préalable", "Consultation du CSE", "Durée de conservation", "Droit d'accès", "Sanctions"];

        var result = SuiviBlock.Parse("Corps de la réponse.\n\n" + SuiviBlock.Render(titles));

        Assert.Equal(SuiviCompliance.Compliant, result.Status);
        Assert.Equal(titles, Titles(result));
    }

    [Fact]
    public void Normalize_replaces_a_repaired_block_with_the_canonical_one()
    {
        var answer = "Réponse.\n\n## Suivi\n1. Un\n2. Deux\n3. Trois\n4. Quatre\n\nBonne journée !";

        var normalized = SuiviBlock.Normalize(answer);

        Assert.Equal("Réponse.\n\nBonne journée !\n\nSUIVI\n[S1] Un\n[S2] Deux\n[S3] Trois\n[S4] Quatre", normalized);
        Assert.Equal(SuiviCompliance.Compliant, SuiviBlock.Parse(normalized).Status);
    }

    [Fact]
    public void Outline_carries_the_grounding_chunks()
    {
        var result = SuiviBlock.Parse("Réponse.\n\nSUIVI\n[S1] Un\n[S2] Deux\n[S3] Trois\n[S4] Quatre");

        var outline = result.ToOutline([42, 43]);

        Assert.Equal(4, outline.Length);
        Assert.All(outline, s => Assert.Equal<long>([42, 43], s.ChunkIds));
        Assert.Equal("S3", outline[2].Id);
    }
}

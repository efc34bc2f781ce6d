using System.Text.RegularExpressions;
using AuroraNexus.Grains.Conversation;

namespace AuroraNexus.Tests.Conversation;

public sealed partial class ExtractiveComposerTests
{
    private static readonly Guid CodeDuTravail = Guid.Parse("6f0a7d8e-0000-4000-8000-000000000001");
    private static readonly Guid GuideCnil = Guid.Parse("6f0a7d8e-0000-4000-8000-000000000002");
    private static readonly Guid FicheCdd = Guid.Parse("6f0a7d8e-0000-4000-8000-000000000003");
    private static readonly Guid FicheMediation = Guid.Parse("6f0a7d8e-0000-4000-8000-000000000004");
    private static readonly Guid FicheIndemnite = Guid.Parse("6f0a7d8e-0000-4000-8000-000000000005");

    private static readonly Passage[] CddPassages =
    [
        new(11, FicheCdd, "F34.txt", 0, 0.92,
            """
            Cas de recours au CDD
            Un contrat à durée déterminée ne peut être conclu que pour l'exécution d'une tâche précise et temporaire. Le CDD ne peut pas avoir pour objet de pourvoir durablement un emploi lié à l'activité normale de l'entreprise.
            """),
        new(12, CodeDuTravail, "code-du-travail.txt", 41, 0.81,
            "Conformément à l'art. L. 1242-2 du Code du travail, le CDD est autorisé pour le remplacement d'un salarié absent. Il est également autorisé en cas d'accroissement temporaire de l'activité de l'entreprise."),
        new(13, FicheCdd, "F34.txt", 2, 0.77,
            "La durée maximale du CDD est en principe de 18 mois, renouvellements compris. Le contrat peut être renouvelé deux fois au maximum."),
        new(14, FicheIndemnite, "F40.txt", 1, 0.70,
            """
            Indemnité de fin de contrat
            À la fin du CDD, le salarié perçoit une indemnité de fin de contrat égale à 10 % de la rémunération brute totale. Par exemple, M. Dupont a perçu 1 500,50 € au terme d'un CDD de 15 mois.
            """),
        new(15, FicheMediation, "F2230.txt", 4, 0.55,
            "En cas de litige sur la requalification du CDD, une médiation préalable peut être proposée par le conseil de prud'hommes. Le salarié peut demander la requalification du CDD en CDI devant le conseil de prud'hommes."),
    ];

    private static Passage Single(long id, string text, string file = "F1234.txt", int chunkIndex = 2) =>
        new(id, GuideCnil, file, chunkIndex, 0.8, text);

    [Fact]
    public void Composed_answer_has_one_sourced_section_per_passage_and_a_compliant_block()
    {
        var answer = ExtractiveComposer.Compose("Quelles sont les règles du CDD ?", CddPassages);

        Assert.InRange(answer.Sections.Count, 4, 8);
        Assert.Equal(5, answer.Sections.Count);
        Assert.Equal(["S1", "S2", "S3", "S4", "S5"], answer.Sections.Select(s => s.Id));
        Assert.Equal(CddPassages.Select(p => p.ChunkId).Order(), answer.CitedChunkIds.Order());

        var parsed = SuiviBlock.Parse(answer.Text);
        Assert.Equal(SuiviCompliance.Compliant, parsed.Status);
        Assert.Equal(answer.Sections.Select(s => s.Title), parsed.Sections.Select(s => s.Title));
        Assert.EndsWith("[S5] " + answer.Sections[4].Title, answer.Text);
    }

    [Fact]
    public void Every_section_ends_with_its_source_marker_and_is_grounded_in_its_chunk()
    {
        var answer = ExtractiveComposer.Compose("Quelles sont les règles du CDD ?", CddPassages);
        var body = SuiviBlock.Parse(answer.Text).Body;
        var sectionTexts = SectionHeading().Split(body).Skip(1).Where(s => s.Trim().Length > 0).ToList();

        Assert.Equal(answer.Sections.Count, sectionTexts.Count);
        for (var i = 0; i < answer.Sections.Count; i++)
        {
            var chunkId = Assert.Single(answer.Sections[i].ChunkIds);
            var passage = CddPassages.Single(p => p.ChunkId == chunkId);
            Assert.EndsWith($"(source : {passage.FileName}, passage {passage.ChunkIndex + 1})", sectionTexts[i].Trim());
        }
    }

    [Fact]
    public void French_question_gets_a_french_extractive_intro()
    {
        var answer = ExtractiveComposer.Compose("Quelle est la durée maximale d'un CDD ?", CddPassages);

        var intro = answer.Text.Split('\n')[0];
        Assert.StartsWith("Réponse extractive", intro);
        Assert.Contains("LLM", intro);
        Assert.Contains("cités tels quels", intro);
    }

    [Fact]
    public void English_question_gets_an_english_extractive_intro()
    {
        var answer = ExtractiveComposer.Compose("What are the rules for a fixed-term contract?", CddPassages);

        var intro = answer.Text.Split('\n')[0];
        Assert.StartsWith("Extractive answer", intro);
        Assert.Contains("LLM", intro);
        Assert.Contains("(source: ", answer.Text);
        Assert.Equal(SuiviCompliance.Compliant, SuiviBlock.Parse(answer.Text).Status);
    }

    [Fact]
    public void No_passages_give_a_not_found_text_without_block_or_sections()
    {
        var answer = ExtractiveComposer.Compose("Qu'est-ce que le RGPD ?", []);

        Assert.Contains("Aucun passage pertinent", answer.Text);
        Assert.DoesNotContain("SUIVI", answer.Text);
        Assert.Empty(answer.Sections);
        Assert.Empty(answer.CitedChunkIds);
        Assert.False(answer.HasOutline);
    }

    [Fact]
    public void No_passages_for_an_english_question_answer_in_english()
    {
        var answer = ExtractiveComposer.Compose("What is the GDPR?", []);

        Assert.Contains("No relevant passage", answer.Text);
        Assert.DoesNotContain("SUIVI", answer.Text);
    }

    [Fact]
    public void Blank_passages_count_as_no_passages()
    {
        var answer = ExtractiveComposer.Compose("Qu'est-ce que le RGPD ?", [Single(1, "   "), Single(2, "\n\n")]);

        Assert.Empty(answer.Sections);
        Assert.DoesNotContain("SUIVI", answer.Text);
    }

    [Fact]
    public void Most_relevant_passage_comes_first()
    {
        var answer = ExtractiveComposer.Compose("Une médiation est-elle possible avant les prud'hommes ?", CddPassages);

        Assert.Equal(15, answer.Sections[0].ChunkIds.Single());
    }

    [Fact]
    public void Passage_heading_line_becomes_the_section_title()
    {
        var answer = ExtractiveComposer.Compose("Quelles sont les règles du CDD ?", CddPassages);

        Assert.Contains(answer.Sections, s => s.Title == "Cas de recours au CDD" && s.ChunkIds.Single() == 11);
        Assert.Contains(answer.Sections, s => s.Title == "Indemnité de fin de contrat" && s.ChunkIds.Single() == 14);
    }

    [Fact]
    public void Titles_are_short_and_distinct()
    {
        var answer = ExtractiveComposer.Compose("Quelles sont les règles du CDD ?", CddPassages);

        Assert.All(answer.Sections, s => Assert.InRange(s.Title.Length, 1, 70));
        Assert.Equal(answer.Sections.Count, answer.Sections.Select(s => s.Title).Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public void French_abbreviations_and_amounts_do_not_split_sentences()
    {
        var answer = ExtractiveComposer.Compose("Quelle indemnité pour M. Dupont ?", CddPassages);

        Assert.Contains("Conformément à l'art. L. 1242-2 du Code du travail, le CDD est autorisé pour le remplacement d'un salarié absent.", answer.Text);
        Assert.Contains("Par exemple, M. Dupont a perçu 1 500,50 € au terme d'un CDD de 15 mois.", answer.Text);
    }

    [Fact]
    public void Etc_and_initials_stay_inside_one_sentence()
    {
        var text = """
            Les pièces demandées sont la carte d'identité, le livret de famille, etc. et un justificatif de domicile récent.
            Le dossier est instruit par M. le maire ou son adjoint délégué à l'état civil.
            La demande peut aussi être déposée en ligne sur le site de la commune concernée.
            Le délai de traitement est en général de quelques jours ouvrés seulement.
            """;

        var answer = ExtractiveComposer.Compose("Quelles pièces pour un acte de naissance ?", [Single(7, text)]);

        Assert.Contains("Les pièces demandées sont la carte d'identité, le livret de famille, etc. et un justificatif de domicile récent.", answer.Text);
        Assert.Contains("Le dossier est instruit par M. le maire ou son adjoint délégué à l'état civil.", answer.Text);
    }

    [Fact]
    public void Abbreviated_months_and_wrapped_lines_do_not_split_sentences()
    {
        var text = """
            La CNIL a publié ses lignes directrices sur les cookies le 17 sept. 2020 après consultation publique.
            Le refus doit être aussi simple que l'acceptation
            et ne peut pas être déduit de la poursuite de la navigation.
            Les cookies de mesure d'audience peuvent être exemptés sous conditions strictes.
            Le choix de l'utilisateur est conservé six mois au plus, selon la recommandation.
            """;

        var answer = ExtractiveComposer.Compose("Quelles règles pour les cookies ?", [Single(8, text)]);

        Assert.Contains("La CNIL a publié ses lignes directrices sur les cookies le 17 sept. 2020 après consultation publique.", answer.Text);
        Assert.Contains("Le refus doit être aussi simple que l'acceptation et ne peut pas être déduit de la poursuite de la navigation.", answer.Text);
        Assert.Equal(4, answer.Sections.Count);
    }

    [Fact]
    public void List_under_a_colon_is_quoted_as_one_sentence()
    {
        var text = """
            Pièces à fournir :
            - une pièce d'identité du déclarant ;
            - le certificat d'accouchement ;
            - le livret de famille, le cas échéant.
            La déclaration est obligatoire dans les cinq jours qui suivent l'accouchement.
            Elle est faite à la mairie du lieu de naissance par le père ou toute personne ayant assisté à l'accouchement.
            L'acte de naissance est établi immédiatement par l'officier d'état civil.
            """;

        var answer = ExtractiveComposer.Compose("Quelles pièces fournir pour déclarer une naissance ?", [Single(9, text)]);

        Assert.Contains("Pièces à fournir : une pièce d'identité du déclarant ; le certificat d'accouchement ; le livret de famille, le cas échéant.", answer.Text);
        Assert.Contains(answer.Sections, s => s.Title == "Pièces à fournir");
    }

    [Fact]
    public void Single_passage_with_four_sentences_is_split_into_four_sections()
    {
        var text = """
            La vidéosurveillance d'un lieu de travail doit répondre à un objectif légitime de sécurité.
            Les salariés doivent être informés individuellement avant la mise en service des caméras.
            Le comité social et économique doit être consulté préalablement à l'installation.
            Les images ne doivent pas être conservées plus d'un mois, sauf procédure en cours.
            """;

        var answer = ExtractiveComposer.Compose("Quelles règles pour filmer des salariés ?", [Single(21, text, "F1234.txt", 2)]);

        Assert.Equal(4, answer.Sections.Count);
        Assert.All(answer.Sections, s => Assert.Equal<long>([21], s.ChunkIds));
        Assert.Equal(4, Regex.Count(answer.Text, Regex.Escape("(source : F1234.txt, passage 3)")));
        Assert.Equal(SuiviCompliance.Compliant, SuiviBlock.Parse(answer.Text).Status);
    }

    [Fact]
    public void Two_passages_still_give_four_sections()
    {
        var first = """
            Le consentement aux cookies doit être libre, spécifique, éclairé et univoque.
            Le refus doit être aussi simple que l'acceptation, par exemple avec un bouton « Tout refuser ».
            Le choix de l'utilisateur doit être conservé pendant une durée raisonnable.
            """;
        var second = """
            Certains traceurs sont exemptés de consentement, comme ceux de mesure d'audience strictement limitée.
            Ils doivent toutefois faire l'objet d'une information claire des utilisateurs.
            """;

        var answer = ExtractiveComposer.Compose("Quelles règles pour le consentement aux cookies ?", [Single(31, first), Single(32, second, "F5678.txt", 0)]);

        Assert.Equal(4, answer.Sections.Count);
        Assert.Contains(answer.Sections, s => s.ChunkIds.Single() == 31);
        Assert.Contains(answer.Sections, s => s.ChunkIds.Single() == 32);
        Assert.Equal(SuiviCompliance.Compliant, SuiviBlock.Parse(answer.Text).Status);
    }

    [Fact]
    public void Fewer_than_four_sentences_quote_them_without_a_block()
    {
        var text = "Le RGPD est le règlement européen sur la protection des données personnelles. Il s'applique depuis le 25 mai 2018 dans toute l'Union.";

        var answer = ExtractiveComposer.Compose("Qu'est-ce que le RGPD ?", [Single(41, text)]);

        Assert.Empty(answer.Sections);
        Assert.DoesNotContain("SUIVI", answer.Text);
        Assert.Contains("Il s'applique depuis le 25 mai 2018 dans toute l'Union.", answer.Text);
        Assert.Equal([41L], answer.CitedChunkIds);
    }

    [Fact]
    public void Many_passages_are_capped_by_max_sections()
    {
        var passages = Enumerable.Range(1, 12)
            .Select(i => new Passage(100 + i, Guid.NewGuid(), $"doc{i}.txt", i, 1.0 / i, $"Le document numéro {i} traite d'une règle particulière de conservation des données. Cette règle s'applique aux traitements de catégorie {i}."))
            .ToList();

        var byDefault = ExtractiveComposer.Compose("Quelle durée de conservation des données ?", passages);
        var widest = ExtractiveComposer.Compose("Quelle durée de conservation des données ?", passages, new ExtractiveOptions { MaxSections = 8 });
        var narrowest = ExtractiveComposer.Compose("Quelle durée de conservation des données ?", passages, new ExtractiveOptions { MaxSections = 2 });

        Assert.Equal(6, byDefault.Sections.Count);
        Assert.Equal(8, widest.Sections.Count);
        Assert.Equal(4, narrowest.Sections.Count);
        Assert.Equal(SuiviCompliance.Compliant, SuiviBlock.Parse(widest.Text).Status);
    }

    [Fact]
    public void A_question_one_document_answers_is_answered_from_it_not_from_passages_that_merely_share_a_word()
    {
        var answering = Guid.NewGuid();
        var passages = new List<Passage>
        {
            new(1, answering, "donation.txt", 0, 2.5, "La donation au dernier vivant se fait devant un notaire. Le notaire rédige l'acte de donation entre époux. La donation au dernier vivant prend effet au décès du donateur."),
            new(2, answering, "donation.txt", 1, 2.3, "Le coût de la donation au dernier vivant comprend les honoraires du notaire. La donation au dernier vivant peut être annulée par le donateur."),
        };
        passages.AddRange(Enumerable.Range(3, 6).Select(i => new Passage(i, Guid.NewGuid(), $"autre{i}.txt", 0, 0.5,
            $"Les aides au logement numéro {i} sont versées chaque mois par la caisse. Il faut faire une demande en ligne auprès de la caisse.")));

        var answer = ExtractiveComposer.Compose("Comment faire une donation au dernier vivant ?", passages);

        Assert.True(answer.Sections.Count >= SuiviBlock.MinSections);
        Assert.All(answer.Sections, s => Assert.All(s.ChunkIds, id => Assert.True(id is 1 or 2, $"section {s.Id} quotes chunk {id}")));
        Assert.DoesNotContain("logement", answer.Text);
        Assert.Equal(SuiviCompliance.Compliant, SuiviBlock.Parse(answer.Text).Status);
    }

    [Fact]
    public void Distinct_documents_are_preferred_over_a_second_passage_of_the_same_document()
    {
        var sameDoc = Guid.NewGuid();
        var passages = new List<Passage>
        {
            new(1, sameDoc, "a.txt", 0, 0.95, "Le temps de conservation des images de vidéosurveillance est limité à un mois. Ce délai peut être prolongé en cas de procédure."),
            new(2, sameDoc, "a.txt", 1, 0.94, "La conservation au-delà d'un mois doit être justifiée par l'employeur. Une durée excessive est sanctionnée par la CNIL."),
        };
        passages.AddRange(Enumerable.Range(3, 4).Select(i =>
            new Passage(i, Guid.NewGuid(), $"d{i}.txt", 0, 0.5, $"Le document {i} rappelle que le temps de conservation des images dépend de leur finalité. Un panneau doit informer les personnes filmées.")));

        var answer = ExtractiveComposer.Compose("Combien de temps conserver les images ?", passages, new ExtractiveOptions { MaxSections = 4 });

        var cited = answer.Sections.Select(s => s.ChunkIds.Single()).ToList();
        Assert.Contains(1L, cited);
        Assert.DoesNotContain(2L, cited);
    }

    [Fact]
    public void Detail_on_point_B_quotes_more_of_its_grounding_passage()
    {
        var grounding = """
            Droit d'accès aux images
            Toute personne filmée peut demander à consulter les enregistrements la concernant.
            La demande est adressée au responsable du traitement, par exemple l'employeur.
            Le responsable doit répondre dans un délai d'un mois à compter de la réception.
            Ce délai peut être prolongé de deux mois compte tenu de la complexité de la demande.
            Les images des autres personnes doivent être masquées avant la communication.
            Un refus doit être motivé et indiquer les voies de recours auprès de la CNIL.
            """;
        var passages = new List<Passage>
        {
            Single(51, "La vidéosurveillance doit répondre à un objectif de sécurité. Elle ne doit pas filmer les salariés en permanence.", "F1.txt", 0),
            Single(52, grounding, "F2.txt", 3),
            Single(53, "Les images sont conservées un mois au maximum. Une durée plus longue doit être justifiée.", "F3.txt", 1),
        };
        var first = ExtractiveComposer.Compose("Quelles règles pour la vidéosurveillance au travail ?", passages);
        var sectionB = new OutlineSection("S2", "Droit d'accès aux images", [52]);

        var detail = ExtractiveComposer.ComposeDetail(sectionB, passages, "détaille le point B");

        Assert.InRange(detail.Sections.Count, 4, 8);
        Assert.All(detail.Sections, s => Assert.Equal<long>([52], s.ChunkIds));
        Assert.Equal([52L], detail.CitedChunkIds);
        Assert.Equal(SuiviCompliance.Compliant, SuiviBlock.Parse(detail.Text).Status);
        Assert.StartsWith("Détail du point B « Droit d'accès aux images »", detail.Text);
        Assert.Contains("Un refus doit être motivé et indiquer les voies de recours auprès de la CNIL.", detail.Text);
        Assert.True(Regex.Count(detail.Text, "F2.txt") > Regex.Count(first.Text, "F2.txt"));
    }

    [Fact]
    public void Detail_on_a_thin_section_is_completed_from_the_other_passages()
    {
        var passages = new List<Passage>
        {
            Single(61, "Le bandeau cookies doit permettre de refuser aussi facilement que d'accepter.", "F1.txt", 0),
            Single(62, "Les cookies de mesure d'audience peuvent être exemptés de consentement. Leur durée de vie est limitée à 13 mois.", "F2.txt", 0),
            Single(63, "La preuve du consentement doit pouvoir être apportée à tout moment. Le consentement doit être renouvelé régulièrement.", "F3.txt", 0),
        };
        var section = new OutlineSection("S1", "Refus des cookies", [61]);

        var detail = ExtractiveComposer.ComposeDetail(section, passages, "Explain point A");

        Assert.InRange(detail.Sections.Count, 4, 8);
        Assert.Equal(61, detail.Sections[0].ChunkIds.Single());
        Assert.StartsWith("Details on point A", detail.Text);
        Assert.Equal(SuiviCompliance.Compliant, SuiviBlock.Parse(detail.Text).Status);
    }

    [Fact]
    public void Detail_without_passages_says_nothing_was_found()
    {
        var detail = ExtractiveComposer.ComposeDetail(new OutlineSection("S2", "Durée", [1]), [], "détaille le point B");

        Assert.Empty(detail.Sections);
        Assert.DoesNotContain("SUIVI", detail.Text);
    }

    [GeneratedRegex(@"^\*\*[A-H]\. .*\*\*$", RegexOptions.Multiline)]
    private static partial Regex SectionHeading();
}

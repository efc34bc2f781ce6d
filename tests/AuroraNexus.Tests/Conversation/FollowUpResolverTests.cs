using System.Collections.Immutable;
using AuroraNexus.Grains.Conversation;

namespace AuroraNexus.Tests.Conversation;

public sealed class FollowUpResolverTests
{
    private static readonly IReadOnlyList<OutlineSection> FrenchOutline = Outline(
        "Conditions de recours au CDD",
        "Durée maximale et renouvellement",
        "La médiation préalable",
        "Indemnité de fin de contrat",
        "Recours devant le conseil de prud'hommes");

    private static readonly IReadOnlyList<OutlineSection> EnglishOutline = Outline(
        "Lawful bases for processing",
        "Consent requirements for cookies",
        "Video surveillance in the workplace",
        "Data retention periods");

    private static IReadOnlyList<OutlineSection> Outline(params string[] titles) =>
        [.. titles.Select((t, i) => new OutlineSection($"S{i + 1}", t, [100 + i]))];

    private static void AssertResolved(FollowUpResolution result, string sectionId, string refType)
    {
        Assert.Equal(FollowUpKind.Resolved, result.Kind);
        Assert.Equal(sectionId, result.SectionId);
        Assert.Equal(refType, result.RefType);
        Assert.Null(result.Reason);
    }

    private static void AssertChoice(FollowUpResolution result, string reason)
    {
        Assert.Equal(FollowUpKind.NeedsChoice, result.Kind);
        Assert.Null(result.SectionId);
        Assert.Equal(reason, result.Reason);
    }

    [Fact]
    public void Point_B_resolves_to_S2_with_ref_type_letter() =>
        AssertResolved(FollowUpResolver.Resolve("détaille le point B", FrenchOutline), "S2", "letter");

    [Fact]
    public void Point_2_resolves_to_S2_with_ref_type_number() =>
        AssertResolved(FollowUpResolver.Resolve("détaille le point 2", FrenchOutline), "S2", "number");

    [Theory]
    [InlineData("Détaille le point B.")]
    [InlineData("DÉTAILLE LE POINT B")]
    [InlineData("point B ?")]
    [InlineData("Point b")]
    [InlineData("le B")]
    [InlineData("Et le B ?")]
    [InlineData("partie B")]
    [InlineData("Développe la partie B stp")]
    [InlineData("section B")]
    [InlineData("item B")]
    [InlineData("Peux-tu m'en dire plus sur le point B ?")]
    [InlineData("Qu'est-ce que tu entends au point B de ta réponse ?")]
    [InlineData("Approfondis le point B, s'il te plaît")]
    [InlineData("Détaille le point B en détail")]
    [InlineData("Quel est le point B ?")]
    [InlineData("C'est quoi le point B ?")]
    [InlineData("Reprends le point B de ta réponse")]
    [InlineData("What about point B?")]
    [InlineData("Tell me more about section B")]
    [InlineData("Explain part B")]
    [InlineData("expand on item B please")]
    public void Letter_forms_resolve_to_S2(string question) =>
        AssertResolved(FollowUpResolver.Resolve(question, FrenchOutline), "S2", "letter");

    [Theory]
    [InlineData("Détaille le point A", "S1")]
    [InlineData("Précise la partie C", "S3")]
    [InlineData("section E", "S5")]
    public void Letters_map_to_their_rank(string question, string sectionId) =>
        AssertResolved(FollowUpResolver.Resolve(question, FrenchOutline), sectionId, "letter");

    [Theory]
    [InlineData("le point 2")]
    [InlineData("Le point 2 ?")]
    [InlineData("le 2")]
    [InlineData("Et le 2 ?")]
    [InlineData("#2")]
    [InlineData("section 2")]
    [InlineData("partie 2")]
    [InlineData("item 2")]
    [InlineData("number 2")]
    [InlineData("Développe le point 2 de ta réponse")]
    [InlineData("détaille le point n° 2")]
    [InlineData("Explique le point deux")]
    [InlineData("développe la partie II")]
    [InlineData("Can you explain number 2?")]
    [InlineData("Que veux-tu dire au point 2 ?")]
    [InlineData("Je ne comprends pas le point 2")]
    [InlineData("what do you mean by point 2?")]
    [InlineData("Tell me more about point 2")]
    [InlineData("2")]
    public void Number_forms_resolve_to_S2(string question) =>
        AssertResolved(FollowUpResolver.Resolve(question, FrenchOutline), "S2", "number");

    [Theory]
    [InlineData("S3")]
    [InlineData("s3")]
    [InlineData("[S3]")]
    [InlineData("S3 ?")]
    [InlineData("Détaille S3")]
    [InlineData("développe [S3] stp")]
    [InlineData("More on S3")]
    [InlineData("Explain S3 please")]
    [InlineData("section S3")]
    public void Section_id_forms_resolve_to_S3_with_ref_type_sid(string question) =>
        AssertResolved(FollowUpResolver.Resolve(question, FrenchOutline), "S3", "sid");

    [Theory]
    [InlineData("deuxième point", "S2")]
    [InlineData("Détaille le deuxième point", "S2")]
    [InlineData("Détaille le 2e point", "S2")]
    [InlineData("le 2ème", "S2")]
    [InlineData("Développe le second point", "S2")]
    [InlineData("premier", "S1")]
    [InlineData("Le premier point stp", "S1")]
    [InlineData("Développe le 1er point", "S1")]
    [InlineData("détaille la première partie", "S1")]
    [InlineData("Explique le troisième point", "S3")]
    [InlineData("quatrième point", "S4")]
    [InlineData("Détaille le cinquième point", "S5")]
    [InlineData("le dernier point", "S5")]
    [InlineData("Et le dernier ?", "S5")]
    [InlineData("Détaille la dernière partie", "S5")]
    [InlineData("l'avant-dernier point", "S4")]
    [InlineData("first", "S1")]
    [InlineData("the second one", "S2")]
    [InlineData("Explain the third point", "S3")]
    [InlineData("fourth point please", "S4")]
    [InlineData("Tell me more about the last point", "S5")]
    [InlineData("And the last one?", "S5")]
    [InlineData("second to last point", "S4")]
    [InlineData("Expand on the 2nd point", "S2")]
    public void Ordinal_forms_resolve_with_ref_type_ordinal(string question, string sectionId) =>
        AssertResolved(FollowUpResolver.Resolve(question, FrenchOutline), sectionId, "ordinal");

    [Fact]
    public void Sixth_seventh_and_eighth_resolve_on_an_eight_section_outline()
    {
        var outline = Outline("Un", "Deux", "Trois", "Quatre", "Cinq", "Six", "Sept", "Huit");

        AssertResolved(FollowUpResolver.Resolve("sixième point", outline), "S6", "ordinal");
        AssertResolved(FollowUpResolver.Resolve("détaille le septième point", outline), "S7", "ordinal");
        AssertResolved(FollowUpResolver.Resolve("huitième point", outline), "S8", "ordinal");
        AssertResolved(FollowUpResolver.Resolve("the eighth point", outline), "S8", "ordinal");
        AssertResolved(FollowUpResolver.Resolve("seventh point", outline), "S7", "ordinal");
        AssertResolved(FollowUpResolver.Resolve("le dernier point", outline), "S8", "ordinal");
        AssertResolved(FollowUpResolver.Resolve("point H", outline), "S8", "letter");
    }

    [Theory]
    [InlineData("détaille la partie sur la médiation", "S3")]
    [InlineData("Développe la partie sur la médiation stp", "S3")]
    [InlineData("Et la médiation ?", "S3")]
    [InlineData("plus sur la médiation préalable", "S3")]
    [InlineData("Développe la partie concernant l'indemnité de fin de contrat", "S4")]
    [InlineData("Détaille le renouvellement", "S2")]
    [InlineData("Peux-tu approfondir le recours aux prud'hommes ?", "S5")]
    [InlineData("tell me more about the mediation", "S3")]
    [InlineData("What about the indemnity?", "S4")]
    [InlineData("Je veux plus d'infos sur la médiation", "S3")]
    public void Title_fragment_resolves_to_the_best_matching_section(string question, string sectionId) =>
        AssertResolved(FollowUpResolver.Resolve(question, FrenchOutline), sectionId, "title");

    [Theory]
    [InlineData("What about video surveillance?", "S3")]
    [InlineData("Tell me more about the part on retention", "S4")]
    [InlineData("Can you elaborate on cookie consent?", "S2")]
    public void English_title_fragment_resolves(string question, string sectionId) =>
        AssertResolved(FollowUpResolver.Resolve(question, EnglishOutline), sectionId, "title");

    [Theory]
    [InlineData("détaille ça")]
    [InlineData("Détaille cela")]
    [InlineData("explain that")]
    [InlineData("Explain this part")]
    [InlineData("et ça ?")]
    [InlineData("Et ça")]
    [InlineData("développe")]
    [InlineData("Développe !")]
    [InlineData("plus de détails")]
    [InlineData("Plus de détails stp")]
    [InlineData("tell me more")]
    [InlineData("Peux-tu développer ?")]
    [InlineData("Can you elaborate?")]
    [InlineData("Dis-m'en plus")]
    [InlineData("Développe ce point")]
    [InlineData("Précise cette partie")]
    [InlineData("Peux-tu détailler cette partie un peu plus ?")]
    [InlineData("More details please")]
    [InlineData("And that?")]
    public void Pure_anaphora_needs_a_choice(string question)
    {
        var result = FollowUpResolver.Resolve(question, FrenchOutline);

        AssertChoice(result, "anaphora");
        Assert.Null(result.RefType);
    }

    [Theory]
    [InlineData("détaille le point 9", "number")]
    [InlineData("point 6", "number")]
    [InlineData("détaille le point G", "letter")]
    [InlineData("S7", "sid")]
    [InlineData("neuvième point", "ordinal")]
    [InlineData("the sixth point", "ordinal")]
    [InlineData("détaille la partie sur la fiscalité des dividendes", "title")]
    public void Reference_to_a_missing_section_needs_a_choice(string question, string refType)
    {
        var result = FollowUpResolver.Resolve(question, FrenchOutline);

        AssertChoice(result, "unknown_section");
        Assert.Equal(refType, result.RefType);
    }

    [Theory]
    [InlineData("détaille le point B", "letter")]
    [InlineData("le point 2", "number")]
    [InlineData("S2", "sid")]
    [InlineData("le dernier point", "ordinal")]
    [InlineData("détaille la partie sur la médiation", "title")]
    [InlineData("explain point B", "letter")]
    public void Follow_up_on_a_new_thread_needs_a_choice_with_reason_no_outline(string question, string refType)
    {
        var withNull = FollowUpResolver.Resolve(question, null);
        var withEmpty = FollowUpResolver.Resolve(question, []);

        AssertChoice(withNull, "no_outline");
        Assert.Equal(refType, withNull.RefType);
        Assert.Equal(withNull, withEmpty);
    }

    [Theory]
    [InlineData("détaille ça")]
    [InlineData("tell me more")]
    public void Anaphora_on_a_new_thread_needs_a_choice_with_reason_no_outline(string question) =>
        AssertChoice(FollowUpResolver.Resolve(question, null), "no_outline");

    [Fact]
    public void Title_fragment_matching_two_sections_equally_needs_a_choice()
    {
        var outline = Outline("Délais de conservation des images", "Délais de conservation des contrats", "Droits des salariés", "Sanctions");

        var result = FollowUpResolver.Resolve("développe la partie sur les délais de conservation", outline);

        AssertChoice(result, "ambiguous");
        Assert.Equal("title", result.RefType);
    }

    [Theory]
    [InlineData("Quelles sont les règles pour un CDD de 2 ans ?")]
    [InlineData("Qu'est-ce que l'article L. 1242-2 ?")]
    [InlineData("Comment obtenir un extrait d'acte de naissance ?")]
    [InlineData("Qu'est-ce que le RGPD ?")]
    [InlineData("Combien de temps peut-on conserver les images de vidéosurveillance ?")]
    [InlineData("Faut-il recueillir le consentement pour les cookies de mesure d'audience ?")]
    [InlineData("Quelle est la durée de la période d'essai pour un cadre en CDI ?")]
    [InlineData("Comment rectifier une erreur sur un acte de mariage ?")]
    [InlineData("Un employeur peut-il filmer ses salariés en permanence ?")]
    [InlineData("Quel est le délai pour répondre à une demande d'accès au titre de l'article 15 du RGPD ?")]
    [InlineData("Le point de départ du préavis est-il la date de réception de la lettre ?")]
    [InlineData("Le premier jour d'arrêt maladie est-il indemnisé ?")]
    [InlineData("Peut-on déclarer une naissance le 2 janvier si la mairie est fermée ?")]
    [InlineData("Quel est le délai de prévenance pour la deuxième demande de congé parental ?")]
    [InlineData("Que dit la section 2 du RGPD sur les droits de la personne concernée ?")]
    [InlineData("Combien de jours de congé pour le mariage d'un salarié en 2024 ?")]
    [InlineData("Une caméra peut-elle filmer la voie publique devant un commerce ?")]
    [InlineData("Le dernier bulletin de salaire doit-il mentionner le solde de tout compte ?")]
    [InlineData("Comment obtenir le formulaire S1 pour être soigné à l'étranger ?")]
    [InlineData("Faut-il un bandeau cookies sur un site sans traceurs publicitaires ?")]
    [InlineData("Quelles sont les obligations de l'employeur à l'article 32 du RGPD ?")]
    [InlineData("Peut-on changer de prénom à 16 ans ?")]
    [InlineData("Qu'est-ce qu'un DPO et quand faut-il en désigner un ?")]
    [InlineData("Explique-moi la rupture conventionnelle.")]
    [InlineData("Détaille les obligations d'information avant d'installer des caméras dans un entrepôt.")]
    [InlineData("Le 3e enfant ouvre-t-il droit à des jours de congé supplémentaires ?")]
    [InlineData("Explique pourquoi le point a été contesté par la CNIL")]
    [InlineData("Qu'est-ce que la partie A du formulaire cerfa 12345 ?")]
    [InlineData("Un mineur de 15 ans peut-il consentir seul aux cookies ?")]
    [InlineData("Merci pour cela")]
    [InlineData("Quelle est la part 2 de la rémunération variable ?")]
    [InlineData("Explique la section 3 du contrat de travail")]
    [InlineData("Détaille le point B de l'article 6 du RGPD")]
    [InlineData("Comment déclarer un enfant né le 1er mai ?")]
    [InlineData("Détaille la procédure de divorce par consentement mutuel")]
    [InlineData("What is the GDPR?")]
    [InlineData("How long can CCTV footage be kept?")]
    [InlineData("Is the first day of sick leave paid?")]
    [InlineData("What are the rules for a 2-year fixed-term contract?")]
    public void Ordinary_question_is_not_a_follow_up(string question)
    {
        Assert.Equal(FollowUpKind.None, FollowUpResolver.Resolve(question, FrenchOutline).Kind);
        Assert.Equal(FollowUpKind.None, FollowUpResolver.Resolve(question, null).Kind);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("?")]
    public void Empty_question_is_not_a_follow_up(string question) =>
        Assert.Equal(FollowUpResolution.NotFollowUp, FollowUpResolver.Resolve(question, FrenchOutline));

    [Fact]
    public void Resolved_section_id_is_the_outline_own_id()
    {
        var outline = ImmutableArray.Create(
            new OutlineSection("S1", "Un", []),
            new OutlineSection("S2", "Deux", [7, 8]),
            new OutlineSection("S3", "Trois", []),
            new OutlineSection("S4", "Quatre", []));

        AssertResolved(FollowUpResolver.Resolve("point B", outline), "S2", "letter");
    }

    [Fact]
    public void Resolving_ten_thousand_questions_completes()
    {
        string[] questions =
        [
            "détaille le point B", "Quelles sont les règles pour un CDD de 2 ans ?", "S3", "le dernier point",
            "détaille la partie sur la médiation", "détaille ça", "Qu'est-ce que l'article L. 1242-2 ?", "What about point 2?",
            "Combien de temps peut-on conserver les images de vidéosurveillance ?", "point 9",
        ];

        var resolved = 0;
        for (var i = 0; i < 10_000; i++)
        {
            if (FollowUpResolver.Resolve(questions[i % questions.Length], FrenchOutline).Kind == FollowUpKind.Resolved)
            {
                resolved++;
            }
        }

        Assert.Equal(5_000, resolved);
    }
}

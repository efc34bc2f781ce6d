using System.Text;

namespace AuroraNexus.Tests.Ingestion;

/// <summary>French texts written for these tests, shaped like the administrative pages tenants upload.</summary>
internal static class FrenchSamples
{
    public const string Intro =
        "Le congé parental d'éducation permet au salarié de réduire ou d'interrompre son activité professionnelle pour "
        + "élever son enfant. Il est ouvert au père comme à la mère, y compris en cas d'adoption. Sa durée dépend du "
        + "nombre d'enfants à charge et de la date de naissance du dernier enfant.";

    public static readonly string[] Headings =
    [
        "Conditions à remplir",
        "Démarche auprès de l'employeur",
        "Durée du congé",
        "Rémunération et indemnisation",
        "Retour dans l'entreprise",
    ];

    /// <summary>A sentence of more than 2,000 characters with no punctuation at all.</summary>
    public static string UnpunctuatedSentence { get; } = BuildUnpunctuatedSentence();

    /// <summary>Headings, short and very long paragraphs, a list announced by a colon, and <see cref="UnpunctuatedSentence"/>.</summary>
    public static string LongDocument { get; } = BuildLongDocument();

    private static string BuildUnpunctuatedSentence()
    {
        string[] parts =
        [
            "le salarié qui souhaite bénéficier du congé doit en informer son employeur par lettre recommandée avec avis de réception",
            "en précisant la date de début et la durée envisagée du congé ainsi que la forme choisie",
            "l'employeur ne peut pas refuser le congé lorsque le salarié justifie d'une ancienneté minimale d'une année",
            "à la date de la naissance de l'enfant ou de l'arrivée au foyer de l'enfant adopté de moins de seize ans",
            "la demande doit être adressée au moins un mois avant la fin du congé de maternité ou du congé d'adoption",
            "et au moins deux mois avant le début du congé parental lorsque celui-ci ne suit pas immédiatement ces congés",
        ];
        var sentence = new StringBuilder("Dans tous les cas ");
        for (var i = 0; sentence.Length < 2_100; i++)
        {
            sentence.Append(parts[i % parts.Length]).Append(' ');
        }

        return sentence.ToString().TrimEnd();
    }

    private static string BuildLongDocument()
    {
        var text = new StringBuilder();
        text.Append(Intro).Append("\n\n");
        text.Append(Headings[0]).Append('\n');
        text.Append("Vous devez remplir les conditions suivantes :\n");
        text.Append("Justifier d'une année d'ancienneté dans l'entreprise\n");
        text.Append("Assumer la charge d'un enfant de moins de trois ans\n");
        text.Append("Ne pas exercer une autre activité professionnelle pendant le congé\n");
        text.Append("Les salariés à temps partiel bénéficient des mêmes droits que les salariés à temps plein. ");
        text.Append("L'ancienneté s'apprécie à la date de naissance de l'enfant. ");
        text.Append("Les périodes de suspension du contrat de travail pour maladie sont prises en compte.\n\n");
        text.Append(Headings[1]).Append('\n');
        text.Append(UnpunctuatedSentence).Append('\n');
        text.Append(Headings[2]).Append('\n');
        for (var i = 1; i <= 14; i++)
        {
            text.Append($"Le congé initial d'une durée maximale d'un an peut être prolongé {i} fois dans la limite prévue par la loi. ");
            text.Append("Chaque prolongation doit être demandée par écrit un mois au moins avant le terme initialement prévu. ");
        }

        text.Append('\n');
        text.Append(Headings[3]).Append('\n');
        text.Append("Le congé parental d'éducation n'est pas rémunéré par l'employeur, sauf disposition conventionnelle plus favorable.\n");
        text.Append("Vous pouvez cependant percevoir la prestation partagée d'éducation de l'enfant versée par la caisse d'allocations familiales. ");
        text.Append("Son montant varie selon que vous cessez totalement ou partiellement votre activité.\n\n");
        text.Append(Headings[4]).Append('\n');
        text.Append("À l'issue du congé, vous retrouvez votre précédent emploi ou un emploi similaire assorti d'une rémunération au moins équivalente. ");
        text.Append("Vous avez droit à un entretien professionnel consacré à vos perspectives d'évolution. ");
        text.Append("La durée du congé est prise en compte pour moitié dans le calcul des avantages liés à l'ancienneté.");
        return text.ToString();
    }
}

using System.Collections.Frozen;
using System.Globalization;
using System.Text.RegularExpressions;

namespace AuroraNexus.Grains.Conversation;

public enum FollowUpKind
{
    /// <summary>A fresh question: retrieve and answer as usual.</summary>
    None,

    /// <summary>The question names one section of the previous outline.</summary>
    Resolved,

    /// <summary>A follow-up that cannot be pinned to a section: offer the choices, no LLM call.</summary>
    NeedsChoice,
}

/// <summary>Values of <see cref="FollowUpResolution.RefType"/>, as logged in <c>queries_log.followup_ref_type</c>.</summary>
public static class FollowUpRefTypes
{
    public const string Letter = "letter";
    public const string Number = "number";
    public const string Sid = "sid";
    public const string Ordinal = "ordinal";
    public const string Title = "title";
}

/// <summary>Values of <see cref="FollowUpResolution.Reason"/>: why the user must choose a section.</summary>
public static class FollowUpReasons
{
    public const string Anaphora = "anaphora";
    public const string UnknownSection = "unknown_section";
    public const string NoOutline = "no_outline";

    /// <summary>A title fragment matches several sections equally well.</summary>
    public const string Ambiguous = "ambiguous";
}

public sealed record FollowUpResolution(FollowUpKind Kind, string? SectionId, string? RefType, string? Reason)
{
    public static FollowUpResolution NotFollowUp { get; } = new(FollowUpKind.None, null, null, null);

    public bool IsFollowUp => Kind != FollowUpKind.None;

    internal static FollowUpResolution Resolved(string sectionId, string refType) =>
        new(FollowUpKind.Resolved, sectionId, refType, null);

    internal static FollowUpResolution Choice(string reason, string? refType = null) =>
        new(FollowUpKind.NeedsChoice, null, refType, reason);
}

/// <summary>
/// Decides, before any LLM call, whether a question refers to a section of the previous answer's outline
/// ("détaille le point B", "S2", "the last point", "la partie sur la médiation"), in French or English.
/// A reference only counts with a follow-up cue or when it is the whole question, so that ordinary questions
/// mentioning a number or a letter stay fresh questions.
/// </summary>
public static partial class FollowUpResolver
{
    // Follow-ups are short; a long text is a new question, and the cap bounds the cost of every pattern.
    private const int MaxQuestionLength = 1000;

    public static FollowUpResolution Resolve(string question, IReadOnlyList<OutlineSection>? outline)
    {
        if (string.IsNullOrWhiteSpace(question) || question.Length > MaxQuestionLength)
        {
            return FollowUpResolution.NotFollowUp;
        }

        var folded = TextFolding.Fold(question);
        var core = folded[..CoreLength(folded)];
        if (core.Length == 0)
        {
            return FollowUpResolution.NotFollowUp;
        }

        var sections = outline ?? [];
        var detailCue = DetailCue().IsMatch(folded);
        var referenceCue = detailCue || ReferenceCue().IsMatch(folded);

        var reference = FindReference(question, core, referenceCue, out var aboutDocument);
        if (reference is { } found)
        {
            return Locate(found, sections);
        }

        if (aboutDocument)
        {
            return FollowUpResolution.NotFollowUp;
        }

        if (IsAnaphora(folded, core, detailCue))
        {
            return FollowUpResolution.Choice(sections.Count == 0 ? FollowUpReasons.NoOutline : FollowUpReasons.Anaphora);
        }

        var aboutPart = PartAbout().Match(folded);
        if (!detailCue && !aboutPart.Success && !WhatAbout().IsMatch(folded))
        {
            return FollowUpResolution.NotFollowUp;
        }

        return MatchTitle(folded, aboutPart, sections);
    }

    private readonly record struct Reference(string RefType, int Index, string? SectionId);

    /// <param name="aboutDocument">
    /// A reference qualified by a document ("la section 2 du RGPD", "le point B de l'article 6"): the question is
    /// about that document, so neither a section reference nor a title fragment.
    /// </param>
    private static Reference? FindReference(string original, string core, bool cue, out bool aboutDocument)
    {
        aboutDocument = false;
        foreach (Match m in SidReference().Matches(core))
        {
            if (FormPrefix().IsMatch(core.AsSpan(0, m.Index)))
            {
                continue;
            }

            if (Accept(m, core, cue, strong: true, ref aboutDocument))
            {
                var n = int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
                return new Reference(FollowUpRefTypes.Sid, n, SuiviBlock.SectionId(n));
            }
        }

        foreach (Match m in NounReference().Matches(core))
        {
            if (ReadId(m, original, core) is { } id && Accept(m, core, cue, strong: true, ref aboutDocument))
            {
                return id;
            }
        }

        foreach (Match m in OrdinalReference().Matches(core))
        {
            var strong = m.Groups["noun"].Success;
            if (Accept(m, core, cue, strong, ref aboutDocument))
            {
                return new Reference(FollowUpRefTypes.Ordinal, OrdinalValue(m), null);
            }
        }

        foreach (Match m in BareReference().Matches(core))
        {
            if (ReadId(m, original, core) is { } id && Accept(m, core, cue, strong: false, ref aboutDocument))
            {
                return id;
            }
        }

        return null;
    }

    /// <summary>
    /// Strong forms ("point 2", "S2", "deuxième point") need a cue or to be the whole question; weak forms
    /// ("le 2", "le dernier") must also end the question, so "le 2 janvier" or "le premier jour" never match.
    /// </summary>
    private static bool Accept(Match m, string core, bool cue, bool strong, ref bool aboutDocument)
    {
        var end = m.Index + m.Length;
        if (IsQualifiedByDocument(core, end))
        {
            aboutDocument = true;
            return false;
        }

        if (!strong && !TerminalRest().IsMatch(core.AsSpan(end)))
        {
            return false;
        }

        return cue || IsOnlyReference(core, m);
    }

    /// <summary>
    /// "la section 2 du RGPD", "la part 2 de la rémunération": a reference completed by anything but the answer
    /// itself ("de ta réponse", "de la liste") names a part of something else.
    /// </summary>
    private static bool IsQualifiedByDocument(string core, int end)
    {
        var match = Qualifier().Match(core, end);
        return match.Success && !AnswerWords.Contains(match.Groups["word"].Value);
    }

    private static bool IsOnlyReference(string core, Match m)
    {
        foreach (var word in TextFolding.Words(string.Concat(core.AsSpan(0, m.Index), " ", core.AsSpan(m.Index + m.Length))))
        {
            if (!ReferenceFiller.Contains(word))
            {
                return false;
            }
        }

        return true;
    }

    private static Reference? ReadId(Match m, string original, string core)
    {
        if (m.Groups["num"].Success)
        {
            return new Reference(FollowUpRefTypes.Number, int.Parse(m.Groups["num"].Value, CultureInfo.InvariantCulture), null);
        }

        if (m.Groups["roman"].Success)
        {
            return new Reference(FollowUpRefTypes.Number, RomanValue(m.Groups["roman"].Value), null);
        }

        if (m.Groups["word"].Success)
        {
            return new Reference(FollowUpRefTypes.Number, NumberWords[m.Groups["word"].Value], null);
        }

        var letter = m.Groups["letter"];
        if (!letter.Success)
        {
            return null;
        }

        var c = letter.Value[0];
        if (c == 'a' && char.IsLower(original[letter.Index]) && NextIsWord(core, letter.Index + 1))
        {
            // "le point a été…": the French verb, not a letter.
            return null;
        }

        return c switch
        {
            'i' => new Reference(FollowUpRefTypes.Number, 1, null),
            'v' => new Reference(FollowUpRefTypes.Number, 5, null),
            _ => new Reference(FollowUpRefTypes.Letter, c - 'a' + 1, null),
        };
    }

    private static bool NextIsWord(string text, int index)
    {
        var i = index;
        while (i < text.Length && text[i] == ' ')
        {
            i++;
        }

        return i > index && i < text.Length && char.IsLetter(text[i]);
    }

    private static int RomanValue(string roman) => roman switch
    {
        "ii" => 2,
        "iii" => 3,
        "iv" => 4,
        "vi" => 6,
        "vii" => 7,
        "viii" => 8,
        _ => 0,
    };

    private static readonly FrozenDictionary<string, int> NumberWords = new Dictionary<string, int>
    {
        ["un"] = 1, ["one"] = 1, ["deux"] = 2, ["two"] = 2, ["trois"] = 3, ["three"] = 3, ["quatre"] = 4,
        ["four"] = 4, ["cinq"] = 5, ["five"] = 5, ["six"] = 6, ["sept"] = 7, ["seven"] = 7, ["huit"] = 8,
        ["eight"] = 8,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>1-based index; 0 = last, -1 = second to last.</summary>
    private static int OrdinalValue(Match m)
    {
        if (m.Groups["ordnum"].Success)
        {
            return int.Parse(m.Groups["ordnum"].Value, CultureInfo.InvariantCulture);
        }

        var word = m.Groups["ord"].Value;
        if (word.StartsWith("avant", StringComparison.Ordinal) || word.StartsWith("penult", StringComparison.Ordinal)
            || word.StartsWith("second", StringComparison.Ordinal) && word.Length > 7)
        {
            return -1;
        }

        return word switch
        {
            "premier" or "premiere" or "first" => 1,
            "deuxieme" or "second" or "seconde" => 2,
            "troisieme" or "third" => 3,
            "quatrieme" or "fourth" => 4,
            "cinquieme" or "fifth" => 5,
            "sixieme" or "sixth" => 6,
            "septieme" or "seventh" => 7,
            "huitieme" or "eighth" => 8,
            "neuvieme" or "ninth" => 9,
            "dixieme" or "tenth" => 10,
            _ => 0,
        };
    }

    private static FollowUpResolution Locate(Reference reference, IReadOnlyList<OutlineSection> sections)
    {
        if (sections.Count == 0)
        {
            return FollowUpResolution.Choice(FollowUpReasons.NoOutline, reference.RefType);
        }

        if (reference.SectionId is { } sid)
        {
            foreach (var section in sections)
            {
                if (string.Equals(section.Id, sid, StringComparison.OrdinalIgnoreCase))
                {
                    return FollowUpResolution.Resolved(section.Id, reference.RefType);
                }
            }

            return FollowUpResolution.Choice(FollowUpReasons.UnknownSection, reference.RefType);
        }

        var index = reference.RefType == FollowUpRefTypes.Ordinal && reference.Index <= 0
            ? sections.Count + reference.Index
            : reference.Index;

        return index >= 1 && index <= sections.Count
            ? FollowUpResolution.Resolved(sections[index - 1].Id, reference.RefType)
            : FollowUpResolution.Choice(FollowUpReasons.UnknownSection, reference.RefType);
    }

    private static bool IsAnaphora(string folded, string core, bool detailCue)
    {
        var hasPronoun = Pronoun().IsMatch(folded);
        if (!detailCue && !hasPronoun)
        {
            return false;
        }

        var stripped = Pronoun().Replace(DetailCue().Replace(core, " "), " ");
        foreach (var word in TextFolding.Words(stripped))
        {
            if (TextFolding.IsContentWord(word) && !CueFiller.Contains(word))
            {
                return false;
            }
        }

        if (detailCue)
        {
            return true;
        }

        // Without a verb, a pronoun is a follow-up only as "et ça ?" or alone; "merci pour cela" is not.
        return LeadingAnd().IsMatch(core) || TextFolding.Words(core).All(w => PronounWords.Contains(w));
    }

    private static FollowUpResolution MatchTitle(string folded, Match aboutPart, IReadOnlyList<OutlineSection> sections)
    {
        var explicitPart = aboutPart.Success;
        if (sections.Count == 0)
        {
            return explicitPart
                ? FollowUpResolution.Choice(FollowUpReasons.NoOutline, FollowUpRefTypes.Title)
                : FollowUpResolution.NotFollowUp;
        }

        var text = explicitPart ? folded[(aboutPart.Index + aboutPart.Length)..] : folded;
        text = WhatAbout().Replace(DetailCue().Replace(text, " "), " ");
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var word in TextFolding.Words(text))
        {
            if (TextFolding.IsContentWord(word) && !CueFiller.Contains(word))
            {
                wanted.Add(TextFolding.Stem(word));
            }
        }

        if (wanted.Count == 0)
        {
            return explicitPart
                ? FollowUpResolution.Choice(FollowUpReasons.UnknownSection, FollowUpRefTypes.Title)
                : FollowUpResolution.NotFollowUp;
        }

        var bestIndex = -1;
        var bestMatched = 0;
        var bestCoverage = 0d;
        var tie = false;
        for (var i = 0; i < sections.Count; i++)
        {
            var titleStems = TextFolding.ContentStems(sections[i].Title);
            if (titleStems.Count == 0)
            {
                continue;
            }

            var matched = wanted.Count(titleStems.Contains);
            if (matched == 0)
            {
                continue;
            }

            var coverage = (double)matched / titleStems.Count;
            if (matched > bestMatched || matched == bestMatched && coverage > bestCoverage)
            {
                (bestIndex, bestMatched, bestCoverage, tie) = (i, matched, coverage, false);
            }
            else if (matched == bestMatched && coverage == bestCoverage)
            {
                tie = true;
            }
        }

        // Without "la partie sur…", half of the question's words must be in the title: "détaille les délais de
        // conservation des images" is a new question even when some section mentions "délais".
        var enough = bestIndex >= 0 && (explicitPart || bestMatched * 2 >= wanted.Count);
        if (!enough)
        {
            return explicitPart
                ? FollowUpResolution.Choice(FollowUpReasons.UnknownSection, FollowUpRefTypes.Title)
                : FollowUpResolution.NotFollowUp;
        }

        return tie
            ? FollowUpResolution.Choice(FollowUpReasons.Ambiguous, FollowUpRefTypes.Title)
            : FollowUpResolution.Resolved(sections[bestIndex].Id, FollowUpRefTypes.Title);
    }

    /// <summary>Length of the question without trailing punctuation and politeness ("…, stp", "de ta réponse ?").</summary>
    private static int CoreLength(string folded)
    {
        var end = folded.Length;
        while (true)
        {
            while (end > 0 && (char.IsWhiteSpace(folded[end - 1]) || "?!.,;:…()\"".Contains(folded[end - 1])))
            {
                end--;
            }

            var trimmed = false;
            foreach (var phrase in TrailingPhrases)
            {
                if (end >= phrase.Length
                    && folded.AsSpan(0, end).EndsWith(phrase, StringComparison.Ordinal)
                    && (end == phrase.Length || !char.IsLetterOrDigit(folded[end - phrase.Length - 1])))
                {
                    end -= phrase.Length;
                    trimmed = true;
                    break;
                }
            }

            if (!trimmed)
            {
                return end;
            }
        }
    }

    private static readonly string[] TrailingPhrases =
    [
        "s'il te plait", "s'il vous plait", "de ta reponse precedente", "de ta derniere reponse", "de ta reponse",
        "de la reponse", "de votre reponse", "dans ta reponse", "dans la reponse", "dans votre reponse",
        "of your previous answer", "of your last answer", "of your answer", "of the answer", "in your answer",
        "in the answer", "plus en details", "plus en detail", "en details", "en detail", "in more detail", "in detail",
        "ci-dessus", "plus haut", "above", "thank you", "thanks", "please", "merci", "stp", "svp", "pls",
    ];

    private static readonly FrozenSet<string> ReferenceFiller = new[]
    {
        "le", "la", "les", "l", "the", "et", "and", "alors", "ok", "okay", "d", "accord", "du", "au", "sur", "on",
        "about", "a", "quid", "oui", "yes", "maintenant", "now", "aussi", "also", "then", "ensuite", "puis", "hmm",
        "so", "bon", "bien", "voir", "see", "ce", "cette", "this", "that", "un", "une", "de", "des", "numero",
        "n", "no", "passons", "go", "to", "point", "partie", "section", "item",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> AnswerWords = new[]
    {
        "ta", "ton", "tes", "votre", "vos", "your", "this", "that", "reponse", "liste", "plan", "resume", "synthese",
        "sommaire", "suivi", "answer", "list", "outline", "summary", "coup", "precedent", "precedente", "previous",
        "last", "derniere", "dernier", "above", "ci-dessus",
    }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> PronounWords = new[] { "ca", "cela", "ceci", "this", "that", "it" }
        .ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> CueFiller = new[]
    {
        "moi", "nous", "en", "peu", "davantage", "details", "detail", "infos", "info", "informations", "information",
        "explications", "explication", "precisions", "point", "points", "partie", "parties", "section", "sections",
        "passage", "sujet", "aspect", "element", "tell", "dire", "dis", "dites", "say", "know", "savoir", "bit",
        "little", "again", "ok", "okay", "part", "one", "thing", "mean", "plait", "possible", "rapidement", "please",
        "detaille", "developpe", "explique", "precise", "approfondis", "stp", "svp", "merci", "thanks", "ci",
        "dessus", "above", "dernier", "derniere", "reponse", "answer", "previous", "precedente", "mind", "want",
        "voudrais", "aimerais", "like", "bon", "alors", "quid",
    }.ToFrozenSet(StringComparer.Ordinal);


    [GeneratedRegex(
        @"\b(?:detaill(?:e|es|er|ez|ons)|develop(?:pe|pes|per|pez|pons)|expli(?:que|ques|quer|quez|quons|cite|citer|citez)" +
        @"|precise[rz]?|precisions?|approfondi(?:s|r|ssez|ssons|t)?|clarifi(?:e|er|ez)|elabore[rz]?|reformule[rz]?" +
        @"|illustre[rz]?|dis[- ]m'en|dites[- ]m'en|en dire (?:plus|davantage)|dire plus|parle[rz]?[- ](?:moi|nous)" +
        @"|reviens|revenons|revenir|zoom(?:e|er|ons)?|creuse[rz]?|plus de (?:details?|precisions?|infos?|informations?|explications?)" +
        @"|plus d'(?:infos?|informations?|explications?|elements?)|en savoir plus|(?:plus|davantage) sur|plus en details?" +
        @"|explain(?:s|ed)?|expand(?:s|ed)?(?: on)?|detail(?:s|ed)?|clarify|elaborate|more (?:on|about|details?|info(?:rmation)?)" +
        @"|tell me more|tell me about|say more|go deeper|dig (?:into|deeper)|dive (?:into|deeper)|deep dive|zoom in|go into" +
        @"|what about|how about|quid)\b",
        RegexOptions.CultureInvariant)]
    private static partial Regex DetailCue();

    [GeneratedRegex(@"\b(?:que dit|que signifie|que veut dire|qu'est[- ]ce qu(?:e|')|qu'entends|c'est quoi|what is|what's|what does|what do you mean|que (?:veux|voulez)[- ](?:tu|vous) dire|quel(?:le)? est|resume[rz]?|je ne comprends pas|je comprends pas|i don't understand|reprends|focus)\b|^\s*(?:et|and)\b", RegexOptions.CultureInvariant)]
    private static partial Regex ReferenceCue();

    [GeneratedRegex(@"(?<![\w-])\[?\s*s(?<n>\d{1,2})\s*\]?(?![\w-])", RegexOptions.CultureInvariant)]
    private static partial Regex SidReference();

    [GeneratedRegex(@"\b(?:formulaires?|forms?|cerfa|modeles?|imprimes?)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex FormPrefix();

    [GeneratedRegex(
        @"(?:\b(?:points?|parties?|sections?|items?|paragraphes?|rubriques?|elements?|bullets?|parts?|numeros?|numbers?|n°|nº)|#)" +
        @"(?:\s*(?<num>\d{1,2})(?!\d|[.,]\d|-\d)|\s+(?:(?<roman>viii|vii|iii|ii|iv|vi)|(?<word>un(?!\s+peu)|deux|trois|quatre|cinq|six|sept|huit|one|two|three|four|five|seven|eight)|(?<letter>[a-z]))(?![\w'°º-]))",
        RegexOptions.CultureInvariant)]
    private static partial Regex NounReference();

    [GeneratedRegex(
        @"\b(?<ord>avant[- ]derniere?|penultieme|penultimate|second[- ]to[- ]last|second last|premiere?|deuxieme|seconde?|troisieme|quatrieme" +
        @"|cinquieme|sixieme|septieme|huitieme|neuvieme|dixieme|derniere?|first|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last" +
        @"|(?<ordnum>10|[1-9])(?:eme|ere|er|re|e|nde|nd|st|rd|th))\b" +
        @"(?:\s+(?<noun>points?|parties?|sections?|items?|paragraphes?|elements?|ones?|parts?|bullets?|sujets?|aspects?|volets?|axes?|themes?|rubriques?)\b)?",
        RegexOptions.CultureInvariant)]
    private static partial Regex OrdinalReference();

    [GeneratedRegex(@"(?:^\s*|\b(?:le|la|the|et|and)\s+)(?:(?<num>\d{1,2})|(?<letter>[a-h]))(?![\w'-])", RegexOptions.CultureInvariant)]
    private static partial Regex BareReference();

    [GeneratedRegex(@"^[\s?!.,;:)""']*$", RegexOptions.CultureInvariant)]
    private static partial Regex TerminalRest();

    [GeneratedRegex(@"\G\s+(?:du|des|de\s+la|de\s+l'|de|d'|of\s+the|of)\s*(?<word>[\w-]+)", RegexOptions.CultureInvariant)]
    private static partial Regex Qualifier();

    [GeneratedRegex(@"\b(?:ca|cela|ceci|celui-ci|celle-ci|celui-la|celle-la|ce point|cette partie|ce passage|cette section|ce sujet|this|that|it|this one|that one|this part|that part|this point|that point)\b", RegexOptions.CultureInvariant)]
    private static partial Regex Pronoun();

    [GeneratedRegex(@"^\s*(?:et|and)\b", RegexOptions.CultureInvariant)]
    private static partial Regex LeadingAnd();

    [GeneratedRegex(
        @"\b(?:(?:la|le|cette|ce|the|that)\s+)?(?:partie|section|passage|point|paragraphe|part|bit)\s+(?:sur|concernant|qui concerne|relative? (?:a|aux)|relatifs? (?:a|aux)|consacree? (?:a|aux)|dediee? (?:a|aux)|qui parle (?:de|du|des|d')|ou tu parles (?:de|du|des|d')|about|on|regarding|concerning)\b" +
        @"|\bce que tu (?:disais|dis|as dit) (?:sur|a propos (?:de|du|des|d'))|\bwhat you said about\b",
        RegexOptions.CultureInvariant)]
    private static partial Regex PartAbout();

    [GeneratedRegex(@"\b(?:what about|how about|quid d)|^\s*(?:et|and)\s+(?:le|la|les|l'|pour|sur|concernant|du|des|the|about)\b", RegexOptions.CultureInvariant)]
    private static partial Regex WhatAbout();
}

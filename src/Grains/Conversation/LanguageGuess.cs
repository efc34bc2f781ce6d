namespace AuroraNexus.Grains.Conversation;

/// <summary>The language of a question, for the product's own words (extractive intros, clarifications).</summary>
public static class LanguageGuess
{
    /// <summary>French unless the question is clearly English: more English than French marker words.</summary>
    public static bool IsEnglish(string? question)
    {
        if (string.IsNullOrWhiteSpace(question))
        {
            return false;
        }

        var english = 0;
        var french = question.Any(c => "éèêàâçùûôîïëœ".Contains(char.ToLowerInvariant(c))) ? 2 : 0;
        foreach (var word in TextFolding.Words(question))
        {
            if (EnglishMarkers.Contains(word))
            {
                english++;
            }
            else if (FrenchMarkers.Contains(word))
            {
                french++;
            }
        }

        return english > french && (english >= 2 || french == 0);
    }

    private static readonly HashSet<string> EnglishMarkers = new(StringComparer.Ordinal)
    {
        "the", "what", "how", "is", "are", "can", "does", "do", "which", "when", "who", "why", "should", "must",
        "my", "of", "for", "to", "and", "with", "about", "please", "explain", "tell", "i", "you", "it", "in",
        "on", "an", "be", "have", "has", "there", "this", "that", "may", "need", "get", "rules", "long", "much",
    };

    private static readonly HashSet<string> FrenchMarkers = new(StringComparer.Ordinal)
    {
        "le", "la", "les", "des", "du", "de", "est", "sont", "quel", "quelle", "quels", "quelles", "comment",
        "pourquoi", "peut", "faut", "un", "une", "et", "pour", "sur", "que", "qu", "qui", "ce", "dans", "au",
        "aux", "il", "je", "mon", "ma", "mes", "en", "l", "d", "j", "c", "n", "y", "ou", "avec", "quand",
        "combien", "peux", "puis", "dois", "doit", "mes", "nous", "vous", "est-ce",
    };
}

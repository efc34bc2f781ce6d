namespace AuroraNexus.Grains.Conversation;

/// <summary>French unless the question is clearly English: the corpora and most users are French.</summary>
public static class LanguageGuess
{
    private static readonly HashSet<string> EnglishMarkers = new(StringComparer.OrdinalIgnoreCase)
    {
        "the", "what", "how", "is", "are", "can", "do", "does", "which", "who", "when", "where", "why", "explain", "detail",
        "tell", "me", "more", "about", "that", "this", "of", "my", "point", "please",
    };

    private static readonly HashSet<string> FrenchMarkers = new(StringComparer.OrdinalIgnoreCase)
    {
        "le", "la", "les", "un", "une", "des", "du", "de", "est", "sont", "que", "qui", "quoi", "comment", "pourquoi", "quel",
        "quelle", "quels", "quelles", "ça", "ce", "cette", "et", "pour", "peut", "on", "je", "mon", "ma", "détaille", "explique",
    };

    public static bool IsEnglish(string text)
    {
        var words = text.Split([' ', '\t', '\n', '?', '!', '.', ',', ';', ':', '\'', '"', '(', ')'], StringSplitOptions.RemoveEmptyEntries);
        var en = words.Count(EnglishMarkers.Contains);
        var fr = words.Count(FrenchMarkers.Contains);
        return en > fr;
    }
}

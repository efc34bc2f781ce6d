using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace AuroraNexus.Grains.Conversation;

/// <summary>Accent- and case-insensitive word handling shared by the SUIVI parser, the resolver and the composer.</summary>
internal static class TextFolding
{
    private static readonly char[] FoldTable = BuildFoldTable();

    /// <summary>
    /// Lower-cases and removes diacritics one char for one char, so indexes in the folded text are indexes in the
    /// original (the resolver reads the original case of a letter reference at the same position).
    /// </summary>
    public static string Fold(string text)
    {
        return string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                span[i] = c < FoldTable.Length ? FoldTable[c] : FoldOther(c);
            }
        });
    }

    private static char FoldOther(char c) => c switch
    {
        '\u2018' or '\u2019' or '\u02BC' or '\u2032' => '\'',
        '\u201C' or '\u201D' or '\u00AB' or '\u00BB' => '"',
        '\u2010' or '\u2011' or '\u2012' or '\u2013' or '\u2014' => '-',
        '\u202F' or '\u2007' or '\u2009' => ' ',
        _ => char.ToLowerInvariant(c),
    };

    private static char[] BuildFoldTable()
    {
        var table = new char[0x250];
        for (var i = 0; i < table.Length; i++)
        {
            var c = (char)i;
            if (c == '\u00A0')
            {
                table[i] = ' ';
                continue;
            }

            var lower = char.ToLowerInvariant(c);
            var decomposed = lower.ToString().Normalize(NormalizationForm.FormD);
            table[i] = decomposed.Length > 0 && CharUnicodeInfo.GetUnicodeCategory(decomposed[0]) != UnicodeCategory.NonSpacingMark
                ? decomposed[0]
                : lower;
        }

        table['\u00AB'] = '"';
        table['\u00BB'] = '"';
        return table;
    }

    /// <summary>Folded words of a text: letters and digits only, ligatures expanded.</summary>
    public static List<string> Words(string text)
    {
        var folded = Fold(text);
        var words = new List<string>();
        var start = -1;
        for (var i = 0; i <= folded.Length; i++)
        {
            var isWordChar = i < folded.Length && char.IsLetterOrDigit(folded[i]);
            if (isWordChar)
            {
                if (start < 0)
                {
                    start = i;
                }
            }
            else if (start >= 0)
            {
                var word = folded[start..i];
                if (word.Contains('œ') || word.Contains('æ'))
                {
                    word = word.Replace("œ", "oe", StringComparison.Ordinal).Replace("æ", "ae", StringComparison.Ordinal);
                }

                words.Add(word);
                start = -1;
            }
        }

        return words;
    }

    /// <summary>Stems of the words that carry meaning: stop words, bare numbers and one-letter words removed.</summary>
    public static HashSet<string> ContentStems(string text)
    {
        var stems = new HashSet<string>(StringComparer.Ordinal);
        foreach (var word in Words(text))
        {
            if (IsContentWord(word))
            {
                stems.Add(Stem(word));
            }
        }

        return stems;
    }

    public static bool IsContentWord(string foldedWord) =>
        foldedWord.Length >= 2
        && !StopWords.Contains(foldedWord)
        && !foldedWord.All(char.IsDigit);

    public static bool IsStopWord(string foldedWord) => StopWords.Contains(foldedWord);

    private static readonly string[] Suffixes =
    [
        "issement", "ement", "ation", "ateur", "atrice", "ition", "ance", "ence", "euse", "eur", "ment", "ite", "ity",
        "ive", "ing", "ee", "er", "ez", "ed", "e",
    ];

    /// <summary>
    /// Light stemming (plural, then one derivational ending): enough for "médiation" to meet "médiateur" and
    /// "cookies" to meet "cookie" without a dictionary; stems never go below three letters.
    /// </summary>
    public static string Stem(string foldedWord)
    {
        if (foldedWord.Length <= 3 || char.IsDigit(foldedWord[0]))
        {
            return foldedWord;
        }

        var word = foldedWord;
        if (word.Length > 4 && word.EndsWith("aux", StringComparison.Ordinal))
        {
            word = word[..^3] + "al";
        }
        else if (word.Length > 4 && (word[^1] == 's' || word[^1] == 'x'))
        {
            word = word[..^1];
        }

        foreach (var suffix in Suffixes)
        {
            if (word.Length - suffix.Length >= 3 && word.EndsWith(suffix, StringComparison.Ordinal))
            {
                return word[..^suffix.Length];
            }
        }

        return word;
    }

    private static readonly FrozenSet<string> StopWords = new[]
    {
        // French
        "a", "au", "aux", "avec", "ce", "ces", "cet", "cette", "ca", "cela", "ceci", "celui", "celle", "ceux", "celles",
        "ci", "la", "le", "les", "l", "de", "des", "du", "d", "un", "une", "et", "ou", "en", "dans", "par", "pour", "sur",
        "sous", "sans", "chez", "entre", "vers", "que", "qu", "qui", "quoi", "quel", "quelle", "quels", "quelles",
        "dont", "ou", "est", "sont", "etre", "ete", "etait", "sera", "avoir", "ai", "as", "avons", "avez", "ont",
        "y", "il", "elle", "ils", "elles", "on", "nous", "vous", "tu", "te", "toi", "moi", "me", "m", "je", "j", "se",
        "sa", "son", "ses", "ne", "pas", "plus", "moins", "tres", "bien", "aussi", "comme", "mais", "donc", "ni",
        "car", "si", "ton", "ta", "tes", "mon", "ma", "mes", "notre", "nos", "votre", "vos", "leur", "leurs", "lui",
        "c", "s", "n", "t", "peux", "peut", "pouvez", "peuvent", "pourrais", "pourriez", "voudrais", "veux", "faut",
        "fait", "faire", "stp", "svp", "merci", "comment", "pourquoi", "quand", "combien", "quoi", "tout", "tous",
        "toute", "toutes", "autre", "autres", "meme", "alors", "ainsi", "deja", "encore", "peu", "lorsque", "puis",
        "apres", "avant", "selon", "leurs", "doit", "doivent", "etc", "oui", "non", "ici", "la-dessus",
        // English
        "the", "an", "and", "or", "of", "to", "in", "on", "at", "for", "with", "about", "from", "by", "is", "are",
        "was", "were", "be", "been", "being", "what", "which", "who", "whom", "how", "why", "when", "where", "this",
        "that", "these", "those", "it", "its", "my", "you", "your", "i", "we", "us", "our", "please", "do", "does",
        "did", "can", "could", "would", "will", "should", "shall", "may", "might", "must", "there", "here", "some",
        "any", "all", "not", "no", "if", "then", "than", "so", "as", "into", "also", "just", "more", "most", "such",
        "they", "them", "their", "he", "she", "his", "her", "have", "has", "had", "get", "me",
    }.ToFrozenSet(StringComparer.Ordinal);
}

using System.Collections.Frozen;
using System.Text;
using System.Text.RegularExpressions;

namespace AuroraNexus.Grains.Conversation;

/// <summary>A passage cut into its heading (if any) and its sentences, French abbreviations kept whole.</summary>
internal sealed record SplitPassage(string? Heading, IReadOnlyList<string> Sentences);

internal static partial class SentenceSplitter
{
    private const int MaxHeadingLength = 90;
    private const int MaxSentenceLength = 500;

    public static SplitPassage Split(string text)
    {
        var lines = (text ?? string.Empty).ReplaceLineEndings("\n").Split('\n');
        string? heading = null;
        var first = 0;
        while (first < lines.Length && string.IsNullOrWhiteSpace(lines[first]))
        {
            first++;
        }

        if (first < lines.Length && IsHeading(lines, first))
        {
            heading = CleanHeading(lines[first]);
            first++;
        }

        var sentences = new List<string>();
        foreach (var unit in Units(lines.AsSpan(first)))
        {
            foreach (var sentence in SplitParagraph(unit))
            {
                var clean = Whitespace().Replace(sentence, " ").Trim();
                if (clean.Length > 0)
                {
                    sentences.Add(SuiviBlock.Shorten(clean, MaxSentenceLength));
                }
            }
        }

        return new SplitPassage(string.IsNullOrWhiteSpace(heading) ? null : heading, sentences);
    }

    private static bool IsHeading(string[] lines, int index)
    {
        var line = lines[index].Trim();
        if (MarkdownHeading().IsMatch(line))
        {
            return true;
        }

        var next = index + 1;
        while (next < lines.Length && string.IsNullOrWhiteSpace(lines[next]))
        {
            next++;
        }

        // A wrapped sentence continues in lower case on the next line; a heading does not.
        return next < lines.Length
            && !char.IsLower(lines[next].TrimStart()[0])
            && !line.Contains(". ", StringComparison.Ordinal)
            && line.Length <= MaxHeadingLength
            && !".!?;,:…".Contains(line[^1])
            && line.Any(char.IsLetter)
            && !ListMarker().IsMatch(line)
            && line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length <= 14;
    }

    private static string CleanHeading(string line) =>
        SuiviBlock.CleanTitle(line.Trim().TrimStart('#').Trim());

    /// <summary>
    /// Paragraphs with wrapped lines joined; a line ending with ":" absorbs the list items under it,
    /// so "Pièces à fournir : a ; b ; c." stays one quotable sentence.
    /// </summary>
    private static List<string> Units(ReadOnlySpan<string> lines)
    {
        var units = new List<string>();
        var current = new StringBuilder();
        var collectingList = false;

        void Flush()
        {
            if (current.Length > 0)
            {
                var unit = current.ToString().Trim();
                if (collectingList && !".!?…".Contains(unit[^1]))
                {
                    unit = unit.TrimEnd(':', ' ') + ".";
                }

                units.Add(unit);
                current.Clear();
            }

            collectingList = false;
        }

        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0)
            {
                if (!collectingList)
                {
                    Flush();
                }

                continue;
            }

            if (MarkdownHeading().IsMatch(line))
            {
                Flush();
                continue;
            }

            var item = ListMarker().Match(line);
            if (item.Success)
            {
                var content = line[item.Length..].Trim();
                if (collectingList)
                {
                    current.Append(current[^1] == ':' ? " " : " ; ").Append(content.TrimEnd(';', ',', '.'));
                    continue;
                }

                Flush();
                current.Append(content);
                Flush();
                continue;
            }

            if (collectingList)
            {
                Flush();
            }

            if (current.Length > 0)
            {
                current.Append(' ');
            }

            current.Append(line);
            if (line.EndsWith(':'))
            {
                collectingList = true;
            }
        }

        Flush();
        return units;
    }

    private static IEnumerable<string> SplitParagraph(string text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is not ('.' or '!' or '?' or '…'))
            {
                continue;
            }

            var end = i;
            while (end + 1 < text.Length && text[end + 1] is '.' or '!' or '?' or '…')
            {
                end++;
            }

            while (end + 1 < text.Length && text[end + 1] is '»' or '"' or '”' or ')' or '\'' or '’')
            {
                end++;
            }

            if (end + 1 < text.Length && char.IsWhiteSpace(text[end + 1]))
            {
                var next = end + 1;
                while (next < text.Length && char.IsWhiteSpace(text[next]))
                {
                    next++;
                }

                if (next < text.Length && text[next] == '»')
                {
                    end = next;
                    next++;
                    while (next < text.Length && char.IsWhiteSpace(text[next]))
                    {
                        next++;
                    }
                }

                if (next >= text.Length || !IsBoundary(text, i, end, next))
                {
                    i = end;
                    continue;
                }
            }
            else if (end + 1 < text.Length)
            {
                i = end;
                continue;
            }

            yield return text[start..(end + 1)];
            start = end + 1;
            i = end;
        }

        if (start < text.Length && !string.IsNullOrWhiteSpace(text[start..]))
        {
            yield return text[start..];
        }
    }

    private static bool IsBoundary(string text, int mark, int end, int next)
    {
        var following = text[next];
        if (char.IsLower(following))
        {
            return false;
        }

        if (text[mark] != '.' || end > mark && text[mark + 1] == '.')
        {
            return true;
        }

        var wordStart = mark;
        while (wordStart > 0 && !char.IsWhiteSpace(text[wordStart - 1]) && text[wordStart - 1] is not ('(' or '[' or '«' or '"'))
        {
            wordStart--;
        }

        var word = text[wordStart..mark];
        var cut = word.LastIndexOfAny(['.', '\'', '’']);
        var lastPart = cut >= 0 ? word[(cut + 1)..] : word;

        // Initials and code letters: "M. Dupont", "art. L. 1242-2", "C. trav.".
        if (lastPart.Length == 1 && char.IsLetter(lastPart[0]))
        {
            return false;
        }

        return !Abbreviations.Contains(TextFolding.Fold(lastPart));
    }

    private static readonly FrozenSet<string> Abbreviations = new[]
    {
        "m", "mm", "mme", "mmes", "mlle", "mlles", "mr", "mrs", "ms", "dr", "pr", "me", "st", "ste", "art", "arts",
        "al", "cf", "etc", "p", "pp", "n", "no", "vol", "chap", "ex", "env", "min", "max", "av", "bd", "fig", "ann",
        "obs", "req", "sect", "ss", "suiv", "ibid", "op", "cit", "vs", "cass", "civ", "soc", "crim", "com", "ord",
        "decr", "anc", "jr", "sr", "inc", "ltd", "co", "approx", "dept", "tel", "cons", "pen", "proc", "adm",
        "gen", "nb", "ref", "coll", "ed", "jo", "bo", "cj", "cpc", "cgi", "css", "eg", "ie", "janv", "fevr", "fev",
        "avr", "juil", "sept", "oct", "nov", "dec", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    }.ToFrozenSet(StringComparer.Ordinal);

    [GeneratedRegex(@"^#{1,6}\s+\S", RegexOptions.CultureInvariant)]
    private static partial Regex MarkdownHeading();

    [GeneratedRegex(@"^(?:[-*•+▪◦–]\s+|\d{1,2}[.)]\s+|[a-hA-H][.)]\s+)", RegexOptions.CultureInvariant)]
    private static partial Regex ListMarker();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Whitespace();
}

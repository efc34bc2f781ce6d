using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// Markdown to plain text: headings become paragraphs of their own, list items and table rows lines of their own,
/// soft-wrapped lines one paragraph; markup, link targets and front matter are dropped, code is kept as text.
/// </summary>
/// <remarks>
/// Every step is linear in the length of the text: the patterns run on the non-backtracking engine, and code spans
/// and emphasis, which pair a marker with a later one, are matched in one pass each rather than by backreferences (a
/// backtracking pattern looked for the closing marker from every opening one: minutes for a paragraph of "**").
/// </remarks>
internal static partial class MarkdownText
{
    public static string ToPlainText(string markdown, CancellationToken cancellationToken = default)
    {
        var lines = markdown.Split('\n');
        var output = new StringBuilder(markdown.Length);
        var paragraph = new List<string>();
        var paragraphIsListItem = false;
        var inTable = false;
        string? fence = null;

        void Flush()
        {
            if (paragraph.Count > 0)
            {
                output.Append(Inline(string.Join(' ', paragraph))).Append(paragraphIsListItem ? "\n" : "\n\n");
                paragraph.Clear();
            }

            paragraphIsListItem = false;
        }

        for (var i = SkipFrontMatter(lines); i < lines.Length; i++)
        {
            if ((i & 255) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            var line = lines[i];
            if (fence is not null)
            {
                if (line.TrimStart().StartsWith(fence, StringComparison.Ordinal))
                {
                    fence = null;
                    output.Append('\n');
                }
                else
                {
                    output.Append(line).Append('\n');
                }

                continue;
            }

            line = BlockQuote().Replace(line, "");
            if (Fence().Match(line) is { Success: true } opening)
            {
                Flush();
                output.Append('\n');
                fence = opening.Groups[1].Value;
                continue;
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                Flush();
                output.Append('\n');
                inTable = false;
                continue;
            }

            if (LinkDefinition().IsMatch(line))
            {
                Flush();
                continue;
            }

            if (AtxHeading(line) is { } heading)
            {
                Flush();
                output.Append(Inline(heading)).Append("\n\n");
                continue;
            }

            if (SetextUnderline().IsMatch(line) && paragraph.Count > 0 && !paragraphIsListItem)
            {
                // "Title" over "=====" or "-----" is a heading: the underline closes it.
                Flush();
                continue;
            }

            if (ThematicBreak().IsMatch(line))
            {
                Flush();
                continue;
            }

            if (TableSeparator().IsMatch(line))
            {
                // The header row was read as a paragraph line: it ends here and the rows below are lines of their own.
                Flush();
                inTable = line.Contains('|');
                continue;
            }

            if (line.TrimStart().StartsWith('|') || (inTable && line.Contains('|')))
            {
                Flush();
                var cells = line.Trim().Trim('|').Split('|').Select(c => Inline(c.Trim())).Where(c => c.Length > 0);
                output.Append(string.Join(" | ", cells)).Append('\n');
                continue;
            }

            if (ListItem().Match(line) is { Success: true } item)
            {
                Flush();
                paragraph.Add(item.Groups[1].Value);
                paragraphIsListItem = true;
                continue;
            }

            paragraph.Add(line.Trim());
        }

        Flush();
        return output.ToString();
    }

    private static int SkipFrontMatter(string[] lines)
    {
        if (lines.Length == 0 || lines[0].TrimEnd() != "---")
        {
            return 0;
        }

        for (var i = 1; i < Math.Min(lines.Length, 100); i++)
        {
            if (lines[i].TrimEnd() is "---" or "...")
            {
                return i + 1;
            }
        }

        return 0;
    }

    /// <summary>The text of an ATX heading ("## Title ##"), without its closing sequence of #; null when the line is not one.</summary>
    private static string? AtxHeading(string line)
    {
        var start = AtxHeadingStart().Match(line);
        if (!start.Success)
        {
            return null;
        }

        var rest = line.AsSpan(start.Length).Trim();
        var closing = rest.Length - rest.TrimEnd('#').Length;
        if (closing > 0 && closing < rest.Length && char.IsWhiteSpace(rest[rest.Length - closing - 1]))
        {
            rest = rest[..^closing].TrimEnd();
        }

        return rest.ToString();
    }

    private static string Inline(string text)
    {
        // The patterns that look for a closing bracket or '>' run on the non-backtracking engine, which is slower per
        // call: only on text that has what they start with.
        if (text.Contains('[', StringComparison.Ordinal))
        {
            text = Image().Replace(text, "$1");
            text = Link().Replace(text, "$1");
            text = ReferenceLink().Replace(text, "$1");
        }

        if (text.Contains('<', StringComparison.Ordinal))
        {
            text = AutoLink().Replace(text, "$1");
            text = HtmlTag().Replace(text, " ");
        }

        text = CodeSpans(text);
        text = Strong(text);
        text = Emphasis(text);
        text = Strikethrough().Replace(text, "$1");
        text = Escape().Replace(text, "$1");
        return WebUtility.HtmlDecode(text).Trim();
    }

    /// <summary>`code` and ``code``: a run of backticks up to the next run of the same length, markers dropped.</summary>
    private static string CodeSpans(string text)
    {
        if (!text.Contains('`', StringComparison.Ordinal))
        {
            return text;
        }

        var runs = new List<(int Start, int Length)>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '`')
            {
                var start = i;
                while (i + 1 < text.Length && text[i + 1] == '`')
                {
                    i++;
                }

                runs.Add((start, i - start + 1));
            }
        }

        // The runs of each length, in order: the closer of a run is the first of its length after it.
        var byLength = new Dictionary<int, Queue<int>>();
        for (var k = 0; k < runs.Count; k++)
        {
            if (!byLength.TryGetValue(runs[k].Length, out var queue))
            {
                byLength[runs[k].Length] = queue = new Queue<int>();
            }

            queue.Enqueue(k);
        }

        var output = new StringBuilder(text.Length);
        var copied = 0;
        for (var k = 0; k < runs.Count; k++)
        {
            var (start, length) = runs[k];
            var same = byLength[length];
            while (same.Count > 0 && same.Peek() <= k)
            {
                same.Dequeue();
            }

            if (same.Count == 0)
            {
                continue;
            }

            var closer = same.Dequeue();
            output.Append(text, copied, start - copied).Append(text, start + length, runs[closer].Start - start - length);
            copied = runs[closer].Start + length;
            k = closer;
        }

        return output.Append(text, copied, text.Length - copied).ToString();
    }

    /// <summary>**strong** and __strong__ around text that starts and ends with a non-space: the markers go.</summary>
    private static string Strong(string text)
    {
        if (!text.Contains("**", StringComparison.Ordinal) && !text.Contains("__", StringComparison.Ordinal))
        {
            return text;
        }

        // The nearest closing pair at or after each position, for each marker: the shortest match, found in one pass.
        var nextStars = NextMarkers(text, '*', (t, j) => j > 0 && j + 1 < t.Length && t[j + 1] == '*' && !char.IsWhiteSpace(t[j - 1]));
        var nextUnderscores = NextMarkers(text, '_', (t, j) => j > 0 && j + 1 < t.Length && t[j + 1] == '_' && !char.IsWhiteSpace(t[j - 1]));
        var output = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c is '*' or '_' && i + 3 < text.Length && text[i + 1] == c && !char.IsWhiteSpace(text[i + 2])
                && (c == '*' ? nextStars : nextUnderscores)[i + 3] is var closer and >= 0)
            {
                output.Append(text, i + 2, closer - i - 2);
                i = closer + 2;
                continue;
            }

            output.Append(c);
            i++;
        }

        return output.ToString();
    }

    /// <summary>*emphasis* and _emphasis_, not inside a word (snake_case stays): the markers go.</summary>
    private static string Emphasis(string text)
    {
        if (!text.Contains('*', StringComparison.Ordinal) && !text.Contains('_', StringComparison.Ordinal))
        {
            return text;
        }

        static bool Bounds(char c) => !IsWordCharacter(c) && c != '*';
        var nextStars = NextMarkers(text, '*', (t, j) => j > 0 && !char.IsWhiteSpace(t[j - 1]) && (j + 1 == t.Length || Bounds(t[j + 1])));
        var nextUnderscores = NextMarkers(text, '_', (t, j) => j > 0 && !char.IsWhiteSpace(t[j - 1]) && (j + 1 == t.Length || Bounds(t[j + 1])));
        var output = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c is '*' or '_' && (i == 0 || Bounds(text[i - 1])) && i + 2 < text.Length && !char.IsWhiteSpace(text[i + 1])
                && (c == '*' ? nextStars : nextUnderscores)[i + 2] is var closer and >= 0)
            {
                output.Append(text, i + 1, closer - i - 1);
                i = closer + 1;
                continue;
            }

            output.Append(c);
            i++;
        }

        return output.ToString();
    }

    /// <summary>For each position, the first position at or after it where <paramref name="isCloser"/> holds for a <paramref name="marker"/>, or -1.</summary>
    private static int[] NextMarkers(string text, char marker, Func<string, int, bool> isCloser)
    {
        var next = new int[text.Length + 1];
        next[text.Length] = -1;
        for (var j = text.Length - 1; j >= 0; j--)
        {
            next[j] = text[j] == marker && isCloser(text, j) ? j : next[j + 1];
        }

        return next;
    }

    /// <summary>What \w matches: letters, non-spacing marks, decimal digits and connector punctuation (the underscore).</summary>
    private static bool IsWordCharacter(char c) => char.GetUnicodeCategory(c) is UnicodeCategory.UppercaseLetter
        or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter
        or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark or UnicodeCategory.DecimalDigitNumber
        or UnicodeCategory.ConnectorPunctuation;

    [GeneratedRegex(@"^\s{0,3}(?:>\s?)+")]
    private static partial Regex BlockQuote();

    [GeneratedRegex(@"^\s{0,3}(`{3,}|~{3,})")]
    private static partial Regex Fence();

    [GeneratedRegex(@"^\s{0,3}\[[^\]]+\]:\s*\S+")]
    private static partial Regex LinkDefinition();

    [GeneratedRegex(@"^\s{0,3}#{1,6}(?=\s|$)")]
    private static partial Regex AtxHeadingStart();

    [GeneratedRegex(@"^\s{0,3}(?:=+|-+)\s*$")]
    private static partial Regex SetextUnderline();

    [GeneratedRegex(@"^\s{0,3}(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$")]
    private static partial Regex ThematicBreak();

    // Atomic groups: two runs of white space with only an optional '|' between them would otherwise be split in every
    // possible way before the line is refused.
    [GeneratedRegex(@"^(?>\s*)\|?(?>\s*):?(?>-{2,}):?(?>\s*)(?:\|(?>\s*):?(?>-{2,}):?(?>\s*))*\|?(?>\s*)$")]
    private static partial Regex TableSeparator();

    [GeneratedRegex(@"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?(.*)$")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"!\[([^\]]*)\]\([^)]*\)", RegexOptions.NonBacktracking)]
    private static partial Regex Image();

    [GeneratedRegex(@"\[([^\]]+)\]\([^)]*\)", RegexOptions.NonBacktracking)]
    private static partial Regex Link();

    [GeneratedRegex(@"\[([^\]]+)\]\[[^\]]*\]", RegexOptions.NonBacktracking)]
    private static partial Regex ReferenceLink();

    [GeneratedRegex(@"<((?:https?|mailto|ftp):[^>\s]+|[^>\s@]+@[^>\s@]+)>", RegexOptions.NonBacktracking)]
    private static partial Regex AutoLink();

    [GeneratedRegex(@"<!--.*?-->|</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>", RegexOptions.NonBacktracking)]
    private static partial Regex HtmlTag();

    [GeneratedRegex(@"~~(.+?)~~")]
    private static partial Regex Strikethrough();

    [GeneratedRegex(@"\\([!-/:-@\[-`{-~])")]
    private static partial Regex Escape();
}

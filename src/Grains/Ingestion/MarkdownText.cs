using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// Markdown to plain text: headings become paragraphs of their own, list items and table rows lines of their own,
/// soft-wrapped lines one paragraph; markup, link targets and front matter are dropped, code is kept as text.
/// </summary>
internal static partial class MarkdownText
{
    public static string ToPlainText(string markdown)
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

            if (AtxHeading().Match(line) is { Success: true } heading)
            {
                Flush();
                output.Append(Inline(heading.Groups[1].Value)).Append("\n\n");
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

    private static string Inline(string text)
    {
        text = Image().Replace(text, "$1");
        text = Link().Replace(text, "$1");
        text = ReferenceLink().Replace(text, "$1");
        text = AutoLink().Replace(text, "$1");
        text = HtmlTag().Replace(text, " ");
        text = CodeSpan().Replace(text, "$2");
        text = Strong().Replace(text, "$2");
        text = Emphasis().Replace(text, "$2");
        text = Strikethrough().Replace(text, "$1");
        text = Escape().Replace(text, "$1");
        return WebUtility.HtmlDecode(text).Trim();
    }

    [GeneratedRegex(@"^\s{0,3}(?:>\s?)+")]
    private static partial Regex BlockQuote();

    [GeneratedRegex(@"^\s{0,3}(`{3,}|~{3,})")]
    private static partial Regex Fence();

    [GeneratedRegex(@"^\s{0,3}\[[^\]]+\]:\s*\S+")]
    private static partial Regex LinkDefinition();

    [GeneratedRegex(@"^\s{0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$")]
    private static partial Regex AtxHeading();

    [GeneratedRegex(@"^\s{0,3}(?:=+|-+)\s*$")]
    private static partial Regex SetextUnderline();

    [GeneratedRegex(@"^\s{0,3}(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$")]
    private static partial Regex ThematicBreak();

    [GeneratedRegex(@"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")]
    private static partial Regex TableSeparator();

    [GeneratedRegex(@"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?(.*)$")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"!\[([^\]]*)\]\([^)]*\)")]
    private static partial Regex Image();

    [GeneratedRegex(@"\[([^\]]+)\]\([^)]*\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"\[([^\]]+)\]\[[^\]]*\]")]
    private static partial Regex ReferenceLink();

    [GeneratedRegex(@"<((?:https?|mailto|ftp):[^>\s]+|[^>\s@]+@[^>\s@]+)>")]
    private static partial Regex AutoLink();

    [GeneratedRegex(@"<!--.*?-->|</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")]
    private static partial Regex HtmlTag();

    [GeneratedRegex(@"(`+)(.+?)\1")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")]
    private static partial Regex Strong();

    [GeneratedRegex(@"(?<![\w*])(\*|_)(?=\S)(.+?)(?<=\S)\1(?![\w*])")]
    private static partial Regex Emphasis();

    [GeneratedRegex(@"~~(.+?)~~")]
    private static partial Regex Strikethrough();

    [GeneratedRegex(@"\\([!-/:-@\[-`{-~])")]
    private static partial Regex Escape();
}

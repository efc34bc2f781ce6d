using System.Text;
using System.Text.RegularExpressions;

namespace AuroraNexus.WebFront.Ui;

/// <summary>
/// The small Markdown subset answers use, as HTML for the backoffice: headings, bullet and numbered lists, paragraphs,
/// bold, italics, inline and fenced code, and http(s)/mailto links. Everything else is text: the input is HTML-encoded
/// before any tag is added, so no markup of the answer (a model's, or a document's quoted by it) reaches the page.
/// </summary>
public static partial class AnswerMarkdown
{
    public static string ToHtml(string? markdown)
    {
        var html = new StringBuilder();
        var paragraph = new List<string>();
        string? list = null;
        StringBuilder? code = null;

        void CloseParagraph()
        {
            if (paragraph.Count > 0)
            {
                html.Append("<p>").AppendJoin("<br>", paragraph.Select(Inline)).Append("</p>\n");
                paragraph.Clear();
            }
        }

        void CloseList()
        {
            if (list is not null)
            {
                html.Append("</").Append(list).Append(">\n");
                list = null;
            }
        }

        foreach (var raw in (markdown ?? "").Replace("\r\n", "\n").Split('\n'))
        {
            var line = raw.TrimEnd();
            if (code is not null)
            {
                if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    html.Append("<pre><code>").Append(code).Append("</code></pre>\n");
                    code = null;
                }
                else
                {
                    code.Append(Encode(raw)).Append('\n');
                }

                continue;
            }

            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                CloseParagraph();
                CloseList();
                code = new StringBuilder();
                continue;
            }

            if (line.Length == 0)
            {
                CloseParagraph();
                CloseList();
                continue;
            }

            if (Heading().Match(line) is { Success: true } heading)
            {
                CloseParagraph();
                CloseList();
                // The page title is an h5: answer headings sit below it.
                var level = Math.Min(heading.Groups[1].Length + 2, 6);
                html.Append($"<h{level}>").Append(Inline(heading.Groups[2].Value)).Append($"</h{level}>\n");
                continue;
            }

            if (Rule().IsMatch(line))
            {
                CloseParagraph();
                CloseList();
                html.Append("<hr>\n");
                continue;
            }

            var bullet = Bullet().Match(line);
            var numbered = bullet.Success ? Match.Empty : Numbered().Match(line);
            if (bullet.Success || numbered.Success)
            {
                CloseParagraph();
                var kind = bullet.Success ? "ul" : "ol";
                if (list != kind)
                {
                    CloseList();
                    list = kind;
                    html.Append('<').Append(kind).Append(">\n");
                }

                html.Append("<li>").Append(Inline((bullet.Success ? bullet : numbered).Groups[1].Value)).Append("</li>\n");
                continue;
            }

            CloseList();
            paragraph.Add(line.Trim());
        }

        if (code is not null)
        {
            html.Append("<pre><code>").Append(code).Append("</code></pre>\n");
        }

        CloseParagraph();
        CloseList();
        return html.ToString();
    }

    /// <summary>Code spans and links are cut out first, so that emphasis never reaches into code or an address.</summary>
    private static string Inline(string text)
    {
        var html = new StringBuilder();
        var at = 0;
        foreach (Match m in CodeOrLink().Matches(text))
        {
            html.Append(Emphasis(Encode(text[at..m.Index])));
            if (m.Groups["code"].Success)
            {
                html.Append("<code>").Append(Encode(m.Groups["code"].Value)).Append("</code>");
            }
            else
            {
                html.Append("<a href=\"").Append(Encode(m.Groups["url"].Value))
                    .Append("\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">")
                    .Append(Emphasis(Encode(m.Groups["text"].Value))).Append("</a>");
            }

            at = m.Index + m.Length;
        }

        return html.Append(Emphasis(Encode(text[at..]))).ToString();
    }

    /// <summary>The five characters that can start markup or end an attribute; accents stay as they are.</summary>
    private static string Encode(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&quot;", StringComparison.Ordinal)
            .Replace("'", "&#39;", StringComparison.Ordinal);

    private static string Emphasis(string encoded) =>
        Italic().Replace(Bold().Replace(encoded, "<strong>$1$2</strong>"), "<em>$1</em>");

    [GeneratedRegex(@"^\s{0,3}(#{1,6})\s+(.+?)\s*#*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^\s{0,3}([-*_])(\s*\1){2,}\s*$")]
    private static partial Regex Rule();

    [GeneratedRegex(@"^\s*[-*+]\s+(.*)$")]
    private static partial Regex Bullet();

    [GeneratedRegex(@"^\s*\d{1,9}[.)]\s+(.*)$")]
    private static partial Regex Numbered();

    [GeneratedRegex(@"`(?<code>[^`]+)`|\[(?<text>[^\]]+)\]\((?<url>(?:https?://|mailto:)[^\s()]+)\)", RegexOptions.IgnoreCase)]
    private static partial Regex CodeOrLink();

    [GeneratedRegex(@"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")]
    private static partial Regex Bold();

    [GeneratedRegex(@"(?<![*\w])\*(?=\S)([^*]+?)(?<=\S)\*(?![*\w])")]
    private static partial Regex Italic();
}

using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// The visible text of an HTML page: headings, paragraphs and blocks become paragraphs, list items and table rows
/// lines (cells joined by " | "); scripts, styles, navigation and hidden elements are dropped; entities decoded.
/// </summary>
internal static class HtmlText
{
    private const string Invisible =
        "head, script, style, noscript, template, nav, svg, math, iframe, object, embed, canvas, button, select, "
        + "input, textarea, [hidden], [aria-hidden='true']";

    private static readonly HashSet<string> ParagraphElements = new(StringComparer.OrdinalIgnoreCase)
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "address",
        "details", "fieldset", "hr",
    };

    private static readonly HashSet<string> LineElements = new(StringComparer.OrdinalIgnoreCase)
    {
        "li", "tr", "dt", "dd", "div", "section", "article", "header", "footer", "main", "aside", "caption",
        "figcaption", "summary", "legend", "form", "label", "option", "center", "body",
    };

    public static string ToPlainText(string html)
    {
        using var document = new HtmlParser().ParseDocument(html);
        foreach (var element in document.QuerySelectorAll(Invisible).ToList())
        {
            element.Remove();
        }

        foreach (var element in document.QuerySelectorAll("[style]").ToList())
        {
            var style = element.GetAttribute("style")!.Replace(" ", "", StringComparison.Ordinal);
            if (style.Contains("display:none", StringComparison.OrdinalIgnoreCase)
                || style.Contains("visibility:hidden", StringComparison.OrdinalIgnoreCase))
            {
                element.Remove();
            }
        }

        var writer = new BlockWriter();
        if (document.Body is { } body)
        {
            Walk(body, writer, preformatted: false);
        }

        return writer.ToString();
    }

    private static void Walk(INode node, BlockWriter writer, bool preformatted)
    {
        foreach (var child in node.ChildNodes)
        {
            switch (child)
            {
                case IText text:
                    writer.Text(text.Data, preformatted);
                    break;
                case IElement element:
                    WalkElement(element, writer, preformatted);
                    break;
            }
        }
    }

    private static void WalkElement(IElement element, BlockWriter writer, bool preformatted)
    {
        var name = element.LocalName;
        if (name == "br")
        {
            writer.Break(BlockWriter.Line);
            return;
        }

        var level = ParagraphElements.Contains(name) ? BlockWriter.Paragraph : LineElements.Contains(name) ? BlockWriter.Line : 0;
        if (name is "td" or "th" && element.PreviousElementSibling is { LocalName: "td" or "th" })
        {
            writer.Separator(" | ");
        }

        writer.Break(level);
        Walk(element, writer, preformatted || name is "pre" or "textarea");
        writer.Break(level);
    }

    /// <summary>Writes text runs, turning the strongest break requested between two runs into newlines.</summary>
    private sealed class BlockWriter
    {
        public const int Line = 1;
        public const int Paragraph = 2;

        private readonly StringBuilder _text = new();
        private int _pendingBreak;
        private string? _pendingSeparator;

        public void Break(int level) => _pendingBreak = Math.Max(_pendingBreak, level);

        public void Separator(string separator) => _pendingSeparator = separator;

        public void Text(string data, bool preformatted)
        {
            var text = preformatted ? data : CollapseWhitespace(data);
            if (!preformatted && (text.Length == 0 || (text == " " && AtLineStart())))
            {
                return;
            }

            if (_pendingBreak > 0 && _text.Length > 0)
            {
                _text.Append(_pendingBreak == Paragraph ? "\n\n" : "\n");
                _pendingSeparator = null;
            }
            else if (_pendingSeparator is not null && !AtLineStart())
            {
                _text.Append(_pendingSeparator);
            }

            _pendingBreak = 0;
            _pendingSeparator = null;
            if (!preformatted && AtLineStart())
            {
                text = text.TrimStart();
            }

            _text.Append(text);
        }

        public override string ToString() => _text.ToString();

        private bool AtLineStart() => _text.Length == 0 || _text[^1] == '\n';

        private static string CollapseWhitespace(string data)
        {
            var builder = new StringBuilder(data.Length);
            foreach (var c in data)
            {
                if (char.IsWhiteSpace(c))
                {
                    if (builder.Length == 0 || builder[^1] != ' ')
                    {
                        builder.Append(' ');
                    }
                }
                else
                {
                    builder.Append(c);
                }
            }

            return builder.ToString();
        }
    }
}

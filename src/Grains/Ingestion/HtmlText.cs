using System.Text;
using AngleSharp.Html;
using AngleSharp.Html.Parser;
using AngleSharp.Html.Parser.Tokens;
using AngleSharp.Text;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// The visible text of an HTML page: headings, paragraphs and blocks become paragraphs, list items and table rows
/// lines (cells joined by " | "); scripts, styles, navigation and hidden elements are dropped; entities decoded.
/// </summary>
/// <remarks>
/// The page is read as a stream of tokens against a stack of open elements, not built into a DOM: the HTML tree
/// construction algorithm scans the whole stack of open elements for most tags, so a page of 100,000 nested tags took
/// minutes to parse. The stack here holds at most <see cref="MaxDepth"/> elements; deeper tags are flattened (their
/// text is kept, their nesting only counted by name), so that every token costs a bounded amount of work. The rules of
/// the algorithm kept are those that decide what is visible and where lines break: the implied ends of p, li, dd/dt,
/// headings, links, buttons, selects and table parts, the end of head, raw text elements, foreign (SVG/MathML) content.
/// Text a browser would move out of a table (foster parenting) stays where it is written.
/// </remarks>
internal static class HtmlText
{
    /// <summary>Open elements kept as a tree; tags nested deeper are flattened.</summary>
    internal const int MaxDepth = 256;

    private const int Line = 1;
    private const int Paragraph = 2;

    private static readonly HashSet<string> Invisible =
    [
        "head", "script", "style", "noscript", "template", "nav", "svg", "math", "iframe", "object", "embed", "canvas",
        "button", "select", "input", "textarea", "noembed", "noframes",
    ];

    private static readonly HashSet<string> ParagraphElements =
    [
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl", "figure", "address",
        "details", "fieldset", "hr",
    ];

    private static readonly HashSet<string> LineElements =
    [
        "li", "tr", "dt", "dd", "div", "section", "article", "header", "footer", "main", "aside", "caption",
        "figcaption", "summary", "legend", "form", "label", "option", "center", "body",
    ];

    private static readonly HashSet<string> Void =
    [
        "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img", "input", "keygen",
        "link", "meta", "param", "source", "track", "wbr",
    ];

    private static readonly Dictionary<string, HtmlParseMode> RawText = new(StringComparer.Ordinal)
    {
        ["script"] = HtmlParseMode.Script,
        ["style"] = HtmlParseMode.Rawtext,
        ["xmp"] = HtmlParseMode.Rawtext,
        ["iframe"] = HtmlParseMode.Rawtext,
        ["noembed"] = HtmlParseMode.Rawtext,
        ["noframes"] = HtmlParseMode.Rawtext,
        ["textarea"] = HtmlParseMode.RCData,
        ["title"] = HtmlParseMode.RCData,
        ["plaintext"] = HtmlParseMode.Plaintext,
    };

    /// <summary>Elements allowed in head; any other start tag ends it.</summary>
    private static readonly HashSet<string> HeadContent =
    [
        "base", "basefont", "bgsound", "link", "meta", "title", "noscript", "noframes", "style", "script", "template",
    ];

    /// <summary>Start tags that close an open p.</summary>
    private static readonly HashSet<string> ClosesParagraph =
    [
        "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl", "fieldset",
        "figcaption", "figure", "footer", "header", "hgroup", "main", "menu", "nav", "ol", "p", "search", "section",
        "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "listing", "form", "li", "dd", "dt", "plaintext",
        "table", "hr", "xmp",
    ];

    /// <summary>The "special" elements of the HTML standard: an end tag of a phrasing element does not close them.</summary>
    private static readonly HashSet<string> Special =
    [
        "address", "applet", "area", "article", "aside", "base", "basefont", "bgsound", "blockquote", "body", "br",
        "button", "caption", "center", "col", "colgroup", "dd", "details", "dir", "div", "dl", "dt", "embed",
        "fieldset", "figcaption", "figure", "footer", "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6",
        "head", "header", "hgroup", "hr", "html", "iframe", "img", "input", "keygen", "li", "link", "listing", "main",
        "marquee", "menu", "meta", "nav", "noembed", "noframes", "noscript", "object", "ol", "p", "param", "plaintext",
        "pre", "script", "search", "section", "select", "source", "style", "summary", "table", "tbody", "td",
        "template", "textarea", "tfoot", "th", "thead", "title", "tr", "track", "ul", "wbr", "xmp",
    ];

    private static readonly HashSet<string> DefaultScope = ["applet", "caption", "html", "table", "td", "th", "marquee", "object", "template"];

    private static readonly HashSet<string> ListItemScope = [.. DefaultScope, "ol", "ul"];

    private static readonly HashSet<string> ButtonScope = [.. DefaultScope, "button"];

    private static readonly HashSet<string> TableScope = ["html", "table", "template"];

    private static readonly HashSet<string> TableParts = ["caption", "colgroup", "tbody", "thead", "tfoot", "tr", "td", "th"];

    /// <summary>HTML start tags that end SVG or MathML content.</summary>
    private static readonly HashSet<string> ForeignBreakout =
    [
        "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed", "h1", "h2",
        "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing", "menu", "meta", "nobr", "ol", "p", "pre",
        "ruby", "s", "small", "span", "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var",
    ];

    public static string ToPlainText(string html, CancellationToken cancellationToken = default) =>
        new PageReader(html, cancellationToken).Read();

    private static int LevelOf(string name) =>
        ParagraphElements.Contains(name) ? Paragraph : LineElements.Contains(name) ? Line : 0;

    private sealed class OpenElement(string name, int level, bool hides, bool visible, bool foreign)
    {
        public string Name { get; } = name;

        /// <summary>The break its start and end make in the text (0 for inline elements).</summary>
        public int Level { get; } = level;

        /// <summary>Whether it hides what it contains.</summary>
        public bool Hides { get; } = hides;

        /// <summary>Whether it is shown: neither it nor an element around it is hidden.</summary>
        public bool Visible { get; } = visible;

        public bool Foreign { get; } = foreign;

        /// <summary>The name of its last visible child element: a cell after a cell is set apart by " | ".</summary>
        public string? LastChild { get; set; }
    }

    private sealed class PageReader(string html, CancellationToken cancellationToken)
    {
        private readonly HtmlTokenizer _tokens = new(new TextSource(html), HtmlEntityProvider.Resolver);
        private readonly BlockWriter _writer = new();

        // The document itself at the bottom: never popped, so that every element has a parent.
        private readonly List<OpenElement> _open = [new OpenElement("#document", 0, hides: false, visible: true, foreign: false)];

        /// <summary>Elements open past <see cref="MaxDepth"/>, by name: their end tags are matched by count.</summary>
        private Dictionary<string, int> _flattened = new(StringComparer.Ordinal);

        /// <summary>The outermost hidden element among the flattened ones, and its count when it started.</summary>
        private (string Name, int Count)? _flattenedHidden;

        private int _hidden;
        private int _preformatted;
        private int _foreign;
        private int _selects;
        private string? _rawText;
        private bool _rawTextVisible;
        private bool _headDone;
        private bool _skipNewline;

        private bool Visible => _hidden == 0 && _flattenedHidden is null;

        private bool InForeign => _foreign > 0 || _flattenedHidden?.Name is "svg" or "math";

        private OpenElement Current => _open[^1];

        private bool InSelect => _selects > 0 && Current.Name is "select" or "option" or "optgroup";

        public string Read()
        {
            for (var count = 1; ; count++)
            {
                if ((count & 1023) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }

                _tokens.IsAcceptingCharacterData = InForeign;
                var token = _tokens.Get();
                var skipNewline = _skipNewline;
                _skipNewline = false;
                switch (token.Type)
                {
                    case HtmlTokenType.EndOfFile:
                        return _writer.ToString();
                    case HtmlTokenType.Character:
                        Characters(token.Data, skipNewline);
                        break;
                    case HtmlTokenType.StartTag:
                        StartTag(token.AsTag());
                        break;
                    case HtmlTokenType.EndTag:
                        EndTag(token.Name);
                        break;
                }
            }
        }

        private void Characters(string data, bool skipNewline)
        {
            if (_rawText is not null)
            {
                if (_rawTextVisible && Visible)
                {
                    _writer.Text(data, preformatted: false);
                }

                return;
            }

            if (!string.IsNullOrWhiteSpace(data))
            {
                // Text cannot be in head: it ends head and starts the body.
                if (HeadIsCurrent())
                {
                    PopTo(_open.FindLastIndex(e => e.Name == "head"));
                }

                _headDone = true;
            }

            if (!Visible)
            {
                return;
            }

            // As in the HTML standard, a newline right after <pre> is not part of the content.
            if (skipNewline && data.StartsWith('\n'))
            {
                data = data[1..];
            }

            _writer.Text(data, _preformatted > 0);
        }

        private void StartTag(HtmlTagToken tag)
        {
            var name = tag.Name;
            if (InForeign)
            {
                if (!ForeignBreakout.Contains(name) && !(name == "font" && tag.Attributes.Any(a => a.Name is "color" or "face" or "size")))
                {
                    // Inside SVG or MathML (hidden): self-closing tags close, and nothing is raw text.
                    if (!tag.IsSelfClosing)
                    {
                        Push(name, level: 0, hides: false, visible: false, foreign: true);
                    }

                    return;
                }

                LeaveForeign();
            }

            switch (name)
            {
                case "html" or "frameset" or "frame" or "col":
                    return;
                case "head":
                    if (!_headDone)
                    {
                        _headDone = true;
                        Push(name, 0, hides: true, visible: false, foreign: false);
                    }

                    return;
                case "body":
                    CloseHead();
                    return;
            }

            if (!HeadContent.Contains(name))
            {
                CloseHead();
            }
            else if (!_headDone && _open.Count == 1)
            {
                // Before the body, what belongs in head opens it (and text after it closes it).
                _headDone = true;
                Push("head", 0, hides: true, visible: false, foreign: false);
            }

            if (InSelect && name is not ("option" or "optgroup" or "select" or "input" or "keygen" or "textarea" or "script" or "template"))
            {
                // Inside a select only options count; other tags are dropped, their text stays in the select.
                return;
            }

            if (!CloseImplied(name))
            {
                return;
            }

            var hides = Hides(tag);
            var visible = Visible && !hides;
            var level = LevelOf(name);
            if (visible)
            {
                if (name is "td" or "th" && Current.LastChild is "td" or "th")
                {
                    _writer.Separator(" | ");
                }

                Current.LastChild = name;
                _writer.Break(name == "br" ? Line : level);
            }

            if (Void.Contains(name))
            {
                return;
            }

            if (RawText.TryGetValue(name, out var mode))
            {
                // Its content is one run of text up to its end tag, whatever it looks like: it needs no stack entry.
                _tokens.State = mode;
                _rawText = name;
                _rawTextVisible = visible;
                return;
            }

            _skipNewline = name is "pre" or "listing";
            Push(name, level, hides, visible, foreign: name is "svg" or "math");
        }

        private void EndTag(string name)
        {
            if (_rawText is not null)
            {
                // In raw text the tokenizer only ends on the element's own end tag.
                _rawText = name == _rawText ? null : _rawText;
                return;
            }

            if (_flattened.TryGetValue(name, out var count) && count > 0)
            {
                if (count == 1)
                {
                    _flattened.Remove(name);
                }
                else
                {
                    _flattened[name] = count - 1;
                }

                if (_flattenedHidden is { } hidden && hidden.Name == name && count - 1 < hidden.Count)
                {
                    _flattenedHidden = null;
                }
                else if (Visible)
                {
                    _writer.Break(LevelOf(name));
                }

                return;
            }

            if (InSelect && name is not ("option" or "optgroup" or "select" or "template"))
            {
                return;
            }

            if (InForeign && name is "br" or "p")
            {
                LeaveForeign();
            }

            switch (name)
            {
                case "html" or "body":
                    return;
                case "br":
                    if (Visible)
                    {
                        _writer.Break(Line);
                    }

                    return;
                case "p" when FindInScope("p", ButtonScope) is var p && p < 0:
                    // An end tag without its start makes an empty paragraph.
                    if (Visible)
                    {
                        _writer.Break(Paragraph);
                    }

                    return;
            }

            var index = FindForEndTag(name);
            if (index > 0)
            {
                PopTo(index);
            }
        }

        /// <summary>
        /// Closes what a start tag implicitly ends (a p before a block, the previous li, cell or row...); false when
        /// the tag is to be ignored (a table part outside any table).
        /// </summary>
        private bool CloseImplied(string name)
        {
            // Past the depth limit nesting is not modelled: an implied end would close elements of the tree instead of
            // the flattened ones it is meant for.
            if (_flattened.Count > 0 && _open.Count > MaxDepth)
            {
                return !TableParts.Contains(name) || TableContext() > 0;
            }

            if (TableParts.Contains(name) || name == "table")
            {
                var context = TableContext();
                if (context <= 0)
                {
                    return name == "table" && ClosePInButtonScope();
                }

                switch (name)
                {
                    case "td" or "th":
                        PopUntil("tr", "tbody", "thead", "tfoot", "table");
                        return true;
                    case "tr":
                        PopUntil("tbody", "thead", "tfoot", "table");
                        return true;
                    case "table":
                        if (_open[context].Name is "td" or "th" or "caption")
                        {
                            return ClosePInButtonScope();
                        }

                        // A table started directly inside a table ends it.
                        PopTo(_open.FindLastIndex(e => e.Name == "table"));
                        return true;
                    default:
                        PopUntil("table");
                        return true;
                }
            }

            switch (name)
            {
                case "li":
                    CloseListItem("li", null);
                    break;
                case "dd" or "dt":
                    CloseListItem("dd", "dt");
                    break;
                case "option":
                    PopIfCurrent("option");
                    break;
                case "optgroup":
                    PopIfCurrent("option");
                    PopIfCurrent("optgroup");
                    break;
                case "button" or "a":
                    // Neither nests: a new one ends the open one.
                    if (FindInScope(name, DefaultScope) is var open and > 0)
                    {
                        PopTo(open);
                    }

                    break;
                case "select" or "input" or "textarea" or "keygen":
                    // Inside a select these end it, and a select opens nothing more.
                    if (FindInScope("select", DefaultScope) is var select and > 0)
                    {
                        PopTo(select);
                        return name != "select";
                    }

                    break;
            }

            if (ClosesParagraph.Contains(name))
            {
                ClosePInButtonScope();
            }

            if (name is "h1" or "h2" or "h3" or "h4" or "h5" or "h6" && Current.Name is "h1" or "h2" or "h3" or "h4" or "h5" or "h6")
            {
                PopTo(_open.Count - 1);
            }

            return true;
        }

        private bool ClosePInButtonScope()
        {
            if (FindInScope("p", ButtonScope) is var p and > 0)
            {
                PopTo(p);
            }

            return true;
        }

        /// <summary>A new li (or dd, dt) ends the open one, unless a block other than address, div or p is in between.</summary>
        private void CloseListItem(string name, string? other)
        {
            for (var i = _open.Count - 1; i > 0; i--)
            {
                var node = _open[i].Name;
                if (node == name || node == other)
                {
                    PopTo(i);
                    return;
                }

                if (Special.Contains(node) && node is not ("address" or "div" or "p"))
                {
                    return;
                }
            }
        }

        /// <summary>The index of the innermost table, table section, row or cell, 0 when there is none.</summary>
        private int TableContext()
        {
            for (var i = _open.Count - 1; i > 0; i--)
            {
                if (TableParts.Contains(_open[i].Name) || _open[i].Name == "table")
                {
                    return i;
                }

                if (_open[i].Name == "template")
                {
                    return 0;
                }
            }

            return 0;
        }

        private int FindInScope(string name, HashSet<string> scope)
        {
            for (var i = _open.Count - 1; i > 0; i--)
            {
                if (_open[i].Name == name)
                {
                    return i;
                }

                if (scope.Contains(_open[i].Name) && !_open[i].Foreign)
                {
                    return -1;
                }
            }

            return -1;
        }

        /// <summary>The element an end tag closes: the innermost of its name, unless a boundary comes first.</summary>
        private int FindForEndTag(string name)
        {
            var scope = name is "li" ? ListItemScope : TableParts.Contains(name) || name == "table" ? TableScope : DefaultScope;
            var special = Special.Contains(name);
            for (var i = _open.Count - 1; i > 0; i--)
            {
                var node = _open[i];
                if (node.Name == name)
                {
                    return i;
                }

                if (node.Foreign)
                {
                    continue;
                }

                // A block's end tag closes what is open inside it; a phrasing element's end tag does not cross a block.
                if (special ? scope.Contains(node.Name) : Special.Contains(node.Name))
                {
                    return -1;
                }
            }

            return -1;
        }

        private bool HeadIsCurrent() =>
            Current.Name == "head" || (Current.Name == "noscript" && _open.Count > 2 && _open[^2].Name == "head");

        private void CloseHead()
        {
            _headDone = true;
            if (HeadIsCurrent())
            {
                PopTo(_open.FindLastIndex(e => e.Name == "head"));
            }
        }

        private void LeaveForeign()
        {
            if (_foreign > 0)
            {
                PopTo(_open.FindIndex(e => e.Foreign));
            }
            else if (_flattenedHidden is { } hidden)
            {
                _flattened[hidden.Name] = hidden.Count - 1;
                _flattenedHidden = null;
            }
        }

        private void PopIfCurrent(string name)
        {
            if (Current.Name == name)
            {
                PopTo(_open.Count - 1);
            }
        }

        /// <summary>Pops until the current element is one of <paramref name="names"/> (there is one: the table context).</summary>
        private void PopUntil(params ReadOnlySpan<string> names)
        {
            while (_open.Count > 1 && !names.Contains(Current.Name))
            {
                Pop();
            }
        }

        private void Push(string name, int level, bool hides, bool visible, bool foreign)
        {
            if (_open.Count > MaxDepth)
            {
                var count = _flattened.GetValueOrDefault(name) + 1;
                _flattened[name] = count;
                if (hides && _flattenedHidden is null)
                {
                    _flattenedHidden = (name, count);
                }

                return;
            }

            _open.Add(new OpenElement(name, visible ? level : 0, hides, visible, foreign));
            _hidden += hides ? 1 : 0;
            _preformatted += name is "pre" or "listing" ? 1 : 0;
            _foreign += foreign ? 1 : 0;
            _selects += name == "select" && !foreign ? 1 : 0;
        }

        /// <summary>Pops the element at <paramref name="index"/> and all those open inside it.</summary>
        private void PopTo(int index)
        {
            while (index > 0 && _open.Count > index)
            {
                Pop();
            }
        }

        private void Pop()
        {
            var element = _open[^1];
            _open.RemoveAt(_open.Count - 1);
            _hidden -= element.Hides ? 1 : 0;
            _preformatted -= element.Name is "pre" or "listing" ? 1 : 0;
            _foreign -= element.Foreign ? 1 : 0;
            _selects -= element.Name == "select" && !element.Foreign ? 1 : 0;

            // The flattened elements were inside it: they end with it.
            if (_flattened.Count > 0)
            {
                _flattened = new(StringComparer.Ordinal);
                _flattenedHidden = null;
            }

            if (element.Visible)
            {
                _writer.Break(element.Level);
            }
        }

        private bool Hides(HtmlTagToken tag)
        {
            if (Invisible.Contains(tag.Name))
            {
                return true;
            }

            foreach (var attribute in tag.Attributes)
            {
                switch (attribute.Name)
                {
                    case "hidden":
                    case "aria-hidden" when attribute.Value == "true":
                        return true;
                    case "style":
                        var style = attribute.Value.Replace(" ", "", StringComparison.Ordinal);
                        if (style.Contains("display:none", StringComparison.OrdinalIgnoreCase)
                            || style.Contains("visibility:hidden", StringComparison.OrdinalIgnoreCase))
                        {
                            return true;
                        }

                        break;
                }
            }

            return false;
        }
    }

    /// <summary>Writes text runs, turning the strongest break requested between two runs into newlines.</summary>
    private sealed class BlockWriter
    {
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

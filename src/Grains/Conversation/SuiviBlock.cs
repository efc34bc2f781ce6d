using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AuroraNexus.Grains.Conversation;

public enum SuiviCompliance
{
    /// <summary>The answer ended with a canonical block; nothing was changed.</summary>
    Compliant,

    /// <summary>The block was rebuilt from its own items or from the answer's structure.</summary>
    Repaired,

    /// <summary>No usable outline: the answer must not be stored as an outline.</summary>
    NonCompliant,
}

/// <summary>One <c>[Sn] title</c> line of a SUIVI block.</summary>
public sealed record SuiviSection(string Id, string Title);

/// <summary>
/// An answer split into its body and its outline. <see cref="Sections"/> is empty whenever
/// <see cref="Status"/> is <see cref="SuiviCompliance.NonCompliant"/>.
/// </summary>
public sealed record SuiviParseResult(
    string Body,
    ImmutableArray<SuiviSection> Sections,
    SuiviCompliance Status,
    IReadOnlyList<string> Problems)
{
    public bool HasOutline => Status != SuiviCompliance.NonCompliant && !Sections.IsDefaultOrEmpty;

    /// <summary>The outline to keep in thread state, every section grounded by the same chunks.</summary>
    public ImmutableArray<OutlineSection> ToOutline(ImmutableArray<long> groundingChunkIds)
    {
        if (!HasOutline)
        {
            return [];
        }

        var chunks = groundingChunkIds.IsDefault ? [] : groundingChunkIds;
        return [.. Sections.Select(s => new OutlineSection(s.Id, s.Title, chunks))];
    }
}

/// <summary>Stable codes of what was wrong with a SUIVI block (logged, never shown to end users).</summary>
public static class SuiviProblems
{
    public const string BlockMissing = "block_missing";
    public const string HeaderMissing = "header_missing";
    public const string HeaderNotCanonical = "header_not_canonical";
    public const string NumberingNotCanonical = "numbering_not_canonical";
    public const string BlockFormatting = "block_formatting";
    public const string TooFewItems = "too_few_items";
    public const string TooManyItems = "too_many_items";
    public const string TextAfterBlock = "text_after_block";
    public const string RebuiltFromStructure = "rebuilt_from_structure";
    public const string StructureTruncated = "structure_truncated";
    public const string NoUsableOutline = "no_usable_outline";
}

/// <summary>
/// The SUIVI block that ends every deliverable answer: a line <c>SUIVI</c>, then 4 to 8 lines
/// <c>[S1] title</c> … <c>[Sn] title</c>, and nothing after.
/// </summary>
public static partial class SuiviBlock
{
    public const string Header = "SUIVI";
    public const int MinSections = 4;
    public const int MaxSections = 8;
    public const int MaxTitleLength = 80;

    public static string SectionId(int number) => string.Create(CultureInfo.InvariantCulture, $"S{number}");

    /// <summary>The canonical block for 4 to 8 titles; titles are cleaned and shortened to one line.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 4 or more than 8 titles.</exception>
    /// <exception cref="ArgumentException">A title is empty once cleaned.</exception>
    public static string Render(IReadOnlyList<string> titles)
    {
        ArgumentNullException.ThrowIfNull(titles);
        if (titles.Count is < MinSections or > MaxSections)
        {
            throw new ArgumentOutOfRangeException(nameof(titles), titles.Count, "A SUIVI block has 4 to 8 sections.");
        }

        var builder = new StringBuilder(Header);
        for (var i = 0; i < titles.Count; i++)
        {
            var title = CleanTitle(titles[i]);
            if (title.Length == 0)
            {
                throw new ArgumentException($"Title {i + 1} is empty.", nameof(titles));
            }

            builder.Append('\n').Append('[').Append(SectionId(i + 1)).Append("] ").Append(title);
        }

        return builder.ToString();
    }

    /// <summary>
    /// The answer's body followed by the canonical block when the outline is compliant or repairable;
    /// otherwise the body alone, so a broken outline is never shown as one.
    /// </summary>
    public static string Normalize(string answer)
    {
        var parsed = Parse(answer);
        if (!parsed.HasOutline)
        {
            return parsed.Body;
        }

        var block = Render([.. parsed.Sections.Select(s => s.Title)]);
        return parsed.Body.Length == 0 ? block : parsed.Body + "\n\n" + block;
    }

    /// <summary>One line, no markdown emphasis, no trailing punctuation, at most <see cref="MaxTitleLength"/> chars.</summary>
    public static string CleanTitle(string title)
    {
        if (string.IsNullOrWhiteSpace(title))
        {
            return string.Empty;
        }

        var text = Emphasis().Replace(title, string.Empty);
        text = Whitespace().Replace(text, " ").Trim();
        // "1. Contexte", "II) Démarches", "B. Recours": the outline numbers its parts itself.
        text = ListNumbering().Replace(text, string.Empty);
        text = text.Trim('"', '«', '»', '“', '”', ' ').TrimStart(':', '-', '–', '—', ' ');
        text = text.TrimEnd(':', ';', ',', '.', ' ', '-', '–', '—');
        if (text.EndsWith("..", StringComparison.Ordinal) || text.EndsWith('…'))
        {
            text = text.TrimEnd('.', '…').TrimEnd() + "…";
        }

        return Shorten(text, MaxTitleLength);
    }

    internal static string Shorten(string text, int maxLength)
    {
        if (text.Length <= maxLength)
        {
            return text;
        }

        var cut = text.LastIndexOf(' ', maxLength - 1);
        var head = cut >= maxLength / 2 ? text[..cut] : text[..(maxLength - 1)];
        return head.TrimEnd(' ', ',', ';', ':', '.', '-', '–', '—', '(') + "…";
    }

    public static SuiviParseResult Parse(string answer)
    {
        var lines = (answer ?? string.Empty).ReplaceLineEndings("\n").Split('\n');
        var end = lines.Length;
        while (end > 0 && string.IsNullOrWhiteSpace(lines[end - 1]))
        {
            end--;
        }

        var problems = new List<string>();
        var block = FindBlock(lines, end) ?? FindHeaderlessBlock(lines, end);

        if (block is null)
        {
            var bodyEnd = end;
            if (end > 0 && TryHeader(lines[end - 1], out _))
            {
                bodyEnd = end - 1;
            }

            problems.Add(SuiviProblems.BlockMissing);
            var body = JoinBody(lines, bodyEnd);
            return FromStructure(body, lines.AsSpan(0, bodyEnd), problems);
        }

        var found = block.Value;
        var bodyText = JoinBody(lines, found.Start);
        var compliant = found.HeaderCanonical && found.CleanLayout && found.TrailingStart >= end;

        if (found.TrailingStart < end)
        {
            problems.Add(SuiviProblems.TextAfterBlock);
            var trailing = string.Join('\n', lines[found.TrailingStart..end].Where(l => !IsFenceLine(l))).Trim();
            if (trailing.Length > 0)
            {
                bodyText = bodyText.Length == 0 ? trailing : bodyText + "\n\n" + trailing;
            }
        }

        if (!found.HasHeader)
        {
            problems.Add(SuiviProblems.HeaderMissing);
            compliant = false;
        }
        else if (!found.HeaderCanonical)
        {
            problems.Add(SuiviProblems.HeaderNotCanonical);
        }

        if (!found.CleanLayout)
        {
            problems.Add(SuiviProblems.BlockFormatting);
        }

        var items = found.Items.Where(i => i.Title.Length > 0).ToList();
        if (!NumberedCanonically(items))
        {
            problems.Add(SuiviProblems.NumberingNotCanonical);
            compliant = false;
        }

        if (items.Count > MaxSections)
        {
            problems.Add(SuiviProblems.TooManyItems);
            items = items.Take(MaxSections).ToList();
            compliant = false;
        }

        if (items.Count >= MinSections)
        {
            var status = compliant ? SuiviCompliance.Compliant : SuiviCompliance.Repaired;
            return new SuiviParseResult(bodyText, ToSections(items.Select(i => i.Title)), status, [.. problems]);
        }

        problems.Add(SuiviProblems.TooFewItems);
        var bodyLines = bodyText.Split('\n');
        return FromStructure(bodyText, bodyLines, problems);
    }

    private static ImmutableArray<SuiviSection> ToSections(IEnumerable<string> titles) =>
        [.. titles.Select((t, i) => new SuiviSection(SectionId(i + 1), t))];

    private static bool NumberedCanonically(List<Item> items)
    {
        for (var i = 0; i < items.Count; i++)
        {
            if (!items[i].Canonical || items[i].Number != i + 1)
            {
                return false;
            }
        }

        return true;
    }

    private static SuiviParseResult FromStructure(string body, ReadOnlySpan<string> bodyLines, List<string> problems)
    {
        var titles = StructureTitles(bodyLines, problems);
        if (titles is null)
        {
            problems.Add(SuiviProblems.NoUsableOutline);
            return new SuiviParseResult(body, [], SuiviCompliance.NonCompliant, [.. problems]);
        }

        problems.Add(SuiviProblems.RebuiltFromStructure);
        return new SuiviParseResult(body, ToSections(titles), SuiviCompliance.Repaired, [.. problems]);
    }

    private static string JoinBody(string[] lines, int count)
    {
        var end = count;
        while (end > 0 && (string.IsNullOrWhiteSpace(lines[end - 1]) || IsFenceLine(lines[end - 1]) || HorizontalRule().IsMatch(lines[end - 1])))
        {
            end--;
        }

        return string.Join('\n', lines, 0, end).Trim();
    }

    private readonly record struct Item(string Title, int? Number, bool Canonical);

    private readonly record struct Block(
        int Start, bool HasHeader, bool HeaderCanonical, bool CleanLayout, List<Item> Items, int TrailingStart);

    private static Block? FindBlock(string[] lines, int end)
    {
        for (var i = end - 1; i >= 0; i--)
        {
            if (!TryHeader(lines[i], out var inline))
            {
                continue;
            }

            var items = new List<Item>();
            var cleanLayout = true;
            if (inline.Length > 0)
            {
                cleanLayout = false;
                foreach (var part in InlineMarker().Split(inline))
                {
                    if (TryItem(part.Trim(), out var item, out _))
                    {
                        items.Add(item);
                    }
                }
            }

            var j = i + 1;
            var pendingBlank = false;
            int? baseIndent = null;
            var openedFence = false;
            for (; j < end; j++)
            {
                var line = lines[j];
                if (string.IsNullOrWhiteSpace(line))
                {
                    pendingBlank = true;
                    continue;
                }

                if (IsFenceLine(line))
                {
                    cleanLayout = false;
                    if (items.Count == 0 && !openedFence)
                    {
                        openedFence = true;
                        continue;
                    }

                    j++;
                    break;
                }

                if (!TryItem(line, out var item, out var indent))
                {
                    break;
                }

                if (baseIndent is { } b && indent > b + 1)
                {
                    cleanLayout = false;
                    continue;
                }

                baseIndent ??= indent;
                cleanLayout &= !pendingBlank;
                pendingBlank = false;
                items.Add(item);
            }

            if (items.Count == 0)
            {
                continue;
            }

            var start = i;
            var before = i - 1;
            while (before >= 0 && string.IsNullOrWhiteSpace(lines[before]))
            {
                before--;
            }

            if (before >= 0 && IsFenceLine(lines[before]))
            {
                cleanLayout = false;
                start = before;
            }

            var trailing = j;
            while (trailing < end && (string.IsNullOrWhiteSpace(lines[trailing]) || IsFenceLine(lines[trailing])))
            {
                trailing++;
            }

            var canonicalHeader = lines[i].Trim() == Header && inline.Length == 0;
            return new Block(start, true, canonicalHeader, cleanLayout, items, trailing < end ? j : end);
        }

        return null;
    }

    /// <summary>Trailing <c>[S1] …</c> lines with the header forgotten.</summary>
    private static Block? FindHeaderlessBlock(string[] lines, int end)
    {
        var start = end;
        for (var i = end - 1; i >= 0; i--)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
            {
                continue;
            }

            if (!SidItem().IsMatch(lines[i]))
            {
                break;
            }

            start = i;
        }

        if (start == end)
        {
            return null;
        }

        var items = new List<Item>();
        for (var i = start; i < end; i++)
        {
            if (!string.IsNullOrWhiteSpace(lines[i]) && TryItem(lines[i], out var item, out _))
            {
                items.Add(item);
            }
        }

        return new Block(start, false, false, true, items, end);
    }

    private static bool TryHeader(string line, out string inline)
    {
        inline = string.Empty;
        var text = line.Trim().Trim('#', '>', '*', '_', '=', '-', '–', '—', '~', ' ', '\t');
        if (text.Length == 0 || text.Length > 200)
        {
            return false;
        }

        var match = HeaderLine().Match(TextFolding.Fold(text));
        if (!match.Success)
        {
            return false;
        }

        var rest = match.Groups["rest"];
        inline = rest.Success ? text[rest.Index..].Trim() : string.Empty;
        return true;
    }

    private static bool TryItem(string line, out Item item, out int indent)
    {
        var canonical = CanonicalItem().Match(line);
        if (canonical.Success)
        {
            indent = 0;
            item = new Item(CleanTitle(canonical.Groups["t"].Value), int.Parse(canonical.Groups["n"].Value, CultureInfo.InvariantCulture), true);
            return true;
        }

        var match = MarkedItem().Match(line);
        if (!match.Success)
        {
            match = BulletItem().Match(line);
        }

        if (!match.Success)
        {
            indent = 0;
            item = default;
            return false;
        }

        indent = match.Groups["indent"].Length;
        int? number = null;
        if (match.Groups["n"].Success)
        {
            number = int.Parse(match.Groups["n"].Value, CultureInfo.InvariantCulture);
        }
        else if (match.Groups["l"].Success)
        {
            number = char.ToUpperInvariant(match.Groups["l"].Value[0]) - 'A' + 1;
        }

        item = new Item(CleanTitle(match.Groups["t"].Value), number, false);
        return true;
    }

    private static bool IsFenceLine(string line) => FenceLine().IsMatch(line);

    private static List<string>? StructureTitles(ReadOnlySpan<string> lines, List<string> problems)
    {
        var headings = new List<string>[6];
        for (var i = 0; i < headings.Length; i++)
        {
            headings[i] = [];
        }

        var bold = new List<string>();
        var numbered = new List<string>();
        var bullets = new List<string>();
        var inFence = false;

        foreach (var line in lines)
        {
            if (IsFenceLine(line))
            {
                inFence = !inFence;
                continue;
            }

            if (inFence || string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var heading = MarkdownHeading().Match(line);
            if (heading.Success)
            {
                Add(headings[heading.Groups["level"].Length - 1], heading.Groups["t"].Value);
                continue;
            }

            var lead = BoldLeadIn().Match(line);
            if (lead.Success)
            {
                Add(bold, lead.Groups["t"].Value);
            }

            var number = NumberedLine().Match(line);
            if (number.Success)
            {
                Add(numbered, ItemTitle(number.Groups["t"].Value));
                continue;
            }

            var bullet = TopBulletLine().Match(line);
            if (bullet.Success)
            {
                Add(bullets, ItemTitle(bullet.Groups["t"].Value));
            }
        }

        List<List<string>> candidates = [.. headings, bold, numbered, bullets];
        foreach (var candidate in candidates)
        {
            if (candidate.Count is >= MinSections and <= MaxSections)
            {
                return candidate;
            }
        }

        foreach (var candidate in candidates)
        {
            if (candidate.Count > MaxSections)
            {
                problems.Add(SuiviProblems.StructureTruncated);
                return candidate.Take(MaxSections).ToList();
            }
        }

        return null;

        static void Add(List<string> list, string raw)
        {
            var title = CleanTitle(raw);
            if (title.Length > 0)
            {
                list.Add(title);
            }
        }
    }

    /// <summary>A list item's label: its bold lead-in, else the text before a colon or dash, else the item itself.</summary>
    private static string ItemTitle(string text)
    {
        var lead = BoldStart().Match(text);
        if (lead.Success)
        {
            return lead.Groups["t"].Value;
        }

        var separator = LabelSeparator().Match(text);
        if (separator.Success && separator.Index is >= 3 and <= MaxTitleLength)
        {
            return text[..separator.Index];
        }

        return text;
    }

    [GeneratedRegex(@"^(?:suivis?|follow[- ]?ups?|pistes? de suivi|points? de suivi|sections? de suivi|questions? de suivi)(?:\s*[:：\-–—]\s*|\s+)?(?<rest>\[\s*s\s*\d.*)?$", RegexOptions.CultureInvariant)]
    private static partial Regex HeaderLine();

    [GeneratedRegex(@"(?=\[\s*[Ss]\s*\d{1,2}\s*\])", RegexOptions.CultureInvariant)]
    private static partial Regex InlineMarker();

    [GeneratedRegex(@"^\[S(?<n>\d{1,2})\][ \t]+(?<t>[^\s:\-–—].*?)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex CanonicalItem();

    [GeneratedRegex(
        @"^(?<indent>[ \t]*)(?:[-*•+]\s+)?(?:\*\*|__)?\s*" +
        @"(?:\[\s*[Ss]\s*(?<n>\d{1,2})\s*\]|\(\s*[Ss]\s*(?<n>\d{1,2})\s*\)|[Ss](?<n>\d{1,2})(?=[\s:.)\-–—*])" +
        @"|\[\s*(?<n>\d{1,2})\s*\]|\(\s*(?<n>\d{1,2})\s*\)|(?<n>\d{1,2})\s*[.):\-–—](?!\d)" +
        @"|\(\s*(?<l>[A-Ha-h])\s*\)|\[\s*(?<l>[A-Ha-h])\s*\]|(?<l>[A-Ha-h])\s*[.):\-–—](?=\s))" +
        @"\s*(?:\*\*|__)?\s*[:.\-–—]?\s*(?<t>\S.*?)\s*$",
        RegexOptions.CultureInvariant)]
    private static partial Regex MarkedItem();

    [GeneratedRegex(@"^(?<indent>[ \t]*)[-*•+]\s+(?<t>\S.*?)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex BulletItem();

    [GeneratedRegex(@"^\s*(?:[-*•+]\s*)?(?:\*\*|__)?\s*(?:\[\s*[Ss]\s*\d{1,2}\s*\]|\(\s*[Ss]\s*\d{1,2}\s*\)|[Ss]\d{1,2}\s*[:.)\-–—])", RegexOptions.CultureInvariant)]
    private static partial Regex SidItem();

    [GeneratedRegex(@"^\s*(```|~~~)", RegexOptions.CultureInvariant)]
    private static partial Regex FenceLine();

    [GeneratedRegex(@"^\s{0,3}([-*_]\s*){3,}$", RegexOptions.CultureInvariant)]
    private static partial Regex HorizontalRule();

    [GeneratedRegex(@"^\s{0,3}(?<level>#{1,6})\s+(?<t>.+?)\s*#*\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex MarkdownHeading();

    [GeneratedRegex(@"^\s{0,3}(?:(?:[-*•+]|\d{1,2}[.)])\s+)?(?:\*\*|__)(?<t>[^*_\n]{2,100}?)(?:\*\*|__)", RegexOptions.CultureInvariant)]
    private static partial Regex BoldLeadIn();

    [GeneratedRegex(@"^\s{0,3}(?:\d{1,2}|[A-Ha-h])[.)]\s+(?<t>\S.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex NumberedLine();

    [GeneratedRegex(@"^\s?[-*•+]\s+(?<t>\S.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex TopBulletLine();

    [GeneratedRegex(@"^\s*(?:\*\*|__)(?<t>[^*_]{2,100}?)(?:\*\*|__)", RegexOptions.CultureInvariant)]
    private static partial Regex BoldStart();

    [GeneratedRegex(@"\s*(?::|\s[–—-]\s)", RegexOptions.CultureInvariant)]
    private static partial Regex LabelSeparator();

    [GeneratedRegex(@"\*\*|__|`", RegexOptions.CultureInvariant)]
    private static partial Regex Emphasis();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"^(\d{1,2}|[IVX]{1,4}|[A-H])[.)]\s+(?=\S)")]
    private static partial Regex ListNumbering();
}

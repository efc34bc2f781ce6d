namespace AuroraNexus.Grains.Ingestion;

/// <summary>Sizes of the chunks a document is cut into, in tokens of the embedding model.</summary>
public sealed record ChunkerOptions
{
    /// <summary>
    /// Size chunks are packed up to. French runs at about 3.2 characters per MiniLM token, and packing whole lines
    /// and sentences fills chunks to about 70 % of the target: 240 tokens gives chunks of 560 characters on average
    /// (80 % of them between 380 and 750) on the service-public and CNIL pages, in the 500–800 range that retrieved
    /// well on them.
    /// </summary>
    public int TargetTokens { get; init; } = 240;

    /// <summary>Hard ceiling; lowered to what the model reads when it is higher (MiniLM: 256 word pieces minus [CLS] and [SEP]).</summary>
    public int MaxTokens { get; init; } = 254;

    /// <summary>Whole sentences of the previous chunk repeated at the start of the next, up to this many tokens; 0 for none.</summary>
    public int OverlapTokens { get; init; }
}

/// <summary>A piece of a document: <see cref="Text"/> is the document's text from <see cref="StartChar"/>, unchanged.</summary>
public sealed record TextChunk(int Index, string Text, int TokenCount, int StartChar);

/// <summary>
/// Cuts text at natural boundaries (lines and paragraphs, then sentences, then words, characters as a last resort) and
/// packs consecutive pieces up to <see cref="ChunkerOptions.TargetTokens"/>, never above the model's limit. A heading
/// starts a chunk rather than ends one. Stateless and thread-safe.
/// </summary>
public sealed class Chunker(ITokenCounter tokens, ChunkerOptions options)
{
    /// <summary>A heading closes the chunk in progress once it is at least this full, so that it starts the next one.</summary>
    private const double HeadingBreakFill = 0.5;

    private readonly (int Target, int Max, int Overlap) _limits = Limits(tokens, options);

    /// <exception cref="OperationCanceledException">The token was cancelled (the document was deleted, the silo is stopping).</exception>
    public IReadOnlyList<TextChunk> Split(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var units = new List<Unit>();
        var blocks = 0;
        foreach (var block in Blocks(text))
        {
            // Counting tokens is most of the work on a large file: a deleted document stops within a few hundred lines.
            if (++blocks % 256 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            AddUnits(text, block, units);
        }

        cancellationToken.ThrowIfCancellationRequested();

        var groups = Pack(units);
        MergeShortTail(groups);
        var chunks = new List<TextChunk>(groups.Count);
        for (var g = 0; g < groups.Count; g++)
        {
            var group = groups[g];
            if (g > 0 && _limits.Overlap > 0 && !group[0].IsHeading)
            {
                group = [.. Overlap(groups[g - 1], group), .. group];
            }

            Emit(text, group, chunks);
        }

        return chunks;
    }

    private static (int Target, int Max, int Overlap) Limits(ITokenCounter tokens, ChunkerOptions options)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TargetTokens, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxTokens, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.OverlapTokens, nameof(options));
        var max = Math.Min(options.MaxTokens, tokens.MaxInputTokens);
        return (Math.Min(options.TargetTokens, max), max, options.OverlapTokens);
    }

    /// <summary>Every non-empty line is a block: extracted text has one paragraph, heading or list item per line.</summary>
    private IEnumerable<Block> Blocks(string text)
    {
        // Short lines without final punctuation after a line ending with ':' are the items of a list, not headings.
        var inList = false;
        var start = 0;
        while (start < text.Length)
        {
            var end = text.IndexOf('\n', start);
            if (end < 0)
            {
                end = text.Length;
            }

            var (s, e) = Trim(text, start, end);
            if (e > s)
            {
                var headingLike = LooksLikeHeading(text, s, e);
                yield return new Block(s, e, headingLike && !inList);
                inList = text[e - 1] is ':' || (inList && (headingLike || text[e - 1] is ',' or ';'));
            }

            start = end + 1;
        }
    }

    private bool LooksLikeHeading(string text, int start, int end) =>
        end - start <= 120
        && (char.IsUpper(text[start]) || char.IsDigit(text[start]))
        && text[end - 1] is not ('.' or ',' or ';' or ':' or '!' or '…')
        && tokens.CountTokens(text[start..end]) <= 30;

    private void AddUnits(string text, Block block, List<Unit> units)
    {
        var count = tokens.CountTokens(text[block.Start..block.End]);
        if (count <= _limits.Target)
        {
            units.Add(new Unit(block.Start, block.End, count, block.IsHeading, LeadsIn: text[block.End - 1] is ':' or ','));
            return;
        }

        foreach (var (start, end) in Sentences(text, block.Start, block.End))
        {
            if (end <= start)
            {
                continue;
            }

            var sentenceTokens = tokens.CountTokens(text[start..end]);
            if (sentenceTokens <= _limits.Max)
            {
                units.Add(new Unit(start, end, sentenceTokens, false, LeadsIn: text[end - 1] == ':'));
            }
            else
            {
                AddWordWindows(text, start, end, units);
            }
        }
    }

    /// <summary>A sentence too long for the model: windows of whole words, a word cut only when it alone is too long.</summary>
    private void AddWordWindows(string text, int start, int end, List<Unit> units)
    {
        var windowStart = -1;
        var windowEnd = -1;
        var windowTokens = 0;
        var i = start;
        while (i < end)
        {
            while (i < end && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            var wordStart = i;
            while (i < end && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (wordStart == i)
            {
                break;
            }

            var wordTokens = tokens.CountTokens(text[wordStart..i]);
            if (windowStart >= 0 && windowTokens + wordTokens > _limits.Target)
            {
                units.Add(new Unit(windowStart, windowEnd, windowTokens, false, false));
                windowStart = -1;
                windowTokens = 0;
            }

            if (wordTokens > _limits.Target)
            {
                AddCharacterWindows(text, wordStart, i, units);
                continue;
            }

            if (windowStart < 0)
            {
                windowStart = wordStart;
            }

            windowEnd = i;
            windowTokens += wordTokens;
        }

        if (windowStart >= 0)
        {
            units.Add(new Unit(windowStart, windowEnd, windowTokens, false, false));
        }
    }

    private void AddCharacterWindows(string text, int start, int end, List<Unit> units)
    {
        while (start < end)
        {
            // Longest prefix within the target: token counts grow with length, so a binary search finds it.
            int low = start + 1, high = end;
            while (low < high)
            {
                var mid = (low + high + 1) / 2;
                if (tokens.CountTokens(text[start..mid]) <= _limits.Target)
                {
                    low = mid;
                }
                else
                {
                    high = mid - 1;
                }
            }

            if (char.IsHighSurrogate(text[low - 1]) && low < end && low - 1 > start)
            {
                low--;
            }

            units.Add(new Unit(start, low, tokens.CountTokens(text[start..low]), false, false));
            start = low;
        }
    }

    private List<List<Unit>> Pack(List<Unit> units)
    {
        var groups = new List<List<Unit>>();
        var current = new List<Unit>();
        var currentTokens = 0;
        foreach (var unit in units)
        {
            var full = currentTokens + unit.Tokens > _limits.Target;
            var headingBreak = unit.IsHeading && currentTokens >= _limits.Target * HeadingBreakFill;
            if (current.Count > 0 && (full || headingBreak))
            {
                var leadIns = TrailingLeadIns(current);
                if (leadIns == current.Count && currentTokens + unit.Tokens <= _limits.Max)
                {
                    // Only a heading or a list's announcement so far: it goes with what follows, up to the hard limit.
                    current.Add(unit);
                    currentTokens += unit.Tokens;
                    continue;
                }

                var carried = current[(current.Count - leadIns)..];
                if (carried.Sum(u => u.Tokens) > _limits.Target / 2 || leadIns == current.Count)
                {
                    carried = [];
                }

                current.RemoveRange(current.Count - carried.Count, carried.Count);
                groups.Add(current);
                current = carried;
                currentTokens = carried.Sum(u => u.Tokens);
                if (current.Count > 0 && currentTokens + unit.Tokens > _limits.Max)
                {
                    groups.Add(current);
                    current = [];
                    currentTokens = 0;
                }
            }

            current.Add(unit);
            currentTokens += unit.Tokens;
        }

        if (current.Count > 0)
        {
            groups.Add(current);
        }

        return groups;
    }

    /// <summary>
    /// How many units at the end of a chunk belong to what follows them: headings, lines announcing a list (ending
    /// with ':') and list items still open (ending with ',').
    /// </summary>
    private static int TrailingLeadIns(List<Unit> chunk)
    {
        var count = 0;
        while (count < chunk.Count && chunk[^(count + 1)] is { IsHeading: true } or { LeadsIn: true })
        {
            count++;
        }

        return count;
    }

    /// <summary>A last chunk much smaller than the target (often a page's closing glossary line) joins the one before.</summary>
    private void MergeShortTail(List<List<Unit>> groups)
    {
        if (groups.Count < 2)
        {
            return;
        }

        var last = groups[^1];
        var previous = groups[^2];
        var lastTokens = last.Sum(u => u.Tokens);
        if (lastTokens < _limits.Target / 4 && previous.Sum(u => u.Tokens) + lastTokens <= _limits.Max)
        {
            previous.AddRange(last);
            groups.RemoveAt(groups.Count - 1);
        }
    }

    private List<Unit> Overlap(List<Unit> previous, List<Unit> next)
    {
        var room = Math.Min(_limits.Overlap, _limits.Max - next.Sum(u => u.Tokens));
        var taken = new List<Unit>();
        for (var i = previous.Count - 1; i > 0 && previous[i].Tokens <= room; i--)
        {
            taken.Insert(0, previous[i]);
            room -= previous[i].Tokens;
        }

        return taken;
    }

    private void Emit(string text, List<Unit> group, List<TextChunk> chunks)
    {
        var start = group[0].Start;
        var chunkText = text[start..group[^1].End];
        var count = tokens.CountTokens(chunkText);
        if (count > _limits.Max && group.Count > 1)
        {
            // Counts of pieces may not add up exactly for every tokenizer: halve until each part fits.
            Emit(text, group[..(group.Count / 2)], chunks);
            Emit(text, group[(group.Count / 2)..], chunks);
            return;
        }

        if (count > _limits.Max)
        {
            var pieces = new List<Unit>();
            AddCharacterWindows(text, start, group[0].End, pieces);
            foreach (var piece in pieces)
            {
                chunks.Add(new TextChunk(chunks.Count, text[piece.Start..piece.End], piece.Tokens, piece.Start));
            }

            return;
        }

        chunks.Add(new TextChunk(chunks.Count, chunkText, count, start));
    }

    private static IEnumerable<(int Start, int End)> Sentences(string text, int start, int end)
    {
        var sentenceStart = start;
        for (var i = start; i < end; i++)
        {
            if (text[i] is not ('.' or '!' or '?' or '…' or ';'))
            {
                continue;
            }

            var close = i + 1;
            while (close < end && text[close] is '.' or '!' or '?' or '…' or '»' or '"' or '”' or '’' or '\'' or ')' or ']')
            {
                close++;
            }

            var next = close;
            while (next < end && char.IsWhiteSpace(text[next]))
            {
                next++;
            }

            if (next == close || next >= end)
            {
                continue;
            }

            // ';' closes a clause: cutting a long paragraph there beats cutting it between two words.
            var opensSentence = char.IsUpper(text[next]) || char.IsDigit(text[next])
                || text[next] is '«' or '"' or '“' or '(' or '[' or '-' or '–' or '—' || text[i] == ';';
            if (!opensSentence || (text[i] == '.' && IsAbbreviation(text, sentenceStart, i)))
            {
                continue;
            }

            yield return Trim(text, sentenceStart, close);
            sentenceStart = next;
            i = next - 1;
        }

        if (sentenceStart < end)
        {
            yield return Trim(text, sentenceStart, end);
        }
    }

    private static readonly HashSet<string> Abbreviations = new(StringComparer.Ordinal)
    {
        "M", "MM", "Mme", "Mmes", "Mlle", "Mlles", "Me", "Dr", "Pr", "Mgr", "St", "Ste", "art", "Art", "cf", "Cf", "p", "pp",
        "n", "no", "N", "vol", "ex", "av", "bd", "fig", "chap", "env", "réf", "tél", "Tél", "min", "max", "hab", "approx",
    };

    private static bool IsAbbreviation(string text, int sentenceStart, int dot)
    {
        var wordStart = dot;
        while (wordStart > sentenceStart && char.IsLetter(text[wordStart - 1]))
        {
            wordStart--;
        }

        var word = text[wordStart..dot];
        return (word.Length == 1 && char.IsUpper(word[0])) || Abbreviations.Contains(word);
    }

    private static (int Start, int End) Trim(string text, int start, int end)
    {
        while (start < end && char.IsWhiteSpace(text[start]))
        {
            start++;
        }

        while (end > start && char.IsWhiteSpace(text[end - 1]))
        {
            end--;
        }

        return (start, end);
    }

    private readonly record struct Block(int Start, int End, bool IsHeading);

    private readonly record struct Unit(int Start, int End, int Tokens, bool IsHeading, bool LeadsIn);
}
